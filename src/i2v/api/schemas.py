"""The API's response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from i2v.services.jobs import JobPage, JobView


class ArtifactOut(BaseModel):
    kind: str
    size: int
    content_type: str
    sha256: str
    url: str


class JobOut(BaseModel):
    id: str
    state: str
    backend: str
    stage: str | None
    progress: float
    spec: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: dict[str, str] | None
    artifacts: list[ArtifactOut]

    @classmethod
    def of(cls, job: JobView) -> JobOut:
        render = job.spec.get("render", {})
        return cls(
            id=job.id,
            state=job.state.value,
            backend=job.backend,
            stage=job.stage,
            progress=job.progress,
            spec={"backend": job.spec.get("backend"), **render},
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            error=(
                {"code": job.error_code, "message": job.error_message or ""}
                if job.error_code
                else None
            ),
            artifacts=[
                ArtifactOut(
                    kind=a.kind,
                    size=a.size,
                    content_type=a.content_type,
                    sha256=a.sha256,
                    url=f"/v1/jobs/{job.id}/{a.kind}",
                )
                for a in job.artifacts
            ],
        )


class JobListOut(BaseModel):
    jobs: list[JobOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: JobPage) -> JobListOut:
        return cls(jobs=[JobOut.of(job) for job in page.jobs], next_cursor=page.next_cursor)

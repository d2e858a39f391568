"""The API's response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from i2v.services.jobs import JobPage, JobView, public_json


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
    cost_usd: float = Field(description="GPU time this job paid for, in US dollars.")
    spec: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: dict[str, str] | None
    artifacts: list[ArtifactOut]

    @classmethod
    def of(cls, job: JobView) -> JobOut:
        return cls.model_validate(public_json(job))


class JobListOut(BaseModel):
    jobs: list[JobOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: JobPage) -> JobListOut:
        return cls(jobs=[JobOut.of(job) for job in page.jobs], next_cursor=page.next_cursor)

"""The API's response bodies; a job's is the services' model, which webhooks carry too."""

from __future__ import annotations

from pydantic import BaseModel

from i2v.services.jobs import JobPage
from i2v.services.webhook_payload import ArtifactOut, JobOut

__all__ = ["ArtifactOut", "JobListOut", "JobOut"]


class JobListOut(BaseModel):
    jobs: list[JobOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: JobPage) -> JobListOut:
        return cls(jobs=[JobOut.of(job) for job in page.jobs], next_cursor=page.next_cursor)

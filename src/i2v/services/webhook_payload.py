"""The job body that webhooks carry and the API serves (one model, so they never drift), and
the event a webhook posts about a job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from i2v.bootstrap import App
from i2v.db import jobs as repo
from i2v.services.job_view import JobView, public_json, view_of


class ArtifactOut(BaseModel):
    kind: str
    size: int
    content_type: str
    sha256: str
    url: str


class JobOut(BaseModel):
    id: str
    state: str
    backend: str = Field(
        description="Where the job ran (once it has); before that, what was asked: a backend "
        "or auto."
    )
    model: str | None = Field(description="The catalogue model; null: the local renderer.")
    stage: str | None
    progress: float
    cost_estimate_usd: float | None = Field(
        description="The quote at submission, in US dollars; null where the price is unknown."
    )
    cost_usd: float = Field(
        description="What this job paid for (GPU time or a hosted model), in US dollars."
    )
    rating: str | None = Field(
        description="The content policy's rating (PG, PG-13, R, X); null until rated."
    )
    rating_requested: str = Field(description="The highest rating this job allows.")
    prompt: str = Field(description="What the model was sent: the enhanced prompt, if enhanced.")
    prompt_original: str = Field(description="The prompt as typed.")
    enhanced_by: str | None = Field(
        description="rules, llm (a language model), or as_typed (enhance=false)."
    )
    captions: dict[str, str] = Field(
        description="Ready-to-post captions per platform (instagram, tiktok), if asked for."
    )
    spec: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: dict[str, str] | None
    artifacts: list[ArtifactOut]

    @classmethod
    def of(cls, job: JobView) -> JobOut:
        return cls.model_validate(public_json(job))


@dataclass(frozen=True, slots=True)
class WebhookPayload:
    url: str
    event_id: str  # "<job id>.<type>": receivers drop repeats by it
    type: str
    job: dict[str, Any]  # JobOut as JSON, exactly as GET /v1/jobs/{id} serves it


def webhook_payload(app: App, job_id: str, kind: str) -> WebhookPayload | None:
    """The `kind` event to post about the job; None if the job or its webhook URL is gone."""
    with app.db.session() as session:
        job = repo.get_job(session, job_id)
        if job is None or not job.webhook_url:
            return None
        body = JobOut.of(view_of(job, repo.artifacts_of(session, job_id))).model_dump(mode="json")
    return WebhookPayload(job.webhook_url, f"{job_id}.{kind}", kind, body)

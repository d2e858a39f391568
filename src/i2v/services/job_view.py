"""A job as its owner sees it: the view the services return, and its public JSON body."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from i2v.db.tables import Artifact, Job
from i2v.domain.job import JobState


@dataclass(frozen=True, slots=True)
class ArtifactView:
    kind: str
    storage_key: str
    size: int
    content_type: str
    sha256: str


@dataclass(frozen=True, slots=True)
class JobView:
    id: str
    owner_id: str
    state: JobState
    backend: str
    stage: str | None
    progress: float
    spec: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error_code: str | None
    error_message: str | None
    artifacts: tuple[ArtifactView, ...]
    cost_usd: Decimal = Decimal(0)
    model: str | None = None
    cost_estimate_usd: Decimal | None = None
    has_webhook: bool = False  # not public: the URL may carry a receiver's token
    rating: str | None = None  # the content policy's, once it has rated the job

    @property
    def mature(self) -> bool:
        return self.rating in ("R", "X")


def view_of(job: Job, artifacts: list[Artifact]) -> JobView:
    return JobView(
        id=job.id,
        owner_id=job.owner_id,
        state=JobState(job.state),
        backend=job.backend,
        stage=job.stage,
        progress=job.progress,
        spec=dict(job.spec),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        error_code=job.error_code,
        error_message=job.error_message,
        cost_usd=job.cost_usd or Decimal(0),
        model=job.model,
        cost_estimate_usd=job.cost_estimate_usd,
        has_webhook=bool(job.webhook_url),
        rating=job.rating,
        artifacts=tuple(
            ArtifactView(a.kind, a.storage_key, a.size, a.content_type, a.sha256)
            for a in sorted(artifacts, key=lambda a: a.kind)
        ),
    )


def public_json(job: JobView) -> dict[str, Any]:
    """The job as clients see it, in the API and in webhooks alike."""
    return {
        "id": job.id,
        "state": job.state.value,
        "backend": job.backend,
        "stage": job.stage,
        "progress": job.progress,
        "model": job.model,
        "cost_estimate_usd": (
            float(job.cost_estimate_usd) if job.cost_estimate_usd is not None else None
        ),
        "cost_usd": float(job.cost_usd),
        "rating": job.rating,
        "rating_requested": job.spec.get("rating") or "PG-13",
        # What the model is sent, and what the user typed (the same unless enhanced).
        "prompt": job.spec.get("render", {}).get("prompt", ""),
        "prompt_original": job.spec.get("original_prompt")
        or job.spec.get("render", {}).get("prompt", ""),
        "enhanced_by": job.spec.get("enhanced_by"),
        "captions": job.spec.get("captions") or {},
        "spec": {
            "backend": job.spec.get("backend"),
            "route": job.spec.get("candidates") or [job.spec.get("backend")],
            "end_frame": False,  # stored only when an end image was given
            **job.spec.get("render", {}),
        },
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "error": (
            {"code": job.error_code, "message": job.error_message or ""} if job.error_code else None
        ),
        "artifacts": [
            {
                "kind": a.kind,
                "size": a.size,
                "content_type": a.content_type,
                "sha256": a.sha256,
                "url": f"/v1/jobs/{job.id}/{a.kind}",
            }
            for a in job.artifacts
        ],
    }

"""The content policy for a job: rate its words and pictures, decide, and audit every decision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from i2v.domain.ids import new_id
from i2v.errors import InvalidParameter, NotFound
from i2v.policy.base import ImageClassifier, ImageScore, Rating
from i2v.policy.decide import PolicyDecision, PolicyRequest, Stage, decide

if TYPE_CHECKING:  # the database loads only for callers that have one
    from i2v.bootstrap import App
    from i2v.db.engine import Database

DEFAULT_RATING = Rating.PG13
AUDIT_PAGE_MAX = 200


@dataclass(frozen=True, slots=True)
class Subject:
    """Whose job a decision is about, and what it may be."""

    owner_id: str | None  # None: the CLI's operator, who runs their own machine
    mature_granted: bool
    requested: Rating  # the job's own `rating`
    backends: tuple[str, ...]  # the route it was decided for
    hosted: bool  # any of them a hosted API


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: str
    created_at: datetime
    owner_id: str | None
    job_id: str | None
    stage: str
    decision: str  # allow | refuse
    rating: str
    requested: str
    category: str | None
    rules: tuple[str, ...]
    scores: tuple[ImageScore, ...]
    backends: tuple[str, ...]
    policy_version: str

    def public_json(self) -> dict[str, object]:
        """The entry as `GET /v1/admin/policy/audit` and `i2v policy audit --json` show it."""
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "owner_id": self.owner_id,
            "job_id": self.job_id,
            "stage": self.stage,
            "decision": self.decision,
            "rating": self.rating,
            "requested": self.requested,
            "category": self.category,
            "rules": list(self.rules),
            "scores": [
                {"classifier": s.classifier, "nsfw": s.nsfw, "rating": s.rating.value}
                for s in self.scores
            ],
            "backends": list(self.backends),
            "policy_version": self.policy_version,
        }


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: tuple[AuditEntry, ...]
    next_cursor: str | None


def parse_rating(text: str | None) -> Rating:
    """The job's `rating` field; PG-13 when not given."""
    if text is None or not text.strip():
        return DEFAULT_RATING
    try:
        return Rating.parse(text)
    except ValueError as exc:
        raise InvalidParameter("rating", text, str(exc)) from None


def check(
    db: Database | None,
    subject: Subject,
    texts: Sequence[str],
    pictures: Sequence[NDArray[np.uint8]],
    classifier: ImageClassifier | None,
    *,
    stage: Stage = "submission",
    job_id: str | None = None,
) -> PolicyDecision:
    """Rate `texts` (the prompt as typed and as enhanced) and `pictures` (the inputs, or the
    output's sampled frames), decide, audit the decision where there is a database, and raise
    PolicyRefused (422 content_refused) when it refuses."""
    from i2v.policy.text import rate_text  # its lexicons compile on first use

    if pictures and classifier is None:
        raise ValueError("pictures to rate need a classifier")
    decision = decide(
        PolicyRequest(
            text=rate_text(*texts),
            images=tuple(classifier.score(rgb) for rgb in pictures) if classifier else (),
            requested=subject.requested,
            mature_granted=subject.mature_granted,
            hosted=subject.hosted,
            stage=stage,
        )
    )
    if db is not None:
        # A job refused at submission never exists: its entry names none.
        job = job_id if decision.allowed or stage == "output" else None
        record(db, decision, subject, stage=stage, job_id=job)
    if not decision.allowed:
        raise decision.error()
    return decision


def check_output(
    db: Database | None,
    subject: Subject,
    video: Path,
    frames: int,
    classifier: ImageClassifier,
    *,
    job_id: str | None = None,
) -> PolicyDecision | None:
    """Rate `frames` frames sampled across the finished `video` before anyone is told it is
    ready; None when the check is off (I2V_POLICY_OUTPUT_FRAMES=0)."""
    if frames <= 0:
        return None
    from i2v.policy.image import sample_frames  # PyAV and OpenCV, only when used

    return check(
        db, subject, (), sample_frames(video, frames), classifier, stage="output", job_id=job_id
    )


def rate_output(app: App, job_id: str, video: Path, ran_on: str) -> None:
    """Rate the job's finished video (PolicyRefused when it is rated above what the job, its
    account or its backend allows) and keep the highest rating on the job."""
    from i2v.backends.registry import HOSTED
    from i2v.db import accounts as users
    from i2v.db import jobs as repo
    from i2v.domain.job import JobSpec
    from i2v.services.pictures import classifier_of  # onnxruntime loads on first use

    with app.db.session() as session:
        job = repo.get_job(session, job_id)
        if job is None:
            return
        owner = users.user_by_id(session, job.owner_id)
        spec = JobSpec.from_json(job.spec)
        subject = Subject(
            job.owner_id,
            owner is not None and owner.mature_allowed,
            parse_rating(spec.rating),
            (ran_on,),
            ran_on in HOSTED,
        )
        earlier = Rating.parse(job.rating) if job.rating else Rating.PG
    frames = app.settings.policy_output_frames
    decision = check_output(app.db, subject, video, frames, classifier_of(app), job_id=job_id)
    if decision is not None and decision.rating.rank > earlier.rank:
        with app.db.session() as session:
            repo.set_rating(session, job_id, decision.rating.value)


def record(
    db: Database, decision: PolicyDecision, subject: Subject, *, stage: str, job_id: str | None
) -> None:
    from i2v.db.policy import add_audit
    from i2v.db.tables import PolicyAudit, utcnow

    with db.session() as session:
        add_audit(
            session,
            PolicyAudit(
                id=new_id("pol"),
                created_at=utcnow(),
                owner_id=subject.owner_id,
                job_id=job_id,
                stage=stage,
                decision="allow" if decision.allowed else "refuse",
                rating=decision.rating.value,
                requested=subject.requested.value,
                category=decision.category,
                rules=list(decision.rules),
                scores=[
                    {"classifier": s.classifier, "nsfw": round(s.nsfw, 6), "rating": s.rating.value}
                    for s in decision.images
                ],
                backends=list(subject.backends),
                policy_version=decision.version,
            ),
        )


def list_audit(
    db: Database,
    *,
    limit: int = 50,
    cursor: str | None = None,
    decision: str | None = None,
    job_id: str | None = None,
) -> AuditPage:
    """Decisions newest first, `limit` a page; `cursor` is the last id of the page before."""
    from i2v.db import policy as repo

    if not 1 <= limit <= AUDIT_PAGE_MAX:
        raise InvalidParameter("limit", limit, f"limit {limit} is outside 1-{AUDIT_PAGE_MAX}")
    if decision not in (None, "allow", "refuse"):
        raise InvalidParameter("decision", decision, "decision: allow or refuse")
    with db.session() as session:
        after = None
        if cursor is not None:
            after = repo.audit_row(session, cursor)
            if after is None:
                raise NotFound(f"cursor {cursor!r} is no audit entry")
        rows = repo.page_of_audit(
            session, after=after, limit=limit + 1, decision=decision, job_id=job_id
        )
        entries = tuple(
            AuditEntry(
                id=row.id,
                created_at=row.created_at,
                owner_id=row.owner_id,
                job_id=row.job_id,
                stage=row.stage,
                decision=row.decision,
                rating=row.rating,
                requested=row.requested,
                category=row.category,
                rules=tuple(row.rules),
                scores=tuple(
                    ImageScore(str(s["classifier"]), float(s["nsfw"]), Rating(s["rating"]))
                    for s in row.scores
                ),
                backends=tuple(row.backends),
                policy_version=row.policy_version,
            )
            for row in rows[:limit]
        )
    return AuditPage(entries, entries[-1].id if len(rows) > limit else None)

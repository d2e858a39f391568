"""Jobs: look up (scoped to their owner), list, cancel and delete; submitting is in
`services.submission`, re-exported here as the one face of jobs."""

from __future__ import annotations

from dataclasses import dataclass

from i2v.bootstrap import App
from i2v.db import jobs as repo
from i2v.domain.job import JobSpec, JobState
from i2v.engine.queue import JobQueue
from i2v.errors import InvalidParameter, NotFound
from i2v.models.catalog import catalog_for
from i2v.services.accounts import UserInfo
from i2v.services.job_view import ArtifactView, JobView, view_of
from i2v.services.submission import Extras, Submitted, check_request, submit
from i2v.storage.base import BlobStore

__all__ = [
    "Extras",
    "JobPage",
    "Submitted",
    "cancel_job",
    "check_request",
    "delete_job",
    "find_artifact",
    "get_job",
    "job_events",
    "list_jobs",
    "queue_place",
    "submit",
]


def get_job(app: App, owner: UserInfo, job_id: str) -> JobView:
    """The job, if `owner` owns it; anyone else's job is reported as missing, never forbidden."""
    with app.db.session() as session:
        job = repo.get_job(session, job_id)
        if job is None or job.owner_id != owner.id:
            raise NotFound(f"no job {job_id!r}")
        return view_of(job, repo.artifacts_of(session, job_id))


PAGE_MAX = 100
OPERATOR_ONLY_EVENTS = frozenset({repo.DIAGNOSTICS})
EVENTS_BATCH = 500
EventView = repo.EventRow  # id, type, data, created_at


def queue_place(app: App, owner: UserInfo, job_id: str) -> int | None:
    """How many queued jobs were submitted before the owner's job; None once it runs or ended
    (or when it is not theirs)."""
    with app.db.session() as session:
        job = repo.get_job(session, job_id)
        if job is None or job.owner_id != owner.id or job.state != JobState.QUEUED.value:
            return None
        return repo.queued_ahead(session, job)


def job_events(app: App, owner: UserInfo, job_id: str, after_id: int) -> list[EventView]:
    """The job's events with ids above `after_id`, oldest first (for SSE and its resume)."""
    with app.db.session() as session:
        # Diagnostics (servers, tracebacks) are for operators, not for the job's owner.
        owner_id, rows = repo.owner_and_events(
            session, job_id, after_id, EVENTS_BATCH, OPERATOR_ONLY_EVENTS
        )
    if owner_id != owner.id:
        raise NotFound(f"no job {job_id!r}")  # scoping: someone else's job is not found
    return rows


@dataclass(frozen=True, slots=True)
class JobPage:
    jobs: tuple[JobView, ...]
    next_cursor: str | None


def list_jobs(
    app: App,
    owner: UserInfo,
    *,
    state: JobState | None,
    cursor: str | None,
    limit: int,
    model: str | None = None,
) -> JobPage:
    """The owner's jobs, newest first; `cursor` is the last id of the previous page.
    `model` (any spelling the catalogue knows; "local": the local renderer) keeps that
    model's jobs only."""
    if not 1 <= limit <= PAGE_MAX:
        raise InvalidParameter("limit", limit, f"limit {limit} is outside 1-{PAGE_MAX}")
    known = catalog_for(app.settings).get(model) if model is not None else None
    with app.db.session() as session:
        after = None
        if cursor is not None:
            after = repo.get_job(session, cursor)
            if after is None or after.owner_id != owner.id:
                raise InvalidParameter(
                    "cursor", cursor, f"cursor {cursor!r} is not one of your jobs"
                )
        rows = repo.page_of_jobs(
            session,
            owner.id,
            state=state,
            after=after,
            limit=limit + 1,
            model=known.name if known is not None else None,
            local=known is not None and known.local,
        )
        shown = rows[:limit]
        artifacts = repo.artifacts_of_jobs(session, [job.id for job in shown])
        views = tuple(view_of(job, artifacts[job.id]) for job in shown)
    return JobPage(views, views[-1].id if len(rows) > limit else None)


def find_artifact(app: App, owner: UserInfo, job_id: str, kind: str) -> ArtifactView:
    """The owner's job's `kind` artifact (its size decides Range answers before any read)."""
    job = get_job(app, owner, job_id)
    for artifact in job.artifacts:
        if artifact.kind == kind:
            return artifact
    raise NotFound(f"job {job_id!r} has no {kind} yet (state: {job.state.value})")


def delete_job(app: App, queue: JobQueue, blobs: BlobStore, owner: UserInfo, job_id: str) -> None:
    """Cancel the job if it still runs, then remove it, its events, its artifacts and its
    uploaded picture (results and pictures are shared by content: only if no other job
    needs them)."""
    cancel_job(app, queue, owner, job_id)
    with app.db.session() as session:
        job = repo.get_job(session, job_id)
        if job is None:
            return  # a concurrent delete won
        keys = [a.storage_key for a in repo.artifacts_of(session, job_id)]
        input_keys = JobSpec.from_json(job.spec).input_keys
        # Under the inputs' locks, so a submission of the same picture either sees this
        # delete's commit (and stores the picture again) or is seen by it (and keeps it).
        for input_key in input_keys:
            repo.lock_input(session, input_key)
        unneeded = [
            input_key
            for input_key in input_keys
            if not repo.input_needed(session, input_key, ended_before=None, excluding=job_id)
        ]
        if not repo.delete_job(session, job_id):
            return  # a concurrent delete won while this one waited for the lock
        for input_key in unneeded:
            blobs.delete(input_key)
        orphans = [key for key in keys if not repo.storage_key_in_use(session, key)]
    for key in orphans:
        blobs.delete(key)


def cancel_job(app: App, queue: JobQueue, owner: UserInfo, job_id: str) -> JobView:
    """Stop the job at its next step boundary or sooner; finished jobs are left as they are."""
    job = get_job(app, owner, job_id)
    if not job.state.terminal:
        with app.db.session() as session:
            repo.transition(
                session, job_id, JobState.CANCELLED, only_from=[JobState.QUEUED, JobState.RUNNING]
            )
        queue.cancel(job_id)
    return get_job(app, owner, job_id)

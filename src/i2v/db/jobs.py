"""Queries for jobs, their events and artifacts; state rules live in services and the engine."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, aliased

from i2v.db.feed import JobFeed
from i2v.db.tables import Artifact, Job, JobEvent, utcnow
from i2v.domain.job import JobState

DIAGNOSTICS = "diagnostics"  # an event for operators (servers, tracebacks), never streamed
INPUT_REMOVED = "input_removed"  # retention removed the job's uploaded picture
_LIVE = [JobState.QUEUED.value, JobState.RUNNING.value]
_TERMINAL = [state.value for state in JobState if state.terminal]


def add_event(session: Session, job_id: str, kind: str, data: dict[str, Any]) -> None:
    session.add(JobEvent(job_id=job_id, type=kind, data=data, created_at=utcnow()))
    JobFeed.mark(session, job_id)


def get_job(session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id)


def delete_job(session: Session, job_id: str) -> bool:
    """Delete the job (its events and artifacts cascade); False if it was already gone."""
    result = session.execute(delete(Job).where(Job.id == job_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def job_by_idempotency_key(session: Session, owner_id: str, key: str) -> Job | None:
    query = select(Job).where(Job.owner_id == owner_id, Job.idempotency_key == key)
    return session.scalars(query).one_or_none()


def transition(
    session: Session,
    job_id: str,
    to: JobState,
    *,
    only_from: Sequence[JobState],
    **values: Any,
) -> bool:
    """Move a job to `to` if it is in one of `only_from`; False if it was not (a race lost)."""
    if to is JobState.RUNNING:
        values.setdefault("started_at", utcnow())
    if to.terminal:
        values.setdefault("finished_at", utcnow())
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state.in_([s.value for s in only_from]))
        .values(state=to.value, **values)
    )
    changed = bool(result.rowcount)  # type: ignore[attr-defined]
    if changed:
        add_event(session, job_id, "state", {"state": to.value, **_public(values)})
    return changed


def _public(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in ("error_code", "error_message", "stage")}


def set_progress(
    session: Session, job_id: str, stage: str, fraction: float, note: str | None = None
) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(stage=stage, progress=fraction))
    data: dict[str, object] = {"stage": stage, "progress": round(fraction, 4)}
    if note:
        data["note"] = note  # e.g. "3 ahead in fal's queue"
    add_event(session, job_id, "progress", data)


def set_backend(session: Session, job_id: str, backend: str) -> None:
    """Where the job really ran (it was submitted with what it asked for, e.g. auto)."""
    session.execute(update(Job).where(Job.id == job_id).values(backend=backend))


def queued_ahead(session: Session, job: Job) -> int:
    """Queued jobs, anyone's, submitted before `job`: roughly how many a worker takes first."""
    earlier = or_(
        Job.created_at < job.created_at, and_(Job.created_at == job.created_at, Job.id < job.id)
    )
    query = select(func.count()).where(Job.state == JobState.QUEUED.value, earlier)
    return int(session.scalar(query) or 0)


def set_rating(session: Session, job_id: str, rating: str) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(rating=rating))


def page_of_jobs(
    session: Session,
    owner_id: str,
    *,
    state: JobState | None,
    after: Job | None,
    limit: int,
    model: str | None = None,
    local: bool = False,
) -> list[Job]:
    """Newest first; keyset pagination on (created_at, id), stable under concurrent inserts.
    `model` keeps one model's jobs, `local` the local renderer's (they name no model)."""
    query = select(Job).where(Job.owner_id == owner_id)
    if state is not None:
        query = query.where(Job.state == state.value)
    if local:
        query = query.where(Job.model.is_(None))
    elif model is not None:
        query = query.where(Job.model == model)
    if after is not None:
        query = query.where(
            or_(
                Job.created_at < after.created_at,
                and_(Job.created_at == after.created_at, Job.id < after.id),
            )
        )
    query = query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
    return list(session.scalars(query))


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    type: str
    data: dict[str, Any]
    created_at: datetime


# Built once: event streams run this on every wake-up and poll, and a statement built per
# call costs more to construct and key for SQLAlchemy's compiled cache than to run.
_OWNER_AND_EVENTS = (
    select(Job.owner_id, JobEvent.id, JobEvent.type, JobEvent.data, JobEvent.created_at)
    .select_from(Job)
    .outerjoin(
        JobEvent,
        and_(
            JobEvent.job_id == Job.id,
            JobEvent.id > bindparam("after_id"),
            JobEvent.type.not_in(bindparam("hidden", expanding=True)),
        ),
    )
    .where(Job.id == bindparam("job_id"))
    .order_by(JobEvent.id)
    .limit(bindparam("limit"))
)


def owner_and_events(
    session: Session, job_id: str, after_id: int, limit: int, hidden: Collection[str]
) -> tuple[str | None, list[EventRow]]:
    """The job's owner (None: no such job) and its events after `after_id`, but `hidden`.

    One round trip: the job's row is outer-joined to its events, so a job with no new
    events still answers with its owner.
    """
    params = {"job_id": job_id, "after_id": after_id, "hidden": list(hidden), "limit": limit}
    rows = session.execute(_OWNER_AND_EVENTS, params).all()
    if not rows:
        return None, []
    events = [EventRow(*row[1:]) for row in rows if row[1] is not None]
    return rows[0][0], events


def jobs_for_result(session: Session, result_key: str, states: Collection[JobState]) -> list[str]:
    """The jobs in `states` that a render of `result_key` works for: the one job of an
    unshared render (its key is the job id), or every job sharing that cache key that did
    not ask for a fresh render."""
    query = select(Job.id, Job.spec).where(
        Job.state.in_([state.value for state in states]),
        or_(Job.cache_key == result_key, Job.id == result_key),
    )
    return [
        job_id
        for job_id, spec in session.execute(query)
        if job_id == result_key or spec.get("use_cache", True)
    ]


def cached_result(session: Session, cache_key: str) -> Job | None:
    """A succeeded job with this cache key whose artifacts are all recorded."""
    query = (
        select(Job)
        .where(Job.cache_key == cache_key, Job.state == JobState.SUCCEEDED.value)
        .order_by(Job.finished_at.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def storage_key_in_use(session: Session, storage_key: str) -> bool:
    query = select(func.count()).select_from(Artifact).where(Artifact.storage_key == storage_key)
    return bool(session.scalar(query))


def count_by_state(session: Session) -> dict[str, int]:
    rows = session.execute(select(Job.state, func.count()).group_by(Job.state))
    return {state: int(n) for state, n in rows}


def finished_durations(session: Session) -> list[float]:
    """Run time (start to finish) of every finished job, in seconds."""
    rows = session.execute(
        select(Job.started_at, Job.finished_at).where(
            Job.started_at.is_not(None), Job.finished_at.is_not(None)
        )
    )
    return [(done - start).total_seconds() for start, done in rows if start and done]


def artifacts_of(session: Session, job_id: str) -> list[Artifact]:
    return list(session.scalars(select(Artifact).where(Artifact.job_id == job_id)))


def artifacts_of_jobs(session: Session, job_ids: Collection[str]) -> dict[str, list[Artifact]]:
    """Each job's artifacts in one query (a page of jobs: not one query per job); a job
    without any has an empty list."""
    found: dict[str, list[Artifact]] = {job_id: [] for job_id in job_ids}
    if found:
        query = select(Artifact).where(Artifact.job_id.in_(list(found)))
        for artifact in session.scalars(query):
            found[artifact.job_id].append(artifact)
    return found


def jobs_in_state(session: Session, state: JobState, older_than: datetime) -> list[Job]:
    query = select(Job).where(Job.state == state.value, Job.created_at < older_than)
    return list(session.scalars(query))


def result_has_owner(session: Session, storage_key: str, job_id: str) -> bool:
    """Whether another job already stored the result at `storage_key` (and paid for it)."""
    query = select(Artifact.id).where(
        Artifact.storage_key == storage_key, Artifact.job_id != job_id
    )
    return session.scalars(query.limit(1)).first() is not None


def set_cost(session: Session, job_id: str, usd: Decimal) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(cost_usd=usd))


# Where a job's uploads are named in its spec: the input, and the end image and the music
# if it has them.
_INPUT_FIELDS = ("input_key", "end_input_key", "music_key")


def _uses_input(input_key: str, job: type[Job] = Job) -> ColumnElement[bool]:
    return or_(*(job.spec[field].as_string() == input_key for field in _INPUT_FIELDS))


def _ended() -> ColumnElement[datetime]:
    return func.coalesce(Job.finished_at, Job.created_at)


def lock_input(session: Session, input_key: str) -> None:
    """Serialise storing, deleting and expiring one input until this transaction ends.

    PostgreSQL: a transaction-scoped advisory lock on the key's hash. SQLite: a write takes
    the database's write lock at once, so the other side waits for this commit.
    """
    if session.get_bind().dialect.name == "postgresql":
        lock = int.from_bytes(hashlib.sha256(input_key.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})
    else:
        session.execute(update(Job).where(Job.id.is_(None)).values(progress=0.0))


def input_needed(
    session: Session, input_key: str, *, ended_before: datetime | None, excluding: str = ""
) -> bool:
    """Whether a job but `excluding` still needs `input_key`: one that uses it (less those
    that ended before `ended_before`), or a live job that may wait on a render one of its
    users started (identical pictures in other formats share a cache key, not an input)."""
    others = Job.id != excluding
    users = and_(others, _uses_input(input_key))
    if ended_before is not None:
        users = and_(users, or_(Job.state.in_(_LIVE), _ended() >= ended_before))
    user = aliased(Job)  # not correlated with the outer query's jobs
    sharing = select(user.cache_key).where(
        _uses_input(input_key, user), user.cache_key.is_not(None)
    )
    waiting = and_(others, Job.state.in_(_LIVE), Job.cache_key.in_(sharing))
    return bool(session.scalar(select(exists().where(or_(users, waiting)))))


def _input_removed(input_key: ColumnElement[str]) -> ColumnElement[bool]:
    """Whether retention removed this picture of the job (events from before end images
    name no key: they were about the only picture)."""
    named = JobEvent.data["key"].as_string()
    return exists().where(
        JobEvent.job_id == Job.id,
        JobEvent.type == INPUT_REMOVED,
        or_(named.is_(None), named == input_key),
    )


def expired_input_candidates(session: Session, ended_before: datetime) -> list[str]:
    """Inputs of terminal jobs that ended before `ended_before` and still hold their input."""
    found: set[str] = set()
    for field in _INPUT_FIELDS:
        key = Job.spec[field].as_string()
        query = select(key).where(
            Job.state.in_(_TERMINAL),
            _ended() < ended_before,
            ~_input_removed(key),
            key.is_not(None),
        )
        found.update(session.scalars(query.distinct()))
    return sorted(found)


def mark_input_removed(session: Session, input_key: str) -> None:
    """An event on each job that used `input_key` (once): that picture is gone for good."""
    query = select(Job.id).where(_uses_input(input_key), ~_input_removed(literal(input_key)))
    for job_id in session.scalars(query):
        add_event(session, job_id, INPUT_REMOVED, {"reason": "retention", "key": input_key})

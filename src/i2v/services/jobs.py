"""Jobs: submit, look up (scoped to their owner), list, cancel and delete."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy.exc import IntegrityError

from i2v.backends.registry import AUTO
from i2v.bootstrap import App
from i2v.config import Settings
from i2v.db import jobs as repo
from i2v.db.tables import Artifact, Job, utcnow
from i2v.domain.ids import new_id
from i2v.domain.job import JobSpec, JobState
from i2v.domain.spec import RenderSpec
from i2v.engine.queue import JobQueue
from i2v.errors import BlockedUrl, Conflict, InvalidParameter, NotFound
from i2v.media.image import ImageLimits, inspect_image
from i2v.net.ssrf import parse_url
from i2v.services.accounts import UserInfo
from i2v.services.breaker import breakers_of
from i2v.services.budget import check_budget
from i2v.services.cache import cache_key
from i2v.services.job_view import ArtifactView, JobView, view_of
from i2v.services.routing import Route, plan_route
from i2v.storage.base import BlobStore

_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True, slots=True)
class Submitted:
    job: JobView
    created: bool  # False when an Idempotency-Key replayed an earlier submission
    cached: bool = False  # True when a stored result answered it, with no generation


def _request_hash(spec: JobSpec) -> str:
    """What makes two submissions "the same body": the image bytes and every parameter."""
    canonical = json.dumps(spec.to_json(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_request(
    settings: Settings,
    render: RenderSpec,
    backend: str,
    idempotency_key: str | None,
    webhook_url: str | None,
    prefer: str = "cost",
    tripped: Collection[str] = (),
) -> Route:
    """Every check that needs no image, so a bad parameter is refused before any fetch.

    Returns the route: the backends to try and the render as they run it (e.g. a workflow's
    version pinned). A backend this server cannot run is refused (422): accepted, the job
    could only fail after its retries.
    """
    route = plan_route(settings, render, backend, prefer, tripped=tripped)
    if webhook_url is not None:
        _check_webhook(settings, webhook_url)
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
        raise InvalidParameter("idempotency_key", idempotency_key, "Idempotency-Key: 1-255 chars")
    return route


def submit(
    app: App,
    queue: JobQueue,
    blobs: BlobStore,
    owner: UserInfo,
    image: bytes,
    render: RenderSpec,
    backend: str = "local",
    idempotency_key: str | None = None,
    webhook_url: str | None = None,
    use_cache: bool = True,
    prefer: str = "cost",
    *,
    end_image: bytes | None = None,
) -> Submitted:
    """Validate and store the input (and any end image), record the job, and queue it.

    With `idempotency_key`, a repeat of the same request returns the first job, and the same
    key with a different request is a Conflict. A job that may run on a hosted backend is
    checked against its owner's daily budget in the transaction that records it.
    """
    settings = app.settings
    render = replace(render, end_frame=end_image is not None)
    tripped = breakers_of(app).tripped() if backend == AUTO else {}
    route = check_request(settings, render, backend, idempotency_key, webhook_url, prefer, tripped)
    render = route.spec
    picture = _picture(app, image, "image")
    end = _picture(app, end_image, "end_image") if end_image is not None else None
    spec = JobSpec(
        render=render,
        backend=backend,
        input_key=picture.key,
        input_sha256=picture.sha256,
        use_cache=use_cache,
        candidates=route.backends,
        end_input_key=end.key if end is not None else None,
        end_input_sha256=end.sha256 if end is not None else None,
    )
    pictures = [picture] if end is None else [picture, end]
    request_hash = _request_hash(spec)
    key = cache_key(
        picture.pixels_sha256, render, backend, end.pixels_sha256 if end is not None else None
    )
    if idempotency_key is not None:
        earlier = _replay(app, owner, idempotency_key, request_hash)
        if earlier is not None:
            return Submitted(earlier, created=False)
    if use_cache:
        hit = _from_cache(app, owner, spec, key, request_hash, idempotency_key, webhook_url)
        if hit is not None:
            return Submitted(hit, created=True, cached=True)
    for stored in pictures:
        stored.keep(blobs)
    job = Job(
        id=new_id("job"),
        owner_id=owner.id,
        spec=spec.to_json(),
        state=JobState.QUEUED.value,
        backend=backend,
        progress=0.0,
        created_at=utcnow(),
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        webhook_url=webhook_url,
        cache_key=key,
        model=render.model,
        cost_estimate_usd=route.estimate_usd,
        hosted=route.hosted,
    )
    try:
        with app.db.session() as session:
            if route.hosted:
                check_budget(session, settings, owner.id, route.hosted_estimate, job.created_at)
            for input_key in spec.input_keys:
                repo.lock_input(session, input_key)
            session.add(job)
            session.flush()
            repo.add_event(session, job.id, "state", {"state": JobState.QUEUED.value})
            # Under the inputs' locks: a delete or a retention pass that removed one of these
            # pictures since the check above has committed by now, so it is stored again.
            for stored in pictures:
                stored.keep(blobs)
    except IntegrityError:
        # The same key raced in from another request; the winner's job is the answer.
        assert idempotency_key is not None
        earlier = _replay(app, owner, idempotency_key, request_hash)
        if earlier is None:
            raise
        return Submitted(earlier, created=False)
    # After the commit: a crash in between leaves a queued row, which the sweeper enqueues.
    queue.enqueue(job.id, owner.id)
    return Submitted(view_of(job, []), created=True)


@dataclass(frozen=True, slots=True)
class _Picture:
    """An uploaded picture, checked: where it is stored, and what identifies its pixels."""

    data: bytes
    key: str
    sha256: str  # of the file as uploaded
    pixels_sha256: str  # of the decoded pixels: the same picture in another format matches
    content_type: str

    def keep(self, blobs: BlobStore) -> None:
        if not blobs.exists(self.key):
            blobs.put(self.key, self.data, self.content_type)


def _picture(app: App, data: bytes, name: str) -> _Picture:
    settings = app.settings
    limits = ImageLimits(settings.max_image_pixels, settings.min_image_side)
    decoded = inspect_image(data, limits, name=name, gate=app.decode_gate)
    digest = hashlib.sha256(data).hexdigest()
    kind = decoded.source_format
    return _Picture(
        data,
        f"inputs/{digest}{_EXTENSIONS[kind]}",
        digest,
        decoded.pixels_sha256,
        _CONTENT_TYPES[kind],
    )


def _from_cache(
    app: App,
    owner: UserInfo,
    spec: JobSpec,
    key: str,
    request_hash: str,
    idempotency_key: str | None,
    webhook_url: str | None,
) -> JobView | None:
    """A new, already finished job sharing a stored result, or None on a miss."""
    with app.db.session() as session:
        source = repo.cached_result(session, key)
        if source is None:
            return None
        now = utcnow()
        job = Job(
            id=new_id("job"),
            owner_id=owner.id,
            spec=spec.to_json(),
            state=JobState.SUCCEEDED.value,
            backend=spec.backend,
            progress=1.0,
            created_at=now,
            started_at=now,
            finished_at=now,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            webhook_url=webhook_url,
            cache_key=key,
            model=spec.render.model,
            cost_estimate_usd=Decimal(0),  # a stored result costs nothing
        )
        session.add(job)
        session.flush()
        for artifact in repo.artifacts_of(session, source.id):
            session.add(
                Artifact(
                    id=new_id("art"),
                    job_id=job.id,
                    kind=artifact.kind,
                    storage_key=artifact.storage_key,  # content-addressed: shared, not copied
                    size=artifact.size,
                    content_type=artifact.content_type,
                    sha256=artifact.sha256,
                )
            )
        repo.add_event(
            session, job.id, "state", {"state": JobState.SUCCEEDED.value, "cached": True}
        )
        session.flush()
        return view_of(job, repo.artifacts_of(session, job.id))


def _check_webhook(settings: Settings, url: str) -> None:
    """Refuse what can never be delivered; addresses are checked again at every attempt."""
    if settings.webhook_secret is None:
        raise InvalidParameter(
            "webhook_url", url, "webhooks are off on this server: I2V_WEBHOOK_SECRET is not set"
        )
    try:
        parse_url(url)
    except BlockedUrl as exc:
        raise InvalidParameter("webhook_url", url, f"webhook_url: {exc.reason}") from None


def _replay(app: App, owner: UserInfo, key: str, request_hash: str) -> JobView | None:
    with app.db.session() as session:
        job = repo.job_by_idempotency_key(session, owner.id, key)
        if job is None:
            return None
        if job.request_hash != request_hash:
            raise Conflict(f"Idempotency-Key {key!r} was used for a different request")
        return view_of(job, repo.artifacts_of(session, job.id))


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
    app: App, owner: UserInfo, *, state: JobState | None, cursor: str | None, limit: int
) -> JobPage:
    """The owner's jobs, newest first; `cursor` is the last id of the previous page."""
    if not 1 <= limit <= PAGE_MAX:
        raise InvalidParameter("limit", limit, f"limit {limit} is outside 1-{PAGE_MAX}")
    with app.db.session() as session:
        after = None
        if cursor is not None:
            after = repo.get_job(session, cursor)
            if after is None or after.owner_id != owner.id:
                raise InvalidParameter(
                    "cursor", cursor, f"cursor {cursor!r} is not one of your jobs"
                )
        rows = repo.page_of_jobs(session, owner.id, state=state, after=after, limit=limit + 1)
        views = tuple(view_of(job, repo.artifacts_of(session, job.id)) for job in rows[:limit])
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

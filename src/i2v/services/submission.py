"""Submitting a job: check it, enhance its prompt, rate it, store its uploads, queue it."""

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
from i2v.errors import BlockedUrl, Conflict, InvalidParameter, PolicyRefused
from i2v.net.ssrf import parse_url
from i2v.policy.base import Rating
from i2v.prompts.base import Platform
from i2v.services import policy
from i2v.services.accounts import UserInfo
from i2v.services.breaker import breakers_of
from i2v.services.budget import check_budget
from i2v.services.cache import cache_key
from i2v.services.job_view import JobView, view_of
from i2v.services.music import Music, checked_music
from i2v.services.pictures import Picture, checked_picture, classifier_of
from i2v.services.routing import Route, plan_route
from i2v.services.words import Words, captions, enhanced_render, routed
from i2v.storage.base import BlobStore


@dataclass(frozen=True, slots=True)
class Submitted:
    job: JobView
    created: bool  # False when an Idempotency-Key replayed an earlier submission
    cached: bool = False  # True when a stored result answered it, with no generation


@dataclass(frozen=True, slots=True)
class Extras:
    """What a job asks beyond the render: its words and its rating."""

    end_image: bytes | None = None  # the last frame, for models that take one
    enhance: bool = True  # False: the prompt goes to the model as typed
    rating: Rating = policy.DEFAULT_RATING  # the highest rating the job allows
    captions: tuple[Platform, ...] = ()
    music: bytes | None = None  # an audio file to put under the video


def _request_hash(spec: JobSpec) -> str:
    """What makes two submissions "the same body": the image bytes and every parameter, as
    sent (the spec before enhancement, whose language-model answers may differ)."""
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
    rating: Rating = policy.DEFAULT_RATING,
) -> Route:
    """Every check that needs no image, so a bad parameter is refused before any fetch.

    Returns the route: the backends to try and the render as they run it (e.g. a workflow's
    version pinned). A backend this server cannot run is refused (422): accepted, the job
    could only fail after its retries. A mature rating routes to self-hosted backends only.
    """
    route = plan_route(settings, render, backend, prefer, tripped=tripped, mature=rating.mature)
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
    extras: Extras = Extras(),  # frozen: one shared default is safe
) -> Submitted:
    """Validate and store the input (and any end image), record the job, and queue it.

    With `idempotency_key`, a repeat of the same request returns the first job, and the same
    key with a different request is a Conflict. The prompt is enhanced for the model, then the
    content policy rates the prompt and the pictures: a refusal (422 content_refused) comes
    before anything is stored, queued or paid. A job that may run on a hosted backend is
    checked against its owner's daily budget in the transaction that records it.
    """
    settings = app.settings
    music_sha256 = hashlib.sha256(extras.music).hexdigest() if extras.music is not None else None
    render = replace(render, end_frame=extras.end_image is not None, music_sha256=music_sha256)
    tripped = breakers_of(app).tripped() if backend == AUTO else {}
    route = check_request(
        settings, render, backend, idempotency_key, webhook_url, prefer, tripped, extras.rating
    )
    picture = checked_picture(app, image, "image")
    end = checked_picture(app, extras.end_image, "end_image") if extras.end_image else None
    pictures = [picture] if end is None else [picture, end]
    music = checked_music(settings, extras.music) if extras.music is not None else None
    uploads: list[Picture | Music] = [*pictures, *([music] if music is not None else [])]
    typed = JobSpec(
        render=route.spec,
        backend=backend,
        input_key=picture.key,
        input_sha256=picture.sha256,
        use_cache=use_cache,
        candidates=route.backends,
        end_input_key=end.key if end is not None else None,
        end_input_sha256=end.sha256 if end is not None else None,
        music_key=music.key if music is not None else None,
        rating=extras.rating.value,
        enhanced_by=None if extras.enhance else "as_typed",
        captions=tuple((p.value, "") for p in extras.captions),
    )
    request_hash = _request_hash(typed)
    if idempotency_key is not None:
        earlier = _replay(app, owner, idempotency_key, request_hash)
        if earlier is not None:
            return Submitted(earlier, created=False)
    words, route = _words(app, render, backend, prefer, tripped, extras, picture)
    job_id = new_id("job")
    subject = policy.Subject(
        owner.id, owner.mature_allowed, extras.rating, route.backends, route.hosted
    )
    decision = policy.check(
        app.db,
        subject,
        (render.prompt, words.render.prompt),
        [p.thumbnail(app) for p in pictures],
        classifier_of(app),
        job_id=job_id,
    )
    spec = replace(
        typed,
        render=route.spec,
        candidates=route.backends,
        original_prompt=render.prompt if words.changed else None,
        enhanced_by=words.enhanced.source,
        captions=tuple(
            (c.platform.value, c.text)
            for c in captions(settings, render.prompt, extras.captions, seed=picture.sha256)
        ),
    )
    key = cache_key(picture.pixels_sha256, route.spec, backend, end.pixels_sha256 if end else None)
    if use_cache:
        hit = _from_cache(
            app,
            owner,
            spec,
            job_id=job_id,
            key=key,
            request_hash=request_hash,
            idempotency_key=idempotency_key,
            webhook_url=webhook_url,
            rating=decision.rating,
            prompt=_prompt_event(words),
        )
        if hit is not None:
            return Submitted(hit, created=True, cached=True)
    for stored in uploads:
        stored.keep(blobs)
    job = Job(
        id=job_id,
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
        model=route.spec.model,
        cost_estimate_usd=route.estimate_usd,
        hosted=route.hosted,
        rating=decision.rating.value,
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
            repo.add_event(session, job.id, "prompt", _prompt_event(words))
            # Under the inputs' locks: a delete or a retention pass that removed one of these
            # pictures since the check above has committed by now, so it is stored again.
            for stored in uploads:
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


def _words(
    app: App,
    render: RenderSpec,
    backend: str,
    prefer: str,
    tripped: Collection[str],
    extras: Extras,
    picture: Picture,
) -> tuple[Words, Route]:
    """The prompt written for the model, and the route for it. The family's default negative
    prompt is dropped where the route takes none (the user's own is refused at the check)."""
    settings = app.settings
    words = enhanced_render(
        settings,
        render,
        backend,
        enhance_prompt=extras.enhance,
        image_sha256=picture.pixels_sha256,
        image_jpeg=picture.jpeg_for_model(app) if settings.llm_images else None,
    )
    return routed(settings, words, backend, prefer, tripped, extras.rating)


def _prompt_event(words: Words) -> dict[str, object]:
    enhanced = words.enhanced
    return {
        "original": enhanced.original,
        "prompt": enhanced.prompt,
        "source": enhanced.source,
        "notes": list(enhanced.notes),
    }


def _from_cache(
    app: App,
    owner: UserInfo,
    spec: JobSpec,
    *,
    job_id: str,
    key: str,
    request_hash: str,
    idempotency_key: str | None,
    webhook_url: str | None,
    rating: Rating,
    prompt: dict[str, object],
) -> JobView | None:
    """A new, already finished job sharing a stored result, or None on a miss.

    The stored result's own rating (its output frames were rated) counts too: a result
    rated above what this job allows is refused, not served.
    """
    requested = Rating.parse(spec.rating or policy.DEFAULT_RATING.value)
    with app.db.session() as session:
        source = repo.cached_result(session, key)
        if source is None:
            return None
        if source.rating is not None:
            rating = Rating.highest(rating, Rating.parse(source.rating))
        if rating.rank > requested.rank:
            raise PolicyRefused(
                f"rated {rating}: the result goes beyond what this job allows (up to "
                f"{requested}); set rating to {rating} to allow it",
                field="output",
                category="mature",
                rating=rating.value,
            )
        now = utcnow()
        job = Job(
            id=job_id,
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
            rating=rating.value,
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
        repo.add_event(session, job.id, "prompt", prompt)
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

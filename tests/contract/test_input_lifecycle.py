"""Uploaded pictures on every blob store and database: deleted with their last job, expired by
retention, and never lost to a submission of the same picture racing either."""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.exc import SAWarning

from i2v.bootstrap import App, open_app
from i2v.config import load_settings
from i2v.db.engine import Database
from i2v.db.tables import JobEvent, utcnow
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import RenderSpec
from i2v.engine.queue import JobQueue
from i2v.errors import NotFound
from i2v.services import accounts, jobs
from i2v.services.accounts import UserInfo
from i2v.services.retention import remove_expired_inputs
from i2v.storage.base import BlobStore

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "example.jpg"
PICTURE = EXAMPLE.read_bytes()
INPUT = f"inputs/{hashlib.sha256(PICTURE).hexdigest()}.jpg"
QUICK = RenderSpec(Motion.ZOOM_IN, Intensity.SUBTLE, Size(360, 640), duration_s=3, fps=24)
# A hosted model that takes an end image; its jobs are only stored here, never run.
WITH_END = RenderSpec(
    Motion.ZOOM_IN,
    Intensity.SUBTLE,
    duration_s=5,
    prompt="a slow turn",
    model="kling-2.5-turbo-pro",
)
RETENTION_DAYS = 30


@dataclass
class Service:
    app: App
    queue: JobQueue
    user: UserInfo
    blobs: BlobStore

    def submit(self, image: bytes = PICTURE, blobs: BlobStore | None = None) -> str:
        store = blobs or self.blobs
        return jobs.submit(self.app, self.queue, store, self.user, image, QUICK).job.id

    def submit_with_end(self, image: bytes, end_image: bytes) -> str:
        submitted = jobs.submit(
            self.app,
            self.queue,
            self.blobs,
            self.user,
            image,
            WITH_END,
            "fal",
            extras=jobs.Extras(end_image=end_image),
        )
        return submitted.job.id

    def cancel(self, job_id: str) -> None:
        jobs.cancel_job(self.app, self.queue, self.user, job_id)

    def delete(self, job_id: str) -> None:
        jobs.delete_job(self.app, self.queue, self.blobs, self.user, job_id)

    def expire(self, days_from_now: float) -> int:
        return remove_expired_inputs(self.app, self.blobs, utcnow() + timedelta(days_from_now))


@pytest.fixture
def service(db: Database, store: BlobStore, tmp_path: Path) -> Iterator[Service]:
    settings = load_settings(
        data_dir=tmp_path / "data",
        database_url=db.engine.url.render_as_string(hide_password=False),
        input_retention_days=RETENTION_DAYS,
        fal_key="lifecycle-test-key",
    )
    app = open_app(settings)
    queue = JobQueue(settings)
    try:
        yield Service(app, queue, accounts.create_user(app.db, "tester"), store)
    finally:
        queue.close()
        app.close()


class PausingStore:
    """The real store, but the submitting thread's first look for the input waits for a go."""

    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner
        self.reached = threading.Event()
        self.proceed = threading.Event()

    def exists(self, key: str) -> bool:
        found = self.inner.exists(key)
        if key.startswith("inputs/") and not self.reached.is_set():
            self.reached.set()
            assert self.proceed.wait(30)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def removal_events(app: App) -> list[str]:
    with app.db.session() as session:
        query = select(JobEvent.job_id).where(JobEvent.type == "input_removed")
        return sorted(session.scalars(query))


def removed_keys(app: App, job_id: str) -> list[str]:
    with app.db.session() as session:
        query = select(JobEvent.data).where(
            JobEvent.type == "input_removed", JobEvent.job_id == job_id
        )
        return sorted(data["key"] for data in session.scalars(query))


def test_an_end_image_is_kept_deleted_and_expired_like_the_input(service: Service) -> None:
    end_picture = io.BytesIO()
    Image.open(io.BytesIO(PICTURE)).convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(
        end_picture, format="PNG"
    )
    end = end_picture.getvalue()
    end_key = f"inputs/{hashlib.sha256(end).hexdigest()}.png"
    both = service.submit_with_end(PICTURE, end)
    spec = jobs.get_job(service.app, service.user, both).spec
    assert (spec["input_key"], spec["end_input_key"]) == (INPUT, end_key)
    assert spec["render"]["end_frame"] is True
    assert service.blobs.exists(end_key)
    alone = service.submit(end)  # the same picture as another job's input
    service.delete(both)
    assert not service.blobs.exists(INPUT)
    assert service.blobs.exists(end_key)  # the other job still needs it
    service.delete(alone)
    assert not service.blobs.exists(end_key)

    # Retention: each picture goes once no job needs it, and each job hears of each one.
    ended = service.submit_with_end(PICTURE, end)
    live = service.submit(end)
    service.cancel(ended)
    assert service.expire(RETENTION_DAYS + 1) == 1  # the input; the live job needs the end
    assert service.blobs.exists(end_key)
    assert not service.blobs.exists(INPUT)
    assert removed_keys(service.app, ended) == [INPUT]
    service.cancel(live)
    assert service.expire(RETENTION_DAYS + 1) == 1
    assert not service.blobs.exists(end_key)
    assert removed_keys(service.app, ended) == sorted([INPUT, end_key])
    assert removed_keys(service.app, live) == [end_key]
    assert service.expire(RETENTION_DAYS + 1) == 0


def test_delete_removes_the_picture_with_the_last_job_that_used_it(service: Service) -> None:
    first, second = service.submit(), service.submit()
    assert service.blobs.exists(INPUT)
    service.delete(first)
    assert service.blobs.exists(INPUT)  # the second job still needs it
    service.delete(second)
    assert not service.blobs.exists(INPUT)


def test_a_submission_racing_a_delete_of_the_same_picture_keeps_it(service: Service) -> None:
    earlier = service.submit()
    pausing = PausingStore(service.blobs)
    submitted: list[str] = []
    racer = threading.Thread(target=lambda: submitted.append(service.submit(blobs=pausing)))
    racer.start()
    try:
        # The racer saw the picture stored; the delete removes it before the racer commits.
        assert pausing.reached.wait(30)
        service.delete(earlier)
    finally:
        pausing.proceed.set()
        racer.join(30)
    assert submitted, "the racing submission failed"
    assert jobs.get_job(service.app, service.user, submitted[0]).spec["input_key"] == INPUT
    assert service.blobs.exists(INPUT), "the queued job's picture was deleted under it"


def test_retention_removes_a_picture_only_once_all_its_jobs_ended_long_ago(
    service: Service,
) -> None:
    ended, live = service.submit(), service.submit()
    service.cancel(ended)
    assert service.expire(RETENTION_DAYS + 1) == 0  # a queued job still uses it
    assert service.blobs.exists(INPUT)
    service.cancel(live)
    assert service.expire(RETENTION_DAYS - 1) == 0  # ended, but not long enough ago
    assert service.blobs.exists(INPUT)
    assert service.expire(RETENTION_DAYS + 1) == 1
    assert not service.blobs.exists(INPUT)
    assert removal_events(service.app) == sorted([ended, live])
    assert service.expire(RETENTION_DAYS + 1) == 0  # done once, not at every pass
    # The same picture sent again is stored again, for the new job, and expires in its turn.
    again = service.submit()
    assert service.blobs.exists(INPUT)
    service.cancel(again)
    assert service.expire(RETENTION_DAYS + 1) == 1
    assert removal_events(service.app) == sorted([ended, live, again])  # one each


def test_retention_keeps_a_picture_a_live_job_of_the_same_pixels_may_render_from(
    service: Service,
) -> None:
    pixels = Image.open(io.BytesIO(PICTURE)).convert("RGB")
    png, webp = io.BytesIO(), io.BytesIO()
    pixels.save(png, format="PNG")
    pixels.save(webp, format="WEBP", lossless=True)
    png_key = f"inputs/{hashlib.sha256(png.getvalue()).hexdigest()}.png"
    ended = service.submit(png.getvalue())
    service.submit(webp.getvalue())  # same pixels, same cache key: it may attach to a render
    service.cancel(ended)
    assert service.expire(RETENTION_DAYS + 1) == 0
    assert service.blobs.exists(png_key)
    service.delete(ended)  # the live job is still there: a delete keeps the picture too
    assert service.blobs.exists(png_key)


class PausingDeletes:
    """The real store, but the first delete of an input waits for a go."""

    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner
        self.reached = threading.Event()
        self.proceed = threading.Event()

    def delete(self, key: str) -> None:
        if key.startswith("inputs/") and not self.reached.is_set():
            self.reached.set()
            assert self.proceed.wait(30)
        self.inner.delete(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_two_deletes_of_one_job_at_once_both_end_cleanly(service: Service) -> None:
    job_id = service.submit()
    service.cancel(job_id)
    pausing = PausingDeletes(service.blobs)
    outcomes: list[BaseException | None] = []

    def delete(blobs: BlobStore) -> None:
        try:
            jobs.delete_job(service.app, service.queue, blobs, service.user, job_id)
            outcomes.append(None)
        except BaseException as exc:
            outcomes.append(exc)

    with warnings.catch_warnings():
        warnings.simplefilter("error", SAWarning)  # "expected to delete 1 row(s); 0 were"
        first = threading.Thread(target=delete, args=(pausing,))
        first.start()
        assert pausing.reached.wait(30)  # the first holds the picture's lock, mid-delete
        second = threading.Thread(target=delete, args=(service.blobs,))
        second.start()
        second.join(1.0)  # it has read the job and waits for the lock
        pausing.proceed.set()
        first.join(30)
        second.join(30)
    assert len(outcomes) == 2
    assert all(exc is None or isinstance(exc, NotFound) for exc in outcomes), outcomes
    assert not service.blobs.exists(INPUT)

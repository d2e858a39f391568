"""A job on fal survives a SIGKILLed worker at every point, and is paid for once.

A real `i2v worker` runs jobs on the fake fal; it is killed while the request waits in
fal's queue, while it runs, and while its output downloads, then started again: it follows
the same request (the fake sees one submit) and the job succeeds. Killed after fal queued a
submit but before its answer arrived, the documented window, the restarted worker submits
again and the checkpoint counts both. A cancelled job's request is cancelled on fal.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from i2v.bootstrap import App, open_app, open_blobs
from i2v.config import load_settings
from i2v.db.engine import Database
from i2v.db.tables import FalRequest, Job, JobEvent, PolicyAudit
from i2v.domain.job import JobState
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import RenderSpec
from i2v.engine.queue import JobQueue
from i2v.services import accounts, jobs
from tests.fakes.fal import FakeFal, Script

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "example.jpg"
MODEL = "kling-2.5-turbo-pro"
HELD = 10**6  # status polls a held request stays IN_QUEUE


@pytest.fixture
def fake() -> Iterator[FakeFal]:
    with FakeFal() as server:
        yield server


@pytest.fixture
def app(
    db: Database, tmp_path: Path, fake: FakeFal, monkeypatch: pytest.MonkeyPatch
) -> Iterator[App]:
    env = {
        "I2V_DATA_DIR": str(tmp_path / "data"),
        "I2V_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "I2V_HEARTBEAT_S": "0.5",
        "I2V_EXECUTOR_LEASE_S": "3",
        "I2V_FAL_KEY": fake.key,
        "I2V_FAL_QUEUE_URL": fake.url,
        "I2V_FAL_REST_URL": fake.url,
        "I2V_FAL_POLL_S": "0.05",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    opened = open_app(load_settings())
    try:
        yield opened
    finally:
        opened.close()


class Worker:
    """`i2v worker` as a user runs it, under one executor id (so DBOS recovers its work)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "I2V_EXECUTOR_ID": "fal-worker"}
        command = [str(Path(sys.executable).parent / "i2v"), "worker"]
        self.proc = subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        assert self.proc.wait(timeout=30) == -signal.SIGKILL

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def worker() -> Iterator[Worker]:
    running = Worker()
    try:
        yield running
    finally:
        running.stop()


def _submit(app: App, seed: int = 0, prompt: str = "the lake ripples") -> str:
    queue = JobQueue(app.settings)
    try:
        user = accounts.create_user(app.db, f"creator{seed}{len(prompt)}")
        spec = RenderSpec(
            Motion.ZOOM_IN,
            Intensity.SUBTLE,
            Size(360, 640),
            5,
            24,
            seed=seed,
            prompt=prompt,
            model=MODEL,
        )
        submitted = jobs.submit(
            app, queue, open_blobs(app.settings), user, EXAMPLE.read_bytes(), spec, "fal"
        )
        return submitted.job.id
    finally:
        queue.close()


def _submits(fake: FakeFal) -> int:
    return len(fake.requests)  # one per submit the queue accepted


def _checkpoint(app: App) -> FalRequest | None:
    with app.db.session() as session:
        row = session.scalars(select(FalRequest)).first()
        if row is not None:
            session.expunge(row)
        return row


def _release(fake: FakeFal) -> None:
    """Let every held request run: one poll in progress, then done."""
    for entry in list(fake.requests.values()):
        entry.polls, entry.script = 0, Script(queue_polls=0, run_polls=1)


def _state(app: App, job_id: str) -> JobState:
    with app.db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return JobState(job.state)


def _job(app: App, job_id: str) -> Job:
    with app.db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job


def _wait_for(condition: Callable[[], object], *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not reached in {timeout}s")


def _succeeds(app: App, job_id: str) -> None:
    _wait_for(lambda: _state(app, job_id).terminal, timeout=90)
    assert _state(app, job_id) is JobState.SUCCEEDED, _events(app, job_id)


def _events(app: App, job_id: str) -> list[tuple[str, dict[str, object]]]:
    with app.db.session() as session:
        query = select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)
        return [(e.type, dict(e.data)) for e in session.scalars(query)]


def test_a_worker_killed_at_each_point_follows_the_same_request(
    app: App, fake: FakeFal, worker: Worker
) -> None:
    """Killed while the request waits in fal's queue, then while it runs, then while its
    output downloads: each restarted worker follows the one request it submitted."""
    fake.next_scripts.append(Script(queue_polls=HELD))
    job_id = _submit(app)
    worker.start()
    _wait_for(lambda: (row := _checkpoint(app)) is not None and row.request_id)
    (entry,) = fake.requests.values()
    worker.kill()  # queued

    entry.polls, entry.script = 0, Script(queue_polls=0, run_polls=HELD)
    worker.start()
    _wait_for(lambda: _state(app, job_id) is JobState.RUNNING and entry.polls > 2)
    worker.kill()  # running

    fake.cdn_delay_s = 30.0
    _release(fake)
    worker.start()
    _wait_for(lambda: any("/cdn/files/out/" in seen.path for seen in fake.seen))
    worker.kill()  # downloading

    fake.cdn_delay_s = 0.0
    worker.start()
    _succeeds(app, job_id)
    assert _submits(fake) == 1  # followed each time, never submitted again
    row = _checkpoint(app)
    assert row is not None
    assert row.attempts == 1
    job = _job(app, job_id)
    assert job.backend == "fal"
    assert job.model == MODEL
    assert job.cost_usd == job.cost_estimate_usd == Decimal("0.35")


def test_a_kill_before_fals_answer_is_the_one_window_for_a_second_submit(
    app: App, fake: FakeFal, worker: Worker
) -> None:
    fake.submit_gate = threading.Event()
    job_id = _submit(app)
    worker.start()
    _wait_for(lambda: fake.requests)  # fal has queued it; the worker has no answer yet
    worker.kill()
    row = _checkpoint(app)
    assert row is not None
    assert row.request_id is None
    assert row.attempts == 1
    fake.submit_gate.set()
    worker.start()
    _succeeds(app, job_id)
    assert _submits(fake) == 2
    row = _checkpoint(app)
    assert row is not None
    assert row.attempts == 2
    assert _job(app, job_id).rating == "PG"  # its output frames were rated too

    # A model's clip rated above what the job allows fails the job before anyone sees it.
    fake.next_scripts.append(Script(output="adult"))
    flagged = _submit(app, prompt="the lake ripples at dusk")
    _wait_for(lambda: _state(app, flagged).terminal, timeout=90)
    job = _job(app, flagged)
    assert (job.state, job.error_code) == ("failed", "content_refused"), _events(app, flagged)
    assert job.error_message is not None
    assert "rated X: the output goes beyond what this job allows (up to PG-13)" in job.error_message
    assert job.cost_usd == Decimal("0.35")  # fal ran it: paid for, though refused
    with app.db.session() as session:
        (entry,) = session.scalars(
            select(PolicyAudit).where(PolicyAudit.stage == "output", PolicyAudit.job_id == flagged)
        )
        assert (entry.decision, entry.rating, entry.category) == ("refuse", "X", "mature")


def test_cancel_reaches_fal(app: App, fake: FakeFal, worker: Worker) -> None:
    """The job's events say where it waits ("0 ahead in fal's queue"); a cancel stops it there."""
    fake.next_scripts.append(Script(queue_polls=HELD))
    job_id = _submit(app)
    worker.start()
    _wait_for(
        lambda: any("in fal's queue" in str(data.get("note")) for _, data in _events(app, job_id))
    )
    queue = JobQueue(app.settings)
    try:
        user = accounts.find_user(app.db, f"creator0{len('the lake ripples')}")
        jobs.cancel_job(app, queue, user, job_id)
    finally:
        queue.close()
    _wait_for(lambda: any(seen.method == "PUT" for seen in fake.seen), timeout=30)
    assert all(entry.cancelled for entry in fake.requests.values())
    _wait_for(lambda: _state(app, job_id).terminal)
    assert _state(app, job_id) is JobState.CANCELLED

"""Crash recovery honours the worker's concurrency limit, and job rows say what really runs.

A real `i2v worker` (with a backend whose renders take a known time and log when they start
and end) is SIGKILLed in the middle of its work and restarted, three times, on SQLite and
PostgreSQL. DBOS re-enqueues the killed worker's pending job and render workflows while the
queue starts new jobs; never more than I2V_WORKER_CONCURRENCY renders may run at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import func, select

from i2v.backends.registry import BACKENDS
from i2v.bootstrap import App, open_app, open_blobs
from i2v.config import load_settings
from i2v.db.engine import Database
from i2v.db.tables import Artifact, Job, JobEvent
from i2v.domain.job import JobState
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import RenderSpec
from i2v.engine.queue import JobQueue
from i2v.services import accounts, jobs
from tests.support import slow_backend

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "example.jpg"
LIMIT = 2
JOBS = 6
# Killed three times: restarted with its own id (DBOS recovers its work at start-up), then
# twice with a new one (the sweeper recovers the dead id's work once its lease runs out);
# then stopped by SIGTERM while recovered work waits for slots, and run to the end.
STOPS = [
    ("worker-a", signal.SIGKILL),
    ("worker-a", signal.SIGKILL),
    ("worker-b", signal.SIGKILL),
    ("worker-c", signal.SIGTERM),
]
LAST = "worker-c"
RENDER_S = 2.0
LEASE_S = 3


@dataclass
class Rows:
    """Samples the jobs table every few milliseconds: the most rows ever `running` at once."""

    app: App
    most_running: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.wait(0.02):
            with self.app.db.session() as session:
                running = session.scalar(
                    select(func.count()).select_from(Job).where(Job.state == "running")
                )
            self.most_running = max(self.most_running, int(running or 0))
            self.samples += 1

    def stop(self) -> None:
        self._stop.set()


@dataclass
class Worker:
    env: dict[str, str]
    lifetimes: dict[int, tuple[float, float]] = field(default_factory=dict)  # pid: start, end
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, executor_id: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.slow_backend", "worker"],
            env={**self.env, "I2V_EXECUTOR_ID": executor_id},
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
        )
        self.lifetimes[proc.pid] = (time.time(), float("inf"))
        self.procs.append(proc)
        return proc

    def ended(self, proc: subprocess.Popen[bytes]) -> None:
        self.lifetimes[proc.pid] = (self.lifetimes[proc.pid][0], time.time())

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def renders(log: Path, lifetimes: dict[int, tuple[float, float]]) -> list[tuple[float, float]]:
    """Each render's span; one cut off by a kill ends when its process died."""
    open_: dict[tuple[str, str], float] = {}
    spans = []
    for line in log.read_text().splitlines():
        event, pid, run_id, at = line.split()
        if event == "start":
            open_[(pid, run_id)] = float(at)
        else:
            spans.append((open_.pop((pid, run_id)), float(at)))
    spans += [(started, lifetimes[int(pid)][1]) for (pid, _), started in open_.items()]
    return spans


def most_at_once(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    most = now = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        now += step
        most = max(most, now)
    return most


def states(app: App, job_id: str) -> list[str]:
    with app.db.session() as session:
        query = select(JobEvent.data).where(JobEvent.job_id == job_id, JobEvent.type == "state")
        return [data["state"] for data in session.scalars(query.order_by(JobEvent.id))]


@pytest.fixture
def app(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    env = {
        "I2V_DATA_DIR": str(tmp_path / "data"),
        "I2V_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "I2V_HEARTBEAT_S": "0.5",
        "I2V_EXECUTOR_LEASE_S": str(LEASE_S),
        "I2V_WORKER_CONCURRENCY": str(LIMIT),
        "I2V_MAX_RUNNING_PER_USER": str(JOBS),  # the worker's limit is the one under test
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setitem(BACKENDS, slow_backend.NAME, lambda _s, _db: slow_backend.from_env())
    opened = open_app(load_settings())
    try:
        yield opened
    finally:
        opened.close()


def test_repeated_kills_never_run_more_renders_than_the_limit(app: App, tmp_path: Path) -> None:
    log = tmp_path / "renders.log"
    settings = app.settings
    queue = JobQueue(settings)
    rows = Rows(app)
    sampler = threading.Thread(target=rows.run, daemon=True)
    env = {
        **os.environ,
        slow_backend.LOG_ENV: str(log),
        slow_backend.RENDER_ENV: str(RENDER_S),
    }
    worker = Worker(env)
    sampler.start()
    try:
        user = accounts.create_user(app.db, "tester")
        image = EXAMPLE.read_bytes()
        blobs = open_blobs(settings)
        ids = [
            jobs.submit(
                app, queue, blobs, user, image,
                RenderSpec(Motion.ZOOM_IN, Intensity.SUBTLE, Size(360, 640), 3, 24, seed=i),
                slow_backend.NAME,
            ).job.id
            for i in range(JOBS)
        ]  # fmt: skip
        next_ids = [executor_id for executor_id, _ in STOPS[1:]] + [LAST]
        for (executor_id, stop), restart_as in zip(STOPS, next_ids, strict=True):
            proc = worker.start(executor_id)
            # Stop in the middle of a render: after it began, before it could end.
            _wait_for(partial(_started, log, proc.pid), timeout=60)
            time.sleep(RENDER_S / 2)
            proc.send_signal(stop)
            # SIGTERM: running steps finish, waiting ones stay pending, the worker exits.
            assert proc.wait(timeout=60) == (0 if stop == signal.SIGTERM else -signal.SIGKILL)
            worker.ended(proc)
            if restart_as != executor_id:
                # Until its lease runs out, nobody can tell the dead worker from a slow one,
                # and its rows rightly still say running.
                time.sleep(LEASE_S)
        proc = worker.start(LAST)
        try:
            _wait_for(lambda: all(_state(app, job_id).terminal for job_id in ids), timeout=180)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
            worker.ended(proc)
    finally:
        worker.kill_all()  # only if the test failed before stopping them
        rows.stop()
        sampler.join()
        queue.close()

    spans = renders(log, worker.lifetimes)
    assert len(spans) > JOBS, "no render was cut off and run again"
    assert most_at_once(spans) <= LIMIT, spans
    assert rows.samples > 100
    assert rows.most_running <= LIMIT, "rows said running while no slot worked for them"
    for job_id in ids:
        assert _state(app, job_id) is JobState.SUCCEEDED, (states(app, job_id), _error(app, job_id))
        history = states(app, job_id)
        assert history[-1] == "succeeded", history
        assert history.count("succeeded") == 1, history
        with app.db.session() as session:
            stored = session.scalar(
                select(func.count()).select_from(Artifact).where(Artifact.job_id == job_id)
            )
        assert stored == 2


def _started(log: Path, pid: int) -> bool:
    lines = log.read_text().splitlines() if log.exists() else []
    return any(line.startswith(f"start {pid} ") for line in lines)


def _state(app: App, job_id: str) -> JobState:
    with app.db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return JobState(job.state)


def _wait_for(condition: Callable[[], bool], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not reached in {timeout}s")


def _error(app: App, job_id: str) -> str | None:
    with app.db.session() as session:
        job = session.get(Job, job_id)
        return None if job is None else f"{job.error_code}: {job.error_message}"

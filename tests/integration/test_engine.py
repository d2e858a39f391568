"""The durable engine on SQLite and PostgreSQL: jobs run once, survive kills, and are recovered."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from i2v.bootstrap import App, open_app, open_blobs
from i2v.config import Settings, load_settings
from i2v.db.engine import Database
from i2v.db.tables import Artifact, Job, JobEvent
from i2v.domain.job import JobState
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import RenderSpec
from i2v.engine.queue import JobQueue
from i2v.engine.runtime import start_engine
from i2v.services import accounts, jobs
from i2v.services.accounts import UserInfo
from tests.fakes.comfyui import FakeComfyUI
from tests.support.fleet import installed_models

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "example.jpg"
QUICK = RenderSpec(Motion.ZOOM_IN, Intensity.SUBTLE, Size(360, 640), duration_s=3, fps=24)
# Long enough (a few seconds on 2 cores) to be killed in the middle.
SLOW = RenderSpec(Motion.PAN_LEFT, Intensity.NORMAL, Size(720, 1280), duration_s=40, fps=30)
# Killed as soon as it shows progress, then run again in full: half of SLOW (about two
# seconds on 2 cores) leaves the kill far more time than it needs.
KILLED = RenderSpec(Motion.PAN_LEFT, Intensity.NORMAL, Size(720, 1280), duration_s=20, fps=30)
I2V = Path(sys.executable).parent / "i2v"


@dataclass
class Service:
    env: dict[str, str]
    settings: Settings
    app: App
    queue: JobQueue
    user: UserInfo

    def submit(self, spec: RenderSpec) -> str:
        image = EXAMPLE.read_bytes()
        return jobs.submit(
            self.app, self.queue, open_blobs(self.settings), self.user, image, spec
        ).job.id

    def wait(
        self, job_id: str, *, until: Callable[[jobs.JobView], bool], timeout: float = 60
    ) -> jobs.JobView:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            view = jobs.get_job(self.app, self.user, job_id)
            if until(view):
                return view
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not get there in {timeout}s: {view}")

    def worker(self, executor_id: str, **extra: str) -> subprocess.Popen[bytes]:
        env = {**self.env, "I2V_EXECUTOR_ID": executor_id, **extra}
        return subprocess.Popen([str(I2V), "worker"], env=env, stderr=subprocess.PIPE)


@pytest.fixture
def service(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    url = db.engine.url.render_as_string(hide_password=False)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("I2V_")},
        "I2V_DATA_DIR": str(tmp_path / "data"),
        "I2V_DATABASE_URL": url,
        "I2V_HEARTBEAT_S": "0.5",
        "I2V_EXECUTOR_LEASE_S": "3",
    }
    for key, value in env.items():
        if key.startswith("I2V_"):
            monkeypatch.setenv(key, value)
    settings = load_settings()
    app = open_app(settings)
    queue = JobQueue(settings)
    user = accounts.create_user(app.db, "tester")
    try:
        yield Service(env, settings, app, queue, user)
    finally:
        queue.close()
        app.close()


def finished(view: jobs.JobView) -> bool:
    return view.state.terminal


def running_with_progress(view: jobs.JobView) -> bool:
    return view.state is JobState.RUNNING and view.progress > 0.05


def count(app: App, model: type, **where: object) -> int:
    with app.db.session() as session:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return int(session.scalar(query) or 0)


def test_a_job_runs_through_every_step(service: Service) -> None:
    engine = start_engine(service.app, open_blobs(service.settings), role="test")
    try:
        job_id = service.submit(QUICK)
        view = service.wait(job_id, until=finished)
    finally:
        engine.stop()
    assert view.state is JobState.SUCCEEDED, view
    assert {a.kind for a in view.artifacts} == {"video", "cover"}
    blobs = open_blobs(service.settings)
    for artifact in view.artifacts:
        assert blobs.stat(artifact.storage_key).size == artifact.size
    with service.app.db.session() as session:
        kinds = [
            (e.type, e.data.get("state"))
            for e in session.scalars(
                select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)
            )
        ]
    states = [state for kind, state in kinds if kind == "state"]
    assert states == ["queued", "running", "succeeded"]
    assert ("progress", None) in kinds


def test_cancel_while_queued_never_runs(service: Service) -> None:
    job_id = service.submit(QUICK)
    view = jobs.cancel_job(service.app, service.queue, service.user, job_id)
    assert view.state is JobState.CANCELLED
    engine = start_engine(service.app, open_blobs(service.settings), role="test")
    try:
        time.sleep(1.0)
    finally:
        engine.stop()
    view = jobs.get_job(service.app, service.user, job_id)
    assert view.state is JobState.CANCELLED
    assert view.artifacts == ()


def test_cancel_while_running_stops_it(service: Service) -> None:
    engine = start_engine(service.app, open_blobs(service.settings), role="test")
    try:
        job_id = service.submit(SLOW)
        service.wait(job_id, until=running_with_progress)
        jobs.cancel_job(service.app, service.queue, service.user, job_id)
        started = time.monotonic()
        time.sleep(1.5)
        view = jobs.get_job(service.app, service.user, job_id)
    finally:
        engine.stop()
    assert time.monotonic() - started < 10
    assert view.state is JobState.CANCELLED
    assert view.artifacts == ()


def test_a_killed_worker_resumes_and_finishes_exactly_once(service: Service) -> None:
    job_id = service.submit(KILLED)
    first = service.worker("worker-a")
    try:
        service.wait(job_id, until=running_with_progress)
        first.send_signal(signal.SIGKILL)
        first.wait()
        second = service.worker("worker-a")  # same id: DBOS recovers its own pending work
        try:
            view = service.wait(job_id, until=finished, timeout=120)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=60) == 0
    finally:
        if first.poll() is None:
            first.kill()
    assert view.state is JobState.SUCCEEDED, view
    assert count(service.app, Artifact, job_id=job_id) == 2
    with service.app.db.session() as session:
        query = select(JobEvent.data).where(JobEvent.job_id == job_id, JobEvent.type == "state")
        states = [data["state"] for data in session.scalars(query.order_by(JobEvent.id))]
    # Re-queued while nothing ran for it (killed, until recovered and given a slot), then once.
    assert states == ["queued", "running", "queued", "running", "succeeded"]


def test_the_sweeper_recovers_the_work_of_a_worker_that_never_returns(service: Service) -> None:
    job_id = service.submit(KILLED)
    dead = service.worker("worker-dead")
    try:
        service.wait(job_id, until=running_with_progress)
        dead.send_signal(signal.SIGKILL)
        dead.wait()
        # The only live worker from here on, so a short lease cannot make one look dead.
        rescuer = service.worker("worker-rescuer", I2V_EXECUTOR_LEASE_S="1.5")
        try:
            view = service.wait(job_id, until=finished, timeout=120)
        finally:
            rescuer.send_signal(signal.SIGTERM)
            rescuer.wait(timeout=60)
    finally:
        if dead.poll() is None:
            dead.kill()
    assert view.state is JobState.SUCCEEDED, view
    assert count(service.app, Artifact, job_id=job_id) == 2


def test_two_workers_split_twenty_jobs_and_none_runs_twice(
    service: Service, request: pytest.FixtureRequest
) -> None:
    if "postgres" not in request.node.callspec.id:
        pytest.skip("several workers share one PostgreSQL; SQLite is the one-process mode")
    other = accounts.create_user(service.app.db, "second")
    image = EXAMPLE.read_bytes()
    blobs = open_blobs(service.settings)
    ids = [
        jobs.submit(service.app, service.queue, blobs, owner, image, QUICK).job.id
        for owner in (service.user, other)
        for _ in range(10)
    ]
    workers = [service.worker("worker-1"), service.worker("worker-2")]
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            states = [_state(service.app, job_id) for job_id in ids]
            if all(state.terminal for state in states):
                break
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
    assert [_state(service.app, job_id) for job_id in ids] == [JobState.SUCCEEDED] * 20
    ran_on = service.queue.executors(ids)
    assert set(ran_on.values()) == {"worker-1", "worker-2"}, ran_on
    for job_id in ids:
        assert count(service.app, JobEvent, job_id=job_id, type="state") == 3
        assert count(service.app, Artifact, job_id=job_id) == 2
        with service.app.db.session() as session:
            progress = [
                e.data["progress"]
                for e in session.scalars(
                    select(JobEvent)
                    .where(JobEvent.job_id == job_id, JobEvent.type == "progress")
                    .order_by(JobEvent.id)
                )
            ]
        assert progress == sorted(progress), f"{job_id} was generated more than once: {progress}"


def _state(app: App, job_id: str) -> JobState:
    with app.db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return JobState(job.state)


def test_a_user_has_at_most_two_jobs_running_at_once(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service.settings, "worker_concurrency", 4)
    engine = start_engine(service.app, open_blobs(service.settings), role="test")
    try:
        ids = [
            service.submit(
                RenderSpec(Motion.ZOOM_IN, Intensity.SUBTLE, Size(540, 960), 6, 30, seed=i)
            )
            for i in range(4)
        ]
        most = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            states = [_state(service.app, job_id) for job_id in ids]
            most = max(most, states.count(JobState.RUNNING))
            if all(state.terminal for state in states):
                break
            time.sleep(0.02)
    finally:
        engine.stop()
    assert states == [JobState.SUCCEEDED] * 4
    assert most == 2


def run_on_comfyui(service: Service, fake: FakeComfyUI) -> tuple[str, jobs.JobView]:
    """Submit one backend=comfyui job with the fake as the only server and run it to its end."""
    settings = service.settings.model_copy(update={"comfyui_urls": [fake.url]})
    app = open_app(settings, migrate=False)
    engine = start_engine(app, open_blobs(settings), role="test")
    try:
        job_id = jobs.submit(
            app, service.queue, open_blobs(settings), service.user, EXAMPLE.read_bytes(),
            QUICK, "comfyui",
        ).job.id  # fmt: skip
        return job_id, service.wait(job_id, until=finished)
    finally:
        engine.stop()
        app.close()


def test_a_comfyui_job_is_generated_remotely_and_published(
    service: Service, tmp_path: Path
) -> None:
    with FakeComfyUI(tmp_path / "comfy", installed_models=installed_models()) as fake:
        _, view = run_on_comfyui(service, fake)
        assert view.state is JobState.SUCCEEDED, view
        assert len(fake.executed_prompts) == 1
    video = next(a for a in view.artifacts if a.kind == "video")
    assert video.size > 0


def test_a_comfyui_failure_keeps_its_traceback_for_operators_only(
    service: Service, tmp_path: Path
) -> None:
    with FakeComfyUI(tmp_path / "comfy", installed_models=installed_models()) as fake:
        fake.faults.execution_error_on = "KSampler"
        job_id, view = run_on_comfyui(service, fake)
    assert (view.state, view.error_code) == (JobState.FAILED, "execution_failed")
    assert view.error_message is not None
    assert "KSampler" in view.error_message
    assert "Traceback" not in view.error_message
    streamed = jobs.job_events(service.app, service.user, job_id, 0)
    assert "diagnostics" not in {event.type for event in streamed}
    with service.app.db.session() as session:
        (detail,) = session.scalars(
            select(JobEvent.data).where(JobEvent.job_id == job_id, JobEvent.type == "diagnostics")
        )
    assert detail["node_type"] == "KSampler"
    assert detail["traceback"]
    assert detail["server"] == fake.url

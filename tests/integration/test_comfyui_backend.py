"""The ComfyUI backend end to end against the fake server: dispatch, faults, retries, publish.

Our production client is pointed at fake ComfyUI servers on loopback; nothing of ours is
patched. Each run goes through `generate_video`, so the clip is also published to spec.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from i2v.backends.base import GenerationRequest, Progress
from i2v.backends.comfyui.backend import ComfyBackend
from i2v.backends.comfyui.client import ComfyClient
from i2v.backends.comfyui.workflows.library import get_workflow
from i2v.config import Settings
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import Fit, RenderSpec
from i2v.errors import ExecutionFailed, ModelNotInstalled, ServerUnreachable
from i2v.media.image import ImageLimits, load_image
from i2v.media.probe import probe_video
from i2v.services.generate import generate_video
from tests.conftest import i2v_environment
from tests.fakes.comfyui import FakeComfyUI
from tests.support.fleet import installed_models

pytestmark = pytest.mark.integration

WORKFLOW = "wan22_ti2v_5b"
SPEC = RenderSpec(
    motion=Motion.ZOOM_IN,
    intensity=Intensity.NORMAL,
    size=Size(360, 640),
    fps=24,
    duration_s=3,
    prompt="a slow push in on the lighthouse",
)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[FakeComfyUI]]:
    fakes = [
        FakeComfyUI(tmp_path / f"comfy{i}", installed_models=installed_models()) for i in (0, 1)
    ]
    for fake in fakes:
        fake.start()
    try:
        yield fakes
    finally:
        for fake in fakes:
            fake.stop()


def run(
    image: Path,
    folder: Path,
    urls: list[str],
    *,
    run_id: str = "run-1",
    on_progress: object = None,
) -> Path:
    settings = Settings(comfyui_urls=urls, comfyui_workflow=WORKFLOW, comfyui_timeout_s=60)
    out = folder / "out.mp4"
    folder.mkdir(exist_ok=True)
    seen: list[float] = []

    def progress(event: Progress) -> None:
        if event.stage == "generate":
            seen.append(event.fraction)
        if callable(on_progress):
            on_progress(event)

    generate_video(image, out, SPEC, settings, progress, "comfyui", run_id=run_id)
    assert seen == sorted(seen)
    return out


def comfy(*urls: str, **kwargs: Any) -> ComfyBackend:
    settings = Settings(comfyui_urls=list(urls), comfyui_workflow=WORKFLOW, comfyui_timeout_s=60)
    return ComfyBackend(settings, **kwargs)


def job(image: Path, workdir: Path, run_id: str = "run-1") -> GenerationRequest:
    """What generate_video hands the backend, without the publishing around it."""
    workdir.mkdir(parents=True, exist_ok=True)
    return GenerationRequest(
        image=load_image(image, ImageLimits(max_pixels=50_000_000, min_side=256)),
        prompt=SPEC.prompt or "", seed=0, size=SPEC.size, fps=SPEC.fps,
        frame_count=SPEC.frame_count, motion=SPEC.motion, intensity=SPEC.intensity,
        fit=Fit.COVER, workflow=None, workdir=workdir, run_id=run_id,
    )  # fmt: skip


def ignore(_: Progress) -> None:
    pass


def test_a_run_is_published_to_the_preset(
    servers: list[FakeComfyUI], photo_jpeg: Path, tmp_path: Path
) -> None:
    fake = servers[0]
    out = run(photo_jpeg, tmp_path / "a", [fake.url])
    info = probe_video(out)
    assert (info.codec, info.pix_fmt, info.width, info.height) == ("h264", "yuv420p", 360, 640)
    assert info.fps == 24
    assert info.faststart
    assert len(fake.executed_prompts) == 1
    assert not fake.origin_headers_seen, "ComfyUI refuses a mismatched Origin: never send one"
    assert [name.startswith("i2v_") for name in fake.uploads] == [True]
    prompt = fake.history(fake.executed_prompts[0])
    assert prompt is not None
    graph = prompt["prompt"][2]
    texts = [n["inputs"].get("text") for n in graph.values() if n["class_type"] == "CLIPTextEncode"]
    assert SPEC.prompt in texts


def test_the_least_loaded_server_gets_the_job(
    servers: list[FakeComfyUI], photo_jpeg: Path, tmp_path: Path
) -> None:
    busy, idle = servers
    busy.pause()
    workflow = get_workflow(WORKFLOW)
    with ComfyClient(busy.url) as client:
        uploaded = client.upload_image(photo_jpeg.read_bytes(), "other.jpg")
        graph = workflow.fill(replace(workflow.default_params(), image_name=uploaded.name))
        for i in range(2):
            client.submit(graph, client_id="someone-else", prompt_id=str(uuid.UUID(int=i + 1)))
    run(photo_jpeg, tmp_path / "a", [busy.url, idle.url])
    assert len(idle.executed_prompts) == 1
    busy.resume()


def test_a_dropped_socket_falls_back_to_polling(
    servers: list[FakeComfyUI], photo_jpeg: Path, tmp_path: Path
) -> None:
    fake = servers[0]
    fake.faults.drop_socket_after_messages = 3
    out = run(photo_jpeg, tmp_path / "a", [fake.url])
    assert probe_video(out).frames > 0
    assert len(fake.executed_prompts) == 1


def test_an_execution_error_is_typed_and_not_retried(
    servers: list[FakeComfyUI], photo_jpeg: Path, tmp_path: Path
) -> None:
    first, second = servers
    first.faults.execution_error_on = "KSampler"
    with pytest.raises(ExecutionFailed) as caught:
        run(photo_jpeg, tmp_path / "a", [first.url])
    assert caught.value.node_type == "KSampler"
    assert caught.value.server == first.url
    assert caught.value.traceback  # kept for the job's events
    assert len(first.executed_prompts) == 1
    assert not second.executed_prompts


def test_out_of_memory_is_retried_on_another_server(
    servers: list[FakeComfyUI], photo_jpeg: Path, tmp_path: Path
) -> None:
    first, second = servers
    first.faults.out_of_memory_on = "KSampler"
    out = run(photo_jpeg, tmp_path / "a", [first.url, second.url])
    assert probe_video(out).frames > 0
    assert len(first.executed_prompts) == 1
    assert len(second.executed_prompts) == 1


def test_a_missing_model_is_named(photo_jpeg: Path, tmp_path: Path) -> None:
    with FakeComfyUI(tmp_path / "bare") as bare, pytest.raises(ModelNotInstalled) as caught:
        run(photo_jpeg, tmp_path / "a", [bare.url])
    names = ", ".join(name for _, name in caught.value.missing)
    assert caught.value.message == f"models {names} are not installed on {bare.url}"
    assert len(caught.value.missing) == 3
    assert not bare.executed_prompts


class SimulatedTime:
    """The backend's clock and sleep: waiting costs no real time, and `on_sleep` runs after
    each wait (to bring a server back once enough simulated time has passed)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self.on_sleep: Any = None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep()


def test_a_missing_model_on_the_only_server_is_not_retried(
    photo_jpeg: Path, tmp_path: Path
) -> None:
    time_ = SimulatedTime()
    with FakeComfyUI(tmp_path / "bare") as bare:
        backend = comfy(bare.url, clock=time_.clock, sleep=time_.sleep)
        with pytest.raises(ModelNotInstalled):
            backend.generate(job(photo_jpeg, tmp_path / "a"), ignore)
    assert time_.slept == []  # it would refuse the same way again: fail at once


def test_a_refusal_is_retried_while_another_server_is_not_answering(
    photo_jpeg: Path, tmp_path: Path
) -> None:
    time_ = SimulatedTime()
    ready = FakeComfyUI(tmp_path / "ready", installed_models=installed_models())  # down
    with FakeComfyUI(tmp_path / "bare") as bare:
        time_.on_sleep = lambda: ready._server or ready.start()  # back after the first wait
        backend = comfy(bare.url, ready.url, clock=time_.clock, sleep=time_.sleep)
        try:
            clip = backend.generate(job(photo_jpeg, tmp_path / "a"), ignore)
        finally:
            ready.stop()
    assert clip.path.stat().st_size > 0
    assert time_.slept == [1]
    assert len(ready.executed_prompts) == 1
    assert not bare.executed_prompts


def test_models_installed_after_a_refusal_are_seen_by_the_next_job(
    photo_jpeg: Path, tmp_path: Path
) -> None:
    with FakeComfyUI(tmp_path / "bare") as fake:
        with pytest.raises(ModelNotInstalled):
            comfy(fake.url).generate(job(photo_jpeg, tmp_path / "a"), ignore)
        for folder, names in installed_models().items():  # the user downloads the files
            fake.installed_models.setdefault(folder, []).extend(names)
        clip = comfy(fake.url).generate(job(photo_jpeg, tmp_path / "b", run_id="again"), ignore)
    assert clip.path.stat().st_size > 0  # not refused from a stale copy of /object_info
    assert len(fake.executed_prompts) == 1


RESTART_S = 12.0  # a real ComfyUI 0.3.64 took 10-15 s to come back


def test_a_server_restart_of_many_seconds_is_waited_out_and_the_run_resubmitted(
    servers: list[FakeComfyUI], photo_jpeg: Path, tmp_path: Path
) -> None:
    fake = servers[0]
    fake.faults.step_delay_s = 0.05
    time_ = SimulatedTime()
    stopping: list[threading.Thread] = []
    down = [0.0]

    def go_down(event: Progress) -> None:
        if event.stage == "generate" and event.fraction > 0 and not stopping:
            stopping.append(threading.Thread(target=fake.stop))  # it loses queue and history
            stopping[0].start()

    def come_back() -> None:
        if not stopping or down[0] >= RESTART_S:
            return
        stopping[0].join()  # down for good before simulated time counts
        down[0] += time_.slept[-1]
        if down[0] >= RESTART_S:
            fake.start()  # on the same port, empty

    time_.on_sleep = come_back
    backend = comfy(fake.url, clock=time_.clock, sleep=time_.sleep)
    clip = backend.generate(job(photo_jpeg, tmp_path / "a"), go_down)
    assert clip.path.stat().st_size > 0
    assert sum(time_.slept) >= RESTART_S
    first, again = fake.executed_prompts  # the run the restart lost was submitted again
    assert first == again


def test_a_real_time_restart_longer_than_the_old_retries_spanned(
    servers: list[FakeComfyUI], photo_jpeg: Path, tmp_path: Path
) -> None:
    fake = servers[0]
    fake.faults.step_delay_s = 0.05
    restarted = threading.Event()

    def restart_once(event: Progress) -> None:
        if event.stage == "generate" and event.fraction > 0 and not restarted.is_set():
            restarted.set()
            # Three attempts spanned 3 s; this restart is longer (a real one, 10-15 s).
            threading.Thread(target=fake.restart, kwargs={"down_s": 3.5}).start()

    clip = comfy(fake.url).generate(job(photo_jpeg, tmp_path / "a"), restart_once)
    assert clip.path.stat().st_size > 0
    first, again = fake.executed_prompts
    assert first == again


def test_a_server_that_stays_down_fails_the_job_after_the_budget(
    photo_jpeg: Path, tmp_path: Path
) -> None:
    time_ = SimulatedTime()
    fake = FakeComfyUI(tmp_path / "gone")  # never started: nothing listens on its port
    settings = Settings(
        comfyui_urls=[fake.url], comfyui_workflow=WORKFLOW, comfyui_unreachable_budget_s=20
    )
    backend = ComfyBackend(settings, clock=time_.clock, sleep=time_.sleep)
    with pytest.raises(ServerUnreachable):
        backend.generate(job(photo_jpeg, tmp_path / "a"), ignore)
    assert time_.now == pytest.approx(20)  # the budget, all of it and no more
    assert time_.slept[:4] == [1, 2, 4, 5]  # backing off, but never long: it may be back
    assert max(time_.slept) <= 5


def test_500s_on_submit_are_retried_and_the_prompt_runs_once(
    servers: list[FakeComfyUI], photo_jpeg: Path, tmp_path: Path
) -> None:
    fake = servers[0]
    fake.faults.http_500["/prompt"] = 1
    run(photo_jpeg, tmp_path / "a", [fake.url])
    assert len(fake.executed_prompts) == 1


def test_a_repeated_run_attaches_to_the_earlier_one(
    servers: list[FakeComfyUI], photo_jpeg: Path, tmp_path: Path
) -> None:
    fake = servers[0]
    run(photo_jpeg, tmp_path / "a", [fake.url], run_id="same")
    run(photo_jpeg, tmp_path / "b", [fake.url], run_id="same")  # a recovered step, say
    assert len(fake.executed_prompts) == 1


def test_attaching_to_a_finished_run_returns_at_once(
    servers: list[FakeComfyUI], photo_jpeg: Path, tmp_path: Path
) -> None:
    fake = servers[0]
    comfy(fake.url).generate(job(photo_jpeg, tmp_path / "a", run_id="done"), ignore)
    started = time.monotonic()
    clip = comfy(fake.url).generate(job(photo_jpeg, tmp_path / "b", run_id="done"), ignore)
    # It used to wait a whole socket read timeout (1 s) for messages long gone.
    assert time.monotonic() - started < 0.5
    assert clip.path.stat().st_size > 0
    assert len(fake.executed_prompts) == 1


def test_a_restart_that_loses_the_run_submits_it_again(
    servers: list[FakeComfyUI], photo_jpeg: Path, tmp_path: Path
) -> None:
    fake = servers[0]
    fake.faults.step_delay_s = 0.05
    restarted = threading.Event()

    def restart_once(event: Progress) -> None:
        if event.stage == "generate" and event.fraction > 0 and not restarted.is_set():
            restarted.set()
            threading.Thread(target=fake.restart).start()

    out = run(photo_jpeg, tmp_path / "a", [fake.url], on_progress=restart_once)
    assert restarted.is_set()
    assert probe_video(out).frames > 0


class Cancelled(Exception):
    pass


def test_cancelling_interrupts_the_run_on_the_server(
    servers: list[FakeComfyUI], photo_jpeg: Path, tmp_path: Path
) -> None:
    fake = servers[0]
    fake.faults.step_delay_s = 0.2

    def cancel(event: Progress) -> None:
        if event.stage == "generate" and event.fraction > 0:
            raise Cancelled

    with pytest.raises(Cancelled):
        run(photo_jpeg, tmp_path / "a", [fake.url], on_progress=cancel)
    fake.wait_idle()
    (prompt_id,) = fake.executed_prompts
    entry = fake.history(prompt_id)
    assert entry is not None
    assert entry["status"]["status_str"] == "error"  # interrupted, not left running


def test_cli_validates_a_workflow_against_a_live_server(
    servers: list[FakeComfyUI], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from i2v.cli.workflows import workflows_app

    ready = CliRunner().invoke(workflows_app, ["validate", WORKFLOW, "--server", servers[0].url])
    assert ready.exit_code == 0, ready.output
    assert f"valid against {servers[0].url}" in ready.stdout
    assert "model files not checked" not in ready.stdout
    with FakeComfyUI(tmp_path / "bare") as bare:
        missing = CliRunner().invoke(workflows_app, ["validate", WORKFLOW, "--server", bare.url])
    assert missing.exit_code == 2
    assert "wan2.2_ti2v_5B_fp16.safetensors is not installed" in missing.stderr


def test_cancelling_while_queued_removes_it_from_the_queue(
    servers: list[FakeComfyUI], photo_jpeg: Path, tmp_path: Path
) -> None:
    fake = servers[0]
    fake.pause()  # the prompt stays pending
    started = time.monotonic()

    def cancel_after_a_while(event: Progress) -> None:
        if event.stage == "generate" and time.monotonic() - started > 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        run(photo_jpeg, tmp_path / "a", [fake.url], on_progress=cancel_after_a_while)
    with ComfyClient(fake.url) as client:
        queue = client.queue()
    assert queue.pending == ()
    fake.resume()
    fake.wait_idle()
    assert fake.executed_prompts == []


CHILD = """
import sys
from pathlib import Path
from i2v.config import Settings
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import RenderSpec
from i2v.services.generate import generate_video

image, out, url = sys.argv[1:4]
spec = RenderSpec(Motion.ZOOM_IN, Intensity.NORMAL, Size(360, 640), duration_s=3, fps=24)
settings = Settings(comfyui_urls=[url], comfyui_workflow="wan22_ti2v_5b")
generate_video(Path(image), Path(out), spec, settings, lambda _: None, "comfyui", run_id="crash")
"""


def test_a_worker_killed_mid_run_resumes_by_prompt_id_without_submitting_twice(
    servers: list[FakeComfyUI], photo_jpeg: Path, tmp_path: Path
) -> None:
    fake = servers[0]
    fake.faults.step_delay_s = 0.1  # a run of a few seconds
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(photo_jpeg), str(tmp_path / "child.mp4"), fake.url],
        env=i2v_environment(), stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not fake.executed_prompts:
            assert time.monotonic() < deadline, child.stderr.read() if child.stderr else ""
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)  # no cancel, no cleanup: a crash
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
    out = run(photo_jpeg, tmp_path / "again", [fake.url], run_id="crash")
    assert probe_video(out).frames > 0
    assert len(fake.executed_prompts) == 1  # the recovered step followed the first run

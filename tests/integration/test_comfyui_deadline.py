"""A run's time limit (I2V_COMFYUI_TIMEOUT_S) on a ComfyUI server: it counts from when the
prompt starts executing, and a prompt past it is interrupted on the server before the run
gives up, never left running."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from i2v.backends.base import Progress
from i2v.config import Settings
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import RenderSpec
from i2v.errors import ServerUnreachable
from i2v.media.probe import probe_video
from i2v.services.generate import generate_video
from tests.fakes.comfyui import FakeComfyUI
from tests.support.fleet import WORKFLOW, installed_models

pytestmark = pytest.mark.integration
SPEC = RenderSpec(Motion.ZOOM_IN, Intensity.NORMAL, Size(360, 640), duration_s=3, fps=24)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FakeComfyUI]:
    fake = FakeComfyUI(tmp_path / "comfy", installed_models=installed_models())
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def generate(server: FakeComfyUI, image: Path, out: Path, timeout_s: float) -> Path:
    settings = Settings(
        comfyui_urls=[server.url], comfyui_workflow=WORKFLOW, comfyui_timeout_s=timeout_s
    )

    def progress(_: Progress) -> None:
        pass

    return generate_video(image, out, SPEC, settings, progress, "comfyui").video


def test_time_in_the_servers_queue_does_not_count(
    server: FakeComfyUI, photo_jpeg: Path, tmp_path: Path
) -> None:
    server.pause()  # a busy server: the prompt waits in its queue for 8 s
    threading.Timer(8.0, server.resume).start()
    video = generate(server, photo_jpeg, tmp_path / "out.mp4", timeout_s=5.0)
    assert probe_video(video).frames > 0
    assert len(server.executed_prompts) == 1


def test_a_prompt_past_its_limit_is_interrupted_before_the_run_gives_up(
    server: FakeComfyUI, photo_jpeg: Path, tmp_path: Path
) -> None:
    server.faults.hang_prompt = True  # its first node runs until interrupted
    with pytest.raises(ServerUnreachable, match="missed its deadline"):
        generate(server, photo_jpeg, tmp_path / "out.mp4", timeout_s=1.0)
    server.wait_idle(timeout=5)  # interrupted: nothing is left running on the GPU
    (prompt_id,) = server.executed_prompts
    entry = server.history(prompt_id)
    assert entry is not None
    assert entry["status"]["status_str"] == "error"

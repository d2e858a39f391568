"""Jobs queued for one busy GPU: a run's time limit starts when its prompt starts executing.

Six jobs share one fleet instance, one at a time. Each executes for about 3.5 s, under the
8 s limit, but the last ones wait twice that in line: none may fail for it, and each prompt
executes exactly once (no paid run thrown away).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from i2v.backends.base import Progress
from i2v.config import Settings
from i2v.db.engine import Database
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import RenderSpec
from i2v.media.probe import probe_video
from i2v.services.generate import GenerateResult, generate_video
from tests.fakes.vast import FakeVast
from tests.support import fleet as support

pytestmark = pytest.mark.integration
JOBS = 6
TIMEOUT_S = 8.0
SPEC = RenderSpec(Motion.ZOOM_IN, Intensity.NORMAL, Size(360, 640), duration_s=3, fps=24)


@pytest.fixture
def vast(tmp_path: Path) -> Iterator[FakeVast]:
    models = support.installed_models()
    with FakeVast(tmp_path / "vast", installed_models=models, node_delay_s=0.25) as fake:
        fake.ready_delay_s = 0.1
        yield fake


def test_runs_waiting_in_line_do_not_miss_a_deadline_they_never_started(
    db: Database, vast: FakeVast, photo_jpeg: Path, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=db.engine.url.render_as_string(hide_password=False),
        fleet_enabled=True,
        fleet_deployment="test",
        fleet_providers=["vast"],
        fleet_poll_s=0.05,
        fleet_line_poll_s=0.05,
        fleet_max_instances=1,
        fleet_queue_wait_s=3600,  # queue for the one instance, never rent another
        fleet_min_vram_gb=20,
        fleet_min_cuda=12.0,
        vast_url=vast.url,
        vast_api_key=vast.api_key,
        vast_template="tmpl-comfyui",
        comfyui_workflow=support.WORKFLOW,
        comfyui_timeout_s=TIMEOUT_S,
    )

    async def launch() -> None:
        providers = {"vast": support.vast(vast.url, vast.api_key)}
        async with support.manager(db, providers, support.config(("vast",))) as fleet:
            await fleet.launch(support.needs())

    asyncio.run(launch())

    def job(index: int) -> GenerateResult:
        def progress(_: Progress) -> None:
            pass

        video = tmp_path / f"job-{index}.mp4"
        return generate_video(photo_jpeg, video, SPEC, settings, progress, "comfyui", f"q-{index}")

    with ThreadPoolExecutor(JOBS) as pool:
        results = list(pool.map(job, range(JOBS)))

    assert all(probe_video(result.video).frames > 0 for result in results)
    (comfy,) = vast.comfy.values()
    assert len(comfy.executed_prompts) == JOBS  # every paid run was used, none run twice
    assert len(set(comfy.executed_prompts)) == JOBS
    assert len(vast.creations()) == 1

"""The VideoBackend contract, checked alike on every backend: local, comfyui and fal.

ComfyUI and fal run against their fakes on loopback (tests/fakes/). What every backend owes
its callers: a name, a refusal of a parameter it cannot honour (InvalidParameter, naming the
field) at `prepare`, a prepared spec that prepares to itself, sane progress, and frames at
the requested size or a finished clip inside the run's scratch folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from i2v.api.problems import status_for
from i2v.backends.base import (
    EncodedClip,
    FrameStream,
    GenerationRequest,
    Progress,
    VideoBackend,
)
from i2v.backends.comfyui.backend import ComfyBackend
from i2v.backends.fal.backend import FalBackend
from i2v.backends.fal.checkpoint import MemoryRequestLog
from i2v.backends.fal.client import FalClient
from i2v.backends.local.backend import LocalBackend
from i2v.backends.registry import BACKENDS
from i2v.config import Settings
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import RenderSpec
from i2v.errors import InvalidParameter
from i2v.media.image import ImageLimits, load_image
from i2v.media.probe import probe_video
from tests.conftest import photo_pixels, save_image
from tests.fakes.comfyui import FakeComfyUI
from tests.fakes.fal import FakeFal
from tests.support.fleet import WORKFLOW, installed_models

pytestmark = pytest.mark.integration

SPEC = RenderSpec(
    motion=Motion.ZOOM_IN,
    intensity=Intensity.NORMAL,
    size=Size(360, 640),
    fps=24,
    duration_s=3,
    prompt="a slow push in on the lighthouse",
)


@dataclass(frozen=True)
class Under:
    """A backend under test, a spec it runs, and one it must refuse (and the field why)."""

    name: str
    backend: VideoBackend
    good: RenderSpec
    bad: RenderSpec
    field: str


@pytest.fixture(params=sorted(BACKENDS))
def under(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Under]:
    name: str = request.param
    if name == "local":
        yield Under(name, LocalBackend(), SPEC, replace(SPEC, resolution="720p"), "resolution")
    elif name == "comfyui":
        with FakeComfyUI(tmp_path / "comfy", installed_models=installed_models()) as fake:
            settings = Settings(
                data_dir=tmp_path / "data",
                comfyui_urls=[fake.url],
                comfyui_workflow=WORKFLOW,
                comfyui_timeout_s=60,
            )
            bad = replace(SPEC, resolution="720p")
            yield Under(name, ComfyBackend(settings), SPEC, bad, "resolution")
    elif name == "fal":
        with FakeFal() as fake:
            settings = Settings(
                data_dir=tmp_path / "data",
                fal_key=fake.key,
                fal_queue_url=fake.url,
                fal_rest_url=fake.url,
                fal_poll_s=0.001,
            )
            backend = FalBackend(
                settings,
                log=MemoryRequestLog(),
                client=lambda: FalClient.from_settings(settings),
            )
            good = replace(SPEC, model="kling-2.5-turbo-pro", duration_s=5)
            yield Under(name, backend, good, replace(good, duration_s=7), "duration")
    else:  # pragma: no cover - a new backend joins the registry
        pytest.fail(f"backend {name!r} has no contract fixture: add one")


@pytest.fixture(scope="module")
def picture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_image(photo_pixels(640, 400), tmp_path_factory.mktemp("contract") / "photo.jpg")


def request_for(spec: RenderSpec, picture: Path, workdir: Path) -> GenerationRequest:
    """What generate_video hands a backend for a prepared spec."""
    workdir.mkdir(parents=True, exist_ok=True)
    return GenerationRequest(
        image=load_image(picture, ImageLimits(max_pixels=50_000_000, min_side=256)),
        prompt=spec.prompt, seed=spec.seed, size=spec.size, fps=spec.fps,
        frame_count=spec.frame_count, motion=spec.motion, intensity=spec.intensity,
        fit=spec.fit, workflow=spec.workflow, workdir=workdir, run_id="contract-run",
        model=spec.model, negative_prompt=spec.negative_prompt, resolution=spec.resolution,
        audio=spec.audio, duration_s=spec.duration_s,
    )  # fmt: skip


def test_capabilities_name_the_backend(under: Under) -> None:
    found = under.backend.capabilities()
    assert found.name == under.name  # the registry's name: routing and events use it
    assert found.max_frames >= 0
    assert isinstance(found.needs_gpu, bool)
    assert isinstance(found.runs_locally, bool)


def test_prepare_refuses_what_it_cannot_honour(under: Under) -> None:
    with pytest.raises(InvalidParameter) as caught:
        under.backend.prepare(under.bad)
    assert caught.value.field == under.field
    assert caught.value.message
    assert status_for(caught.value) == 422


def test_a_prepared_spec_prepares_to_itself(under: Under) -> None:
    """Jobs store the prepared spec and prepare it again on retry and in the cache key."""
    prepared = under.backend.prepare(under.good)
    assert under.backend.prepare(prepared) == prepared
    assert (prepared.size, prepared.fps, prepared.duration_s) == (
        under.good.size,
        under.good.fps,
        under.good.duration_s,
    )


def test_generate_gives_frames_at_the_size_or_a_clip(
    under: Under, picture: Path, tmp_path: Path
) -> None:
    prepared = under.backend.prepare(under.good)
    request = request_for(prepared, picture, tmp_path / "work")
    events: list[Progress] = []
    result = under.backend.generate(request, events.append)
    for event in events:
        assert event.stage
        assert 0 <= event.done <= event.total
    if isinstance(result, FrameStream):
        assert (result.size, result.fps, result.frame_count) == (
            request.size,
            request.fps,
            request.frame_count,
        )
        shape = (request.size.height * 3 // 2, request.size.width)
        count = 0
        for frame in result.frames():
            assert frame.shape == shape
            assert frame.dtype == np.uint8
            count += 1
        assert count == result.frame_count
    else:
        assert isinstance(result, EncodedClip)
        assert result.path.is_file()
        assert result.path.is_relative_to(request.workdir)  # removed with the run's scratch
        info = probe_video(result.path)
        assert info.codec == "h264"
        assert info.frames > 0
        assert info.width % 2 == 0
        assert info.height % 2 == 0
        assert result.cost_usd >= Decimal(0)

"""backend=auto fails over: a ComfyUI server that lacks the model's files hands the job to
fal, the job's events say where it ran and why it moved, and it is billed for what ran."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from i2v.backends.base import Progress
from i2v.config import Settings
from i2v.db.engine import open_database
from i2v.db.migrate import upgrade
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import RenderSpec
from i2v.errors import ContentRefused
from i2v.media.conform import publish_ready
from i2v.services.breaker import Breakers
from i2v.services.generate import generate_video
from i2v.services.routing import RouteEvent
from tests.conftest import i2v_environment
from tests.fakes.comfyui import FakeComfyUI
from tests.fakes.fal import FakeFal, Script
from tests.support.serve import free_port, wait_ready

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "example.jpg"
I2V = Path(sys.executable).parent / "i2v"
MODEL = "wan-2.2-14b"  # a ComfyUI workflow and a fal endpoint
WAN = "fal-ai/wan/v2.2-a14b/image-to-video"


def _flipped(path: Path) -> bytes:
    out = io.BytesIO()
    Image.open(path).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(out, format="PNG")
    return out.getvalue()


END = _flipped(EXAMPLE)  # an end image: the start one, mirrored


def _settings(tmp_path: Path, comfy: FakeComfyUI, fal: FakeFal) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path / "data",
        comfyui_urls=comfy.url,
        fal_key=fal.key,
        fal_queue_url=fal.url,
        fal_rest_url=fal.url,
        fal_poll_s=0.02,
    )


def _spec() -> RenderSpec:
    return RenderSpec(
        Motion.ZOOM_IN, Intensity.SUBTLE, Size(360, 640), 5, 24, prompt="waves", model=MODEL
    )


def test_a_retryable_failure_moves_the_job_to_the_next_backend(tmp_path: Path) -> None:
    with FakeComfyUI(tmp_path / "comfy") as comfy, FakeFal() as fal:  # comfy has no models
        settings = _settings(tmp_path, comfy, fal)
        db = open_database(f"sqlite:///{tmp_path / 'i2v.db'}")
        upgrade(db)
        breakers = Breakers(db, threshold=1, open_s=600)
        route: list[RouteEvent] = []
        progress: list[Progress] = []
        result = generate_video(
            EXAMPLE, tmp_path / "out.mp4", _spec(), settings, progress.append, "auto",
            breakers=breakers, on_route=route.append,
        )  # fmt: skip
        assert result.backend == "fal"
        assert result.cost_usd == Decimal("0.40")  # only what ran: the fal request
        assert route[0] == RouteEvent("comfyui")
        assert route[1].backend == "fal"
        assert route[1].moved_from == "comfyui"
        assert route[1].reason is not None
        assert route[1].reason.startswith("model_not_installed:")
        assert publish_ready(result.info, Size(360, 640), 24)
        assert set(breakers.tripped()) == {"comfyui"}  # the next auto job skips it
        route.clear()
        generate_video(
            EXAMPLE, tmp_path / "again.mp4", _spec(), settings, progress.append, "auto",
            breakers=breakers, on_route=route.append,
        )  # fmt: skip
        assert route == [RouteEvent("fal")]
        assert len(fal.requests) == 2
        db.dispose()


def test_a_refusal_does_not_fail_over(tmp_path: Path) -> None:
    with FakeComfyUI(tmp_path / "comfy") as comfy, FakeFal() as fal:
        settings = _settings(tmp_path, comfy, fal).model_copy(update={"comfyui_urls": []})
        fal.scripts[WAN] = Script(fault="content_policy")
        route: list[RouteEvent] = []
        with pytest.raises(ContentRefused) as refused:
            generate_video(
                EXAMPLE, tmp_path / "out.mp4", _spec(), settings, lambda _: None, "auto",
                on_route=route.append,
            )  # fmt: skip
        assert refused.value.field == "image_url"
        assert route == [RouteEvent("fal")]
        assert not (tmp_path / "out.mp4").exists()


def test_over_http_the_job_says_where_it_ran_and_why_it_moved(tmp_path: Path) -> None:
    with FakeComfyUI(tmp_path / "comfy") as comfy, FakeFal() as fal:
        env = {
            **i2v_environment(),
            "I2V_DATA_DIR": str(tmp_path / "data"),
            "I2V_COMFYUI_URLS": comfy.url,
            "I2V_FAL_KEY": fal.key,
            "I2V_FAL_QUEUE_URL": fal.url,
            "I2V_FAL_REST_URL": fal.url,
            "I2V_FAL_POLL_S": "0.05",
        }
        subprocess.run([str(I2V), "users", "create", "alice"], env=env, check=True)
        key = subprocess.run(
            [str(I2V), "keys", "create", "alice"], env=env, check=True, capture_output=True,
            text=True,
        ).stdout.strip()  # fmt: skip
        port = free_port()
        server = subprocess.Popen([str(I2V), "serve", "--port", str(port)], env=env)
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {key}"}
        try:
            wait_ready(base, server)
            created = httpx.post(
                f"{base}/v1/jobs",
                headers=headers,
                files={"image": ("lake.jpg", EXAMPLE.read_bytes())},
                data={"model": MODEL, "size": "360x640", "fps": "24", "prompt": "waves"},
            )
            assert created.status_code == 201, created.text
            job = created.json()
            assert job["backend"] == "auto"
            assert job["model"] == MODEL
            assert job["spec"]["route"] == ["comfyui", "fal"]
            assert job["cost_estimate_usd"] == 0  # own servers first: not metered
            job = _finished(base, headers, job["id"])
            assert job["state"] == "succeeded", job
            assert job["backend"] == "fal"
            assert job["cost_usd"] == pytest.approx(0.40)
            events = httpx.get(f"{base}/v1/jobs/{job['id']}/events", headers=headers).text
            # With an end image, only fal's endpoint can run it: ComfyUI's workflow takes none.
            with_end = httpx.post(
                f"{base}/v1/jobs",
                headers=headers,
                files={"image": ("lake.jpg", EXAMPLE.read_bytes()), "end_image": ("e.png", END)},
                data={"model": MODEL, "size": "360x640", "fps": "24", "prompt": "waves"},
            )
            assert with_end.status_code == 201, with_end.text
            assert with_end.json()["spec"]["route"] == ["fal"]
            assert with_end.json()["spec"]["end_frame"] is True
            ended = _finished(base, headers, with_end.json()["id"])
            assert (ended["state"], ended["backend"]) == ("succeeded", "fal"), ended
            submits = [s for s in fal.seen if s.method == "POST" and s.path.endswith(WAN)]
            # The full-size picture goes through fal's storage upload, as the start one does.
            sent = json.loads(submits[-1].body)
            assert sent["end_image_url"].startswith(f"{fal.url}/cdn/")
            assert sent["end_image_url"] != sent["image_url"]
        finally:
            server.terminate()
            server.wait(timeout=60)
    assert 'event: route\ndata: {"backend": "comfyui"' in events
    assert '"backend": "fal", "moved_from": "comfyui", "reason": "model_not_installed:' in events


def _finished(base: str, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while True:
        job: dict[str, Any] = httpx.get(f"{base}/v1/jobs/{job_id}", headers=headers).json()
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)

"""`i2v serve` with I2V_COMFYUI_URLS on the fake: a backend=comfyui job over HTTP, end to end."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from i2v.domain.size import Size
from i2v.media.conform import publish_ready
from i2v.media.probe import probe_video
from tests.conftest import i2v_environment
from tests.fakes.comfyui import FakeComfyUI
from tests.support.fleet import installed_models
from tests.support.serve import free_port, wait_ready

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
I2V = Path(sys.executable).parent / "i2v"


def test_a_comfyui_job_over_http_completes_publish_ready(tmp_path: Path) -> None:
    with FakeComfyUI(tmp_path / "comfy", installed_models=installed_models()) as fake:
        env = {**i2v_environment(), "I2V_DATA_DIR": str(tmp_path / "data"),
               "I2V_COMFYUI_URLS": fake.url}  # fmt: skip
        subprocess.run([str(I2V), "users", "create", "alice"], env=env, check=True)
        key = subprocess.run(
            [str(I2V), "keys", "create", "alice"], env=env, check=True, capture_output=True,
            text=True,
        ).stdout.strip()  # fmt: skip
        port = free_port()
        server = subprocess.Popen(
            [str(I2V), "serve", "--port", str(port)], env=env, stderr=subprocess.PIPE
        )
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {key}"}
        try:
            wait_ready(base, server)
            ready_at = time.monotonic()
            created = httpx.post(
                f"{base}/v1/jobs",
                headers=headers,
                files={"image": ("lake.jpg", (ROOT / "examples" / "example.jpg").read_bytes())},
                data={"backend": "comfyui", "workflow": "wan2.2-ti2v-5b", "size": "360x640",
                      "fps": "24", "duration": "3", "prompt": "the lake ripples"},
            )  # fmt: skip
            assert created.status_code == 201, created.text
            job = created.json()
            assert job["spec"]["workflow"] == "wan22_ti2v_5b.v1"  # pinned at submission
            while job["state"] not in ("succeeded", "failed", "cancelled"):
                assert time.monotonic() < ready_at + 120, job
                time.sleep(0.2)
                job = httpx.get(f"{base}/v1/jobs/{job['id']}", headers=headers).json()
            assert job["state"] == "succeeded", job
            video = httpx.get(f"{base}/v1/jobs/{job['id']}/video", headers=headers)
            assert video.status_code == 200
            clip = tmp_path / "clip.mp4"
            clip.write_bytes(video.content)
        finally:
            server.terminate()
            # uvicorn drains, runs the shutdown (the worker lets steps finish), then re-raises
            # SIGTERM, so the exit status is the conventional 128 + 15, with no traceback.
            assert server.wait(timeout=60) == 143
            assert server.stderr is not None
            assert "Traceback" not in server.stderr.read().decode()
        assert len(fake.executed_prompts) == 1
    info = probe_video(clip)
    assert publish_ready(info, Size(360, 640), 24)

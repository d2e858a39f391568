"""A user's own model-free workflow, added with `i2v workflows add`, run end to end on the fake.

Both go through the real console script: `generate --backend comfyui --workflow NAME` from the
shell, and a job over HTTP naming it, which pins the version it was submitted with.
"""

from __future__ import annotations

import json
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
from tests.support.serve import free_port, wait_ready
from tests.unit.test_user_workflows import BINDS, still_graph

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
I2V = Path(sys.executable).parent / "i2v"
PHOTO = ROOT / "examples" / "example.jpg"


def i2v(env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(I2V), *map(str, args)], env=env, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip


def add_still(env: dict[str, str], tmp_path: Path) -> str:
    """Add the model-free workflow as "still"; its pinned key, name@hash."""
    file = tmp_path / "still.api.json"
    file.write_text(json.dumps(still_graph()))
    added = i2v(env, "workflows", "add", file, "--name", "still", *BINDS)
    assert added.returncode == 0, added.stderr
    return added.stdout.split(":")[0]


def test_generate_runs_a_users_workflow_on_comfyui_to_a_publish_ready_mp4(tmp_path: Path) -> None:
    with FakeComfyUI(tmp_path / "comfy") as fake:
        env = {**i2v_environment(), "I2V_DATA_DIR": str(tmp_path / "data"),
               "I2V_COMFYUI_URLS": fake.url}  # fmt: skip
        key = add_still(env, tmp_path)
        out = tmp_path / "clip.mp4"
        done = i2v(env, "generate", PHOTO, "--backend", "comfyui", "--workflow", "still",
                   "--prompt", "the lake ripples", "--size", "360x640", "--duration", "3",
                   "--fps", "24", "-o", out)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert len(fake.executed_prompts) == 1
        [prompt_id] = fake.executed_prompts
        prompt = fake.history(prompt_id)
        assert prompt is not None
        graph = prompt["prompt"][2]
        assert graph["6"]["inputs"]["value"] == "the lake ripples"
        assert graph["3"]["inputs"]["amount"] == 72  # 3 s at the workflow's own 24 fps
        assert graph["1"]["inputs"]["image"].startswith("i2v_")  # the uploaded photo
        other = f"{key.split('@')[0]}@ffffffffffffffff"
        unknown = i2v(env, "generate", PHOTO, "--backend", "comfyui", "--workflow", other,
                      "-o", tmp_path / "x.mp4")  # fmt: skip
        assert unknown.returncode == 2
        assert unknown.stderr == "i2v: error: workflow still has no version ffffffffffffffff\n"
    info = probe_video(out)
    assert publish_ready(info, Size(360, 640), 24)
    assert info.frames == 72


def test_a_job_over_http_names_a_users_workflow_and_pins_its_hash(tmp_path: Path) -> None:
    with FakeComfyUI(tmp_path / "comfy") as fake:
        env = {**i2v_environment(), "I2V_DATA_DIR": str(tmp_path / "data"),
               "I2V_COMFYUI_URLS": fake.url}  # fmt: skip
        key = add_still(env, tmp_path)
        assert i2v(env, "users", "create", "alice").returncode == 0
        api_key = i2v(env, "keys", "create", "alice").stdout.strip()
        port = free_port()
        server = subprocess.Popen(
            [str(I2V), "serve", "--port", str(port)], env=env, stderr=subprocess.PIPE
        )
        base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {api_key}"}
        try:
            wait_ready(base, server)
            ready_at = time.monotonic()

            def submit(workflow: str) -> httpx.Response:
                return httpx.post(
                    f"{base}/v1/jobs", headers=headers,
                    files={"image": ("lake.jpg", PHOTO.read_bytes())},
                    data={"backend": "comfyui", "workflow": workflow, "size": "360x640",
                          "fps": "24", "duration": "3"},
                )  # fmt: skip

            refused = submit("no_such_flow")
            assert refused.status_code == 422, refused.text
            assert "unknown workflow 'no_such_flow'" in refused.text
            created = submit("still")
            assert created.status_code == 201, created.text
            job = created.json()
            assert job["spec"]["workflow"] == key  # pinned to the content hash at submission
            while job["state"] not in ("succeeded", "failed", "cancelled"):
                assert time.monotonic() < ready_at + 180, job
                time.sleep(0.2)
                job = httpx.get(f"{base}/v1/jobs/{job['id']}", headers=headers).json()
            assert job["state"] == "succeeded", job
        finally:
            server.terminate()
            assert server.wait(timeout=60) == 143
        assert len(fake.executed_prompts) == 1


def test_a_model_the_servers_lack_is_named_before_any_run(tmp_path: Path) -> None:
    loader = {"class_type": "UNETLoader", "inputs": {"unet_name": "mine_fp8.safetensors",
              "weight_dtype": "default"}}  # fmt: skip
    file = tmp_path / "wf.json"
    file.write_text(json.dumps(still_graph(**{"7": loader})))
    with FakeComfyUI(tmp_path / "comfy") as fake:
        env = {**i2v_environment(), "I2V_DATA_DIR": str(tmp_path / "data"),
               "I2V_COMFYUI_URLS": fake.url}  # fmt: skip
        added = i2v(env, "workflows", "add", file, "--name", "mine", *BINDS)
        assert added.returncode == 0, added.stderr
        assert "models: diffusion_models/mine_fp8.safetensors" in added.stdout
        checked = i2v(env, "workflows", "validate", "mine", "--server", fake.url)
        assert checked.returncode == 2
        assert "model mine_fp8.safetensors is not installed on" in checked.stderr
        done = i2v(env, "generate", PHOTO, "--backend", "comfyui", "--workflow", "mine",
                   "--size", "360x640", "--duration", "3", "-o", tmp_path / "x.mp4")  # fmt: skip
        assert done.returncode == 1
        *said, error = done.stderr.splitlines()
        assert error == f"i2v: error: model mine_fp8.safetensors is not installed on {fake.url}"
        # Before it: what the enhancer added to the empty prompt, and the prompt it sent.
        assert all(line.startswith(("note: ", "prompt (rules): ")) for line in said), said
        # A custom node the server lacks: skipped with the reason, as for a shipped workflow.
        combine = {"class_type": "VHS_VideoCombine", "inputs": {"images": ["3", 0]}}
        file.write_text(json.dumps(still_graph(**{"5": combine, "4": None})))
        added = i2v(env, "workflows", "add", file, "--name", "custom", *BINDS, "--fps", "24")
        assert added.returncode == 0, added.stderr
        done = i2v(env, "generate", PHOTO, "--backend", "comfyui", "--workflow", "custom",
                   "--size", "360x640", "--duration", "3", "-o", tmp_path / "x.mp4")  # fmt: skip
        assert done.returncode == 1
        assert f"{fake.url} cannot run workflow custom: it lacks the nodes VHS_VideoCombine" in (
            done.stderr
        )
        assert fake.executed_prompts == []
        assert not (tmp_path / "x.mp4").exists()

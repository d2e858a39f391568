"""Benchmark what i2v's ComfyUI backend adds per job, against a minimal direct client.

Both run the same Wan 2.2 5B prompts against one fake ComfyUI on loopback, one job at a
time, interleaved in rounds so machine noise hits both alike:
- i2v: `ComfyBackend.generate` (PNG upload, earlier-run lookup, readiness and load check,
  graph fill and validation, submit, websocket follow, download);
- direct: upload, POST /prompt, wait on the websocket for the end, GET /history, GET /view.
Publishing (re-timing to the preset) is left out of both: it is the same work either way.

    python bench/comfyui_overhead.py [--jobs 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.comfyui import FakeComfyUI  # noqa: E402
from tests.support.fleet import WORKFLOW, installed_models  # noqa: E402

from i2v.backends.base import GenerationRequest  # noqa: E402
from i2v.backends.comfyui.backend import ComfyBackend, upload_bytes  # noqa: E402
from i2v.backends.comfyui.client import ComfyClient  # noqa: E402
from i2v.backends.comfyui.manifest import WorkflowParams  # noqa: E402
from i2v.backends.comfyui.workflows.library import get_workflow  # noqa: E402
from i2v.config import Settings  # noqa: E402
from i2v.domain.motion import Intensity, Motion  # noqa: E402
from i2v.domain.size import Size  # noqa: E402
from i2v.domain.spec import Fit, RenderSpec  # noqa: E402
from i2v.media.image import ImageLimits, load_image  # noqa: E402

TARGET_ADDED_MS = 50.0
TARGET_THROUGHPUT = 0.9
ROUNDS = 10
SPEC = RenderSpec(Motion.ZOOM_IN, Intensity.NORMAL, Size(360, 640), duration_s=3, fps=24)


def through_i2v(backend: ComfyBackend, request: GenerationRequest, seed: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        job = replace(request, seed=seed, run_id=uuid.uuid4().hex, workdir=Path(scratch))
        backend.generate(job, lambda _: None)


def direct(url: str, image: bytes, base: WorkflowParams, seed: int) -> None:
    """What a careful script does by hand with the same workflow and parameters."""
    workflow = get_workflow(WORKFLOW)
    with httpx.Client(base_url=url, timeout=30) as http:
        name = http.post("/upload/image", files={"image": ("in.jpg", image)}).json()["name"]
        prompt = workflow.fill(replace(base, image_name=name, seed=seed)).to_json()
        client_id, prompt_id = uuid.uuid4().hex, str(uuid.uuid4())
        with connect(f"{url.replace('http', 'ws')}/ws?clientId={client_id}") as socket:
            body = {"prompt": prompt, "client_id": client_id, "prompt_id": prompt_id}
            http.post("/prompt", json=body).raise_for_status()
            while True:
                message = socket.recv(timeout=60)
                if isinstance(message, str):
                    data = json.loads(message)
                    if data["type"] == "executing" and data["data"].get("node") is None:
                        break
        outputs = http.get(f"/history/{prompt_id}").json()[prompt_id]["outputs"]
        video = next(item for out in outputs.values() for item in out.get("images", ()))
        with tempfile.TemporaryDirectory() as scratch:
            (Path(scratch) / "out.mp4").write_bytes(http.get("/view", params=video).content)


def client_build_ms(url: str, times: int = 50) -> float:
    """Median cost of the client a job builds per server (it was 18-42 ms, all TLS setup)."""
    costs = []
    for _ in range(times):
        started = time.perf_counter()
        ComfyClient(url).close()
        costs.append((time.perf_counter() - started) * 1000)
    return statistics.median(costs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100)
    args = parser.parse_args()
    per_round = max(1, args.jobs // ROUNDS)
    with tempfile.TemporaryDirectory(prefix="i2v-overhead-") as folder:
        source = Path(folder) / "in.jpg"
        pixels = np.random.default_rng(3).integers(0, 255, (720, 512, 3), np.uint8)
        Image.fromarray(pixels).save(source, quality=85)
        image = load_image(source, ImageLimits(max_pixels=50_000_000, min_side=256))
        with FakeComfyUI(Path(folder) / "comfy", installed_models=installed_models()) as fake:
            backend = ComfyBackend(Settings(comfyui_urls=[fake.url], comfyui_workflow=WORKFLOW))
            request = GenerationRequest(
                image=image, prompt="a slow push in", seed=0, size=SPEC.size, fps=SPEC.fps,
                frame_count=SPEC.frame_count, motion=SPEC.motion, intensity=SPEC.intensity,
                fit=Fit.COVER, workflow=None, workdir=Path(folder), run_id="warm-up",
            )  # fmt: skip
            raw = upload_bytes(image)
            base = backend.params(SPEC, get_workflow(WORKFLOW), "in.png")
            through_i2v(backend, request, seed=10**6)  # warm both paths once
            direct(fake.url, raw, base, seed=10**6 + 1)
            timings: dict[str, list[float]] = {"i2v": [], "direct": []}
            seed = 0
            for _ in range(ROUNDS):
                for name in ("i2v", "direct"):
                    for _ in range(per_round):
                        seed += 1
                        started = time.perf_counter()
                        if name == "i2v":
                            through_i2v(backend, request, seed)
                        else:
                            direct(fake.url, raw, base, seed)
                        timings[name].append((time.perf_counter() - started) * 1000)
            build_ms = client_build_ms(fake.url)
    p50 = {name: statistics.median(values) for name, values in timings.items()}
    added = p50["i2v"] - p50["direct"]
    throughput = sum(timings["direct"]) / sum(timings["i2v"])
    for name, values in timings.items():
        ordered = sorted(values)
        print(f"{name:7} {len(values)} jobs  p50 {p50[name]:7.1f} ms  "
              f"p95 {ordered[int(0.95 * (len(ordered) - 1))]:7.1f} ms  "
              f"{len(values) / (sum(values) / 1000):5.2f} jobs/s")  # fmt: skip
    print(f"client  built in {build_ms:.2f} ms per server per job at p50")
    checks = {
        f"i2v adds {added:.1f} ms per job at p50 (target <= {TARGET_ADDED_MS:.0f})": added
        <= TARGET_ADDED_MS,
        f"throughput {throughput:.2f}x direct (target >= {TARGET_THROUGHPUT})": throughput
        >= TARGET_THROUGHPUT,
    }
    for text, passed in checks.items():
        print(f"{'PASS' if passed else 'MISS'}  {text}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

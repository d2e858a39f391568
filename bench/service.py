"""Benchmark `i2v serve` under load, with an instant backend, against the bare engine's floor.

Each database gets two runs in child processes: the floor (DBOS alone: 500 trivial
workflows through one queue, 50 at a time, no HTTP, no rows, no storage) and the service
(500 jobs over HTTP to one `i2v serve`, 50 clients each submitting a job and following its
events to the end). The instant backend hands back a precomputed 360x640 clip, so what is
measured is the service: HTTP, auth, rows, the queue, the workflow's checkpoints, storage.

    python bench/service.py [--jobs 500] [--in-flight 50] [--db sqlite,postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

import httpx
import numpy as np
from PIL import Image

from i2v.backends.base import Capabilities, EncodedClip, GenerationRequest, ProgressCallback
from i2v.domain.size import Size
from i2v.domain.spec import RenderSpec
from i2v.media.encode import EncoderSettings, encode_nv12

ROOT = Path(__file__).resolve().parent.parent
CLIP_SIZE, CLIP_FPS, CLIP_SECONDS = Size(360, 640), 24, 3
TARGET_VS_FLOOR = 0.5
TARGET_P50_MS = 150.0
# Both runs use one queue tuned for instant jobs: with the default 2 at a time, any queue,
# bare or not, is bounded by 2 jobs per polling interval.
CONCURRENCY = 50
POLL_S = 0.1


class InstantBackend:
    """A backend that renders nothing: every job gets the same precomputed clip."""

    name = "instant"
    _lock = threading.Lock()
    _clips: ClassVar[dict[tuple[Size, int, int], Path]] = {}

    def capabilities(self) -> Capabilities:
        return Capabilities(name=self.name, max_frames=10_000, needs_gpu=False, runs_locally=True)

    def prepare(self, spec: RenderSpec) -> RenderSpec:
        return spec

    def generate(self, request: GenerationRequest, on_progress: ProgressCallback) -> EncodedClip:
        source = self._clip(request.size, request.fps, request.frame_count)
        dest = request.workdir / "clip.mp4"
        if source.stat().st_dev == request.workdir.stat().st_dev:
            os.link(source, dest)  # same disk: no copy at all
        else:
            shutil.copyfile(source, dest)
        return EncodedClip(dest)

    @classmethod
    def _clip(cls, size: Size, fps: int, frames: int) -> Path:
        with cls._lock:
            key = (size, fps, frames)
            if key not in cls._clips:
                path = Path(tempfile.mkdtemp(prefix="i2v-instant-")) / "clip.mp4"
                grey = np.full((size.height * 3 // 2, size.width), 128, np.uint8)
                settings = EncoderSettings(preset="ultrafast", crf=30, max_bitrate_kbps=2000)
                encode_nv12((grey for _ in range(frames)), path, size, fps, settings)
                cls._clips[key] = path
            return cls._clips[key]


@dataclass
class Result:
    name: str
    jobs: int
    ok: int
    wall_s: float
    latencies_ms: list[float]
    queued_p50_ms: float = 0.0  # the service's own split of submit-to-done
    running_p50_ms: float = 0.0

    @property
    def per_s(self) -> float:
        return self.ok / self.wall_s

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- child: the bare engine -------------------------------------------------------------


def floor_child(database_url: str, jobs: int, in_flight: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from dbos import DBOS, DBOSConfig

    @DBOS.step(name="floor.touch")
    def touch(i: int) -> int:
        return i

    @DBOS.workflow(name="floor.trivial")
    def trivial(i: int) -> int:
        return touch(i)

    config: DBOSConfig = {
        "name": "i2v-floor",
        "system_database_url": database_url,
        "executor_id": "floor",
        "application_version": "floor",
        "log_level": "WARNING",
        "notification_listener_polling_interval_sec": POLL_S,
    }
    DBOS(config=config)
    DBOS.launch()
    queue = DBOS.register_queue(
        "floor", worker_concurrency=CONCURRENCY, polling_interval_sec=POLL_S
    )

    def one(i: int) -> float:
        started = time.perf_counter()
        queue.enqueue(trivial, i).get_result(polling_interval_sec=0.005)
        return (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    with ThreadPoolExecutor(in_flight) as pool:
        latencies = list(pool.map(one, range(jobs)))
    wall = time.perf_counter() - started
    print(json.dumps(asdict(Result("floor", jobs, len(latencies), wall, latencies))))
    DBOS.destroy()


# ---- child: i2v serve with the instant backend ---------------------------------------------


def serve_child(port: int) -> None:
    from i2v.backends.registry import BACKENDS
    from i2v.cli.app import run

    BACKENDS["instant"] = lambda _settings: InstantBackend()
    sys.exit(run(["serve", "--host", "127.0.0.1", "--port", str(port)]))


# ---- the parent ----------------------------------------------------------------------------


async def _one_job(client: httpx.AsyncClient, image: bytes, seed: int) -> tuple[float, str, str]:
    started = time.perf_counter()
    fields = {"backend": "instant", "size": str(CLIP_SIZE), "fps": str(CLIP_FPS),
              "duration": str(CLIP_SECONDS), "seed": str(seed), "prompt": "zoom in"}  # fmt: skip
    created = await client.post("/v1/jobs", data=fields, files={"image": ("in.jpg", image)})
    if created.status_code != 201:
        raise RuntimeError(f"submit answered {created.status_code}: {created.text}")
    job_id = created.json()["id"]
    state = "unknown"
    async with client.stream("GET", f"/v1/jobs/{job_id}/events") as events:
        async for line in events.aiter_lines():
            if line.startswith("data:") and '"state"' in line:
                state = json.loads(line[5:]).get("state", state)
                if state in ("succeeded", "failed", "cancelled"):
                    break
    return (time.perf_counter() - started) * 1000, state, job_id


async def _stages(client: httpx.AsyncClient, job_ids: list[str]) -> tuple[float, float]:
    """Median time queued and time running, from the jobs' own timestamps (not timed)."""
    waits, runs = [], []
    for job_id in job_ids:
        job = (await client.get(f"/v1/jobs/{job_id}")).json()
        if job["finished_at"] is None or job["started_at"] is None:
            continue
        created, started, finished = (
            datetime.fromisoformat(job[k]) for k in ("created_at", "started_at", "finished_at")
        )
        waits.append((started - created).total_seconds() * 1000)
        runs.append((finished - started).total_seconds() * 1000)
    return statistics.median(waits or [0.0]), statistics.median(runs or [0.0])


async def _load(base: str, key: str, image: bytes, jobs: int, in_flight: int) -> Result:
    limits = httpx.Limits(max_connections=in_flight * 2)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as c:
        seeds = iter(range(jobs))
        done: list[tuple[float, str, str]] = []

        async def client_loop() -> None:
            for seed in seeds:
                done.append(await _one_job(c, image, seed))

        started = time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(in_flight)))
        wall = time.perf_counter() - started
        queued, running = await _stages(c, [job_id for _, _, job_id in done])
    ok = [ms for ms, state, _ in done if state == "succeeded"]
    return Result("service", jobs, len(ok), wall, ok, queued, running)


def _i2v(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "i2v"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@contextmanager
def _server(env: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    child = subprocess.Popen(
        [sys.executable, __file__, "serve-child", str(port)], env=env, cwd=ROOT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("i2v serve did not become ready within 60 s")
        yield base
    finally:
        child.terminate()
        child.wait(timeout=60)


def run_service(database_url: str | None, jobs: int, in_flight: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="i2v-bench-") as data:
        env = {
            **os.environ,
            "I2V_DATA_DIR": data,
            "I2V_WORKER_CONCURRENCY": str(CONCURRENCY),
            "I2V_MAX_RUNNING_PER_USER": str(CONCURRENCY),
            "I2V_QUEUE_POLL_S": str(POLL_S),
        }
        if database_url:
            env["I2V_DATABASE_URL"] = database_url
        _i2v(env, "db", "upgrade")
        _i2v(env, "users", "create", "bench")
        key = next(w for w in _i2v(env, "keys", "create", "bench").split() if w.startswith("i2v_"))
        image = Path(data) / "in.jpg"
        rng = np.random.default_rng(1)
        Image.fromarray(rng.integers(0, 255, (720, 480, 3), np.uint8)).save(image, quality=85)
        with _server(env) as base:
            return asyncio.run(_load(base, key, image.read_bytes(), jobs, in_flight))


def run_floor(database_url: str, jobs: int, in_flight: int) -> Result:
    done = subprocess.run(
        [sys.executable, __file__, "floor-child", database_url, str(jobs), str(in_flight)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    return Result(**json.loads(done.stdout.strip().splitlines()[-1]))


@contextmanager
def _databases(names: list[str]) -> Iterator[Iterator[tuple[str, str, str | None]]]:
    """(name, floor's engine URL, the service's I2V_DATABASE_URL) for each database asked for."""
    sys.path.insert(0, str(ROOT))
    from tests.support.postgres import PostgresCluster

    cluster = PostgresCluster() if "postgres" in names else None
    scratch = Path(tempfile.mkdtemp(prefix="i2v-floor-"))
    try:
        if cluster is not None:
            cluster.start()

        def each() -> Iterator[tuple[str, str, str | None]]:
            for name in names:
                if name == "sqlite":
                    yield name, f"sqlite:///{scratch / 'floor.db'}", None
                elif cluster is not None:
                    floor_db, service_db = cluster.create_database(), cluster.create_database()
                    yield name, cluster.url(floor_db), cluster.url(service_db)

        yield each()
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def report(name: str, floor: Result, service: Result) -> bool:
    ratio = service.per_s / floor.per_s
    lost = service.jobs - service.ok
    print(f"\n{name}")
    for r in (floor, service):
        print(f"  {r.name:8} {r.ok:4}/{r.jobs} ok  {r.per_s:7.1f} jobs/s  "
              f"p50 {r.pct(0.5):6.0f} ms  p99 {r.pct(0.99):6.0f} ms")  # fmt: skip
    checks = {
        f"throughput {ratio:.2f}x the floor (target >= {TARGET_VS_FLOOR})": ratio
        >= TARGET_VS_FLOOR,
        f"p50 submit-to-done {service.pct(0.5):.0f} ms (target <= {TARGET_P50_MS:.0f})": (
            service.pct(0.5) <= TARGET_P50_MS
        ),
        f"{lost} jobs failed or lost (target 0)": lost == 0,
    }
    print(f"  service split (p50): {service.queued_p50_ms:.0f} ms queued, "
          f"{service.running_p50_ms:.0f} ms running")  # fmt: skip
    for text, passed in checks.items():
        print(f"  {'PASS' if passed else 'MISS'}  {text}")
    return all(checks.values())


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "floor-child":
        floor_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "serve-child":
        serve_child(int(sys.argv[2]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--db", default="sqlite,postgres", help="comma-separated")
    args = parser.parse_args()
    passed = True
    with _databases(args.db.split(",")) as databases:
        for name, floor_url, service_url in databases:
            floor = run_floor(floor_url, args.jobs, args.in_flight)
            service = run_service(service_url, args.jobs, args.in_flight)
            passed = report(name, floor, service) and passed
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())

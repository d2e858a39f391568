"""Benchmark the peak memory hostile but legal input adds to `i2v serve`, against its targets.

Each mode (the API alone, `--no-worker`, and the API with its in-process worker) gets a fresh
`i2v serve` with a temporary data directory and a user and key made with the CLI; each load is
measured as the rise of the server's high-water mark (VmHWM, reset before every load) above
its RSS just before. The baseline, in the same run, is 8 concurrent uploads of small images.

    python bench/memory.py [--modes api,worker] [--uploads 8] [--bombs 10]

With the worker, a load lasts until its jobs finish, so the renders count too (their decodes,
under the same pixel budget, and the decoded image each running render holds); the upload target
is for submission, so that line is reported without one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import i2v_environment  # noqa: E402
from tests.support.served import (  # noqa: E402
    Served,
    environment,
    flat_png,
    gzip_bomb,
    gzip_server,
    served,
    submit_urls,
    upload_all,
)

BIG_SIDE = 7000  # 49 MP, under the default 50 MP limit; about 160 KB as a PNG
SMALL_SIDE = 512
BOMB_MB = 256  # decoded size; about 256 KB on the wire
UPLOADS_TARGET_MB = 600.0
BOMBS_TARGET_MB = 100.0
# Small renders: the point is the 49 MP decode at the start of each, not the encoder.
RENDER = {"size": "360x640", "fps": "24", "duration": "3", "prompt": "zoom in"}
TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass
class Measured:
    name: str
    added_mb: float
    statuses: list[int]
    expected: int  # the status every answer should have
    target_mb: float | None = None

    @property
    def answered(self) -> bool:
        return set(self.statuses) == {self.expected}


async def _finished(server: Served, deadline_s: float) -> None:
    """Wait until every job of the user is finished (the worker's part of a load)."""
    deadline = time.monotonic() + deadline_s
    async with httpx.AsyncClient(base_url=server.base, headers=server.headers) as client:
        while time.monotonic() < deadline:
            jobs = (await client.get("/v1/jobs", params={"limit": 100})).json()["jobs"]
            if all(job["state"] in TERMINAL for job in jobs):
                return
            await asyncio.sleep(0.5)
    raise RuntimeError(f"jobs still running after {deadline_s:.0f} s")


def _measure(
    server: Served,
    name: str,
    submit: Callable[[], Awaitable[list[int]]],
    *,
    worker: bool,
    expected: int = 201,
    target_mb: float | None = None,
) -> Measured:
    statuses: list[int] = []

    async def load() -> None:
        statuses.extend(await submit())
        if worker:
            await _finished(server, deadline_s=900)

    added = server.peak_added_mb(load)
    return Measured(name, added, statuses, expected, target_mb)


def run_mode(worker: bool, uploads: int, bombs: int) -> list[Measured]:
    small = flat_png(SMALL_SIDE, SMALL_SIDE)
    big = flat_png(BIG_SIDE, BIG_SIDE)
    with tempfile.TemporaryDirectory(prefix="i2v-bench-mem-") as data:
        settings = {"I2V_FETCH_ALLOW": "127.0.0.1"}
        env = environment(i2v_environment(), Path(data), **settings)
        with served(env, worker=worker) as server, gzip_server(gzip_bomb(BOMB_MB)) as url:
            # Warm up: the first submission loads what the API imports lazily. Another colour,
            # so that no measured upload is answered from the result cache.
            warm = flat_png(SMALL_SIDE, SMALL_SIDE, (200, 10, 10))
            asyncio.run(upload_all(server, [warm], RENDER))
            if worker:
                asyncio.run(_finished(server, deadline_s=300))
            return [
                _measure(
                    server,
                    f"{uploads} small ({SMALL_SIDE}x{SMALL_SIDE}) uploads, the baseline",
                    lambda: upload_all(server, [small] * uploads, RENDER),
                    worker=worker,
                ),
                _measure(
                    server,
                    f"{uploads} concurrent 49 MP PNG uploads ({len(big) // 1024} KB each)",
                    lambda: upload_all(server, [big] * uploads, RENDER),
                    worker=worker,
                    # The target is for submission; renders also hold their images.
                    target_mb=None if worker else UPLOADS_TARGET_MB,
                ),
                _measure(
                    server,
                    f"{bombs} concurrent gzip bombs via image_url ({BOMB_MB} MB decoded each)",
                    lambda: submit_urls(server, [url] * bombs),
                    worker=False,  # refused at submission: no job to wait for
                    expected=422,
                    target_mb=BOMBS_TARGET_MB,
                ),
            ]


def report(mode: str, results: list[Measured]) -> bool:
    baseline, *loads = results
    print(f"\n{mode}")
    answers = sorted(set(baseline.statuses))
    print(f"  {baseline.name}: +{baseline.added_mb:.0f} MB (answers {answers})")
    passed = baseline.answered
    for load in loads:
        ratio = load.added_mb / max(baseline.added_mb, 1.0)
        answered = f"answers {sorted(set(load.statuses))}, expected {load.expected}"
        if load.target_mb is None:
            ok = load.answered
            verdict, target = "    ", "no target: it counts the renders too"
        else:
            ok = load.added_mb <= load.target_mb and load.answered
            verdict, target = "PASS" if ok else "MISS", f"target <= {load.target_mb:.0f} MB"
        passed = passed and ok
        print(
            f"  {verdict}  {load.name}: +{load.added_mb:.0f} MB "
            f"({target}; {ratio:.1f}x the baseline; {answered})"
        )
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="api,worker", help="comma-separated: api, worker")
    parser.add_argument("--uploads", type=int, default=8)
    parser.add_argument("--bombs", type=int, default=10)
    args = parser.parse_args()
    passed = True
    for mode in args.modes.split(","):
        if mode not in ("api", "worker"):
            parser.error(f"unknown mode {mode!r}; choose from api, worker")
        worker = mode == "worker"
        label = "i2v serve (API and worker)" if worker else "i2v serve --no-worker (API only)"
        passed = report(label, run_mode(worker, args.uploads, args.bombs)) and passed
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark what i2v's fal backend adds per job, against a minimal direct httpx script.

Both send the same Wan 2.2 A14B request to one fake fal (tests/fakes/fal.py) and poll it at
the same interval. The fake runs in a child process, so that its CPU is not taken from the
clients (in one process, one GIL would serialise the two and hide what either costs):
- i2v: `FalBackend.generate`, built per job as the registry builds it for a worker (a
  FalClient from the settings, the request log in the worker's app database, SQLite): the
  picture JPEG-encoded from its pixels and sent inline, the checkpoint, submit, follow with
  logs, result, capped download;
- i2v, log in memory: the same with a MemoryRequestLog, to show what the checkpoint costs;
- direct: the picture file's bytes base64'd, POST submit, GET status until COMPLETED, GET the
  result, GET the video to a file, on httpx clients made once for the whole run.
One job at a time, interleaved in rounds so machine noise hits both alike (p50/p95 per job,
and the CPU each side spends), then the same jobs `--in-flight` at a time on threads, for
throughput; `--poll-ms` (5 by default) stresses what each side spends per job, and a last
round of `--in-flight` jobs at the poll interval i2v ships (I2V_FAL_POLL_S, 1 s) shows the
throughput where polling, as against the real fal, bounds both. `--publish` more jobs go
through `generate_video` (routing, the backend, then re-timing the 16 fps clip to a 24 fps
preset), reported apart: a direct script does no such work.

    python bench/fal_overhead.py [--jobs 100] [--in-flight 20] [--poll-ms 5] [--publish 20]
"""

from __future__ import annotations

import argparse
import base64
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import photo_pixels, save_image  # noqa: E402
from tests.fakes.fal import FakeFal, Script  # noqa: E402

from i2v.backends.base import GenerationRequest, Progress  # noqa: E402
from i2v.backends.fal.backend import FalBackend, fal_manifest, model_request  # noqa: E402
from i2v.backends.fal.checkpoint import MemoryRequestLog, RequestLog  # noqa: E402
from i2v.backends.fal.client import FalClient  # noqa: E402
from i2v.backends.fal.library import shipped_manifests  # noqa: E402
from i2v.backends.fal.mapping import to_fal_input  # noqa: E402
from i2v.backends.fal.request_log import DbRequestLog  # noqa: E402
from i2v.backends.fal.values import FalRequest  # noqa: E402
from i2v.backends.registry import get_backend  # noqa: E402
from i2v.config import Settings  # noqa: E402
from i2v.db.engine import Database, open_database  # noqa: E402
from i2v.db.migrate import upgrade  # noqa: E402
from i2v.domain.motion import Intensity, Motion  # noqa: E402
from i2v.domain.size import Size  # noqa: E402
from i2v.domain.spec import Fit, RenderSpec  # noqa: E402
from i2v.media.image import ImageLimits, load_image  # noqa: E402
from i2v.media.jpeg import encode_jpeg  # noqa: E402
from i2v.services.generate import generate_video  # noqa: E402

TARGET_ADDED_MS = 30.0
TARGET_THROUGHPUT = 0.9
ROUNDS = 10
MODEL = "wan-2.2-14b"
SPEC = RenderSpec(
    Motion.ZOOM_IN, Intensity.NORMAL, Size(832, 480), duration_s=5, fps=24, prompt="a slow push in"
)
MEMORY = "i2v, log in memory"  # what the checkpoint rows cost, apart
BUSY = 0.85  # a fake busier than this share of its core bounds the throughput of both


def ignore(_: Progress) -> None:
    pass


# -- the fake, in a child process ------------------------------------------------------------


def serve_fake(queue_polls: int, run_polls: int) -> None:
    """Child: serve the fake; print its URL and key, then its CPU seconds on each "cpu" line."""
    with FakeFal() as fake:
        endpoint = next(m.endpoint for m in shipped_manifests() if m.model == MODEL)
        fake.scripts[endpoint] = Script(queue_polls, run_polls)
        print(fake.url, fake.key, flush=True)
        for line in sys.stdin:
            if line.strip() == "cpu":
                print(time.process_time(), flush=True)


class Fake:
    """The child serving the fake, and how much CPU it has used."""

    def __init__(self, queue_polls: int, run_polls: int) -> None:
        self._child = subprocess.Popen(
            [sys.executable, __file__, "--serve-fake", str(queue_polls), str(run_polls)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._child.stdin is not None
        assert self._child.stdout is not None
        self._in, self._out = self._child.stdin, self._child.stdout
        self.url, self.key = self._out.readline().split()

    def cpu_s(self) -> float:
        self._in.write("cpu\n")
        self._in.flush()
        return float(self._out.readline())

    def close(self) -> None:
        self._in.close()
        self._child.wait(10)


# -- the ways of running a job ---------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    settings: Settings
    request: GenerationRequest  # run_id and workdir are per job
    poll_s: float
    fake: Fake
    picture: Path
    arguments: dict[str, Any]  # fal's JSON for the direct script, but for image_url
    endpoint: str
    http: httpx.Client  # the direct script's, with the key
    cdn: httpx.Client  # the direct script's, without
    db: Database  # the app's, as a worker holds it


def through_i2v(setup: Setup, *, log: RequestLog | None = None) -> None:
    """A job as a worker builds its backend (the registry, with the worker's app database);
    `log`: another request log than the app's."""
    with tempfile.TemporaryDirectory() as scratch:
        job = replace(setup.request, run_id=uuid.uuid4().hex, workdir=Path(scratch))
        if log is None:
            backend = get_backend("fal", setup.settings, setup.db)
        else:
            backend = FalBackend(setup.settings, log=log)
        backend.generate(job, ignore)


def direct(setup: Setup) -> None:
    """What a careful script does by hand with the same endpoint and arguments."""
    data = base64.b64encode(setup.picture.read_bytes()).decode("ascii")
    arguments = setup.arguments | {"image_url": f"data:image/jpeg;base64,{data}"}
    http = setup.http
    with tempfile.TemporaryDirectory() as out:
        answer = http.post(f"{setup.fake.url}/{setup.endpoint}", json=arguments)
        answer.raise_for_status()
        submitted = answer.json()
        while http.get(submitted["status_url"], params={"logs": "1"}).json()["status"] != (
            "COMPLETED"
        ):
            time.sleep(setup.poll_s)
        result = http.get(submitted["response_url"])
        result.raise_for_status()
        video = result.json()["video"]["url"]
        with setup.cdn.stream("GET", video) as response, (Path(out) / "out.mp4").open("wb") as f:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                f.write(chunk)


def checkpoint(setup: Setup) -> None:
    """The request log's writes for one job, as FalBackend makes them."""
    log, run_id = DbRequestLog(setup.settings, setup.db), uuid.uuid4().hex
    log.get(run_id)
    log.intent(run_id, setup.endpoint)
    log.submitted(run_id, FalRequest(setup.endpoint, run_id, "s", "r", "c"))


def published(setup: Setup, folder: Path) -> None:
    """The whole render as a job runs it: route, FalBackend, re-time to the preset."""
    out = folder / f"{uuid.uuid4().hex}.mp4"
    spec = replace(SPEC, model=MODEL)
    generate_video(setup.picture, out, spec, setup.settings, ignore, "fal", db=setup.db)
    out.unlink()
    out.with_suffix(".cover.jpg").unlink()


# -- measuring -------------------------------------------------------------------------------


@dataclass
class Sequential:
    wall_ms: list[float]
    cpu_ms: float = 0.0  # this process's, all jobs
    fake_cpu_ms: float = 0.0


@dataclass(frozen=True)
class Concurrent:
    jobs: int
    wall_s: float
    cpu_s: float
    fake_cpu_s: float

    @property
    def rate(self) -> float:
        return self.jobs / self.wall_s

    @property
    def fake_busy(self) -> float:
        return self.fake_cpu_s / self.wall_s


def timed(run: Callable[[], None], into: Sequential, fake: Fake) -> None:
    fake_before, cpu_before, started = fake.cpu_s(), time.process_time(), time.perf_counter()
    run()
    into.wall_ms.append((time.perf_counter() - started) * 1000)
    into.cpu_ms += (time.process_time() - cpu_before) * 1000
    into.fake_cpu_ms += (fake.cpu_s() - fake_before) * 1000


def concurrently(run: Callable[[], None], jobs: int, in_flight: int, fake: Fake) -> Concurrent:
    with ThreadPoolExecutor(in_flight) as pool:
        list(pool.map(lambda _: None, range(in_flight)))  # threads up before the clock starts
        fake_before, cpu_before, started = fake.cpu_s(), time.process_time(), time.perf_counter()
        for future in [pool.submit(run) for _ in range(jobs)]:
            future.result()
        wall = time.perf_counter() - started
    return Concurrent(jobs, wall, time.process_time() - cpu_before, fake.cpu_s() - fake_before)


def median_ms(run: Callable[[], object], times: int = 20) -> float:
    costs = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        costs.append((time.perf_counter() - started) * 1000)
    return statistics.median(costs)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[round(0.95 * (len(ordered) - 1))]


def setup_in(folder: Path, fake: Fake, args: argparse.Namespace) -> Setup:
    width, height = (int(side) for side in args.image.lower().split("x"))
    folder.mkdir(parents=True, exist_ok=True)
    picture = save_image(photo_pixels(width, height), folder / "in.jpg", quality=90)
    url = f"sqlite:///{folder / 'i2v.db'}"
    db = open_database(url, pool_size=4)
    upgrade(db)
    settings = Settings(
        data_dir=folder / "data",
        database_url=url,
        fal_key=fake.key,
        fal_queue_url=fake.url,
        fal_rest_url=fake.url,
        fal_data_uri_max_kb=4096,  # inline, as the direct script sends it
        fal_poll_s=args.poll_ms / 1000,
    )
    manifest = fal_manifest(settings, MODEL)
    image = load_image(picture, ImageLimits(max_pixels=50_000_000, min_side=256))
    request = GenerationRequest(
        image=image, prompt=SPEC.prompt, seed=0, size=SPEC.size, fps=SPEC.fps,
        frame_count=SPEC.frame_count, motion=SPEC.motion, intensity=SPEC.intensity,
        fit=Fit.COVER, workflow=None, workdir=folder, run_id="warm-up", model=MODEL,
        duration_s=SPEC.duration_s,
    )  # fmt: skip
    unified = model_request(
        manifest, "", prompt=SPEC.prompt, duration_s=SPEC.duration_s, size=SPEC.size,
        seed=0, negative_prompt=None, resolution=None, audio=False,
    )  # fmt: skip
    arguments = dict(to_fal_input(manifest, unified, target_fps=SPEC.fps).arguments)
    del arguments[manifest.image_field]
    return Setup(
        settings, request, args.poll_ms / 1000, fake, picture, arguments, manifest.endpoint,
        http=httpx.Client(headers={"Authorization": f"Key {fake.key}"}, timeout=30),
        cdn=httpx.Client(timeout=30), db=db,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--in-flight", type=int, default=20)
    parser.add_argument("--poll-ms", type=float, default=5.0, help="both poll this often")
    parser.add_argument("--publish", type=int, default=20, help="jobs through generate_video")
    parser.add_argument("--image", default="1280x720", help="the input picture, WxH")
    parser.add_argument("--queue-polls", type=int, default=1)
    parser.add_argument("--run-polls", type=int, default=2)
    parser.add_argument("--serve-fake", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        serve_fake(*args.serve_fake)
        return 0

    per_round = max(1, args.jobs // ROUNDS)
    fake = Fake(args.queue_polls, args.run_polls)
    try:
        with tempfile.TemporaryDirectory(prefix="i2v-fal-overhead-") as scratch:
            folder = Path(scratch)
            setup = setup_in(folder, fake, args)
            ways: dict[str, Callable[[], None]] = {
                "i2v": lambda: through_i2v(setup),
                MEMORY: lambda: through_i2v(setup, log=MemoryRequestLog()),
                "direct": lambda: direct(setup),
            }
            for run in ways.values():  # warm both paths once
                run()
            runs = {name: Sequential([]) for name in ways}
            for _ in range(ROUNDS):
                for name, run in ways.items():
                    for _ in range(per_round):
                        timed(run, runs[name], fake)
            together = {
                name: concurrently(run, per_round * ROUNDS, args.in_flight, fake)
                for name, run in ways.items()
            }
            publish = Sequential([])
            for _ in range(args.publish):
                timed(lambda: published(setup, folder), publish, fake)
            # The same comparison at the poll interval i2v ships (I2V_FAL_POLL_S): polling,
            # not CPU, then bounds both sides, as it does against the real fal.
            shipped_ms = Settings.model_fields["fal_poll_s"].default * 1000
            shipped = setup_in(folder / "shipped", fake, argparse.Namespace(
                **{**vars(args), "poll_ms": shipped_ms}))  # fmt: skip
            at_shipped = {
                name: concurrently(run, args.in_flight, args.in_flight, fake)
                for name, run in {
                    "i2v": lambda: through_i2v(shipped),
                    "direct": lambda: direct(shipped),
                }.items()
            }
            for each in (shipped.http, shipped.cdn):
                each.close()
            shipped.db.dispose()
            parts = {
                "FalClient built": median_ms(
                    lambda: FalClient.from_settings(setup.settings).close()
                ),
                "request log: get, intent, submitted": median_ms(lambda: checkpoint(setup)),
                "picture JPEG-encoded": median_ms(lambda: encode_jpeg(setup.request.image.rgb)),
            }
            setup.http.close()
            setup.cdn.close()
            setup.db.dispose()
    finally:
        fake.close()
    return report(args, runs, together, publish, parts, (shipped_ms, at_shipped))


def report(
    args: argparse.Namespace,
    runs: dict[str, Sequential],
    together: dict[str, Concurrent],
    publish: Sequential,
    parts: dict[str, float],
    shipped: tuple[float, dict[str, Concurrent]],
) -> int:
    p50 = {name: statistics.median(run.wall_ms) for name, run in runs.items()}
    polls = args.queue_polls + args.run_polls + 1
    print(
        f"fake fal in a child process; {polls} status polls per job, {args.poll_ms:g} ms apart; "
        f"picture {args.image}"
    )
    print(f"{'one at a time':24} {'jobs':>5} {'p50 ms':>8} {'p95 ms':>8} {'cpu ms/job':>11} "
          f"{'fake cpu ms/job':>16}")  # fmt: skip
    rows = [*runs.items(), *([("i2v + publish", publish)] if publish.wall_ms else [])]
    for name, run in rows:
        count = len(run.wall_ms)
        print(f"{name:24} {count:5} {statistics.median(run.wall_ms):8.1f} {p95(run.wall_ms):8.1f} "
              f"{run.cpu_ms / count:11.1f} {run.fake_cpu_ms / count:16.1f}")  # fmt: skip
    print(f"\n{f'{args.in_flight} in flight':24} {'jobs':>5} {'jobs/s':>8} {'cpu ms/job':>11} "
          f"{'client busy':>12} {'fake busy':>10}")  # fmt: skip
    for name, run in together.items():
        print(f"{name:24} {run.jobs:5} {run.rate:8.1f} {run.cpu_s * 1000 / run.jobs:11.1f} "
              f"{run.cpu_s / run.wall_s:12.0%} {run.fake_busy:10.0%}")  # fmt: skip
    print("\nparts of i2v's job (median ms):")
    for name, ms in parts.items():
        print(f"  {name:36} {ms:6.2f}")
    direct = runs["direct"]
    floor_ms = statistics.median(direct.wall_ms)
    fake_ms = direct.fake_cpu_ms / len(direct.wall_ms)
    sleeps_ms = (polls - 1) * args.poll_ms
    print(
        f"\nfloor: a direct job takes {floor_ms:.1f} ms at p50, {sleeps_ms:g} ms of it polling "
        f"sleeps; the fake spends {fake_ms:.1f} ms CPU per job, so one core serves at most "
        f"{1000 / fake_ms:.0f} jobs/s"
    )
    bound = [name for name, run in together.items() if run.fake_busy > BUSY]
    if bound:
        print(f"WARN  the fake was over {BUSY:.0%} busy for {', '.join(bound)}: "
              "throughput there is the fake's, and the ratio hides overhead")  # fmt: skip
    for name, run in together.items():
        if run.cpu_s / run.wall_s > BUSY:  # one GIL: threads share one core's worth of Python
            print(f"note  {name} in flight is bound by its own CPU: "
                  f"{run.cpu_s * 1000 / run.jobs:.1f} ms per job")  # fmt: skip
    added = p50["i2v"] - p50["direct"]
    ratio = together["i2v"].rate / together["direct"].rate
    if publish.wall_ms:
        print(f"publish step (route, re-time, encode) adds "
              f"{statistics.median(publish.wall_ms) - p50['i2v']:.1f} ms at p50")  # fmt: skip
    checks = {
        f"i2v adds {added:.1f} ms per job at p50 (target <= {TARGET_ADDED_MS:.0f})": added
        <= TARGET_ADDED_MS,
        f"throughput with {args.in_flight} in flight {ratio:.2f}x direct "
        f"(target >= {TARGET_THROUGHPUT})": ratio >= TARGET_THROUGHPUT,
    }
    shipped_ms, at_shipped = shipped
    shipped_ratio = at_shipped["i2v"].rate / at_shipped["direct"].rate
    checks[
        f"throughput with {args.in_flight} in flight at the shipped {shipped_ms:g} ms polls "
        f"{shipped_ratio:.2f}x direct ({at_shipped['i2v'].rate:.1f} vs "
        f"{at_shipped['direct'].rate:.1f} jobs/s; target >= {TARGET_THROUGHPUT})"
    ] = shipped_ratio >= TARGET_THROUGHPUT
    for text, passed in checks.items():
        print(f"{'PASS' if passed else 'MISS'}  {text}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

"""The cost/wait frontier of queue-threshold scaling with perfect knowledge, on fleet_sim's world.

`bench/fleet_sim.py` prices the real manager. This asks what any policy of the same kind
could reach at best: one that knows every run's length and every launch's boot time in
advance, decides each second, launches when the last run in line would otherwise wait
more than a threshold, and cancels a starting instance or retires an idle one the moment
nobody waits and another is up (the last one stays `IDLE_S`, as the manager's). Nothing
is polled, nothing lags, no estimate is wrong. The traces are fleet_sim's (same seeds,
same loads, same laws), so its numbers line up against the real manager's line by line.

Sweeping the threshold traces the frontier: a higher one launches less and costs less,
and the p95 wait rises with it. Where the frontier crosses (b)'s p95 bounds the cost any
threshold policy can reach on that trace without waiting longer than one instance per job.

    python bench/fleet_frontier.py [--load medium] [--seeds 1-10] [--thresholds 340,400]
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import mean

from fleet_sim import JOB_S, LAUNCH_S, LOADS, TARGET_COST_RATIO, Job, baselines, p95, trace

IDLE_S = 600  # the last instance's idle timeout, as the manager's default
SETTLE_S = 6 * 3600  # after the last arrival: time enough for every queue to drain


@dataclass
class _Gpu:
    ready: int  # the second it is up
    free: float  # when its current run ends
    used: float  # when it last finished a run


@dataclass(frozen=True)
class Point:
    seed: int
    threshold: float
    cost_ratio: float  # billed GPU seconds / busy GPU seconds (one price: the bound's)
    p95_s: float
    per_job_p95_s: float  # baseline (b)
    launches: int


def ideal(jobs: Sequence[Job], threshold: float, rng: random.Random) -> tuple[float, float, int]:
    """(billed GPU seconds, p95 wait, launches) of the perfect-knowledge threshold policy."""
    line: deque[Job] = deque()
    gpus: list[_Gpu] = []
    waits: list[float] = []
    billed = launches = 0
    pending = deque(sorted(jobs, key=lambda job: job.arrival))
    mean_launch = sum(LAUNCH_S) / 2
    t = 0
    while pending or line or gpus:
        while pending and pending[0].arrival <= t:
            line.append(pending.popleft())
        for gpu in gpus:
            if line and gpu.ready <= t and gpu.free <= t:
                job = line.popleft()
                waits.append(t - job.arrival)
                gpu.free = gpu.used = t + job.duration
        if line and _tail_wait(line, gpus, t) > max(threshold, mean_launch):
            gpus.append(_Gpu(ready=t + math.ceil(rng.uniform(*LAUNCH_S)), free=0, used=t))
            launches += 1
        if not line:
            _retire(gpus, t)
        billed += len(gpus)
        t += 1
        if t > SETTLE_S + (jobs[-1].arrival if jobs else 0):
            raise RuntimeError("the queue never drained")
    return float(billed), p95(waits), launches


def _retire(gpus: list[_Gpu], t: int) -> None:
    """Nobody waits: every GPU but one that is starting or idle goes, starting ones first
    (nobody waits for them); the last goes once idle for IDLE_S."""
    for gpu in sorted(gpus, key=lambda gpu: gpu.ready <= t):
        if len(gpus) > 1 and (gpu.ready > t or gpu.free <= t):
            gpus.remove(gpu)
    if len(gpus) == 1 and gpus[0].ready <= t and gpus[0].free <= t and t - gpus[0].used > IDLE_S:
        gpus.clear()


def _tail_wait(line: deque[Job], gpus: Sequence[_Gpu], t: int) -> float:
    """Exactly how long the last run in line waits with the GPUs there are (runs ahead take
    the soonest free GPU, in turn)."""
    if not gpus:
        return math.inf
    free = [float(max(gpu.ready, gpu.free, t)) for gpu in gpus]
    heapq.heapify(free)
    for job in list(line)[:-1]:
        heapq.heappush(free, heapq.heappop(free) + job.duration)
    return free[0] - line[-1].arrival


def point(load: str, seed: int, threshold: float, hours: float) -> Point:
    arrivals = trace(LOADS[load], hours, random.Random(f"{seed}-{load}-trace"))
    jobs = [Job(i, a, d) for i, (a, d) in enumerate(arrivals)]
    billed, wait, launches = ideal(jobs, threshold, random.Random(f"{seed}-{load}-ideal"))
    base = baselines(jobs, hours, seed, load)
    busy = sum(job.duration for job in jobs)
    return Point(seed, threshold, billed / busy, wait, base.per_job_p95_s, launches)


def _seeds(text: str) -> list[int]:
    """ "3" or "1-10": the seeds to run, in order."""
    first, _, last = text.partition("-")
    try:
        seeds = list(range(int(first), int(last or first) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a seed or a range of seeds: {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError(f"an empty range of seeds: {text!r}")
    return seeds


def _thresholds(text: str) -> list[float]:
    try:
        values = [float(value) for value in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not comma-separated seconds: {text!r}") from None
    if any(not 0 <= value < math.inf for value in values):
        raise argparse.ArgumentTypeError(f"thresholds must be finite and >= 0: {text!r}")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", default="medium", choices=list(LOADS))
    parser.add_argument("--seeds", type=_seeds, default="1-10", help="a seed or a range, e.g. 1-10")
    parser.add_argument(
        "--thresholds",
        type=_thresholds,
        default="300,340,360,380,400,450",
        help="seconds, comma-separated",
    )
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args(argv)
    seeds: list[int] = args.seeds
    print(
        f"perfect-knowledge threshold policy, {args.load} load ({LOADS[args.load]:g} jobs/h),"
        f" {args.hours:g} h, seeds {seeds[0]}-{seeds[-1]}; launch {LAUNCH_S[0]:g}-{LAUNCH_S[1]:g}"
        f" s, job {JOB_S[0]:g}-{JOB_S[1]:g} s; mean (min-max) over the seeds"
    )
    print(f"  {'threshold s':>11} {'cost x (a)':>17} {'p95 wait s':>15} {'(b) p95':>8}", end="")
    print(f" {'launches':>9}  seeds meeting both targets")
    started = time.perf_counter()
    for threshold in args.thresholds:
        points = [point(args.load, seed, threshold, args.hours) for seed in seeds]
        cost, wait = [p.cost_ratio for p in points], [p.p95_s for p in points]
        both = [p.cost_ratio <= TARGET_COST_RATIO and p.p95_s <= p.per_job_p95_s for p in points]
        print(
            f"  {threshold:>11.0f} {mean(cost):>6.3f} ({min(cost):.2f}-{max(cost):.2f})"
            f" {mean(wait):>6.0f} ({min(wait):.0f}-{max(wait):.0f})"
            f" {mean([p.per_job_p95_s for p in points]):>8.0f}"
            f" {mean([float(p.launches) for p in points]):>9.1f}  {sum(both)} of {len(points)}"
        )
    print(f"(computed in {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Simulate a day of GPU fleet traffic through the real FleetManager to price its scaling policy.

The manager in `i2v.fleet.manager` runs unchanged, on a temporary SQLite database, with an
injected clock and two simulated providers; only time is fake. A small discrete-event
scheduler drives it: every coroutine (the jobs, the reconciler, the manager's own polling)
runs until it awaits the simulated `sleep`, and the clock jumps to the next wake-up only when
every coroutine is blocked, so a 24 h trace takes seconds.

The world it simulates:
  - jobs arrive as a Poisson process at three loads: low 6 jobs/h (mostly an empty fleet),
    medium 30 jobs/h (about one GPU kept busy), high 120 jobs/h (a few GPUs at once);
    each job holds a GPU for 60-180 s (uniform);
  - a launched instance is billed its offer's $/h from the launch call until it is destroyed
    (or vanishes), and turns RUNNING with an endpoint 2-6 min after the launch (uniform);
  - an instance vanishes (the provider drops it, billing stops) at 0.03 per instance-hour; a
    job on it notices 10 s later, gives its lease back and acquires again, excluding it;
  - two providers, `sim-a` then `sim-b`, with three offers each between 0.34 and 0.79 $/h;
  - a worker reconciles every 60 s, as the engine's heartbeat does; idle instances go when
    reconcile finds them idle longer than `idle_s` (600 s, the settings' default), spare
    ones after `I2V_FLEET_SURPLUS_IDLE_S`; waiting jobs look at the line every
    `I2V_FLEET_LINE_POLL_S` and launch past `I2V_FLEET_QUEUE_WAIT_S` (the shipped
    defaults, or whatever the environment sets).

Against three baselines, on the same trace at the cheapest offer's price:
  (a) the offline lower bound: busy GPU seconds x the cheapest price; no waiting counted;
  (b) one instance per job, destroyed afterwards: (launch delay + job time) billed per job,
      wait = that job's launch delay;
  (c) an always-on fleet sized for the peak: N instances for the whole trace, where N is the
      peak concurrency of the trace; wait = queueing only (zero, since N covers the peak).

Targets: cost per video <= 1.3 x (a) at medium load; p95 wait (arrival -> start on a ready
GPU) no worse than (b)'s at every load; and after the trace, with the clock past the idle
timeout, no instance left at any provider and every provider-billed second covered by a
manager row. Exit code 1 on a miss.

Medium load is one Erlang (30 jobs/h x 120 s mean): one GPU's worth of work on average.
The manager sees a ready instance only on its 5 s provider poll, so a launch's wait is the
launch delay rounded up to the next poll; (b) is charged the bare delay.

    python bench/fleet_sim.py [--hours 24] [--seed 1] [--idle 600[,120...]]
                              [--loads low,medium,high] [--cheapest-last]

The default run (one idle value, three loads) takes several minutes on 2 cores (every
waiting job polls the line each simulated second), most of it the medium and high loads.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import math
import random
import sys
import tempfile
import time
from collections import deque
from collections.abc import Coroutine, Generator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from i2v.config import Settings
from i2v.db import fleet as repo
from i2v.db.engine import Database, open_database
from i2v.db.migrate import upgrade
from i2v.errors import FleetError
from i2v.fleet import budget as money
from i2v.fleet.base import Instance, InstanceState, LaunchSpec, Offer, Requirements
from i2v.fleet.budget import Budget
from i2v.fleet.manager import FleetConfig, FleetManager, WorkflowNeeds

LOADS = {"low": 6.0, "medium": 30.0, "high": 120.0}  # jobs per hour
LAUNCH_S = (120.0, 360.0)  # launch call -> RUNNING with an endpoint, uniform
JOB_S = (60.0, 180.0)  # GPU time of one video, uniform
VANISH_PER_H = 0.03  # per instance-hour: the provider loses the machine
DETECT_S = 10.0  # a job notices its instance is gone after this long
RECONCILE_S = 60.0  # the engine's FLEET_RECONCILE_S
DEFAULTS = Settings()  # the shipped policy: queue wait, spare instances' idle time
RETRY_S = 30.0  # a job whose acquire failed (no capacity) tries again after this
GIVE_UP_S = 6 * 3600.0  # after the last arrival: a job still not done by then is reported
OFFERS = {  # provider -> (gpu, $/h), in provider order; the cheapest overall is sim-a's first
    "sim-a": (("RTX 4090", 0.34), ("RTX 4090", 0.45), ("RTX A6000", 0.62)),
    "sim-b": (("L40S", 0.39), ("RTX 4090", 0.52), ("A100 80GB", 0.79)),
}
# Generous, so that no limit shapes the comparison: none is ever reached in these traces.
BUDGET = Budget(max_instances=50, max_hourly_usd=Decimal("100"), daily_budget_usd=Decimal("10000"))
NEEDS = WorkflowNeeds(name="wan22-i2v", nodes=frozenset(), models=())
BASE = datetime(2025, 1, 6, tzinfo=UTC)  # a midnight, so the trace is one budget day
TARGET_COST_RATIO = 1.3
TOLERANCE_S = 1e-3  # datetimes keep microseconds; the clock is a float


# ---- the scheduler: simulated time on plain coroutines -----------------------------------


class _Wake:
    """What a coroutine awaits to be woken at simulated time `at`."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at

    def __await__(self) -> Generator[_Wake, None, None]:
        yield self


class SimClock:
    """A clock that jumps from one wake-up to the next, and the coroutines it wakes.

    Coroutines are stepped by hand (no asyncio loop): a step runs until the coroutine
    awaits `sleep`, so the clock moves only when every coroutine is blocked on it. The
    manager awaits nothing else (its database calls are synchronous), so this is exact.
    """

    def __init__(self, base: datetime) -> None:
        self.base = base
        self.t = 0.0
        self._timers: list[tuple[float, int, Coroutine[Any, Any, None]]] = []
        self._ready: deque[Coroutine[Any, Any, None]] = deque()
        self._seq = itertools.count()  # FIFO among equal wake-up times: deterministic

    def now(self) -> datetime:
        return self.base + timedelta(seconds=self.t)

    def monotonic(self) -> float:
        return self.t

    def at(self, when: datetime | None) -> float:
        return math.inf if when is None else (when - self.base).total_seconds()

    async def sleep(self, seconds: float) -> None:
        await _Wake(self.t + max(0.0, seconds))

    async def sleep_until(self, t: float) -> None:
        await _Wake(max(self.t, t))

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self._ready.append(coro)

    def run(self) -> None:
        """Run until no coroutine is left; an exception in any of them ends the run."""
        while True:
            while self._ready:
                self._step(self._ready.popleft())
            if not self._timers:
                return
            at, _, coro = heapq.heappop(self._timers)
            self.t = max(self.t, at)
            self._ready.append(coro)

    def _step(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            wake = coro.send(None)
        except StopIteration:
            return
        if not isinstance(wake, _Wake):  # something awaited real I/O: the clock can't drive it
            raise TypeError(f"a simulated coroutine awaited {wake!r}, not the simulated clock")
        heapq.heappush(self._timers, (wake.at, next(self._seq), coro))


# ---- the simulated providers ----------------------------------------------------------------


@dataclass
class SimInstance:
    provider: str
    instance_id: str
    label: str
    usd_per_hour: float
    launched: float
    ready_at: float
    vanish_at: float
    endpoint: str
    terminated: float | None = None
    busy_s: float = 0.0  # finished jobs' GPU time on it
    lost_s: float = 0.0  # GPU time of attempts cut short when it vanished

    def end(self) -> float:
        """When billing stops: destroyed or vanished (inf while it lives)."""
        return min(self.terminated if self.terminated is not None else math.inf, self.vanish_at)

    def alive(self, t: float) -> bool:
        return t < self.end()

    def billed_s(self, t: float) -> float:
        return max(0.0, min(self.end(), t) - self.launched)


class SimProvider:
    """A GpuProvider whose instances start after a random delay and sometimes vanish."""

    def __init__(
        self,
        name: str,
        offers: Sequence[tuple[str, float]],
        clock: SimClock,
        rng: random.Random,
        registry: dict[str, SimInstance],
    ) -> None:
        self.name = name
        self._offers = [
            Offer(
                provider=name,
                offer_id=f"{name}-offer-{i}",
                gpu_name=gpu,
                num_gpus=1,
                vram_gb=24.0,
                usd_per_hour=price,
                reliability=0.99,
                cuda=12.8,
                disk_gb=200.0,
            )
            for i, (gpu, price) in enumerate(offers)
        ]
        self._clock, self._rng, self._registry = clock, rng, registry
        self.instances: dict[str, SimInstance] = {}
        self._ids = itertools.count(1)

    async def search_offers(self, requirements: Requirements) -> list[Offer]:
        cap = requirements.max_usd_per_hour
        fits = [o for o in self._offers if cap is None or o.usd_per_hour <= cap]
        return sorted(fits, key=lambda o: o.usd_per_hour)

    async def launch(self, offer: Offer, spec: LaunchSpec) -> str:
        t = self._clock.t
        instance_id = f"{self.name}-{next(self._ids)}"
        instance = SimInstance(
            provider=self.name,
            instance_id=instance_id,
            label=spec.label,
            usd_per_hour=offer.usd_per_hour,
            launched=t,
            ready_at=t + self._rng.uniform(*LAUNCH_S),
            vanish_at=t + self._rng.expovariate(VANISH_PER_H) * 3600.0,
            endpoint=f"http://{instance_id}.sim:8188",
        )
        self.instances[instance_id] = instance
        self._registry[instance.endpoint] = instance
        return instance_id

    async def query(
        self, ids: Sequence[str] | None = None, *, label_prefix: str | None = None
    ) -> list[Instance]:
        t = self._clock.t
        found = []
        for instance in self.instances.values():
            if not instance.alive(t):  # gone: absent from the answer, as the Protocol says
                continue
            if ids is not None and instance.instance_id not in ids:
                continue
            if label_prefix is not None and not instance.label.startswith(label_prefix):
                continue
            running = t >= instance.ready_at
            found.append(
                Instance(
                    provider=self.name,
                    instance_id=instance.instance_id,
                    state=InstanceState.RUNNING if running else InstanceState.PENDING,
                    label=instance.label,
                    endpoint=instance.endpoint if running else None,
                    usd_per_hour=instance.usd_per_hour,
                    created_at=self._clock.base + timedelta(seconds=instance.launched),
                )
            )
        return found

    async def terminate(self, instance_id: str) -> None:
        instance = self.instances.get(instance_id)
        if instance is not None and instance.alive(self._clock.t):
            instance.terminated = self._clock.t

    async def aclose(self) -> None:
        pass


# ---- the trace and one simulated day --------------------------------------------------------


@dataclass
class Job:
    index: int
    arrival: float
    duration: float
    start: float | None = None  # first start on a ready GPU
    end: float | None = None
    retries: int = 0
    reused: bool = False

    @property
    def run_id(self) -> str:
        return f"run-{self.index:05d}"


def trace(rate_per_h: float, hours: float, rng: random.Random) -> list[tuple[float, float]]:
    """(arrival s, job s) of a Poisson arrival process over `hours`."""
    jobs: list[tuple[float, float]] = []
    t = 0.0
    while True:
        t += rng.expovariate(rate_per_h / 3600.0)
        if t >= hours * 3600.0:
            return jobs
        jobs.append((t, rng.uniform(*JOB_S)))


@dataclass
class Outcome:
    load: str
    rate: float
    idle_s: float
    jobs: list[Job]
    instances: list[SimInstance]
    end_t: float  # the clock at the final check
    launches: int
    reuses: int
    acquire_failures: int
    killed_busy: int  # instances destroyed under a running job (should be 0)
    left: int  # instances still at a provider after the final reconcile
    unaccounted_s: float  # provider-billed seconds no manager row covers
    manager_usd: float  # what the manager's rows say was spent
    wall_s: float

    @property
    def provider_usd(self) -> float:
        return sum(i.billed_s(self.end_t) * i.usd_per_hour / 3600.0 for i in self.instances)

    @property
    def leaked_s(self) -> float:
        return self.unaccounted_s + sum(
            i.billed_s(self.end_t) for i in self.instances if i.alive(self.end_t)
        )


class FleetSim:
    def __init__(
        self, db: Database, jobs: list[Job], idle_s: float, seed: int, order: Sequence[str]
    ) -> None:
        self.clock = SimClock(BASE)
        self.registry: dict[str, SimInstance] = {}
        rng = random.Random(f"{seed}-providers")
        self.providers = {
            name: SimProvider(name, OFFERS[name], self.clock, rng, self.registry) for name in order
        }
        config = FleetConfig(
            deployment="sim",
            provider_order=tuple(order),
            templates=dict.fromkeys(order, "sim-template"),
            requirements=Requirements(max_usd_per_hour=1.0),
            budget=BUDGET,
            idle_s=idle_s,
            queue_wait_s=DEFAULTS.fleet_queue_wait_s,
            line_poll_s=DEFAULTS.fleet_line_poll_s,
            surplus_idle_s=DEFAULTS.fleet_surplus_idle_s,
        )
        self.fleet = FleetManager(
            db,
            self.providers,
            config,
            self.probe,
            now=self.clock.now,
            monotonic=self.clock.monotonic,
            sleep=self.clock.sleep,
            needs_named=lambda name: NEEDS,
        )
        self.db, self.jobs, self.idle_s = db, jobs, idle_s
        self.jobs_left = len(jobs)
        self.deadline = max((job.arrival for job in jobs), default=0.0) + GIVE_UP_S
        self.last_end = 0.0
        self.leased_rows: set[str] = set()
        self.acquire_failures = self.killed_busy = 0

    async def probe(self, endpoint: str, needs: WorkflowNeeds) -> bool:
        """ComfyUI answers with the workflow's nodes and models: here, the machine runs."""
        instance = self.registry.get(endpoint)
        t = self.clock.t
        return instance is not None and instance.alive(t) and t >= instance.ready_at

    async def job(self, job: Job) -> None:
        await self.clock.sleep_until(job.arrival)
        tried: list[str] = []
        while True:
            try:
                lease = await self.fleet.acquire(NEEDS, run_id=job.run_id, exclude=tried)
            except FleetError:  # no capacity (every launch failed): the step retries later
                self.acquire_failures += 1
                if self.clock.t > self.deadline:
                    self.jobs_left -= 1  # never done: reported as not done, not waited for
                    return
                await self.clock.sleep(RETRY_S)
                continue
            if job.start is None:
                job.start = self.clock.t
                job.reused = lease.row_id in self.leased_rows
            self.leased_rows.add(lease.row_id)
            instance = self.registry[lease.endpoint]
            began = self.clock.t
            fails_at = instance.vanish_at + DETECT_S
            if fails_at < began + job.duration:
                # The machine vanishes under the job: the attempt's GPU time is lost, and
                # the run gives its lease back and tries elsewhere, as the backend does.
                await self.clock.sleep_until(fails_at)
                instance.lost_s += instance.vanish_at - began  # billing stopped as it vanished
                self.release(job)
                tried.append(lease.endpoint)
                job.retries += 1
                continue
            await self.clock.sleep(job.duration)
            if instance.terminated is not None and instance.terminated < self.clock.t:
                self.killed_busy += 1  # reconcile destroyed it under the job: redo the job
                instance.lost_s += instance.terminated - began
                self.release(job)
                tried.append(lease.endpoint)
                job.retries += 1
                continue
            instance.busy_s += job.duration
            self.release(job)
            job.end = self.clock.t
            self.jobs_left -= 1
            self.last_end = max(self.last_end, job.end)
            return

    def release(self, job: Job) -> None:
        self.fleet.release_run(job.run_id)

    async def reconciler(self) -> None:
        # Every worker reconciles each minute; after the last job, until idle ones are gone.
        while (self.jobs_left and self.clock.t <= self.deadline) or (
            self.clock.t < self.last_end + self.idle_s + RECONCILE_S
        ):
            await self.clock.sleep(RECONCILE_S)
            await self.fleet.reconcile()

    async def final_check(self) -> None:
        await self.clock.sleep_until(self.last_end + self.idle_s + 1.0)
        await self.fleet.reconcile()

    def run(self) -> None:
        for job in self.jobs:
            self.clock.spawn(self.job(job))
        self.clock.spawn(self.reconciler())
        self.clock.run()
        self.clock.spawn(self.final_check())
        self.clock.run()

    def accounting(self) -> tuple[float, float]:
        """(provider-billed seconds outside every manager row, the manager rows' spend)."""
        end = self.clock.now()
        with self.db.session() as session:
            rows = {row.instance_id: row for row in repo.all_rows(session)}
            spend = sum((money.cost(row, BASE, end) for row in rows.values()), Decimal(0))
            unaccounted = 0.0
            for provider in self.providers.values():
                for instance in provider.instances.values():
                    start, stop = instance.launched, min(instance.end(), self.clock.t)
                    row = rows.get(instance.instance_id)
                    if row is None or row.launched_at is None:
                        unaccounted += stop - start
                        continue
                    covered_from = self.clock.at(row.launched_at)
                    covered_to = self.clock.at(row.terminated_at)
                    unaccounted += max(0.0, min(stop, covered_from) - start - TOLERANCE_S)
                    unaccounted += max(0.0, stop - max(start, covered_to) - TOLERANCE_S)
        return unaccounted, float(spend)


def simulate(
    load: str, rate: float, idle_s: float, hours: float, seed: int, order: Sequence[str]
) -> Outcome:
    started = time.perf_counter()
    arrivals = trace(rate, hours, random.Random(f"{seed}-{load}-trace"))
    jobs = [Job(i, a, d) for i, (a, d) in enumerate(arrivals)]
    with tempfile.TemporaryDirectory(prefix="i2v-fleet-sim-") as tmp:
        db = open_database(f"sqlite:///{Path(tmp) / 'fleet.db'}", pool_size=1)
        try:
            upgrade(db)
            sim = FleetSim(db, jobs, idle_s, seed, order)
            sim.run()
            unaccounted, manager_usd = sim.accounting()
        finally:
            db.dispose()
    instances = [i for p in sim.providers.values() for i in p.instances.values()]
    return Outcome(
        load=load,
        rate=rate,
        idle_s=idle_s,
        jobs=jobs,
        instances=instances,
        end_t=sim.clock.t,
        launches=len(instances),
        reuses=sum(job.reused for job in jobs),
        acquire_failures=sim.acquire_failures,
        killed_busy=sim.killed_busy,
        left=sum(i.alive(sim.clock.t) for i in instances),
        unaccounted_s=unaccounted,
        manager_usd=manager_usd,
        wall_s=time.perf_counter() - started,
    )


# ---- baselines and the report ---------------------------------------------------------------


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] if ordered else 0.0


def peak_concurrency(jobs: Sequence[Job]) -> int:
    """Most jobs running at once if each started on arrival (ends sort before starts)."""
    events = sorted([(j.arrival, 1) for j in jobs] + [(j.arrival + j.duration, -1) for j in jobs])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def fifo_waits(jobs: Sequence[Job], servers: int) -> list[float]:
    """Waits in a first-come first-served queue in front of `servers` always-on GPUs."""
    free = [0.0] * servers
    waits = []
    for job in sorted(jobs, key=lambda j: j.arrival):
        soonest = heapq.heappop(free)
        start = max(job.arrival, soonest)
        waits.append(start - job.arrival)
        heapq.heappush(free, start + job.duration)
    return waits


@dataclass
class Baselines:
    bound_usd: float  # (a)
    per_job_usd: float  # (b)
    per_job_p95_s: float
    peak: int  # (c)'s fleet size
    always_on_usd: float
    always_on_p95_s: float


def baselines(jobs: Sequence[Job], hours: float, seed: int, load: str) -> Baselines:
    price = min(p for offers in OFFERS.values() for _, p in offers) / 3600.0
    rng = random.Random(f"{seed}-{load}-per-job")  # (b)'s launch delays: same law, own draws
    delays = [rng.uniform(*LAUNCH_S) for _ in jobs]
    busy = sum(j.duration for j in jobs)
    peak = peak_concurrency(jobs)
    return Baselines(
        bound_usd=busy * price,
        per_job_usd=(busy + sum(delays)) * price,
        per_job_p95_s=p95(delays),
        peak=peak,
        always_on_usd=peak * hours * 3600.0 * price,
        always_on_p95_s=p95(fifo_waits(jobs, peak)),
    )


def report(outcome: Outcome, base: Baselines) -> None:
    jobs = outcome.jobs
    n = len(jobs)
    waits = [j.start - j.arrival for j in jobs if j.start is not None]
    cost = outcome.provider_usd / n
    t = outcome.end_t
    billed = sum(i.billed_s(t) for i in outcome.instances)
    starting = sum(max(0.0, min(i.ready_at, i.end(), t) - i.launched) for i in outcome.instances)
    busy = sum(i.busy_s for i in outcome.instances)
    lost = sum(i.lost_s for i in outcome.instances)
    idle = billed - starting - busy - lost
    print(
        f"\n{outcome.load} load ({outcome.rate:g} jobs/h), idle_s {outcome.idle_s:g}: {n} jobs,"
        f" {sum(j.end is not None for j in jobs)} done, simulated in {outcome.wall_s:.1f} s"
    )
    print(f"  {'':28} {'$/video':>9} {'x (a)':>7} {'p95 wait s':>11} {'$ total':>9}")
    rows = [
        ("i2v fleet (real manager)", cost, p95(waits), outcome.provider_usd),
        ("(a) lower bound", base.bound_usd / n, None, base.bound_usd),
        ("(b) one instance per job", base.per_job_usd / n, base.per_job_p95_s, base.per_job_usd),
        (f"(c) always-on, {base.peak} GPUs", base.always_on_usd / n, base.always_on_p95_s,
         base.always_on_usd),
    ]  # fmt: skip
    for name, usd, wait, total in rows:
        shown = "-" if wait is None else f"{wait:.0f}"
        ratio = usd / (base.bound_usd / n)
        print(f"  {name:28} {usd:>9.4f} {ratio:>7.2f} {shown:>11} {total:>9.2f}")
    print(
        f"  launches {outcome.launches}, reuses {outcome.reuses} of {n} first starts,"
        f" retries after a vanished instance {sum(j.retries for j in jobs)},"
        f" failed acquires {outcome.acquire_failures}"
    )
    print(
        f"  billed GPU hours {billed / 3600:.2f}: starting {starting / 3600:.2f},"
        f" busy {busy / 3600:.2f}, lost to vanishing {lost / 3600:.2f}, idle {idle / 3600:.2f}"
    )
    print(
        f"  after the trace: {outcome.left} instances left, {outcome.leaked_s:.1f} leaked"
        f" instance-seconds; manager rows ${outcome.manager_usd:.2f} vs provider bill"
        f" ${outcome.provider_usd:.2f}; instances destroyed under a job {outcome.killed_busy}"
    )


def checks(outcome: Outcome, base: Baselines) -> dict[str, bool]:
    n = len(outcome.jobs)
    waits = [j.start - j.arrival for j in outcome.jobs if j.start is not None]
    wait = p95(waits)
    head = f"{outcome.load} (idle_s {outcome.idle_s:g}):"
    done = all(j.end is not None for j in outcome.jobs)
    found: dict[str, bool] = {}
    if outcome.load == "medium":
        ratio = outcome.provider_usd / base.bound_usd
        text = f"{head} cost {ratio:.3f} x the lower bound (target <= {TARGET_COST_RATIO})"
        found[text] = ratio <= TARGET_COST_RATIO
    text = f"{head} p95 wait {wait:.0f} s vs one instance per job {base.per_job_p95_s:.0f} s"
    found[text + " (target <=)"] = wait <= base.per_job_p95_s and len(waits) == n
    text = f"{head} {outcome.left} instances left, {outcome.leaked_s:.1f} leaked instance-s"
    found[text + f", all jobs done: {done} (target 0, 0, True)"] = (
        outcome.left == 0 and outcome.leaked_s == 0.0 and done
    )
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0, help="length of the trace")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--idle", default="600", help="idle_s values, comma-separated; targets apply to each"
    )
    parser.add_argument("--loads", default=",".join(LOADS), help="comma-separated: low,medium,high")
    parser.add_argument(
        "--cheapest-last",
        action="store_true",
        help="put the provider with the cheapest offer second in provider order",
    )
    args = parser.parse_args(argv)
    loads = args.loads.split(",")
    if unknown := [name for name in loads if name not in LOADS]:
        parser.error(f"unknown loads: {', '.join(unknown)}")
    idles = [float(value) for value in args.idle.split(",")]
    order = list(OFFERS)[::-1] if args.cheapest_last else list(OFFERS)
    prices = ", ".join(f"{n} {'/'.join(f'{p:g}' for _, p in OFFERS[n])}" for n in order)
    print(
        f"fleet simulation: {args.hours:g} h Poisson trace, seed {args.seed}; launch"
        f" {LAUNCH_S[0]:g}-{LAUNCH_S[1]:g} s, job {JOB_S[0]:g}-{JOB_S[1]:g} s, vanish"
        f" {VANISH_PER_H:g}/instance-h, reconcile every {RECONCILE_S:g} s"
    )
    print(
        f"providers in order: {prices} $/h; budget {BUDGET.max_instances} instances,"
        f" ${BUDGET.max_hourly_usd}/h, ${BUDGET.daily_budget_usd}/day (never reached)"
    )
    started = time.perf_counter()
    verdicts: dict[str, bool] = {}
    for idle_s in idles:
        for load in loads:
            outcome = simulate(load, LOADS[load], idle_s, args.hours, args.seed, order)
            base = baselines(outcome.jobs, args.hours, args.seed, load)
            report(outcome, base)
            verdicts.update(checks(outcome, base))
    print(f"\ntargets (simulated in {time.perf_counter() - started:.1f} s):")
    for text, passed in verdicts.items():
        print(f"  {'PASS' if passed else 'MISS'}  {text}")
    return 0 if all(verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

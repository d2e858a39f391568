"""The fleet's pure decisions: when a run queues or launches, and which instance goes, and why."""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from i2v.db import fleet as repo
from i2v.db.tables import FleetInstance
from i2v.fleet import budget as money
from i2v.fleet.base import Instance, InstanceState
from i2v.fleet.config import FleetConfig

# What to assume before the fleet has any history: a video on a mid-range GPU, a cold start
# with model downloads.
DEFAULT_RUN_S = 180.0
DEFAULT_LAUNCH_S = 300.0


@dataclass(frozen=True, slots=True)
class Pace:
    """How long a run holds a GPU, and an instance takes to start, lately."""

    run_s: float = DEFAULT_RUN_S
    launch_s: float = DEFAULT_LAUNCH_S

    @classmethod
    def of(cls, runs: Sequence[float], launches: Sequence[float]) -> Pace:
        return cls(
            run_s=sum(runs) / len(runs) if runs else DEFAULT_RUN_S,
            launch_s=sum(launches) / len(launches) if launches else DEFAULT_LAUNCH_S,
        )


def expected_wait(rows: Sequence[FleetInstance], ahead: int, now: datetime, pace: Pace) -> float:
    """Seconds until a run with `ahead` runs queued before it starts on one of `rows`.

    Each instance is free when its current run ends (started at `last_used_at`) or when it
    is expected to be up; the runs ahead then take the soonest free instance, in turn.
    Infinite when there is no instance at all.
    """
    free: list[float] = []
    for row in rows:
        if row.state == repo.READY:
            since = row.last_used_at or now
            ends = (since - now).total_seconds() + pace.run_s * row.busy
            free.append(max(0.0, ends) if row.busy else 0.0)
        else:
            started = row.launched_at or row.created_at
            free.append(max(0.0, (started - now).total_seconds() + pace.launch_s))
    if not free:
        return math.inf
    heapq.heapify(free)
    for _ in range(ahead):
        heapq.heappush(free, heapq.heappop(free) + pace.run_s)
    return free[0]


def should_launch(wait: float, pace: Pace, config: FleetConfig) -> bool:
    """Launch when the queue's wait is over the tolerated one and a new GPU would be sooner.

    Runs are shorter than launches: queueing behind a busy GPU for a few minutes costs far
    less than a machine that would sit idle after the burst.
    """
    return wait > config.queue_wait_s and wait > pace.launch_s


def why_destroy(
    row: FleetInstance | None,
    instance: Instance,
    now: datetime,
    over_budget: bool,
    config: FleetConfig,
    *,
    spare: bool = False,
) -> str | None:
    """Why reconcile should destroy `instance` (whose row is `row`), or None to keep it.

    `spare`: another ready instance for the same workflow is busy or was used more recently,
    so this one is surplus and goes after `surplus_idle_s` rather than `idle_s`. Runs are
    handed to the most recently used idle instance, so surplus ones are the ones that idle.
    """
    if row is None:
        return "not in the database"
    if instance.state in (InstanceState.FAILED, InstanceState.STOPPED):
        return f"instance is {instance.state.value}"
    if over_budget:
        return "over the daily budget"
    if row.state == repo.READY:
        idle = money.idle_for(row, now).total_seconds()
        if row.busy == 0 and idle > config.idle_s:
            return f"idle for {idle:.0f} s"
        if row.busy == 0 and spare and idle > config.surplus_idle_s:
            return f"idle for {idle:.0f} s while another instance serves {row.workflow}"
        # Busy, but for longer than any run may last: its worker died holding the lease.
        if row.busy > 0 and idle > config.idle_s + config.max_run_s:
            return f"held by a run that stopped {idle:.0f} s ago"
    started = row.launched_at or row.created_at
    if row.state != repo.READY and (now - started).total_seconds() > config.ready_timeout_s:
        return "not ready within the readiness deadline"
    return None


def spares(rows: Sequence[FleetInstance], lines: Collection[str] = ()) -> set[str]:
    """Ids of idle ready rows with a ready sibling (same workflow) busy or used more recently.

    None of a workflow in `lines` (runs are waiting for it): an idle instance there is
    about to be taken.
    """
    ready = [row for row in rows if row.state == repo.READY and row.workflow not in lines]

    def used(row: FleetInstance) -> tuple[datetime, str]:
        return (row.last_used_at or row.ready_at or row.created_at, row.id)

    return {
        row.id
        for row in ready
        if row.busy == 0
        and any(
            other.id != row.id
            and other.workflow == row.workflow
            and (other.busy > 0 or used(other) > used(row))
            for other in ready
        )
    }

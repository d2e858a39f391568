"""The fleet's pure decisions: which labelled instance reconcile destroys, and why."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from i2v.db import fleet as repo
from i2v.db.tables import FleetInstance
from i2v.fleet import budget as money
from i2v.fleet.base import Instance, InstanceState

if TYPE_CHECKING:  # the manager imports this module
    from i2v.fleet.manager import FleetConfig


def why_destroy(
    row: FleetInstance | None,
    instance: Instance,
    now: datetime,
    over_budget: bool,
    config: FleetConfig,
) -> str | None:
    """Why reconcile should destroy `instance` (whose row is `row`), or None to keep it."""
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
        # Busy, but for longer than any run may last: its worker died holding the lease.
        if row.busy > 0 and idle > config.idle_s + config.max_run_s:
            return f"held by a run that stopped {idle:.0f} s ago"
    started = row.launched_at or row.created_at
    if row.state != repo.READY and (now - started).total_seconds() > config.ready_timeout_s:
        return "not ready within the readiness deadline"
    return None

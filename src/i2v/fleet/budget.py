"""Fleet spend and budgets: runtime x price per instance, and the checks a launch must pass."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from i2v.db.tables import FleetInstance
from i2v.errors import BudgetExceeded

HOUR = Decimal(3600)
CENT_MICROS = Decimal("0.000001")  # the precision costs are stored with (Numeric 14, 6)


@dataclass(frozen=True, slots=True)
class Budget:
    max_instances: int
    max_hourly_usd: Decimal
    daily_budget_usd: Decimal


def billed_seconds(row: FleetInstance, start: datetime, end: datetime) -> Decimal:
    """Seconds of `row`'s paid time inside [start, end]: from launch to termination (or now)."""
    if row.launched_at is None:
        return Decimal(0)
    begin = max(row.launched_at, start)
    stop = min(row.terminated_at or end, end)
    return Decimal(max(0.0, (stop - begin).total_seconds()))


def cost(row: FleetInstance, start: datetime, end: datetime) -> Decimal:
    return billed_seconds(row, start, end) * Decimal(row.usd_per_hour) / HOUR


def run_cost(started: datetime, ended: datetime, usd_per_hour: Decimal) -> Decimal:
    """What a run pays for its time on an instance, at the precision costs are stored."""
    seconds = Decimal(max(0.0, (ended - started).total_seconds()))
    return (seconds * usd_per_hour / HOUR).quantize(CENT_MICROS)


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def spent_today(rows: Sequence[FleetInstance], now: datetime) -> Decimal:
    start = day_start(now)
    return sum((cost(row, start, now) for row in rows), Decimal(0))


def hourly_rate(open_rows: Sequence[FleetInstance]) -> Decimal:
    return sum((Decimal(row.usd_per_hour) for row in open_rows), Decimal(0))


def check_launch(
    budget: Budget,
    open_rows: Sequence[FleetInstance],
    rows_today: Sequence[FleetInstance],
    price: Decimal,
    now: datetime,
) -> None:
    """Refuse a launch at `price` $/h that would pass any limit, saying which and by how much."""
    if len(open_rows) >= budget.max_instances:
        raise BudgetExceeded(
            f"I2V_FLEET_MAX_INSTANCES={budget.max_instances} reached "
            f"({len(open_rows)} instances are up or starting)"
        )
    rate = hourly_rate(open_rows)
    if rate + price > budget.max_hourly_usd:
        raise BudgetExceeded(
            f"launching at ${price:.3f}/h would bring the fleet to ${rate + price:.3f}/h, over "
            f"I2V_FLEET_MAX_HOURLY_USD={budget.max_hourly_usd}"
        )
    today = spent_today(rows_today, now)
    if today >= budget.daily_budget_usd:
        raise BudgetExceeded(
            f"${today:.2f} spent today reaches I2V_FLEET_DAILY_BUDGET_USD="
            f"{budget.daily_budget_usd}; launches resume at 00:00 UTC"
        )


def over_daily_budget(budget: Budget, rows_today: Sequence[FleetInstance], now: datetime) -> bool:
    return spent_today(rows_today, now) >= budget.daily_budget_usd


def idle_for(row: FleetInstance, now: datetime) -> timedelta:
    since = row.last_used_at or row.ready_at or row.launched_at or row.created_at
    return now - since

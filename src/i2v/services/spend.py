"""What the deployment spent today and this month (UTC), per user and per backend.

Two sources of cost, reckoned as the rest of i2v does:
- a hosted job's `cost_usd` (fal's price), counted when the job finished;
- the fleet's GPU time, runtime x price per instance (`fleet.budget.cost`), idle time included.

Per backend, the hosted backends' job costs and each fleet provider's GPU time add up to
what was paid out. Per user, each user's jobs' `cost_usd`: hosted prices plus the fleet GPU
time billed to their jobs (idle GPU time is nobody's, so the users' sum can be smaller).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from i2v.backends.registry import HOSTED
from i2v.bootstrap import App
from i2v.db import fleet as fleet_repo
from i2v.db import spend as repo
from i2v.db.tables import utcnow
from i2v.fleet import budget as money

FLEET_PREFIX = "fleet GPUs: "  # a per-backend line for a fleet provider's instances


@dataclass(frozen=True, slots=True)
class SpendLine:
    name: str  # a user's name; a hosted backend's; or FLEET_PREFIX + a provider's
    usd: Decimal
    jobs: int | None  # jobs that cost anything; None for fleet GPUs (billed by the hour)


@dataclass(frozen=True, slots=True)
class PeriodSpend:
    name: str  # "today", "this month"
    start: datetime
    end: datetime
    per_user: tuple[SpendLine, ...]  # most first
    per_backend: tuple[SpendLine, ...]  # most first
    total_usd: Decimal  # per_backend summed: what was paid out
    billed_to_jobs_usd: Decimal  # per_user summed


@dataclass(frozen=True, slots=True)
class SpendReport:
    today: PeriodSpend
    month: PeriodSpend
    as_of: datetime


def month_start(now: datetime) -> datetime:
    return money.day_start(now).replace(day=1)


def spend_report(app: App, now: datetime | None = None) -> SpendReport:
    """Spend since 00:00 UTC and since the 1st of the month, reckoned at `now` (default: now)."""
    moment = now or utcnow()
    return SpendReport(
        today=_period(app, "today", money.day_start(moment), moment),
        month=_period(app, "this month", month_start(moment), moment),
        as_of=moment,
    )


def _period(app: App, name: str, start: datetime, end: datetime) -> PeriodSpend:
    with app.db.session() as session:
        owners = repo.cost_by_owner(session, start, end)
        backends = repo.cost_by_backend(session, start, end)
        gpus: dict[str, Decimal] = defaultdict(Decimal)
        for row in fleet_repo.rows_since(session, start):
            gpus[row.provider] += money.cost(row, start, end)
    lines = [SpendLine(b.name, b.usd, b.jobs) for b in backends if b.name in HOSTED]
    lines += [
        SpendLine(FLEET_PREFIX + provider, usd.quantize(repo.MICROS), None)
        for provider, usd in gpus.items()
        if usd.quantize(repo.MICROS) > 0
    ]
    lines.sort(key=lambda line: (-line.usd, line.name))
    return PeriodSpend(
        name=name,
        start=start,
        end=end,
        per_user=tuple(SpendLine(o.name, o.usd, o.jobs) for o in owners),
        per_backend=tuple(lines),
        total_usd=sum((line.usd for line in lines), Decimal(0)),
        billed_to_jobs_usd=sum((o.usd for o in owners), Decimal(0)),
    )

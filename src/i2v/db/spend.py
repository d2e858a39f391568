"""Queries for the spend report: what jobs that finished in a time range cost, summed per
owner and per backend. The fleet's GPU time is reckoned from its instance rows (`db.fleet`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from i2v.db.tables import Job, User

MICROS = Decimal("0.000001")  # the precision costs are stored with (Numeric 14, 6)


@dataclass(frozen=True, slots=True)
class CostSum:
    name: str  # the owner's name, or the backend's
    usd: Decimal
    jobs: int


def _usd(value: object) -> Decimal:
    return Decimal(str(value or 0)).quantize(MICROS)


def _finished_between(since: datetime, until: datetime) -> ColumnElement[bool]:
    """Jobs whose cost is final (they finished) in [since, until), and cost anything."""
    return (Job.finished_at >= since) & (Job.finished_at < until) & (Job.cost_usd > 0)


def cost_by_owner(session: Session, since: datetime, until: datetime) -> list[CostSum]:
    """Each owner's jobs' cost (hosted prices and fleet GPU time billed to them), most first."""
    total = func.sum(Job.cost_usd)
    query = (
        select(User.name, total, func.count())
        .join(User, User.id == Job.owner_id)
        .where(_finished_between(since, until))
        .group_by(User.name)
    )
    found = [CostSum(name, _usd(usd), count) for name, usd, count in session.execute(query)]
    return sorted(found, key=lambda item: (-item.usd, item.name))


def cost_by_backend(session: Session, since: datetime, until: datetime) -> list[CostSum]:
    """The jobs' cost per backend (`jobs.backend`: where a job ran, once it succeeded), most
    first."""
    query = (
        select(Job.backend, func.sum(Job.cost_usd), func.count())
        .where(_finished_between(since, until))
        .group_by(Job.backend)
    )
    found = [CostSum(backend, _usd(usd), count) for backend, usd, count in session.execute(query)]
    return sorted(found, key=lambda item: (-item.usd, item.name))

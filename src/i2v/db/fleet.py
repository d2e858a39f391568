"""Queries for the fleet's instance rows and run leases; the rules live in fleet/manager.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from i2v.db.tables import FleetInstance, FleetLease

# Row states. `launching`: the intent, written before the provider is called.
LAUNCHING, PENDING, READY, TERMINATED, FAILED = (
    "launching",
    "pending",
    "ready",
    "terminated",
    "failed",
)
OPEN = (LAUNCHING, PENDING, READY)  # rows that may stand for a paid instance


_LAUNCH_LOCK = 0x1275_F1EE7  # PostgreSQL advisory lock key: "fleet launches"


def lock_launches(session: Session) -> None:
    """Serialise launch decisions until this transaction ends, across processes.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: a write takes the database's
    write lock at once (WAL keeps readers going), so a second launcher waits its turn.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LAUNCH_LOCK})
    else:
        session.execute(update(FleetInstance).where(FleetInstance.id.is_(None)).values(busy=0))


def open_rows(session: Session, provider: str | None = None) -> list[FleetInstance]:
    query = select(FleetInstance).where(FleetInstance.state.in_(OPEN))
    if provider is not None:
        query = query.where(FleetInstance.provider == provider)
    return list(session.scalars(query.order_by(FleetInstance.created_at)))


def all_rows(session: Session) -> list[FleetInstance]:
    return list(session.scalars(select(FleetInstance).order_by(FleetInstance.created_at)))


def rows_since(session: Session, since: datetime) -> list[FleetInstance]:
    """Rows that may have cost anything after `since`: open ones, or closed after it."""
    query = select(FleetInstance).where(
        (FleetInstance.terminated_at.is_(None)) | (FleetInstance.terminated_at > since)
    )
    return list(session.scalars(query))


def update_row(session: Session, row_id: str, *, only_from: Sequence[str], **values: Any) -> bool:
    """Change a row if it is in one of `only_from`; False if another process got there first."""
    result = session.execute(
        update(FleetInstance)
        .where(FleetInstance.id == row_id, FleetInstance.state.in_(only_from))
        .values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def claim_idle(session: Session, row_id: str, now: datetime) -> bool:
    """Take an idle ready instance for one run, atomically across processes."""
    result = session.execute(
        update(FleetInstance)
        .where(FleetInstance.id == row_id, FleetInstance.state == READY, FleetInstance.busy == 0)
        .values(busy=FleetInstance.busy + 1, last_used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def free_one(session: Session, row_id: str, now: datetime) -> None:
    """One run fewer on the instance; it counts as used until `now` (idle starts then)."""
    session.execute(
        update(FleetInstance)
        .where(FleetInstance.id == row_id, FleetInstance.busy > 0)
        .values(busy=FleetInstance.busy - 1, last_used_at=now)
    )


def lease_for(session: Session, run_id: str) -> FleetLease | None:
    return session.scalars(select(FleetLease).where(FleetLease.run_id == run_id)).one_or_none()


def open_leases(session: Session, row_id: str) -> list[FleetLease]:
    query = select(FleetLease).where(FleetLease.instance == row_id, FleetLease.ended_at.is_(None))
    return list(session.scalars(query))


def job_spend(session: Session) -> Decimal:
    total = sum((lease.usd or Decimal(0)) for lease in session.scalars(select(FleetLease)))
    return Decimal(total)

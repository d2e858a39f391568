"""Queries for the fleet's instance rows and run leases; the rules live in fleet/manager.py."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from i2v.db.tables import FleetInstance, FleetLease, FleetWaiter
from i2v.domain.ids import new_id

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


def claim_idle(session: Session, row_id: str, run_id: str, now: datetime) -> bool:
    """Take an idle ready instance for one run, atomically across processes.

    The run's lease is written in the same transaction: a worker killed at any point
    leaves either both or neither, never a busy row with no lease to end it.
    """
    result = session.execute(
        update(FleetInstance)
        .where(FleetInstance.id == row_id, FleetInstance.state == READY, FleetInstance.busy == 0)
        .values(busy=FleetInstance.busy + 1, last_used_at=now)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    hold_lease(session, run_id, row_id, now)
    return True


def hold_lease(session: Session, run_id: str, row_id: str, now: datetime) -> None:
    """Record that `run_id` runs on `row_id` from `now`, in the caller's transaction (the one
    that made the row busy). A retried run moves its one lease, so it is billed only for the
    attempt that finishes; the instance a dead worker held for it is free again."""
    lease = lease_for(session, run_id)
    if lease is None:
        lease = FleetLease(id=new_id("fls"), run_id=run_id)
        session.add(lease)
    elif lease.ended_at is None and lease.instance != row_id:
        free_one(session, lease.instance, now)
    lease.instance, lease.started_at = row_id, now
    lease.ended_at, lease.usd = None, None


def drop_lease(session: Session, run_id: str, now: datetime) -> None:
    """Undo a claim whose instance failed its check: the run never ran there, so it pays
    nothing and the row is one run less busy."""
    lease = lease_for(session, run_id)
    if lease is not None and lease.ended_at is None:
        free_one(session, lease.instance, now)
        lease.ended_at, lease.usd = now, Decimal(0)


def close_idle(session: Session, row_id: str, now: datetime, reason: str) -> bool:
    """Close an idle ready row before its instance is destroyed, atomically across
    processes; False if a run took it meanwhile (it then stays)."""
    result = session.execute(
        update(FleetInstance)
        .where(FleetInstance.id == row_id, FleetInstance.state == READY, FleetInstance.busy == 0)
        .values(state=TERMINATED, reason=reason, terminated_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_seen(session: Session, row_ids: Collection[str], now: datetime) -> None:
    """The provider listed these instances alive, or their ComfyUI answered, at `now`."""
    if row_ids:
        session.execute(
            update(FleetInstance).where(FleetInstance.id.in_(row_ids)).values(seen_at=now)
        )


def gone_at(row: FleetInstance, now: datetime) -> datetime:
    """When a vanished instance stopped costing: the providers do not say (it is simply
    absent from their answers), so the last time it was seen alive, never after `now`."""
    seen = row.seen_at or row.ready_at or row.launched_at or row.created_at
    return min(seen, now)


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


def runs_on(session: Session, row_ids: Collection[str]) -> list[tuple[str, str]]:
    """(instance row id, run id) of the runs on these instances now (their open leases)."""
    if not row_ids:
        return []
    query = (
        select(FleetLease.instance, FleetLease.run_id)
        .where(FleetLease.instance.in_(row_ids), FleetLease.ended_at.is_(None))
        .order_by(FleetLease.started_at)
    )
    return [(instance, run_id) for instance, run_id in session.execute(query)]


def job_spend(session: Session) -> Decimal:
    total = sum((lease.usd or Decimal(0)) for lease in session.scalars(select(FleetLease)))
    return Decimal(total)


# ---- the queue of runs waiting for an instance ----------------------------------------------


def wait_in_line(session: Session, run_id: str, workflow: str, now: datetime) -> FleetWaiter:
    """Join the queue, or renew this run's place in it (a retried step keeps its `since`)."""
    waiter = session.get(FleetWaiter, run_id)
    if waiter is None:
        waiter = FleetWaiter(run_id=run_id, workflow=workflow, since=now, seen_at=now)
        session.add(waiter)
    waiter.seen_at = now
    return waiter


def ahead_of(session: Session, waiter: FleetWaiter, fresh_since: datetime) -> int:
    """How many runs queued for the same workflow before this one (run id breaks ties).

    A waiter not seen since `fresh_since` belongs to a worker that died, and is skipped.
    """
    earlier = (FleetWaiter.since < waiter.since) | (
        (FleetWaiter.since == waiter.since) & (FleetWaiter.run_id < waiter.run_id)
    )
    query = select(func.count()).where(
        FleetWaiter.workflow == waiter.workflow, FleetWaiter.seen_at >= fresh_since, earlier
    )
    return int(session.scalar(query) or 0)


def waiting_lines(session: Session, fresh_since: datetime) -> set[str]:
    """Workflows that live runs (seen since `fresh_since`) are waiting for."""
    query = select(FleetWaiter.workflow).where(FleetWaiter.seen_at >= fresh_since).distinct()
    return set(session.scalars(query))


def leave_line(session: Session, run_id: str) -> None:
    session.execute(delete(FleetWaiter).where(FleetWaiter.run_id == run_id))


def forget_waiters(session: Session, seen_before: datetime) -> int:
    """Drop waiters whose worker stopped renewing them."""
    result = session.execute(delete(FleetWaiter).where(FleetWaiter.seen_at < seen_before))
    return int(result.rowcount)  # type: ignore[attr-defined]


def recent_runs(session: Session, workflow: str, limit: int = 20) -> list[float]:
    """GPU seconds of the latest finished leases on instances of `workflow`."""
    query = (
        select(FleetLease.started_at, FleetLease.ended_at)
        .join(FleetInstance, FleetInstance.id == FleetLease.instance)
        .where(FleetInstance.workflow == workflow, FleetLease.ended_at.is_not(None))
        .order_by(FleetLease.ended_at.desc())
        .limit(limit)
    )
    return [(end - start).total_seconds() for start, end in session.execute(query) if end]


def recent_launches(session: Session, limit: int = 20) -> list[float]:
    """Seconds from launch call to ready of the latest instances that became ready."""
    query = (
        select(FleetInstance.launched_at, FleetInstance.ready_at)
        .where(FleetInstance.ready_at.is_not(None), FleetInstance.launched_at.is_not(None))
        .order_by(FleetInstance.ready_at.desc())
        .limit(limit)
    )
    return [
        (ready - start).total_seconds()
        for start, ready in session.execute(query)
        if start and ready
    ]

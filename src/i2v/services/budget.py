"""Each user's daily cap on hosted spend, checked atomically when a job is submitted.

A day's committed spend is the sum over the owner's hosted jobs created since UTC midnight
of what each cost (once finished; a failed one cost nothing, since fal bills no failure) or
is expected to cost (its estimate, while queued or running). The check and the new job's
insert share one transaction that holds the owner's lock, so concurrent submissions cannot
both pass the cap.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import case, func, select, text, update
from sqlalchemy.orm import Session

from i2v.config import Settings
from i2v.db.tables import Job, User
from i2v.domain.job import JobState
from i2v.errors import DailyBudgetExceeded

_FINISHED = (JobState.SUCCEEDED.value, JobState.FAILED.value, JobState.CANCELLED.value)


def day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def lock_owner(session: Session, owner_id: str) -> None:
    """Serialise budget checks of one owner until this transaction ends.

    PostgreSQL: a transaction-scoped advisory lock on the owner. SQLite: a write takes the
    database's write lock at once, so a second submitter waits for this commit.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"budget:{owner_id}".encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    else:
        session.execute(update(User).where(User.id.is_(None)).values(is_admin=False))


def committed_today(session: Session, owner_id: str, now: datetime) -> Decimal:
    spent = case(
        (Job.state.in_(_FINISHED), Job.cost_usd),
        else_=func.coalesce(Job.cost_estimate_usd, Job.cost_usd),
    )
    query = select(func.coalesce(func.sum(spent), 0)).where(
        Job.owner_id == owner_id, Job.hosted.is_(True), Job.created_at >= day_start(now)
    )
    return Decimal(str(session.scalar(query) or 0))


def daily_limit(session: Session, settings: Settings, owner_id: str) -> Decimal | None:
    own = session.scalar(select(User.daily_budget_usd).where(User.id == owner_id))
    return own if own is not None else settings.user_daily_budget_usd


def check_budget(
    session: Session, settings: Settings, owner_id: str, estimate: Decimal | None, now: datetime
) -> None:
    """Refuse a hosted job that would pass the owner's cap; call with the job's insert."""
    limit = daily_limit(session, settings, owner_id)
    if limit is None:
        return
    lock_owner(session, owner_id)
    committed = committed_today(session, owner_id, now)
    # A price i2v does not know cannot be shown to fit: with a cap, it is refused.
    if estimate is None or committed + estimate > limit:
        cost = "an unknown price" if estimate is None else f"${estimate:.4f}"
        raise DailyBudgetExceeded(
            f"this job ({cost}) would pass your daily hosted budget of ${limit:.2f} "
            f"(${committed:.4f} committed today, UTC)",
            limit=limit,
            committed=committed,
            estimate=estimate if estimate is not None else Decimal(0),
        )

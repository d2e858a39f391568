"""Queries for the backends' circuit breakers (the rules live in services/breaker.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from i2v.db.tables import BackendHealth


def health_rows(session: Session) -> dict[str, BackendHealth]:
    return {row.backend: row for row in session.scalars(select(BackendHealth))}


def _row(session: Session, backend: str, now: datetime) -> BackendHealth:
    row = session.get(BackendHealth, backend, with_for_update=True)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            session.add(BackendHealth(backend=backend, failures=0, updated_at=now))
    except IntegrityError:  # another process added it first
        pass
    found = session.get(BackendHealth, backend, with_for_update=True, populate_existing=True)
    assert found is not None
    return found


def record_failure(
    session: Session, backend: str, error: str, now: datetime, threshold: int, open_until: datetime
) -> BackendHealth:
    """Count one more retryable failure in a row; at the threshold, open the breaker."""
    row = _row(session, backend, now)
    row.failures = (row.failures or 0) + 1
    row.last_error = error[:2000]
    row.updated_at = now
    if row.failures >= threshold:
        row.opened_until = open_until
    return row


def record_success(session: Session, backend: str, now: datetime) -> None:
    row = session.get(BackendHealth, backend)
    if row is None or (row.failures == 0 and row.opened_until is None):
        return  # healthy already: no write on the common path
    row.failures, row.opened_until, row.updated_at = 0, None, now

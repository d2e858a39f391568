"""Queries for fal request checkpoints and verified webhook deliveries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from i2v.db.tables import FalDelivery, FalRequest, utcnow


def request_row(session: Session, run_id: str) -> FalRequest | None:
    return session.get(FalRequest, run_id)


def write_intent(session: Session, run_id: str, endpoint: str) -> int:
    """Record that a submit is about to be sent for `run_id`; the number of submits so far."""
    row = session.get(FalRequest, run_id)
    if row is None:
        row = FalRequest(run_id=run_id, endpoint=endpoint, attempts=0)
        session.add(row)
    row.endpoint, row.request_id, row.submitted_at = endpoint, None, None
    row.status_url = row.response_url = row.cancel_url = None
    row.intent_at = utcnow()
    row.attempts = (row.attempts or 0) + 1
    return row.attempts


def write_submitted(
    session: Session,
    run_id: str,
    request_id: str,
    status_url: str,
    response_url: str,
    cancel_url: str,
) -> None:
    session.execute(
        update(FalRequest)
        .where(FalRequest.run_id == run_id)
        .values(
            request_id=request_id,
            status_url=status_url,
            response_url=response_url,
            cancel_url=cancel_url,
            submitted_at=utcnow(),
        )
    )


def forget_request(session: Session, run_id: str) -> None:
    session.execute(delete(FalRequest).where(FalRequest.run_id == run_id))


def is_submitted(session: Session, request_id: str) -> bool:
    """Whether a render here checkpointed this request id (fal signs every customer's hooks)."""
    found = session.scalars(
        select(FalRequest.run_id).where(FalRequest.request_id == request_id).limit(1)
    ).first()
    return found is not None


def add_delivery(
    session: Session,
    request_id: str,
    status: str,
    payload: dict[str, Any] | None,
    error: str | None,
) -> bool:
    """Store a verified delivery; False when this request's was stored already (a retry)."""
    if session.get(FalDelivery, request_id) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                FalDelivery(request_id=request_id, status=status, payload=payload, error=error)
            )
    except IntegrityError:  # a concurrent delivery of the same request won
        return False
    return True


def delivery(session: Session, request_id: str) -> FalDelivery | None:
    return session.scalars(select(FalDelivery).where(FalDelivery.request_id == request_id)).first()

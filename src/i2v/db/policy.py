"""Queries for the content-policy audit: one row per decision, newest first."""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from i2v.db.tables import PolicyAudit


def add_audit(session: Session, row: PolicyAudit) -> None:
    session.add(row)


def audit_row(session: Session, audit_id: str) -> PolicyAudit | None:
    return session.get(PolicyAudit, audit_id)


def page_of_audit(
    session: Session,
    *,
    after: PolicyAudit | None,
    limit: int,
    decision: str | None = None,
    job_id: str | None = None,
) -> list[PolicyAudit]:
    """Newest first; keyset pagination on (created_at, id), like the jobs list."""
    query = select(PolicyAudit)
    if decision is not None:
        query = query.where(PolicyAudit.decision == decision)
    if job_id is not None:
        query = query.where(PolicyAudit.job_id == job_id)
    if after is not None:
        query = query.where(
            or_(
                PolicyAudit.created_at < after.created_at,
                and_(PolicyAudit.created_at == after.created_at, PolicyAudit.id < after.id),
            )
        )
    query = query.order_by(PolicyAudit.created_at.desc(), PolicyAudit.id.desc()).limit(limit)
    return list(session.scalars(query))

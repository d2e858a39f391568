"""Queries for dashboard sessions and invites; the rules about them live in
services.web_sessions and services.invites."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from i2v.db.tables import User, WebInvite, WebSession

# Built once: this runs on every dashboard request.
_SESSION_WITH_USER = (
    select(WebSession, User)
    .join(User, User.id == WebSession.user_id)
    .where(WebSession.id == bindparam("id"))
)


def session_with_user(session: Session, session_id: str) -> tuple[WebSession, User] | None:
    row = session.execute(_SESSION_WITH_USER, {"id": session_id}).one_or_none()
    return None if row is None else (row[0], row[1])


def touch_session(session: Session, session_id: str, when: datetime) -> None:
    session.execute(update(WebSession).where(WebSession.id == session_id).values(last_seen_at=when))


def revoke_session(session: Session, session_id: str, when: datetime) -> bool:
    """Revoke the session if it is live; False if it was unknown or already revoked."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.id == session_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=when)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def delete_expired_sessions(session: Session, user_id: str, now: datetime) -> None:
    session.execute(
        delete(WebSession).where(WebSession.user_id == user_id, WebSession.expires_at < now)
    )


def invite_with_user(session: Session, invite_id: str) -> tuple[WebInvite, User] | None:
    query = select(WebInvite, User).join(User, User.id == WebInvite.user_id)
    row = session.execute(query.where(WebInvite.id == invite_id)).one_or_none()
    return None if row is None else (row[0], row[1])


def use_invite(session: Session, invite_id: str, now: datetime) -> bool:
    """Mark the invite used if it is unused and unexpired; False otherwise (one winner)."""
    result = session.execute(
        update(WebInvite)
        .where(
            WebInvite.id == invite_id,
            WebInvite.used_at.is_(None),
            WebInvite.expires_at > now,
        )
        .values(used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]

"""Queries for users and API keys; the rules about them live in services.accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from i2v.db.tables import ApiKey, User


def user_by_name(session: Session, name: str) -> User | None:
    return session.scalars(select(User).where(User.name == name)).one_or_none()


def user_by_id(session: Session, user_id: str) -> User | None:
    return session.get(User, user_id)


def all_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.created_at, User.name)))


def key_by_id(session: Session, key_id: str) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def keys_of(session: Session, user_id: str) -> list[ApiKey]:
    query = select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at)
    return list(session.scalars(query))


# Built once: this runs on every request, and building the statement costs more than running it.
_KEY_WITH_USER = (
    select(ApiKey, User).join(User, User.id == ApiKey.user_id).where(ApiKey.id == bindparam("id"))
)


def key_with_user(session: Session, key_id: str) -> tuple[ApiKey, User] | None:
    """The key and its user in one round trip: this runs on every request."""
    row = session.execute(_KEY_WITH_USER, {"id": key_id}).one_or_none()
    return None if row is None else (row[0], row[1])


def touch_key(session: Session, key_id: str, when: datetime) -> None:
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=when))

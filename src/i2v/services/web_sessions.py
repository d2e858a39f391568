"""Dashboard sessions: started with an API key or an invite, looked up per request, revoked.

The cookie holds a random 256-bit token; the table keeps only its SHA-256, so a copy of the
database signs nobody in. A session ends at its expiry (I2V_WEB_SESSION_HOURS after sign-in)
or at sign-out, whichever comes first. Each sign-in starts a new session and revokes the one
the browser had, so a session id planted before sign-in is worthless after it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from i2v.db import web as repo
from i2v.db.engine import Database
from i2v.db.tables import WebSession, utcnow
from i2v.errors import Unauthenticated
from i2v.services.accounts import UserInfo, authenticate, user_info

LAST_SEEN_RESOLUTION = timedelta(minutes=1)  # a write per page view would serialise them
MAX_TOKEN_CHARS = 128  # longer cookies are refused before they are hashed


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: str  # the token's SHA-256: safe to log, useless as a cookie
    user: UserInfo
    csrf_secret: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class StartedSession:
    info: SessionInfo
    token: str  # the cookie's value; never stored


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in_with_key(
    db: Database, api_key: str, *, hours: float, replacing: str | None = None
) -> StartedSession:
    """A new session for the key's user (Unauthenticated for a bad key, as the API says)."""
    user = authenticate(db, api_key.strip())
    return start_session(db, user, hours=hours, replacing=replacing)


def start_session(
    db: Database, user: UserInfo, *, hours: float, replacing: str | None = None
) -> StartedSession:
    """A new session for `user`; the browser's previous one (`replacing`, its token) is
    revoked, and the user's sessions past their expiry are removed."""
    with db.session() as session:
        return add_session(session, user, hours=hours, replacing=replacing)


def add_session(
    session: Session, user: UserInfo, *, hours: float, replacing: str | None
) -> StartedSession:
    """`start_session` inside the caller's transaction (an invite is used up in the same one)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = WebSession(
        id=token_id(token),
        user_id=user.id,
        csrf_secret=secrets.token_hex(32),
        created_at=now,
        expires_at=now + timedelta(hours=hours),
        last_seen_at=now,
    )
    if replacing and len(replacing) <= MAX_TOKEN_CHARS:
        repo.revoke_session(session, token_id(replacing), now)
    repo.delete_expired_sessions(session, user.id, now)
    session.add(row)
    session.flush()
    return StartedSession(
        SessionInfo(row.id, user, row.csrf_secret, row.created_at, row.expires_at), token
    )


def session_for(db: Database, token: str | None) -> SessionInfo:
    """The live session the cookie's token names; Unauthenticated when there is none (unknown,
    revoked or expired, or the user was deleted): every failure reads the same."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise Unauthenticated("sign in to continue")
    now = utcnow()
    with db.session() as session:
        found = repo.session_with_user(session, token_id(token))
        if found is None:
            raise Unauthenticated("sign in to continue")
        row, user = found
        if row.revoked_at is not None or row.expires_at <= now:
            raise Unauthenticated("sign in to continue")
        if row.last_seen_at is None or now - row.last_seen_at > LAST_SEEN_RESOLUTION:
            repo.touch_session(session, row.id, now)
        return SessionInfo(row.id, user_info(user), row.csrf_secret, row.created_at, row.expires_at)


def sign_out(db: Database, token: str | None) -> None:
    """Revoke the session (nothing happens for an unknown or already revoked one)."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return
    with db.session() as session:
        repo.revoke_session(session, token_id(token), utcnow())

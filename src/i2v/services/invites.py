"""One-time sign-in links (`i2v users invite NAME`), so a creator never handles a raw API key.

The link carries a random 256-bit token; the table keeps only its SHA-256. Opening the link
changes nothing (link previewers fetch it); confirming it uses it up, once, and starts a
session. Links expire after INVITE_HOURS.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from i2v.db import web as repo
from i2v.db.engine import Database
from i2v.db.tables import WebInvite, utcnow
from i2v.errors import InvalidParameter, NotFound
from i2v.services.accounts import find_user, user_info
from i2v.services.web_sessions import StartedSession, add_session, token_id

INVITE_HOURS = 72.0
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,128}$")


class InviteState(StrEnum):
    VALID = "valid"
    USED = "used"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class InviteView:
    state: InviteState
    user_name: str | None = None  # None for an unknown link
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CreatedInvite:
    user_name: str
    expires_at: datetime
    token: str  # shown once, inside the link; never stored


def invite_url(public_url: str, token: str) -> str:
    """The link that signs its holder in: under I2V_PUBLIC_URL, wherever it is made."""
    return f"{public_url.rstrip('/')}/invite/{token}"


def create_invite(
    db: Database, user: str, *, by: str, hours: float = INVITE_HOURS
) -> CreatedInvite:
    """A sign-in link's token for `user` (name or id), valid for `hours`; `by` names who made
    it (recorded)."""
    if not 0 < hours <= 24 * 365:
        raise InvalidParameter("hours", hours, f"an invite lasts 0-{24 * 365} hours, not {hours}")
    owner = find_user(db, user)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with db.session() as session:
        row = WebInvite(
            id=token_id(token),
            user_id=owner.id,
            created_by=by[:64],
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
        session.add(row)
        session.flush()
        return CreatedInvite(owner.name, row.expires_at, token)


def invite_state(db: Database, token: str) -> InviteView:
    """What the link is now; reading it changes nothing."""
    if not _TOKEN.match(token):
        return InviteView(InviteState.UNKNOWN)
    with db.session() as session:
        found = repo.invite_with_user(session, token_id(token))
        if found is None:
            return InviteView(InviteState.UNKNOWN)
        invite, user = found
        if invite.used_at is not None:
            state = InviteState.USED
        elif invite.expires_at <= utcnow():
            state = InviteState.EXPIRED
        else:
            state = InviteState.VALID
        return InviteView(state, user.name, invite.expires_at)


def accept_invite(
    db: Database, token: str, *, hours: float, replacing: str | None = None
) -> StartedSession:
    """Use the link up and start a session for its user; NotFound (with why) when the link is
    unknown, used or expired. Two confirmations at once: one wins, the other is told it was
    used."""
    if not _TOKEN.match(token):
        raise NotFound("this sign-in link is not valid")
    with db.session() as session:
        found = repo.invite_with_user(session, token_id(token))
        if found is None:
            raise NotFound("this sign-in link is not valid")
        invite, user = found
        now = utcnow()
        if not repo.use_invite(session, invite.id, now):
            # Read before the update: unused and unexpired then means another confirmation won.
            expired = invite.used_at is None and invite.expires_at <= now
            why = "has expired" if expired else "was already used"
            raise NotFound(f"this sign-in link {why}; ask for a new one")
        return add_session(session, user_info(user), hours=hours, replacing=replacing)

"""Users and API keys: creation, revocation and authentication of bearer tokens.

Tokens look like ``i2v_<key id>_<secret>``. Only a SHA-256 of the secret is stored: the
secret is 256 random bits, so a slow password hash would add latency to every request
and no protection. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy.exc import IntegrityError

from i2v.db import accounts as repo
from i2v.db.engine import Database
from i2v.db.tables import ApiKey, User, utcnow
from i2v.domain.ids import new_id, new_key_id
from i2v.errors import Conflict, InvalidParameter, NotFound, Unauthenticated

TOKEN_PREFIX = "i2v"  # noqa: S105 - a public marker, not a secret
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_BUDGET_USD = Decimal(10) ** 8
BUDGET_STEP = Decimal("0.000001")
_TOKEN = re.compile(r"^i2v_(key[0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: str
    name: str
    is_admin: bool
    mature_allowed: bool
    created_at: datetime
    daily_budget_usd: Decimal | None = None  # hosted spend per UTC day; None: the default
    mature_granted_by: str | None = None  # the admin who last granted mature content
    mature_granted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: str
    user_id: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class CreatedKey:
    info: KeyInfo
    token: str  # shown once; never stored


def user_info(user: User) -> UserInfo:
    """The public view of a user row (for the services that read users with other rows)."""
    return UserInfo(
        user.id,
        user.name,
        user.is_admin,
        user.mature_allowed,
        user.created_at,
        user.daily_budget_usd,
        user.mature_granted_by,
        user.mature_granted_at,
    )


def _key_info(key: ApiKey) -> KeyInfo:
    return KeyInfo(key.id, key.user_id, key.created_at, key.revoked_at, key.last_used_at)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_user(db: Database, name: str, *, admin: bool = False) -> UserInfo:
    if not USER_NAME.match(name):
        raise InvalidParameter(
            "name", name, f"user name {name!r}: use 1-64 letters, digits, '.', '_' or '-'"
        )
    try:
        with db.session() as session:
            user = User(id=new_id("usr"), name=name, is_admin=admin, created_at=utcnow())
            session.add(user)
            session.flush()
            return user_info(user)
    except IntegrityError:
        raise Conflict(f"user {name!r} already exists") from None


def find_user(db: Database, name_or_id: str) -> UserInfo:
    with db.session() as session:
        user = repo.user_by_name(session, name_or_id) or repo.user_by_id(session, name_or_id)
        if user is None:
            raise NotFound(f"no user {name_or_id!r}")
        return user_info(user)


def list_users(db: Database) -> list[UserInfo]:
    with db.session() as session:
        return [user_info(u) for u in repo.all_users(session)]


def set_daily_budget(db: Database, user: str, usd: Decimal | None) -> UserInfo:
    """Cap the user's hosted spend per UTC day; None returns them to I2V_USER_DAILY_BUDGET_USD."""
    if usd is not None:
        usd = _budget(usd)
    owner = find_user(db, user)
    with db.session() as session:
        row = repo.user_by_id(session, owner.id)
        if row is None:  # deleted between the two reads
            raise NotFound(f"no user {user!r}")
        row.daily_budget_usd = usd
        session.flush()
        return user_info(row)


def set_mature(db: Database, user: str, *, allowed: bool, by: str) -> UserInfo:
    """Grant (or revoke) mature content (R and X ratings, self-hosted backends only) to
    `user`; `by` names the admin, recorded with the time of the grant."""
    owner = find_user(db, user)
    with db.session() as session:
        row = repo.user_by_id(session, owner.id)
        if row is None:  # deleted between the two reads
            raise NotFound(f"no user {user!r}")
        row.mature_allowed = allowed
        if allowed:
            row.mature_granted_by = by[:64]
            row.mature_granted_at = utcnow()
        session.flush()
        return user_info(row)


def parse_budget(text: str) -> Decimal:
    """A daily budget as typed ("2.50", "$2.50"); `set_daily_budget` checks its range."""
    try:
        return Decimal(text.strip().removeprefix("$"))
    except InvalidOperation:
        raise InvalidParameter(
            "usd", text, f"budget {text!r} is not an amount of dollars"
        ) from None


def _budget(usd: Decimal) -> Decimal:
    # The column holds 14 digits, 6 after the point.
    if not usd.is_finite() or usd < 0 or usd >= MAX_BUDGET_USD:
        raise InvalidParameter(
            "usd", usd, f"daily budget {usd:f}: give US dollars from 0 to under {MAX_BUDGET_USD}"
        )
    if usd != usd.quantize(BUDGET_STEP):
        raise InvalidParameter(
            "usd", usd, f"daily budget {usd:f}: at most 6 decimal places (millionths of a dollar)"
        )
    return usd.quantize(BUDGET_STEP)


def create_key(db: Database, user: str) -> CreatedKey:
    owner = find_user(db, user)
    secret = secrets.token_urlsafe(32)
    with db.session() as session:
        key = ApiKey(
            id=new_key_id(), user_id=owner.id, secret_hash=_hash(secret), created_at=utcnow()
        )
        session.add(key)
        session.flush()
        return CreatedKey(_key_info(key), f"{TOKEN_PREFIX}_{key.id}_{secret}")


def list_keys(db: Database, user: str) -> list[KeyInfo]:
    owner = find_user(db, user)
    with db.session() as session:
        return [_key_info(k) for k in repo.keys_of(session, owner.id)]


def revoke_key(db: Database, key_id: str) -> KeyInfo:
    with db.session() as session:
        key = repo.key_by_id(session, key_id)
        if key is None:
            raise NotFound(f"no API key {key_id!r}")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
        return _key_info(key)


LAST_USED_RESOLUTION = timedelta(minutes=1)


def authenticate(db: Database, token: str) -> UserInfo:
    """The user a bearer token belongs to; every failure reads the same to the caller."""
    match = _TOKEN.match(token)
    if match is None:
        raise Unauthenticated("invalid API key")
    key_id, secret = match.groups()
    with db.session() as session:
        found = repo.key_with_user(session, key_id)
        # Compare even for unknown ids, so timing doesn't tell which ids exist.
        expected = found[0].secret_hash if found is not None else _hash("")
        valid = hmac.compare_digest(expected, _hash(secret))
        if found is None or not valid or found[0].revoked_at is not None:
            raise Unauthenticated("invalid API key")
        key, user = found
        now = utcnow()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            repo.touch_key(session, key.id, now)  # a write per request would serialise them
        return user_info(user)

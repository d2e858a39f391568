"""fal's webhooks: check a delivery's Ed25519 signature and age, read it, and store it once.

fal signs ``request id, user id, timestamp, sha256(raw body)`` with a key from its JWKS and
names no key, so every published key is tried. The keys are cached at most a day and fetched
again early when none verifies, so a rotation costs one fetch, not a day of refusals; an
unverifiable delivery can force at most one fetch per `REFETCH_S`. fal signs every customer's
deliveries with the same keys, so a valid signature proves fal sent it, not that it is ours:
only deliveries for requests this deployment submitted are stored. A stored delivery only
wakes the render following its request (`FalBackend`); the result still comes from the queue
API, so a lost or refused delivery costs time, never a result.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.exc import SQLAlchemyError

from i2v.backends.fal.errors import BACKEND
from i2v.config import Settings, resolved_database_url
from i2v.db import fal as repo
from i2v.db.engine import Database, given_or_opened
from i2v.errors import HostedUnavailable, InvalidInput, WebhookRejected

log = logging.getLogger(__name__)

MAX_SKEW_S = 300.0  # fal's documented tolerance; a replay older than this is refused
KEYS_MAX_AGE_S = 86_400.0
REFETCH_S = 300.0  # the fewest seconds between fetches a failed verification may force
RETRY_EMPTY_S = 10.0  # with no keys at all, a failed fetch is tried again this soon
JWKS_MAX_BYTES = 64 * 1024
SIGNATURE_BYTES = 64
ID_MAX = 128  # the width of fal_deliveries.request_id
_TIMESTAMP = re.compile(r"[0-9]{1,12}")

Clock = Callable[[], float]
JsonObject = dict[str, object]


class DeliveryStatus(StrEnum):
    OK = "OK"
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class Delivery:
    """The body fal posts when a request ends."""

    request_id: str
    gateway_request_id: str | None  # the last retry's id; the queue knows `request_id`
    status: DeliveryStatus
    payload: JsonObject | None  # the output, or on ERROR fal's error body, as sent
    error: str | None  # on ERROR, e.g. "Invalid status code: 422"
    payload_error: str | None  # why `payload` is null when the output was not JSON


@dataclass(frozen=True, slots=True)
class Signed:
    """The signature headers of a delivery."""

    request_id: str
    user_id: str
    timestamp: str  # as sent: the signed message holds the header's own text
    signature: bytes


@dataclass(frozen=True, slots=True)
class Receipt:
    delivery: Delivery
    stored: bool  # False: a repeat of a stored delivery, or a request not submitted here


class KeySet(Protocol):
    def current(self) -> Sequence[Ed25519PublicKey]:
        """The keys to try; HostedUnavailable when there are none to try."""
        ...

    def refresh(self) -> bool:
        """Fetch again when no key verified; True when a new set came."""
        ...


def signed_headers(headers: Mapping[str, str]) -> Signed:
    """The X-Fal-Webhook-* headers, well formed, or WebhookRejected."""
    lower = {name.lower(): value for name, value in headers.items()}
    values = []
    for name in ("request-id", "user-id", "timestamp", "signature"):
        value = lower.get(f"x-fal-webhook-{name}", "").strip()
        if not value:
            raise WebhookRejected(f"no X-Fal-Webhook-{name.title()} header")
        values.append(value)
    request_id, user_id, timestamp, signature = values
    if len(request_id) > ID_MAX or any(c in request_id + user_id for c in "\r\n"):
        raise WebhookRejected("malformed request or user id")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise WebhookRejected("the timestamp is not unix seconds")
    try:
        raw = bytes.fromhex(signature)
    except ValueError:
        raise WebhookRejected("the signature is not hex") from None
    if len(raw) != SIGNATURE_BYTES:
        raise WebhookRejected("the signature is not 64 bytes")
    return Signed(request_id, user_id, timestamp, raw)


def message(signed: Signed, body: bytes) -> bytes:
    """What fal signs: the raw body's hash, never a re-serialisation of its JSON."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join([signed.request_id, signed.user_id, signed.timestamp, digest]).encode()


def verify(headers: Mapping[str, str], body: bytes, keys: KeySet, *, now: float) -> Signed:
    """The delivery's signed headers once its age and signature check out; else WebhookRejected.

    `now` is unix time. The age is checked first: it needs no key, and a stale replay must
    not force a key fetch.
    """
    signed = signed_headers(headers)
    if abs(now - int(signed.timestamp)) > MAX_SKEW_S:
        raise WebhookRejected(f"the timestamp is more than {MAX_SKEW_S:g} s from now")
    signed_message = message(signed, body)
    if _any_verifies(keys.current(), signed.signature, signed_message):
        return signed
    if keys.refresh() and _any_verifies(keys.current(), signed.signature, signed_message):
        return signed
    raise WebhookRejected("no fal signing key verifies the signature")


def _any_verifies(keys: Sequence[Ed25519PublicKey], signature: bytes, signed: bytes) -> bool:
    for key in keys:
        try:
            key.verify(signature, signed)
        except InvalidSignature:
            continue
        return True
    return False


def parse(body: bytes) -> Delivery:
    """The delivery a body holds, or InvalidInput naming what is wrong with it."""
    try:
        data = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise InvalidInput("the webhook body is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("the webhook body is not a JSON object")
    request_id = data.get("request_id")
    if not isinstance(request_id, str) or not request_id or len(request_id) > ID_MAX:
        raise InvalidInput("the webhook body has no request_id")
    status = data.get("status")
    if not isinstance(status, str) or status not in DeliveryStatus.__members__:
        raise InvalidInput("the webhook's status is neither OK nor ERROR")
    payload = data.get("payload")
    if payload is not None and not isinstance(payload, dict):
        raise InvalidInput("the webhook's payload is not a JSON object")
    texts: dict[str, str | None] = {}
    for name in ("gateway_request_id", "error", "payload_error"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"the webhook's {name} is not a string")
        # PostgreSQL refuses NUL in text and jsonb; the delivery is still worth keeping.
        texts[name] = value.replace("\x00", "") if value is not None else None
    payload_error = texts["payload_error"]
    if payload is not None and "\\u0000" in json.dumps(payload):
        payload, payload_error = None, "the payload held a NUL character and was not stored"
    return Delivery(
        request_id,
        texts["gateway_request_id"],
        DeliveryStatus(status),
        payload,
        texts["error"],
        payload_error,
    )


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def accept(
    db: Database, keys: KeySet, headers: Mapping[str, str], body: bytes, *, now: float
) -> Receipt:
    """Verify a delivery, then store it once per request id; a repeat is no error (fal retries)."""
    signed = verify(headers, body, keys, now=now)
    delivery = parse(body)
    if delivery.request_id != signed.request_id:
        raise InvalidInput("the webhook body's request_id is not the one its headers sign")
    with db.session() as session:
        if not repo.is_submitted(session, delivery.request_id):
            return Receipt(delivery, stored=False)
        stored = repo.add_delivery(
            session,
            delivery.request_id,
            delivery.status.value,
            delivery.payload,
            delivery.error,
        )
    return Receipt(delivery, stored=stored)


class FalKeys:
    """fal's signing keys from its JWKS, cached; safe to share between threads."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        max_age_s: float = KEYS_MAX_AGE_S,
        refetch_s: float = REFETCH_S,
        clock: Clock = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        parts = urlsplit(url)  # for messages: no userinfo or query, which could hold secrets
        host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname or ""
        self._where = urlunsplit((parts.scheme, host, parts.path, "", ""))
        self._timeout_s = timeout_s
        self._max_age_s = max_age_s
        self._refetch_s = refetch_s
        self._clock = clock
        self._transport = transport
        self._keys: tuple[Ed25519PublicKey, ...] = ()
        self._fetched_at = -math.inf
        self._tried_at = -math.inf  # the last fetch, whether it worked or not
        self._lock = threading.Lock()  # one fetch at a time; the others wait for its keys

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        clock: Clock = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> FalKeys:
        timeout_s = min(settings.fal_http_timeout_s, 10.0)  # a delivery waits on the fetch
        return cls(settings.fal_jwks_url, timeout_s=timeout_s, clock=clock, transport=transport)

    def current(self) -> Sequence[Ed25519PublicKey]:
        with self._lock:
            now = self._clock()
            if not self._keys:
                if now - self._tried_at >= RETRY_EMPTY_S:
                    self._fetch(now)
            elif (
                now - self._fetched_at >= self._max_age_s
                and now - self._tried_at >= self._refetch_s
            ):
                self._fetch(now)  # on failure the old set is kept: better than refusing all
            if not self._keys:
                raise HostedUnavailable(
                    f"fal's webhook signing keys could not be fetched from {self._where}",
                    backend=BACKEND,
                    server=self._where,
                )
            return self._keys

    def refresh(self) -> bool:
        with self._lock:
            now = self._clock()
            if now - self._tried_at < self._refetch_s:
                return False
            return self._fetch(now)

    def _fetch(self, now: float) -> bool:
        self._tried_at = now
        try:
            keys = self._download()
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            # Our own ValueErrors say what is wrong; httpx's may quote the whole URL.
            reason = str(exc) if isinstance(exc, ValueError) else type(exc).__name__
            log.warning("fal's signing keys at %s: %s", self._where, reason)
            return False
        self._keys, self._fetched_at = keys, now
        return True

    def _download(self) -> tuple[Ed25519PublicKey, ...]:
        with (
            httpx.Client(timeout=self._timeout_s, transport=self._transport) as http,
            http.stream("GET", self.url, headers={"Accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > JWKS_MAX_BYTES:
                    raise ValueError(f"the key set is over {JWKS_MAX_BYTES} bytes")
        return jwks_keys(body)


def jwks_keys(body: bytes) -> tuple[Ed25519PublicKey, ...]:
    """The Ed25519 keys of a JWKS document; others are skipped; ValueError when none is left."""
    try:
        document = json.loads(body)
    except ValueError:
        raise ValueError("the key set is not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    keys = []
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict) or (entry.get("kty"), entry.get("crv")) != (
            "OKP",
            "Ed25519",
        ):
            continue
        x = entry.get("x")
        if not isinstance(x, str):
            continue
        try:
            raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
            keys.append(Ed25519PublicKey.from_public_bytes(raw))
        except (binascii.Error, ValueError):
            continue
    if not keys:
        raise ValueError("the key set holds no Ed25519 key")
    return tuple(keys)


class DbDeliveries:
    """Whether a request's delivery is stored: `FalBackend`'s cheap, frequent check.

    Opened per call, as `checkpoint.DbRequestLog` is: the backend holds no database. A
    database error answers False, since polling fal still finishes the render.
    """

    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        self._settings, self._given = settings, db

    def _database(self) -> AbstractContextManager[Database]:
        return given_or_opened(self._given, resolved_database_url(self._settings))

    def __call__(self, request_id: str) -> bool:
        try:
            with self._database() as db, db.session() as session:
                return repo.delivery(session, request_id) is not None
        except SQLAlchemyError as exc:
            log.warning("checking for fal's webhook failed: %s", type(exc).__name__)
            return False

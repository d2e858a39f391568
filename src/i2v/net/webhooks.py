"""Webhooks: signed, canonical JSON events and the retry schedule for delivering them.

Signature
---------
Each delivery carries ``X-I2V-Signature: t=<unix seconds>,v1=<hex>``, where ``<hex>`` is
HMAC-SHA256 keyed with the endpoint's secret over ``"<t>." + body`` (the raw body bytes, exactly
as sent). The timestamp is signed so a captured delivery cannot be replayed later: receivers
refuse a ``t`` more than ``tolerance_s`` (5 minutes) away from their clock. While a secret is
being rotated, the header carries one ``v1`` per secret (``t=..,v1=<new>,v1=<old>``) and a
receiver holding either secret accepts it. Unknown fields (``v0=``, a future ``v2=``) are ignored.

Retries
-------
``next_delay`` is the schedule after a failed delivery: 10 s, doubling (20, 40 ... 2560 s), then
capped at 1 h, each delay shortened by up to half at random ("equal jitter", so retries of many
events spread out). Delivery gives up once the nominal delays add up to more than 24 h: 31 retries
(32 attempts in all), the last nominal retry at about 23.4 h. Jitter only ever shortens a delay,
so the real schedule also ends within 24 h.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

SIGNATURE_HEADER = "X-I2V-Signature"
SIGNATURE_SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300

JSONValue: TypeAlias = (
    str | int | float | bool | Mapping[str, "JSONValue"] | Sequence["JSONValue"] | None
)


# -- signing ------------------------------------------------------------------------------


def _mac(secret: bytes, body: bytes, timestamp: int) -> str:
    if not secret:
        raise ValueError("a webhook secret must not be empty")
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign(
    secret: bytes, body: bytes, timestamp: int, *, previous_secrets: Sequence[bytes] = ()
) -> str:
    """The ``X-I2V-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds).

    ``previous_secrets`` adds one more ``v1`` per secret, for receivers not yet rotated.
    """
    if timestamp < 0:
        raise ValueError(f"the timestamp must not be negative, not {timestamp}")
    macs = [_mac(key, body, timestamp) for key in (secret, *previous_secrets)]
    return ",".join([f"t={timestamp}", *(f"{SIGNATURE_SCHEME}={mac}" for mac in macs)])


def verify(
    secret: bytes,
    body: bytes,
    header: str,
    now: int | float,
    tolerance_s: int | float = DEFAULT_TOLERANCE_S,
) -> bool:
    """Whether ``header`` is a valid signature of ``body`` by ``secret``, made near ``now``.

    False for a malformed header, a missing or repeated ``t``, a timestamp more than
    ``tolerance_s`` away from ``now`` (either way), or no matching ``v1``. Every ``v1`` is
    compared in constant time, and all of them are compared.
    """
    timestamps: list[str] = []
    candidates: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            timestamps.append(value)
        elif name == SIGNATURE_SCHEME:
            candidates.append(value)
    if len(timestamps) != 1 or not (timestamps[0].isascii() and timestamps[0].isdigit()):
        return False
    timestamp = int(timestamps[0])
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = _mac(secret, body, timestamp).encode("ascii")
    matched = False
    for candidate in candidates:
        if not candidate.isascii():
            continue
        matched |= hmac.compare_digest(expected, candidate.lower().encode("ascii"))
    return matched


# -- retries ------------------------------------------------------------------------------

DAY_S = 24 * 60 * 60.0


def next_delay(
    attempt: int,
    *,
    base_s: float = 10.0,
    factor: float = 2.0,
    cap_s: float = 3600.0,
    budget_s: float = DAY_S,
    jitter: Callable[[], float] = random.random,
) -> float | None:
    """Seconds to wait after failed attempt number ``attempt`` (1-based); None: give up.

    The nominal delay is ``min(cap_s, base_s * factor ** (attempt - 1))``; None once the nominal
    delays up to and including this one add up to more than ``budget_s``. ``jitter()`` returns a
    fraction in [0, 1] that shortens the delay by up to half: ``nominal * (1 - jitter() / 2)``.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, not {attempt}")
    if not (base_s > 0 and factor >= 1 and cap_s >= base_s):
        raise ValueError("need base_s > 0, factor >= 1 and cap_s >= base_s")
    total = 0.0
    nominal = base_s
    for _ in range(attempt):  # short: a day of capped delays ends it
        total += nominal
        if total > budget_s:
            return None
        delay = nominal
        nominal = min(cap_s, nominal * factor)
    fraction = jitter()
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"jitter() must return a fraction in [0, 1], not {fraction}")
    return delay * (1.0 - fraction / 2.0)


def retry_schedule(
    *,
    base_s: float = 10.0,
    factor: float = 2.0,
    cap_s: float = 3600.0,
    budget_s: float = DAY_S,
) -> list[float]:
    """Every nominal delay (no jitter) ``next_delay`` gives before giving up, in order."""
    delays: list[float] = []
    while True:
        delay = next_delay(
            len(delays) + 1,
            base_s=base_s,
            factor=factor,
            cap_s=cap_s,
            budget_s=budget_s,
            jitter=lambda: 0.0,
        )
        if delay is None:
            return delays
        delays.append(delay)


# -- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookEvent:
    """One notification, e.g. ``job.succeeded``; ``event_id`` lets receivers drop repeats."""

    event_id: str
    type: str
    job: Mapping[str, JSONValue]

    def to_json(self) -> bytes:
        """Canonical JSON: sorted keys, no spaces, UTF-8; what is signed is what is sent."""
        return canonical_json({"event_id": self.event_id, "type": self.type, "job": self.job})


def canonical_json(value: JSONValue) -> bytes:
    """Sorted keys, no whitespace, UTF-8 (not ``\\u`` escapes); NaN and infinities refused."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")

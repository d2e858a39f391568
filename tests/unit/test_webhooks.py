"""Webhook signatures, the retry schedule and canonical event JSON."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import math

import pytest

from i2v.net.webhooks import (
    DAY_S,
    WebhookEvent,
    canonical_json,
    next_delay,
    retry_schedule,
    sign,
    verify,
)

SECRET = b"whsec_0123456789abcdef"
BODY = b'{"event_id":"evt_1","job":{"id":"job_1"},"type":"job.succeeded"}'
T = 1_700_000_000


# -- signatures ---------------------------------------------------------------------------


def test_sign_produces_the_documented_header_value() -> None:
    expected = hmac.new(SECRET, f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, T) == f"t={T},v1={expected}"
    assert len(expected) == 64


def test_round_trip() -> None:
    header = sign(SECRET, BODY, T)
    assert verify(SECRET, BODY, header, now=T)
    assert verify(SECRET, BODY, header, now=T + 299.5)
    assert verify(SECRET, BODY, header, now=T - 300)  # a receiver's clock may run behind


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        (b"another secret", BODY, T),
        (SECRET, BODY + b" ", T),
        (SECRET, BODY.replace(b"succeeded", b"failed!!!"), T),
        (SECRET, b"", T),
    ],
)
def test_a_different_secret_or_body_is_refused(secret: bytes, body: bytes, now: int) -> None:
    assert not verify(secret, body, sign(SECRET, BODY, T), now=now)


def test_a_tampered_timestamp_is_refused() -> None:
    header = sign(SECRET, BODY, T)
    moved = header.replace(f"t={T}", f"t={T + 1}")
    assert not verify(SECRET, BODY, moved, now=T)


def test_stale_and_future_timestamps_are_refused() -> None:
    header = sign(SECRET, BODY, T)
    assert not verify(SECRET, BODY, header, now=T + 301)
    assert not verify(SECRET, BODY, header, now=T - 301)
    assert verify(SECRET, BODY, header, now=T + 3000, tolerance_s=3600)


def test_extra_fields_and_spaces_are_tolerated() -> None:
    mac = sign(SECRET, BODY, T).split("v1=")[1]
    assert verify(SECRET, BODY, f"v0=abc, t={T} ,v2=zzz,flag,v1={mac.upper()}", now=T)


def test_rotation_any_of_several_v1_values_matches() -> None:
    old, new = b"old secret", b"new secret"
    header = sign(new, BODY, T, previous_secrets=[old])
    assert header.count("v1=") == 2
    assert verify(new, BODY, header, now=T)
    assert verify(old, BODY, header, now=T)
    assert not verify(b"third secret", BODY, header, now=T)
    # The order of v1 values does not matter either.
    t_part, first, second = header.split(",")
    assert verify(old, BODY, f"{t_part},{second},{first}", now=T)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        "v1=abc",
        f"t={T}",
        f"t=,v1={'0' * 64}",
        f"t=-{T},v1={'0' * 64}",
        f"t={T}.5,v1={'0' * 64}",
        f"t=１７,v1={'0' * 64}",  # non-ASCII digits
        f"t={T},t={T},v1=PLACEHOLDER",
        f"t={T},v1=é{'0' * 63}",
    ],
)
def test_malformed_headers_are_refused_not_raised(header: str) -> None:
    valid_mac = sign(SECRET, BODY, T).split("v1=")[1]
    assert not verify(SECRET, BODY, header.replace("PLACEHOLDER", valid_mac), now=T)


def test_empty_secrets_and_negative_timestamps_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        sign(b"", BODY, T)
    with pytest.raises(ValueError, match="negative"):
        sign(SECRET, BODY, -1)


# -- the retry schedule -------------------------------------------------------------------


def no_jitter() -> float:
    return 0.0


def test_the_schedule_doubles_from_10_s_up_to_the_1_h_cap() -> None:
    delays = [next_delay(n, jitter=no_jitter) for n in range(1, 13)]
    assert delays == [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600]
    assert all(a is not None and b is not None and a <= b for a, b in itertools.pairwise(delays))


def test_the_schedule_stops_before_24_h() -> None:
    delays = retry_schedule()
    assert len(delays) == 31  # 32 attempts in all
    assert sum(delays) <= DAY_S
    assert sum(delays) + 3600 > DAY_S  # one more capped retry would pass a day
    assert math.isclose(sum(delays) / 3600, 23.42, abs_tol=0.01)
    assert next_delay(31, jitter=no_jitter) == 3600
    assert next_delay(32, jitter=no_jitter) is None
    assert next_delay(10_000, jitter=no_jitter) is None


def test_jitter_only_shortens_by_up_to_half() -> None:
    assert next_delay(3, jitter=lambda: 1.0) == 20.0
    assert next_delay(3, jitter=lambda: 0.5) == 30.0
    # With the real random source: within [nominal / 2, nominal], and the total within a day.
    total = 0.0
    for attempt in itertools.count(1):
        delay = next_delay(attempt)
        if delay is None:
            break
        nominal = retry_schedule()[attempt - 1]
        assert nominal / 2 <= delay <= nominal
        total += delay
    assert attempt == 32
    assert total <= DAY_S


def test_custom_parameters_and_validation() -> None:
    assert retry_schedule(base_s=1, factor=3, cap_s=10, budget_s=30) == [1, 3, 9, 10]
    with pytest.raises(ValueError, match="counts from 1"):
        next_delay(0, jitter=no_jitter)
    with pytest.raises(ValueError, match="base_s"):
        next_delay(1, base_s=0, jitter=no_jitter)
    with pytest.raises(ValueError, match="fraction"):
        next_delay(1, jitter=lambda: 1.5)


# -- events -------------------------------------------------------------------------------


def test_events_serialise_to_canonical_json() -> None:
    event = WebhookEvent(
        event_id="evt_1",
        type="job.succeeded",
        job={"id": "job_1", "status": "succeeded", "outputs": [{"url": "https://x/é.mp4"}]},
    )
    data = event.to_json()
    assert (
        data
        == (
            '{"event_id":"evt_1","job":{"id":"job_1","outputs":[{"url":"https://x/é.mp4"}],'
            '"status":"succeeded"},"type":"job.succeeded"}'
        ).encode()
    )
    assert json.loads(data) == {"event_id": "evt_1", "type": "job.succeeded", "job": event.job}
    # Key order in the input does not change the bytes, so signatures are reproducible.
    shuffled = WebhookEvent("evt_1", "job.succeeded", dict(reversed(list(event.job.items()))))
    assert shuffled.to_json() == data


def test_canonical_json_refuses_non_finite_numbers() -> None:
    assert canonical_json({"b": 1.5, "a": None, "c": True}) == b'{"a":null,"b":1.5,"c":true}'
    with pytest.raises(ValueError, match="JSON"):
        canonical_json({"x": float("nan")})

"""fal's webhook checks with keys the tests make: signatures, ages, the key cache, bodies."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from starlette.datastructures import Headers

from i2v.api.gate import HOOK_BODY_BYTES, body_limit
from i2v.api.problems import error_response, status_for
from i2v.backends.fal.webhooks import (
    DeliveryStatus,
    FalKeys,
    jwks_keys,
    parse,
    verify,
)
from i2v.config import Settings
from i2v.errors import HostedUnavailable, InvalidInput, WebhookRejected
from tests.fakes.fal_webhooks import Signer, delivery_body, flipped

NOW = 1_800_000_000
BODY = delivery_body("req-1", payload={"video": {"url": "https://cdn.example/v.mp4"}})
JWKS = "https://keys.example/.well-known/jwks.json"


class Keys:
    """A fixed key set; `refreshed` says whether a refetch was asked for."""

    def __init__(self, *signers: Signer, after_refresh: Sequence[Signer] = ()) -> None:
        self.keys = [s.key.public_key() for s in signers]
        self.after = [s.key.public_key() for s in after_refresh]
        self.refreshed = 0

    def current(self) -> Sequence[Ed25519PublicKey]:
        return self.keys

    def refresh(self) -> bool:
        self.refreshed += 1
        if not self.after:
            return False
        self.keys = self.after
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Jwks:
    """A JWKS host for httpx.MockTransport: what it serves, and how often it was asked."""

    def __init__(self, *signers: Signer) -> None:
        self.documents = [s.jwks() for s in signers]
        self.fail = False
        self.fetches = 0

    def serve(self, *signers: Signer) -> None:
        keys = [k for s in signers for k in s.jwks()["keys"]]
        self.documents = [{"keys": keys}]

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        if self.fail:
            return httpx.Response(503, text="down")
        return httpx.Response(200, json=self.documents[0])


def cache(host: Jwks, clock: Clock) -> FalKeys:
    return FalKeys(JWKS, clock=clock, transport=httpx.MockTransport(host.handler))


def signed(
    signer: Signer, body: bytes = BODY, request_id: str = "req-1", **kw: int
) -> dict[str, str]:
    return signer.headers(request_id, body, timestamp=kw.get("timestamp", NOW))


def test_a_signature_over_the_raw_body_verifies() -> None:
    signer = Signer()
    got = verify(signed(signer), BODY, Keys(signer), now=NOW)
    assert (got.request_id, got.user_id, got.timestamp) == ("req-1", signer.user_id, str(NOW))


def test_the_same_json_reserialised_does_not_verify() -> None:
    signer = Signer()
    headers = signed(signer)
    spaced = json.dumps(json.loads(BODY), indent=1).encode()
    with pytest.raises(WebhookRejected, match="no fal signing key"):
        verify(headers, spaced, Keys(signer), now=NOW)


def test_headers_are_found_whatever_their_case() -> None:
    signer = Signer()
    headers = Headers({k.lower(): v for k, v in signed(signer).items()})
    verify(headers, BODY, Keys(signer), now=NOW)


@pytest.mark.parametrize("skew", [-301, 301, 10_000])
def test_a_timestamp_over_five_minutes_off_is_refused(skew: int) -> None:
    signer = Signer()
    keys = Keys(signer)
    with pytest.raises(WebhookRejected, match="timestamp"):
        verify(signed(signer, timestamp=NOW + skew), BODY, keys, now=NOW)
    assert keys.refreshed == 0  # a stale replay never costs a key fetch


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_a_timestamp_within_five_minutes_is_taken(skew: int) -> None:
    signer = Signer()
    verify(signed(signer, timestamp=NOW + skew), BODY, Keys(signer), now=NOW)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h: h.pop("X-Fal-Webhook-Signature"), "no X-Fal-Webhook-Signature"),
        (lambda h: h.pop("X-Fal-Webhook-Request-Id"), "no X-Fal-Webhook-Request-Id"),
        (lambda h: h.pop("X-Fal-Webhook-User-Id"), "no X-Fal-Webhook-User-Id"),
        (lambda h: h.pop("X-Fal-Webhook-Timestamp"), "no X-Fal-Webhook-Timestamp"),
        (lambda h: h.update({"X-Fal-Webhook-Signature": "zz" * 64}), "not hex"),
        (lambda h: h.update({"X-Fal-Webhook-Signature": "ab" * 32}), "not 64 bytes"),
        (lambda h: h.update({"X-Fal-Webhook-Timestamp": "1.8e9"}), "unix seconds"),
        (lambda h: h.update({"X-Fal-Webhook-Request-Id": "r" * 129}), "malformed"),
        (lambda h: h.update({"X-Fal-Webhook-User-Id": "someone-else"}), "no fal signing key"),
        (lambda h: h.update({"X-Fal-Webhook-Request-Id": "req-2"}), "no fal signing key"),
        (
            lambda h: h.update({"X-Fal-Webhook-Signature": flipped(h["X-Fal-Webhook-Signature"])}),
            "no fal signing key",
        ),
    ],
)
def test_bad_headers_are_refused(change: Callable[[dict[str, str]], object], reason: str) -> None:
    signer = Signer()
    headers = signed(signer)
    change(headers)
    with pytest.raises(WebhookRejected, match=reason) as caught:
        verify(headers, BODY, Keys(signer), now=NOW)
    assert status_for(caught.value) == 401


def test_any_published_key_may_have_signed() -> None:
    old, new = Signer(), Signer()
    verify(signed(new), BODY, Keys(old, new), now=NOW)
    verify(signed(old), BODY, Keys(old, new), now=NOW)


def test_when_no_key_verifies_the_keys_are_fetched_again_once() -> None:
    old, new = Signer(), Signer()
    keys = Keys(old, after_refresh=[new])
    verify(signed(new), BODY, keys, now=NOW)
    assert keys.refreshed == 1
    stranger = Keys(old)
    with pytest.raises(WebhookRejected):
        verify(signed(new), BODY, stranger, now=NOW)
    assert stranger.refreshed == 1


def test_the_key_cache_lasts_a_day() -> None:
    signer, clock = Signer(), Clock()
    host = Jwks(signer)
    keys = cache(host, clock)
    assert len(keys.current()) == 1
    clock.now += 86_399
    keys.current()
    assert host.fetches == 1
    clock.now += 1
    keys.current()
    assert host.fetches == 2


def test_a_failed_fetch_keeps_the_cached_keys_and_is_not_retried_at_once() -> None:
    signer, clock = Signer(), Clock()
    host = Jwks(signer)
    keys = cache(host, clock)
    keys.current()
    host.fail = True
    clock.now += 86_400
    assert len(keys.current()) == 1  # stale, but better than refusing every delivery
    keys.current()
    assert host.fetches == 2
    clock.now += 300
    host.fail = False
    keys.current()
    assert host.fetches == 3


def test_a_rotated_key_is_fetched_when_the_cache_is_over_five_minutes_old() -> None:
    old, new, clock = Signer(), Signer(), Clock()
    host = Jwks(old)
    keys = cache(host, clock)
    verify(signed(old), BODY, keys, now=NOW)
    host.serve(old, new)
    clock.now += 60
    with pytest.raises(WebhookRejected):  # too soon to fetch again: a forger could force it
        verify(signed(new), BODY, keys, now=NOW)
    assert host.fetches == 1
    clock.now += 240
    verify(signed(new), BODY, keys, now=NOW)
    assert host.fetches == 2
    verify(signed(old), BODY, keys, now=NOW)
    assert host.fetches == 2


def test_no_keys_at_all_is_the_hosts_trouble_not_the_callers() -> None:
    clock = Clock()
    host = Jwks(Signer())
    host.fail = True
    keys = cache(host, clock)
    with pytest.raises(HostedUnavailable) as caught:
        keys.current()
    assert status_for(caught.value) == 503
    with pytest.raises(HostedUnavailable):
        keys.current()
    assert host.fetches == 1  # with nothing cached, tried again only after a pause
    clock.now += 10
    host.fail = False
    assert len(keys.current()) == 1


def test_only_ed25519_keys_are_taken() -> None:
    signer = Signer()
    document = {
        "keys": [
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            {"kty": "OKP", "crv": "X25519", "x": signer.jwks()["keys"][0]["x"]},
            {"kty": "OKP", "crv": "Ed25519", "x": "!!"},
            {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"},
            signer.jwks()["keys"][0],
        ]
    }
    assert len(jwks_keys(json.dumps(document).encode())) == 1
    for bad in (b"{}", b"[]", b"nope", json.dumps({"keys": document["keys"][:4]}).encode()):
        with pytest.raises(ValueError, match="key set"):
            jwks_keys(bad)


def test_an_oversized_key_set_is_refused() -> None:
    padding = {"kty": "RSA", "n": "A" * 70_000}
    transport = httpx.MockTransport(lambda _r: httpx.Response(200, json={"keys": [padding]}))
    with pytest.raises(HostedUnavailable):
        FalKeys(JWKS, transport=transport).current()


def test_parse_an_ok_and_an_error_delivery() -> None:
    ok = parse(BODY)
    assert ok.status is DeliveryStatus.OK
    assert ok.payload == {"video": {"url": "https://cdn.example/v.mp4"}}
    assert (ok.request_id, ok.gateway_request_id, ok.error) == ("req-1", "req-1", None)
    error = parse(
        delivery_body(
            "req-2", payload={"detail": [{"msg": "no"}]}, error="Invalid status code: 422"
        )
    )
    assert error.status is DeliveryStatus.ERROR
    assert error.error == "Invalid status code: 422"
    unserialisable = json.dumps(
        {"request_id": "r", "status": "OK", "payload": None, "payload_error": "not JSON"}
    )
    assert parse(unserialisable.encode()).payload_error == "not JSON"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b"[" * 100_000,
        b'{"request_id": "r", "status": "OK", "payload": NaN}',
        b'{"status": "OK"}',
        b'{"request_id": 7, "status": "OK"}',
        b'{"request_id": "r", "status": "DONE"}',
        b'{"request_id": "r", "status": ["OK"]}',
        b'{"request_id": "r", "status": "OK", "payload": [1]}',
        b'{"request_id": "r", "status": "ERROR", "error": 422}',
    ],
)
def test_malformed_bodies_are_invalid_input(body: bytes) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(body)
    assert status_for(caught.value) == 422


def test_nul_characters_never_reach_the_database() -> None:
    body = json.dumps(
        {"request_id": "r", "status": "ERROR", "payload": {"x": "a\x00b"}, "error": "bad\x00"}
    ).encode()
    delivery = parse(body)
    assert delivery.payload is None
    assert delivery.error == "bad"
    assert delivery.payload_error is not None


def test_a_rejected_webhook_is_a_401_problem() -> None:
    response = error_response(WebhookRejected("the signature does not verify"))
    assert response.status_code == 401
    assert json.loads(bytes(response.body))["code"] == "webhook_rejected"


def test_hooks_get_their_own_body_cap_whatever_the_content_type() -> None:
    settings = Settings()
    multipart = Headers({"content-type": "multipart/form-data; boundary=x"})
    assert body_limit(settings, multipart, "/hooks/fal").limit == HOOK_BODY_BYTES
    assert body_limit(settings, Headers({}), "/hooks/fal").limit == HOOK_BODY_BYTES
    assert body_limit(settings, Headers({}), "/v1/jobs").limit == settings.max_json_kb * 1024

"""fal's webhooks as the fake sends them: an Ed25519 key, its JWKS, signed deliveries, faults.

As fal documents them (docs.fal.ai model-endpoints/webhooks): the body is ``{request_id,
gateway_request_id, status: OK|ERROR, payload, error, payload_error}``; the headers are
X-Fal-Webhook-Request-Id, -User-Id, -Timestamp (unix seconds) and -Signature, the hex Ed25519
signature of ``request id, user id, timestamp, sha256(body) hex`` joined by newlines.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

Json = dict[str, Any]
WEBHOOK_FAULTS = frozenset(
    {
        "bad_signature",  # one bit of the signature flipped
        "stale",  # timestamped ten minutes ago
        "duplicate",  # delivered twice, as fal's retries do
        "lost",  # never sent
    }
)
STALE_S = 600


@dataclass
class Sent:
    """One POST the fake made to a webhook URL."""

    request_id: str
    url: str
    headers: dict[str, str]
    body: bytes
    status: int | None  # None: the POST itself failed


class Signer:
    """An Ed25519 key pair standing in for fal's; `jwks()` is what fal publishes."""

    def __init__(self, user_id: str = "fake-fal-user") -> None:
        self.user_id = user_id
        self.key = Ed25519PrivateKey.generate()

    def jwks(self) -> Json:
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x}]}

    def headers(
        self,
        request_id: str,
        body: bytes,
        *,
        timestamp: int | None = None,
        user_id: str | None = None,
    ) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        user = self.user_id if user_id is None else user_id
        digest = hashlib.sha256(body).hexdigest()
        signed = "\n".join([request_id, user, stamp, digest]).encode()
        return {
            "Content-Type": "application/json",
            "X-Fal-Webhook-Request-Id": request_id,
            "X-Fal-Webhook-User-Id": user,
            "X-Fal-Webhook-Timestamp": stamp,
            "X-Fal-Webhook-Signature": self.key.sign(signed).hex(),
        }


def delivery_body(request_id: str, *, payload: Json | None, error: str | None = None) -> bytes:
    """The body of a delivery: OK with the result, or ERROR with fal's error and its body."""
    return json.dumps(
        {
            "request_id": request_id,
            "gateway_request_id": request_id,
            "status": "OK" if error is None else "ERROR",
            "payload": payload,
            "error": error,
            "payload_error": None,
        }
    ).encode()


def flipped(signature_hex: str) -> str:
    raw = bytearray(bytes.fromhex(signature_hex))
    raw[0] ^= 1
    return raw.hex()


def deliver(
    signer: Signer, url: str, request_id: str, body: bytes, fault: str | None = None
) -> list[Sent]:
    """POST a delivery (twice for "duplicate", never for "lost"), as the fault says."""
    if fault == "lost":
        return []
    sent = []
    for _ in range(2 if fault == "duplicate" else 1):
        stamp = int(time.time()) - (STALE_S if fault == "stale" else 0)
        headers = signer.headers(request_id, body, timestamp=stamp)
        if fault == "bad_signature":
            headers["X-Fal-Webhook-Signature"] = flipped(headers["X-Fal-Webhook-Signature"])
        try:
            status: int | None = httpx.post(
                url, content=body, headers=headers, timeout=10
            ).status_code
        except httpx.HTTPError:
            status = None
        sent.append(Sent(request_id, url, headers, body, status))
    return sent

"""POST /hooks/fal: fal's signed webhook, outside /v1 because fal sends no API key.

Mounted only when I2V_FAL_WEBHOOK_URL is set. The gate still caps the body; the signature is
checked over the raw bytes before any of them is parsed (`backends/fal/webhooks.py`).
"""

from __future__ import annotations

import time
from functools import partial

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from i2v.api.auth import Services
from i2v.api.openapi import problems
from i2v.api.problems import not_found
from i2v.backends.fal import webhooks

router = APIRouter(prefix="/hooks", tags=["hooks"])

_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"type": "object"}}},
    "description": "fal's delivery: request_id, gateway_request_id, status, payload, error.",
}


@router.post(
    "/fal",
    responses={
        200: {"description": "Verified; stored, or a repeat of one stored already."},
        **problems(401, 404, 422, 503),
    },
    openapi_extra={"requestBody": _BODY},
)
async def fal_hook(request: Request, services: Services) -> JSONResponse:
    """A delivery from fal, signed with X-Fal-Webhook-* headers; fal retries until a 2xx."""
    keys = services.fal_keys
    if keys is None:
        return not_found()
    body = await request.body()
    receipt = await anyio.to_thread.run_sync(
        partial(webhooks.accept, services.app.db, keys, request.headers, body, now=time.time())
    )
    return JSONResponse({"request_id": receipt.delivery.request_id, "stored": receipt.stored})

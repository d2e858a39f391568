"""POST /v1/quotes: what a request would cost on each backend that runs its model, and where
backend=auto would run it. No image is sent: no price depends on the picture."""

from __future__ import annotations

from functools import partial

import anyio.to_thread
from fastapi import APIRouter

from i2v.api.auth import CurrentUser, Services
from i2v.api.openapi import problems
from i2v.api.schemas_quotes import EstimateOut, QuoteIn
from i2v.models.catalog import default_duration
from i2v.services.estimates import estimate, quote_spec

router = APIRouter(prefix="/v1/quotes", tags=["quotes"])


@router.post("", response_model=EstimateOut, responses=problems(400, 422))
async def quote(body: QuoteIn, services: Services, user: CurrentUser) -> EstimateOut:
    """Price the request; 422 names the field when a value is bad or every backend refuses it.

    An unknown model is refused with the close names, if any.
    """
    spec = quote_spec(
        model=body.model,
        duration_s=(
            body.duration
            if body.duration is not None
            else default_duration(services.app.settings, body.model)
        ),
        fps=body.fps,
        size=body.size,
        aspect=body.aspect,
        resolution=body.resolution,
        audio=body.sound,
        end_frame=body.end_image,
        negative_prompt=body.negative_prompt,
        prompt=body.prompt,
    )
    # The database, and the fleet's providers for its price, block: off the event loop.
    found = await anyio.to_thread.run_sync(
        partial(estimate, services.app, spec, body.backend, body.prefer)
    )
    return EstimateOut.of(found)

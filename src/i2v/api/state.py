"""What the routes use, built once per application in its lifespan, not at import time."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from i2v.backends.fal.webhooks import FalKeys
from i2v.bootstrap import App
from i2v.engine.queue import JobQueue
from i2v.engine.runtime import Engine
from i2v.storage.base import BlobStore


@dataclass(frozen=True, slots=True)
class ServiceState:
    app: App
    blobs: BlobStore
    queue: JobQueue
    engine: Engine | None  # None for `serve --no-worker`
    loopback_only: bool  # the server listens on a loopback address only
    fal_keys: FalKeys | None = None  # fal's webhook keys, when I2V_FAL_WEBHOOK_URL is set


def service_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.services
    return state

"""`create_app(settings)`: the FastAPI application, its lifespan, routes and error mapping,
and the web dashboard at /."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from i2v import __version__
from i2v.api import (
    gate,
    metrics,
    openapi,
    problems,
    routes_admin,
    routes_backends,
    routes_events,
    routes_fleet,
    routes_health,
    routes_hooks,
    routes_jobs,
    routes_quotes,
)
from i2v.api.state import ServiceState
from i2v.backends.fal.webhooks import FalKeys
from i2v.bootstrap import open_app, open_blobs
from i2v.config import Settings
from i2v.engine.queue import JobQueue
from i2v.engine.runtime import start_engine
from i2v.web import errors as web_errors
from i2v.web import mount as web


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve beyond loopback
        return False


def create_app(settings: Settings, *, run_worker: bool = True, host: str = "127.0.0.1") -> FastAPI:
    """The API; with `run_worker` this process also runs queued jobs (the embedded mode).

    `host` is the address the server listens on: beyond loopback, /metrics needs a token.
    """

    def start() -> ServiceState:
        app = open_app(settings)  # upgrades the schema first
        blobs = open_blobs(settings)
        engine = start_engine(app, blobs, role="serve") if run_worker else None
        return ServiceState(
            app=app,
            blobs=blobs,
            queue=JobQueue(settings),
            engine=engine,
            loopback_only=_is_loopback(host),
            fal_keys=FalKeys.from_settings(settings) if settings.fal_webhook_url else None,
        )

    def stop(services: ServiceState) -> None:
        services.queue.close()
        if services.engine is not None:
            services.engine.stop()
        services.app.close()

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        # DBOS's set-up and tear-down are blocking calls that refuse to run on an event loop.
        services = await anyio.to_thread.run_sync(start)
        api.state.services = services
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(stop, services)

    api = FastAPI(title="i2v", version=__version__, lifespan=lifespan)
    problems.install(api)
    openapi.install(
        api, settings, metrics_open=settings.metrics_token is None and _is_loopback(host)
    )
    api.add_middleware(
        gate.Gate,
        admin_prefixes=(routes_admin.router.prefix, routes_fleet.router.prefix),
        render=web_errors.refusal_page,
    )
    api.include_router(routes_health.router)
    api.include_router(routes_jobs.router)
    api.include_router(routes_events.router)
    api.include_router(routes_quotes.router)
    api.include_router(routes_backends.router)
    api.include_router(metrics.router)
    api.include_router(routes_admin.router)
    api.include_router(routes_fleet.router)
    if settings.fal_webhook_url:  # else /hooks/fal is missing, as any unknown route is
        api.include_router(routes_hooks.router)
    web.install(api)  # the dashboard at /; its guard goes in front of the gate
    return api

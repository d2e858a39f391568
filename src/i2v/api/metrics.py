"""GET /metrics: Prometheus text, computed from the database at scrape time.

Every API process reads the same database, so any of them answers for the whole service;
nothing is kept in process memory that a restart would lose. Scrapes send I2V_METRICS_TOKEN
as a bearer token; without one set, only a server listening on loopback answers.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CollectorRegistry,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from i2v.api.auth import Services
from i2v.api.openapi import problems
from i2v.bootstrap import App
from i2v.db import jobs as repo
from i2v.domain.job import JobState
from i2v.errors import Unauthenticated

router = APIRouter(tags=["health"])
scrape_token = HTTPBearer(
    scheme_name="MetricsToken", auto_error=False, description="I2V_METRICS_TOKEN."
)
DURATION_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


class JobCollector:
    def __init__(self, app: App) -> None:
        self._app = app

    def collect(self) -> Iterator[Metric]:
        with self._app.db.session() as session:
            counts = repo.count_by_state(session)
            durations = repo.finished_durations(session)
        jobs = GaugeMetricFamily("i2v_jobs", "Jobs by state.", labels=["state"])
        for state in JobState:
            jobs.add_metric([state.value], counts.get(state.value, 0))
        yield jobs
        yield GaugeMetricFamily(
            "i2v_queue_depth", "Jobs waiting to start.", value=counts.get(JobState.QUEUED.value, 0)
        )
        cumulative, buckets = 0, []
        for bound in DURATION_BUCKETS:
            cumulative = sum(1 for d in durations if d <= bound)
            buckets.append((str(bound), cumulative))
        buckets.append(("+Inf", len(durations)))
        yield HistogramMetricFamily(
            "i2v_job_duration_seconds",
            "Run time of finished jobs, start to finish.",
            buckets=buckets,
            sum_value=sum(durations),
        )


def _render(app: App) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobCollector(app))
    return generate_latest(registry)


def scraper(
    services: Services,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(scrape_token)],
) -> None:
    token = services.app.settings.metrics_token
    if token is None:
        if services.loopback_only:
            return
        raise Unauthenticated("this server listens beyond loopback: set I2V_METRICS_TOKEN")
    given = credentials.credentials.encode() if credentials is not None else b""
    if not hmac.compare_digest(given, token.get_secret_value().encode()):
        raise Unauthenticated("send I2V_METRICS_TOKEN as 'Authorization: Bearer <token>'")


@router.get(
    "/metrics",
    dependencies=[Depends(scraper)],
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **problems(401),
    },
)
async def metrics(services: Services) -> Response:
    """Prometheus text exposition: jobs by state, queue depth, run-time histogram."""
    body = await anyio.to_thread.run_sync(_render, services.app)
    return Response(body, media_type=CONTENT_TYPE_LATEST)

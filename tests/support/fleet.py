"""Build a FleetManager against the fake providers; also run as a child to be killed mid-launch.

python -m tests.support.fleet DATABASE_URL RUNPOD_URL RUNPOD_GRAPHQL_URL RUNPOD_KEY
python -m tests.support.fleet take DATABASE_URL VAST_URL VAST_KEY  (acquire on Vast only)
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from i2v.backends.comfyui.workflows.library import get_workflow
from i2v.db.engine import Database, open_database
from i2v.db.tables import utcnow
from i2v.fleet.base import GpuProvider, Instance, InstanceState, Requirements
from i2v.fleet.budget import Budget
from i2v.fleet.config import FleetConfig
from i2v.fleet.manager import FleetManager, WorkflowNeeds
from i2v.fleet.runpod import RunPodProvider
from i2v.fleet.setup import comfy_ready, needs_of, shipped_needs
from i2v.fleet.vast import VastProvider

WORKFLOW = "wan22_ti2v_5b"


async def wait_running(provider: GpuProvider, iid: str, timeout: float = 10.0) -> Instance:
    """The instance once it runs with an endpoint; fails the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        [instance] = await provider.query([iid])
        if instance.state is InstanceState.RUNNING and instance.endpoint:
            return instance
        assert time.monotonic() < deadline, f"still {instance.state} ({instance.vendor_state})"
        await asyncio.sleep(0.02)


def needs() -> WorkflowNeeds:
    return needs_of(get_workflow(WORKFLOW))


def installed_models() -> dict[str, list[str]]:
    models: dict[str, list[str]] = {}
    for model in get_workflow(WORKFLOW).manifest.models:
        models.setdefault(model.folder, []).append(model.name)
    return models


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)


def config(order: tuple[str, ...] = ("vast", "runpod"), **changes: object) -> FleetConfig:
    base = FleetConfig(
        deployment="test",
        provider_order=order,
        templates={"vast": "tmpl-comfyui", "runpod": "rp-comfyui"},
        requirements=Requirements(min_vram_gb=20, max_usd_per_hour=1.0, min_cuda=12.0),
        budget=Budget(max_instances=3, max_hourly_usd=Decimal("5"), daily_budget_usd=Decimal("50")),
        idle_s=600,
        ready_timeout_s=20,
        poll_s=0.05,
        line_poll_s=0.05,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@asynccontextmanager
async def manager(
    db: Database,
    providers: dict[str, GpuProvider],
    cfg: FleetConfig,
    now: datetime | None = None,
) -> AsyncIterator[FleetManager]:
    clock = (lambda: now) if now is not None else utcnow
    try:
        yield FleetManager(db, providers, cfg, comfy_ready, now=clock, needs_named=shipped_needs)
    finally:
        for provider in providers.values():
            await provider.aclose()


def vast(url: str, key: str) -> VastProvider:
    return VastProvider(key, base_url=url, sleep=no_wait)


def runpod(rest_url: str, graphql_url: str, key: str) -> RunPodProvider:
    return RunPodProvider(key, rest_url=rest_url, graphql_url=graphql_url, sleep=no_wait)


async def _child(database_url: str, rest_url: str, graphql_url: str, key: str) -> None:
    db = open_database(database_url)
    providers: dict[str, GpuProvider] = {"runpod": runpod(rest_url, graphql_url, key)}
    async with manager(db, providers, config(("runpod",))) as fleet:
        await fleet.acquire(needs(), run_id="child-run")


async def _take(database_url: str, vast_url: str, key: str) -> None:
    db = open_database(database_url)
    async with manager(db, {"vast": vast(vast_url, key)}, config(("vast",))) as fleet:
        await fleet.acquire(needs(), run_id="child-run")


if __name__ == "__main__":
    if sys.argv[1] == "take":
        asyncio.run(_take(*sys.argv[2:5]))
    else:
        asyncio.run(_child(*sys.argv[1:5]))

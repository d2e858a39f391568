"""Build a FleetManager against the fake providers; also run as a child to be killed mid-launch.

python -m tests.support.fleet DATABASE_URL RUNPOD_URL RUNPOD_GRAPHQL_URL RUNPOD_KEY
python -m tests.support.fleet take DATABASE_URL VAST_URL VAST_KEY  (acquire on Vast only)
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from tests.fakes.runpod import FakeRunPod
    from tests.fakes.vast import FakeVast

WORKFLOW = "wan22_ti2v_5b"


def fake_fleet_env(
    db: Database, data_dir: Path, vast: FakeVast, runpod: FakeRunPod, deployment: str
) -> dict[str, str]:
    """The I2V_* settings of an app on `db` whose fleet rents from the fake providers."""
    return {
        "I2V_DATA_DIR": str(data_dir),
        "I2V_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "I2V_FLEET_ENABLED": "true",
        "I2V_FLEET_DEPLOYMENT": deployment,
        "I2V_FLEET_PROVIDERS": "vast,runpod",
        "I2V_FLEET_READY_TIMEOUT_S": "30",
        "I2V_FLEET_POLL_S": "0.05",
        "I2V_VAST_URL": vast.url,
        "I2V_VAST_API_KEY": vast.api_key,
        "I2V_VAST_TEMPLATE": "comfyui-template-hash",
        "I2V_RUNPOD_REST_URL": runpod.rest_url,
        "I2V_RUNPOD_GRAPHQL_URL": runpod.graphql_url,
        "I2V_RUNPOD_API_KEY": runpod.api_key,
        "I2V_RUNPOD_TEMPLATE": "comfyui-template",
    }


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
    monotonic: Callable[[], float] = time.monotonic,
) -> AsyncIterator[FleetManager]:
    clock = (lambda: now) if now is not None else utcnow
    try:
        yield FleetManager(
            db,
            providers,
            cfg,
            comfy_ready,
            now=clock,
            monotonic=monotonic,
            needs_named=shipped_needs,
        )
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

"""Build the fleet from settings: providers, the manager, and ComfyUI readiness probing."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from decimal import Decimal
from pathlib import Path

from i2v.backends.comfyui.client import ComfyClient
from i2v.backends.comfyui.manifest import Workflow
from i2v.backends.comfyui.workflows.library import get_workflow
from i2v.config import Settings, resolved_workflows_dir
from i2v.db.engine import Database
from i2v.errors import BackendError, ConfigError, NotFound
from i2v.fleet.base import GpuProvider, ModelDownload, Requirements
from i2v.fleet.budget import Budget
from i2v.fleet.config import FleetConfig
from i2v.fleet.manager import FleetManager, WorkflowNeeds
from i2v.fleet.runpod import RunPodProvider
from i2v.fleet.vast import VastProvider


def requirements(settings: Settings) -> Requirements:
    return Requirements(
        min_vram_gb=settings.fleet_min_vram_gb,
        gpu_names=tuple(settings.fleet_gpus),
        min_reliability=settings.fleet_min_reliability,
        max_usd_per_hour=settings.fleet_max_usd_per_hour,
        min_cuda=settings.fleet_min_cuda,
        min_disk_gb=float(settings.fleet_disk_gb),
        regions=tuple(settings.fleet_regions),
    )


def fleet_config(settings: Settings) -> FleetConfig:
    return FleetConfig(
        deployment=settings.fleet_deployment,
        provider_order=tuple(settings.fleet_providers),
        templates={"vast": settings.vast_template, "runpod": settings.runpod_template},
        requirements=requirements(settings),
        budget=Budget(
            max_instances=settings.fleet_max_instances,
            max_hourly_usd=Decimal(str(settings.fleet_max_hourly_usd)),
            daily_budget_usd=Decimal(str(settings.fleet_daily_budget_usd)),
        ),
        idle_s=settings.fleet_idle_seconds,
        ready_timeout_s=settings.fleet_ready_timeout_s,
        launch_retry_s=settings.fleet_launch_retry_s,
        poll_s=settings.fleet_poll_s,
        line_poll_s=settings.fleet_line_poll_s,
        max_run_s=settings.comfyui_timeout_s,
        queue_wait_s=settings.fleet_queue_wait_s,
        surplus_idle_s=settings.fleet_surplus_idle_s,
        disk_gb=settings.fleet_disk_gb,
    )


def needs_of(workflow: Workflow) -> WorkflowNeeds:
    """A workflow's nodes and model files: what must be on a machine before it is ready."""
    return WorkflowNeeds(
        name=workflow.manifest.name,
        nodes=frozenset(workflow.required_nodes()),
        models=tuple(
            ModelDownload(url=m.url, folder=m.folder, name=m.name, sha256=m.sha256)
            for m in workflow.manifest.models
        ),
    )


def shipped_needs(name: str, user_dir: Path | None = None) -> WorkflowNeeds | None:
    """The needs of the shipped workflow `name`, or with `user_dir` of a user's own; None
    for one this library doesn't know."""
    try:
        return needs_of(get_workflow(name, user_dir=user_dir))
    except NotFound:
        return None


async def comfy_ready(endpoint: str, needs: WorkflowNeeds) -> bool:
    """ComfyUI answers and has the workflow's nodes and models ("this workflow can run here")."""

    def check() -> bool:
        try:
            with ComfyClient(endpoint, timeout_s=10) as client:
                models = [(m.folder, m.name) for m in needs.models]
                return client.readiness(needs.nodes, models).ready
        except BackendError:
            return False

    return await asyncio.to_thread(check)


def _providers(settings: Settings, stack: AsyncExitStack) -> dict[str, GpuProvider]:
    built: dict[str, GpuProvider] = {}
    for name in settings.fleet_providers:
        provider: GpuProvider
        if name == "vast":
            if settings.vast_api_key is None:
                raise ConfigError("the fleet uses vast but I2V_VAST_API_KEY is not set")
            provider = VastProvider(
                settings.vast_api_key.get_secret_value(), base_url=settings.vast_url
            )
        else:
            if settings.runpod_api_key is None:
                raise ConfigError("the fleet uses runpod but I2V_RUNPOD_API_KEY is not set")
            provider = RunPodProvider(
                settings.runpod_api_key.get_secret_value(),
                rest_url=settings.runpod_rest_url,
                graphql_url=settings.runpod_graphql_url,
            )
        stack.push_async_callback(provider.aclose)  # at once: a later error closes it too
        built[name] = provider
    return built


@asynccontextmanager
async def open_ledger(settings: Settings, db: Database) -> AsyncIterator[FleetManager]:
    """A manager without providers: enough to end leases, which touch only the database."""
    yield FleetManager(db, {}, fleet_config(settings), comfy_ready)


@asynccontextmanager
async def open_fleet(settings: Settings, db: Database) -> AsyncIterator[FleetManager]:
    """The fleet manager for this process's settings; providers close on exit."""
    async with AsyncExitStack() as stack:
        yield FleetManager(
            db,
            _providers(settings, stack),
            fleet_config(settings),
            comfy_ready,
            needs_named=functools.partial(shipped_needs, user_dir=resolved_workflows_dir(settings)),
        )

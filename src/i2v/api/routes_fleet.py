"""Routes under /v1/fleet: offers, instances, launch, teardown, reconcile and spend.

Admin only; to anyone else they do not exist (404, never 403). The services block (the
database, and the providers through their own event loop), so they run on worker threads.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Query

from i2v.api.auth import AdminUser, Services
from i2v.api.openapi import problems
from i2v.api.schemas_fleet import (
    InstanceListOut,
    InstanceOut,
    LaunchIn,
    OfferListOut,
    OfferOut,
    ReconcileOut,
    SpendOut,
)
from i2v.services import fleet

# 400 an unparsable body; 404 to non-admins; 409 with the fleet off or a budget spent;
# 502/503 from the providers.
FLEET_PROBLEMS = problems(400, 404, 409, 422, 502, 503)
router = APIRouter(prefix="/v1/fleet", tags=["fleet"], responses=FLEET_PROBLEMS)


@router.get("/offers", response_model=OfferListOut)
async def list_offers(
    services: Services,
    admin: AdminUser,
    min_vram_gb: Annotated[float | None, Query(gt=0)] = None,
    gpu: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    max_usd_per_hour: Annotated[float | None, Query(gt=0)] = None,
) -> OfferListOut:
    """Offers meeting the configured requirements (or these overrides), cheapest first."""
    query = fleet.OfferQuery(min_vram_gb=min_vram_gb, gpu=gpu, max_usd_per_hour=max_usd_per_hour)
    offers = await anyio.to_thread.run_sync(fleet.list_offers, services.app, query)
    return OfferListOut(offers=[OfferOut.of(offer) for offer in offers])


@router.get("/instances", response_model=InstanceListOut)
async def list_instances(
    services: Services,
    admin: AdminUser,
    include_closed: Annotated[
        bool, Query(alias="all", description="Closed instances too.")
    ] = False,
) -> InstanceListOut:
    found = await anyio.to_thread.run_sync(
        partial(fleet.list_instances, services.app, include_closed=include_closed)
    )
    return InstanceListOut(instances=[InstanceOut.of(view) for view in found])


@router.post("/instances", status_code=201, response_model=InstanceOut)
async def launch_instance(body: LaunchIn, services: Services, admin: AdminUser) -> InstanceOut:
    """Launch an instance for a workflow and answer once it is ready (this can take minutes)."""
    view = await anyio.to_thread.run_sync(
        fleet.launch_instance, services.app, body.workflow, body.gpu, body.max_usd_per_hour
    )
    return InstanceOut.of(view)


@router.delete("/instances/{instance_id}", response_model=InstanceOut)
async def terminate_instance(instance_id: str, services: Services, admin: AdminUser) -> InstanceOut:
    """Destroy the instance and answer with its closed row; an already closed one as it is."""
    reason = f"terminated by {admin.name}"
    view = await anyio.to_thread.run_sync(
        fleet.terminate_instance, services.app, instance_id, reason
    )
    return InstanceOut.of(view)


@router.post("/reconcile", response_model=ReconcileOut)
async def reconcile(services: Services, admin: AdminUser) -> ReconcileOut:
    """Destroy labelled instances the database does not know or that should not run."""
    return ReconcileOut.of(await anyio.to_thread.run_sync(fleet.reconcile, services.app))


@router.get("/spend", response_model=SpendOut)
async def spend(services: Services, admin: AdminUser) -> SpendOut:
    return SpendOut.of(await anyio.to_thread.run_sync(fleet.spend, services.app))

"""The fleet's page: its instances (provider, state, GPU, $/h, age, the jobs on it now), the
offers, and launch, destroy and reconcile as forms, through the same `services.fleet`
functions as /v1/fleet and `i2v fleet`."""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from i2v.api.state import service_state
from i2v.bootstrap import App
from i2v.errors import I2VError, InvalidParameter
from i2v.services import fleet
from i2v.web.admin import Admin, act, field, form_of, render

router = APIRouter(prefix="/admin/fleet", include_in_schema=False)
BACK = "/admin/fleet"
Text = Annotated[str, Query(max_length=64)]
DOLLARS_PER_HOUR = "US dollars per hour"


def workflow_choices(app: App) -> list[tuple[str, str]]:
    """(name, title) of the workflows an instance can be launched for, as `i2v workflows`."""
    from i2v.backends.comfyui.workflows.library import list_workflows
    from i2v.config import resolved_workflows_dir

    return [(m.name, m.title) for m in list_workflows(resolved_workflows_dir(app.settings))]


def _positive(text: str, name: str, unit: str) -> float | None:
    """An optional number over 0 from a form; empty: None (the setting applies)."""
    if not text:
        return None
    try:
        value = float(text.removeprefix("$"))
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise InvalidParameter(name, text, f"{name}: give {unit}, over 0")
    return value


def _common(app: App) -> dict[str, Any]:
    return {
        "enabled": app.settings.fleet_enabled,
        "workflows": workflow_choices(app),
        "default_workflow": app.settings.comfyui_workflow,
        "price_cap": app.settings.fleet_max_usd_per_hour,
    }


@router.get("")
def fleet_page(request: Request, session: Admin, closed: bool = False) -> Response:
    """The instances (only the open ones, unless `closed`); reads the database only."""
    app = service_state(request).app
    instances = fleet.list_instances(app, include_closed=closed)
    jobs = fleet.current_jobs(app, [view.id for view in instances if view.open])
    context = {**_common(app), "instances": instances, "jobs": jobs, "closed": closed}
    return render(request, session, "admin/fleet.html", context)


@router.get("/offers")
async def offers_page(
    request: Request,
    session: Admin,
    gpu: Text = "",
    max_usd_per_hour: Text = "",
    min_vram_gb: Text = "",
) -> Response:
    """The offers meeting the requirements (or these overrides), cheapest first: this asks
    the providers, so it is a page of its own, not part of the fleet's."""
    app = service_state(request).app
    asked = {"gpu": gpu, "max_usd_per_hour": max_usd_per_hour, "min_vram_gb": min_vram_gb}
    offers: list[fleet.OfferView] = []
    error = None
    try:
        query = fleet.OfferQuery(
            min_vram_gb=_positive(min_vram_gb, "min_vram_gb", "gigabytes"),
            gpu=gpu or None,
            max_usd_per_hour=_positive(max_usd_per_hour, "max_usd_per_hour", DOLLARS_PER_HOUR),
        )
        offers = await anyio.to_thread.run_sync(fleet.list_offers, app, query)
    except I2VError as exc:
        error = exc.message
    context = {**_common(app), "offers": offers, "asked": asked, "error": error}
    return render(request, session, "admin/offers.html", context)


@router.post("/launch")
async def launch(request: Request, session: Admin) -> Response:
    """Launch for a workflow and wait until the instance is ready (minutes), as the API does.

    `offer` ("GPU|price", from the offers page) asks for that GPU at that price at most;
    otherwise `gpu` and `max_usd_per_hour`, each optional, as the API's and CLI's options."""
    form = await form_of(session, request)
    app = service_state(request).app
    workflow, gpu, cap = (
        field(form, "workflow"),
        field(form, "gpu"),
        field(form, "max_usd_per_hour"),
    )
    offer = field(form, "offer")
    if offer:
        gpu, _, cap = offer.rpartition("|")

    def go() -> str:
        if not workflow:
            raise InvalidParameter("workflow", workflow, "choose the workflow it must run")
        price = _positive(cap, "max_usd_per_hour", DOLLARS_PER_HOUR)
        view = fleet.launch_instance(app, workflow, gpu or None, price)
        return (
            f"Launched {view.id}: {view.provider} {view.gpu_name or 'GPU'} at "
            f"${view.usd_per_hour:.3f}/h, ready for {view.workflow} and idle for jobs."
        )

    return await act(request, session, BACK, go)


@router.post("/reconcile")
async def reconcile(request: Request, session: Admin) -> Response:
    await form_of(session, request)
    app = service_state(request).app

    def go() -> str:
        report = fleet.reconcile(app)
        said = [f"destroyed {d.provider} {d.instance_id} ({d.reason})" for d in report.destroyed]
        said += [f"adopted {row_id}" for row_id in report.adopted]
        said += [f"closed {row_id} (the provider no longer has it)" for row_id in report.closed]
        if not said:
            return "Reconciled: the providers match the database, nothing to do."
        return "Reconciled: " + "; ".join(said) + "."

    return await act(request, session, BACK, go)


@router.post("/{row_id}/destroy")
async def destroy(row_id: str, request: Request, session: Admin) -> Response:
    form = await form_of(session, request)
    app = service_state(request).app
    back = BACK + ("?" + urlencode({"closed": "true"}) if field(form, "closed") else "")
    reason = f"terminated by {session.user.name}"

    def go() -> str:
        view = fleet.terminate_instance(app, row_id, reason)
        return (
            f"{view.id} is {view.state}: {view.provider} {view.instance_id or '-'} ({view.reason})."
        )

    return await act(request, session, back, go)

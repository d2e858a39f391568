"""The create page: pick a picture, write the motion, see the enhanced prompt and the price
of each backend, and submit (through `api.submission`, as POST /v1/jobs does)."""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from i2v.api.problems import status_for
from i2v.api.state import service_state
from i2v.api.submission import job_fields, plan, read_capped, submit_planned
from i2v.backends.registry import AUTO
from i2v.errors import I2VError, InvalidParameter
from i2v.services.estimates import quote_spec
from i2v.services.words import enhanced_render
from i2v.web import csrf
from i2v.web.create_form import (
    ASPECTS,
    CAPTIONS,
    DURATION_MAX,
    DURATION_MIN,
    CreateForm,
    error_place,
    model_choices,
    picker,
    rating_choices,
)
from i2v.web.sessions import Signed
from i2v.web.templates import pages_of

router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    session: Signed,
    form: CreateForm,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The create page (blocking: the picker asks the database for breakers)."""
    services = service_state(request)
    context: dict[str, Any] = {
        "form": form,
        "errors": errors or {},
        "models": model_choices(services.app),
        "picker": picker(services.app, form),
        "aspects": ASPECTS,
        "captions": CAPTIONS,
        "ratings": rating_choices(session.user),
        "duration_min": DURATION_MIN,
        "duration_max": DURATION_MAX,
        "max_upload_bytes": services.app.settings.max_upload_mb * 1024 * 1024,
        "again": request.query_params.get("from"),
    }
    return pages_of(request).render(request, "create.html", context, status=status)


@router.get("/")
def create_page(request: Request, session: Signed) -> Response:
    """Prefilled from the query ("again with changes" links here; never with a picture)."""
    return _page(request, session, CreateForm.of(dict(request.query_params)))


@router.get("/create/quotes")
def quotes_fragment(request: Request, session: Signed) -> Response:
    """The backend picker for the form's model, duration and aspect (htmx swaps it in)."""
    form = CreateForm.of(dict(request.query_params))
    services = service_state(request)
    context = {"picker": picker(services.app, form), "errors": {}}
    return pages_of(request).render(request, "_picker.html", context)


@router.post("/create/enhance")
async def enhance_fragment(request: Request, session: Signed) -> Response:
    """The prompt as the chosen model's family would be sent it, to read and edit."""
    form = CreateForm.of(await csrf.checked_form(session, request))
    settings = service_state(request).app.settings
    context: dict[str, Any] = {"error": None, "text": "", "checked": True, "notes": ()}
    try:
        spec = quote_spec(model=form.model or None, prompt=form.prompt)
        backend = form.backend or (AUTO if form.model else "local")
        words = await anyio.to_thread.run_sync(partial(enhanced_render, settings, spec, backend))
    except InvalidParameter as exc:
        context["error"] = exc.message
    else:
        context.update(text=words.enhanced.prompt, notes=words.enhanced.notes)
    return pages_of(request).render(request, "_enhanced.html", context)


def _picture(form: FormData) -> UploadFile | None:
    """The chosen picture, else the one taken with the camera (two inputs, one picture)."""
    for name in ("image", "camera"):
        upload = form.get(name)
        if isinstance(upload, UploadFile) and upload.filename:
            return upload
    return None


@router.post("/jobs")
async def submit(request: Request, session: Signed) -> Response:
    """Submit the form; errors come back next to their fields, with the API's status."""
    form_data = await csrf.checked_form(session, request)
    form = CreateForm.of(form_data)
    services = service_state(request)
    settings = services.app.settings
    if form_data.get("intent") == "prices":  # without JavaScript: the prices for these values
        return await anyio.to_thread.run_sync(partial(_page, request, session, form))
    upload = _picture(form_data)
    try:
        if upload is None:
            raise InvalidParameter("image", None, "pick a picture to animate")
        image = await read_capped(upload, settings.max_upload_mb * 1024 * 1024)
        fields = job_fields(form.submission())
        planned = plan(fields, settings, end_frame=False)
        submitted = await anyio.to_thread.run_sync(
            partial(submit_planned, services, session.user, fields, planned, image)
        )
    except I2VError as exc:
        errors = {error_place(exc): exc.message}
        page = partial(_page, request, session, form, errors, status_for(exc))
        return await anyio.to_thread.run_sync(page)
    return RedirectResponse(f"/jobs/{submitted.job.id}", status_code=303)

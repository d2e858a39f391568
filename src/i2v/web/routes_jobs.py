"""A job's page: live progress, cancel, the result and its files, delete; and its files,
served to the signed-in owner through the same code as the API's downloads."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from i2v.api import downloads
from i2v.api.state import service_state
from i2v.services import jobs
from i2v.services.job_view import JobView
from i2v.web import csrf, views
from i2v.web.sessions import Signed
from i2v.web.stream import status_stream
from i2v.web.templates import pages_of

router = APIRouter(prefix="/jobs", include_in_schema=False)
Reveal = Annotated[bool, Query(description="Show a mature (R or X) job's result unblurred.")]
RangeHeader = Annotated[str | None, Header(alias="Range")]


def job_context(job: JobView, *, reveal: bool, ahead: int | None = None) -> dict[str, Any]:
    """What the job page and its live status show; `ahead`: queued jobs before it."""
    kinds = {artifact.kind for artifact in job.artifacts}
    return {
        "job": job,
        "live": not job.state.terminal,
        "eta": views.eta_seconds(job),
        "advice": views.advice(job.error_code),
        "again": views.again_query(job),
        "captions": job.spec.get("captions") or {},
        "prompt_sent": job.spec.get("render", {}).get("prompt", ""),
        "prompt_typed": job.spec.get("original_prompt"),
        "has_video": "video" in kinds,
        "has_cover": "cover" in kinds,
        "hidden": job.mature and not reveal,
        "reveal": reveal,
        "note": None,
        "ahead": ahead,
    }


@router.get("/{job_id}")
def job_page(job_id: str, request: Request, session: Signed, reveal: Reveal = False) -> Response:
    app = service_state(request).app
    job = jobs.get_job(app, session.user, job_id)
    context = job_context(job, reveal=reveal, ahead=jobs.queue_place(app, session.user, job_id))
    return pages_of(request).render(request, "job.html", context)


@router.get("/{job_id}/events")
async def job_events(job_id: str, request: Request, session: Signed) -> StreamingResponse:
    """Server-Sent Events for the page: the status panel, rendered, at each change; `done`
    when the job ends (the page then reloads its result)."""
    services = service_state(request)
    # Checked before the stream starts, so another user's job is a 404, not an empty stream.
    await anyio.to_thread.run_sync(jobs.get_job, services.app, session.user, job_id)
    pages = pages_of(request)

    def render(job: JobView, note: str | None, ahead: int | None) -> str:
        context = job_context(job, reveal=False, ahead=ahead)
        return pages.html("_job_status.html", {**context, "note": note})

    return StreamingResponse(
        status_stream(services, session.user, job_id, render),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post("/{job_id}/cancel")
async def cancel(job_id: str, request: Request, session: Signed) -> Response:
    await csrf.checked_form(session, request)
    services = service_state(request)
    await anyio.to_thread.run_sync(
        jobs.cancel_job, services.app, services.queue, session.user, job_id
    )
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.get("/{job_id}/delete")
def delete_page(job_id: str, request: Request, session: Signed) -> Response:
    """Asks first: deleting removes the video for good."""
    job = jobs.get_job(service_state(request).app, session.user, job_id)
    return pages_of(request).render(request, "delete.html", {"job": job})


@router.post("/{job_id}/delete")
async def delete(job_id: str, request: Request, session: Signed) -> Response:
    await csrf.checked_form(session, request)
    services = service_state(request)
    await anyio.to_thread.run_sync(
        jobs.delete_job, services.app, services.queue, services.blobs, session.user, job_id
    )
    return RedirectResponse("/library", status_code=303)


@router.get("/{job_id}/video")
def video(job_id: str, request: Request, session: Signed, range_: RangeHeader = None) -> Response:
    return downloads.download(service_state(request), session.user, job_id, "video", range_)


@router.get("/{job_id}/cover")
def cover(
    job_id: str,
    request: Request,
    session: Signed,
    reveal: Reveal = False,
    range_: RangeHeader = None,
) -> Response:
    return downloads.cover(service_state(request), session.user, job_id, range_, reveal=reveal)

"""Routes under /v1/jobs: submit, read, list, cancel, delete, and download artifacts."""

from __future__ import annotations

from functools import partial
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response

from i2v.api import downloads
from i2v.api.auth import CurrentUser, Services
from i2v.api.openapi import binary, problems
from i2v.api.schemas import JobListOut, JobOut
from i2v.api.submission import fetch_image, plan, read_submission, submit_planned
from i2v.domain.job import JobState
from i2v.services import jobs

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.post(
    "",
    status_code=201,
    response_model=JobOut,
    responses={
        200: {"model": JobOut, "description": "An Idempotency-Key replay or a cache hit."},
        **problems(400, 409, 415, 422, 503),
    },
    openapi_extra={"requestBody": {"required": True}},  # the schemas: openapi.install
)
async def submit_job(
    request: Request,
    services: Services,
    user: CurrentUser,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """Multipart with an `image` file part, or JSON with `image_url` (fetched safely)."""
    settings = services.app.settings
    submission = await read_submission(request, settings)
    fields = submission.fields
    planned = plan(fields, settings, end_frame=submission.has_end_image)
    image, end_image = submission.image, submission.end_image
    if image is None or (end_image is None and fields.end_image_url is not None):
        # Every parameter is checked before anything is fetched on the user's behalf.
        await anyio.to_thread.run_sync(
            jobs.check_request,
            settings,
            planned.render,
            planned.backend,
            idempotency_key,
            fields.webhook_url,
            fields.prefer,
            (),
            planned.rating,
        )
        if image is None:
            assert fields.image_url is not None  # read_submission requires it with JSON
            image = await fetch_image(fields.image_url, settings)
        if fields.end_image_url is not None:
            end_image = await fetch_image(fields.end_image_url, settings)
    # The service is blocking (database, storage, queue): keep it off the event loop.
    submitted = await anyio.to_thread.run_sync(
        partial(
            submit_planned,
            services,
            user,
            fields,
            planned,
            image,
            end_image,
            idempotency_key,
            submission.music,
        )
    )
    job = submitted.job
    headers = {"Location": f"/v1/jobs/{job.id}"}
    if not submitted.created:
        headers["Idempotent-Replayed"] = "true"
    if submitted.cached:
        headers["X-I2V-Cache"] = "hit"
    fresh = submitted.created and not submitted.cached
    return Response(
        JobOut.of(job).model_dump_json(),
        status_code=201 if fresh else 200,
        media_type="application/json",
        headers=headers,
    )


@router.get("", response_model=JobListOut)
def list_jobs(
    services: Services,
    user: CurrentUser,
    state: Annotated[JobState | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=jobs.PAGE_MAX)] = 20,
) -> JobListOut:
    page = jobs.list_jobs(services.app, user, state=state, cursor=cursor, limit=limit)
    return JobListOut.of(page)


@router.get("/{job_id}", response_model=JobOut, responses=problems(404))
def get_job(job_id: str, services: Services, user: CurrentUser) -> JobOut:
    return JobOut.of(jobs.get_job(services.app, user, job_id))


@router.post("/{job_id}/cancel", response_model=JobOut, responses=problems(404))
def cancel_job(job_id: str, services: Services, user: CurrentUser) -> JobOut:
    return JobOut.of(jobs.cancel_job(services.app, services.queue, user, job_id))


@router.delete("/{job_id}", status_code=204, responses=problems(404))
def delete_job(job_id: str, services: Services, user: CurrentUser) -> Response:
    jobs.delete_job(services.app, services.queue, services.blobs, user, job_id)
    return Response(status_code=204)


def _file_responses(media_type: str) -> dict[int | str, dict[str, object]]:
    return {
        200: {"description": "The whole file.", "content": binary(media_type)},
        206: {"description": "The requested byte range.", "content": binary(media_type)},
        **problems(404, 416),
    }


@router.get("/{job_id}/video", response_class=Response, responses=_file_responses("video/mp4"))
def get_video(
    job_id: str,
    services: Services,
    user: CurrentUser,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    return downloads.download(services, user, job_id, "video", range_header)


@router.get("/{job_id}/cover", response_class=Response, responses=_file_responses("image/jpeg"))
def get_cover(
    job_id: str,
    services: Services,
    user: CurrentUser,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    reveal: Annotated[
        bool, Query(description="A mature (R or X) job's cover is blurred unless true.")
    ] = False,
) -> Response:
    return downloads.cover(services, user, job_id, range_header, reveal=reveal)

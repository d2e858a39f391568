"""A job's files as HTTP answers, with Range support: the API's /v1/jobs/{id}/video and
/cover and the dashboard's /jobs/{id}/video and /cover answer through here alike."""

from __future__ import annotations

from fastapi.responses import Response, StreamingResponse

from i2v.api.problems import problem
from i2v.api.ranges import UnsatisfiableRange, parse_range
from i2v.api.state import ServiceState
from i2v.media.preview import blurred_jpeg
from i2v.services import jobs
from i2v.services.accounts import UserInfo


def download(
    services: ServiceState, user: UserInfo, job_id: str, kind: str, range_header: str | None
) -> Response:
    """The owner's job's `kind` file, whole or the asked byte range (404: not theirs)."""
    artifact = jobs.find_artifact(services.app, user, job_id, kind)
    try:
        byte_range = parse_range(range_header, artifact.size)
    except UnsatisfiableRange:
        response = problem(416, "range_not_satisfiable", f"{range_header!r} misses the file")
        response.headers["Content-Range"] = f"bytes */{artifact.size}"
        return response
    stream = services.blobs.open(artifact.storage_key, byte_range)  # one read, already ranged
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(stream.length),
        "ETag": f'"{artifact.sha256}"',
        "Cache-Control": "private, max-age=3600",
    }
    status = 200
    if byte_range is not None:
        status = 206
        headers["Content-Range"] = f"bytes {stream.start}-{stream.end}/{artifact.size}"

    def body() -> object:
        with stream:
            yield from stream

    return StreamingResponse(
        body(),  # type: ignore[arg-type]
        status_code=status,
        media_type=artifact.content_type,
        headers=headers,
    )


def cover(
    services: ServiceState,
    user: UserInfo,
    job_id: str,
    range_header: str | None,
    *,
    reveal: bool,
) -> Response:
    """The job's cover; a mature (R or X) job's is blurred unless `reveal`."""
    job = jobs.get_job(services.app, user, job_id)
    if not job.mature or reveal:
        return download(services, user, job_id, "cover", range_header)
    artifact = jobs.find_artifact(services.app, user, job_id, "cover")
    with services.blobs.open(artifact.storage_key) as stream:
        data = b"".join(stream)
    return Response(
        blurred_jpeg(data),
        media_type="image/jpeg",
        headers={"Cache-Control": "private, no-store", "X-I2V-Preview": "blurred"},
    )

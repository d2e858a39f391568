"""GET /v1/jobs/{id}/events: Server-Sent Events of state changes, progress and the webhook's
outcome, resumable."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from i2v.api.auth import CurrentUser, Services
from i2v.api.openapi import problems
from i2v.db.feed import Subscription
from i2v.errors import InvalidParameter
from i2v.services import job_stream, jobs

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
# Commits in this process wake a stream at once; the poll is for workers in other
# processes, so it backs off while a job sits quiet (a queue wait, a long render).
POLL_S = 0.25
POLL_MAX_S = 2.0
KEEPALIVE_S = 15.0
MAX_EVENT_ID = 2**63 - 1  # event ids are 64-bit signed in both databases


KEEPALIVE = ": keep-alive\n\n"  # proxies close idle connections


class Pacer:
    """How a stream waits for a job's next events: woken at once by commits in this process,
    polling with back-off (POLL_S up to POLL_MAX_S) for workers elsewhere, and due a
    keep-alive after KEEPALIVE_S of quiet. The dashboard's live status waits the same way."""

    def __init__(self, changed: Subscription) -> None:
        self.changed = changed
        self.idle, self.poll = 0.0, POLL_S

    async def wait(self) -> bool:
        """Until a commit or the next poll; True when a keep-alive is due."""
        woke = await self.changed.wait(self.poll)
        self.idle = 0.0 if woke else self.idle + self.poll
        self.poll = POLL_S if woke else min(POLL_MAX_S, self.poll * 1.5)
        if self.idle >= KEEPALIVE_S:
            self.idle = 0.0
            return True
        return False

    def news(self) -> None:
        """Events came: poll quickly again."""
        self.idle, self.poll = 0.0, POLL_S


def _frame(event: jobs.EventView) -> str:
    payload = {**event.data, "at": event.created_at.isoformat()}
    return f"id: {event.id}\nevent: {event.type}\ndata: {json.dumps(payload)}\n\n"


def _resume_from(after: int | None, last_event_id: str | None) -> int:
    if after is not None:
        return after
    if last_event_id and last_event_id.strip().isdigit():
        resume = int(last_event_id)
        if resume > MAX_EVENT_ID:
            raise InvalidParameter(
                "Last-Event-ID", last_event_id, f"Last-Event-ID is over {MAX_EVENT_ID}"
            )
        return resume
    return 0  # a malformed Last-Event-ID replays everything, which is safe


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-Sent Events: `state` and `progress`, until the job ends.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **problems(404),
    },
)
async def job_events(
    job_id: str,
    services: Services,
    user: CurrentUser,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_EVENT_ID, description="Resume after this event id.")
    ] = None,
) -> StreamingResponse:
    """Stream the job's events until it finishes; reconnect with Last-Event-ID to resume."""
    start = _resume_from(after, last_event_id)
    # Subscribed before the first read, so no commit falls between the two.
    changed = services.app.db.feed.subscribe(job_id)
    try:
        # Check access before the stream starts, so a wrong id is a 404, not an empty stream.
        first = await anyio.to_thread.run_sync(jobs.job_events, services.app, user, job_id, start)
        end = await anyio.to_thread.run_sync(job_stream.stream_end, services.app, user, job_id)
    except BaseException:
        changed.close()
        raise

    async def stream() -> AsyncIterator[str]:
        batch, cursor, pacer = first, start, Pacer(changed)
        # The webhook's outcome, or for a job already over anything at all, is awaited until then.
        outcome_by = None if end.settled_in is None else time.monotonic() + end.settled_in
        try:
            yield "retry: 2000\n\n"
            while True:
                for event in batch:
                    cursor = event.id
                    yield _frame(event)
                    if end.is_last(event):
                        return
                    if end.awaits_outcome(event):
                        by = time.monotonic() + end.outcome_wait_s
                        outcome_by = by if outcome_by is None else min(outcome_by, by)
                if outcome_by is not None and time.monotonic() >= outcome_by:
                    return
                if not batch:
                    if await pacer.wait():
                        yield KEEPALIVE
                else:
                    pacer.news()
                changed.clear()
                batch = await anyio.to_thread.run_sync(
                    jobs.job_events, services.app, user, job_id, cursor
                )
        finally:
            changed.close()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

"""The job page's live status as Server-Sent Events of rendered HTML (htmx's SSE extension
swaps each `status` event in), ending with `done` when the job ends.

It follows the job's events the way GET /v1/jobs/{id}/events does (`routes_events.Pacer`):
woken at once by commits in this process, polling with back-off for workers elsewhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import anyio.to_thread

from i2v.api.routes_events import KEEPALIVE, Pacer
from i2v.api.state import ServiceState
from i2v.services import jobs
from i2v.services.accounts import UserInfo
from i2v.services.job_view import JobView

STATUS = "status"
DONE = "done"


def frame(event: str, html: str, event_id: int | None = None) -> str:
    """One SSE message; each line of the HTML is its own `data:` line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    data = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"{head}event: {event}\n{data}\n"


def latest_note(events: list[jobs.EventView], note: str | None) -> str | None:
    """What the last progress or failover said (a place in a hosted queue, a move)."""
    for event in events:
        if event.type == "progress":
            note = event.data.get("note")
        elif event.type == "route" and event.data.get("moved_from"):
            data = event.data
            note = f"moved from {data['moved_from']} to {data.get('backend')}: {data.get('reason')}"
    return note


async def status_stream(
    services: ServiceState,
    user: UserInfo,
    job_id: str,
    render: Callable[[JobView, str | None, int | None], str],
) -> AsyncIterator[str]:
    """The status panel now, again at each change, and `done` once the job has ended. While
    the job waits in the queue, its place is read again at each quiet tick: other jobs
    starting move it without any event of its own."""
    app = services.app
    changed = app.db.feed.subscribe(job_id)  # before the first read: no commit falls between
    cursor, first, pacer = 0, True, Pacer(changed)
    note: str | None = None
    ahead: int | None = None
    job: JobView | None = None
    try:
        yield "retry: 2000\n\n"
        while True:
            changed.clear()  # before the read: a commit during it wakes the next wait
            batch = await anyio.to_thread.run_sync(jobs.job_events, app, user, job_id, cursor)
            if batch or first:
                first = False
                pacer.news()
                cursor = batch[-1].id if batch else cursor
                note = latest_note(batch, note)
                job = await anyio.to_thread.run_sync(jobs.get_job, app, user, job_id)
                ahead = await anyio.to_thread.run_sync(jobs.queue_place, app, user, job_id)
                yield frame(STATUS, render(job, note, ahead), cursor or None)
                if job.state.terminal:
                    yield frame(DONE, job.state.value)
                    return
                continue
            if await pacer.wait():
                yield KEEPALIVE
            if job is not None and ahead is not None:
                place = await anyio.to_thread.run_sync(jobs.queue_place, app, user, job_id)
                if place is not None and place != ahead:
                    ahead = place
                    yield frame(STATUS, render(job, note, ahead), cursor or None)
    finally:
        changed.close()

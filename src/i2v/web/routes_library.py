"""The library: the user's jobs as a grid of covers, newest first, a page at a time from the
service's cursor, filtered by state and model."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from i2v.api.state import service_state
from i2v.domain.job import JobState
from i2v.errors import InvalidParameter
from i2v.services import jobs
from i2v.web import views
from i2v.web.create_form import model_choices
from i2v.web.sessions import Signed
from i2v.web.templates import pages_of

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 24
Text = Annotated[str, Query(max_length=128)]


@router.get("/library")
def library(
    request: Request,
    session: Signed,
    state: Text = "",
    model: Text = "",
    cursor: Text = "",
) -> Response:
    """The whole page; to htmx (the "more" link), only the next cards and the next link."""
    app = service_state(request).app
    filters = {"state": state, "model": model}
    error = None
    try:
        chosen = JobState(state) if state else None
    except ValueError:
        chosen, error = None, f"no state {state!r}"
    try:
        page = jobs.list_jobs(
            app,
            session.user,
            state=chosen,
            cursor=cursor or None,
            limit=PAGE_SIZE,
            model=model or None,
        )
    except InvalidParameter as exc:
        page, error = jobs.JobPage((), None), exc.message
    more = None
    if page.next_cursor is not None:
        more = "/library?" + urlencode({**filters, "cursor": page.next_cursor})
    context: dict[str, Any] = {
        "jobs": page.jobs,
        "more": more,
        "filters": filters,
        "error": error,
        "states": [s.value for s in JobState],
        "models": model_choices(app),
        "again": {job.id: views.again_query(job) for job in page.jobs},
    }
    fragment = request.headers.get("hx-request") == "true" and bool(cursor)
    name = "_library_page.html" if fragment else "library.html"
    return pages_of(request).render(request, name, context)

"""The admin's read-only pages: the policy audit (`services.policy.list_audit`, a page at a
time by its cursor), spend today and this month as bar charts (`services.spend`), and the
backends' health (`services.health`)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from i2v.api.state import service_state
from i2v.errors import I2VError
from i2v.services import accounts, health, policy, spend
from i2v.web import views
from i2v.web.admin import Admin, render
from i2v.web.plot import BarChart, bar_chart

router = APIRouter(prefix="/admin", include_in_schema=False)
AUDIT_PAGE = 50
DECISIONS = {"": "Any", "refuse": "Refused", "allow": "Allowed"}
Text = Annotated[str, Query(max_length=64)]


@router.get("/policy")
def policy_page(
    request: Request, session: Admin, decision: Text = "", cursor: Text = "", job_id: Text = ""
) -> Response:
    db = service_state(request).app.db
    error = None
    try:
        page = policy.list_audit(
            db,
            limit=AUDIT_PAGE,
            cursor=cursor or None,
            decision=decision or None,
            job_id=job_id or None,
        )
    except I2VError as exc:
        page, error = policy.AuditPage((), None), exc.message
    filters = {"decision": decision, "job_id": job_id}
    kept = {name: value for name, value in filters.items() if value}
    newest = "/admin/policy" + (f"?{urlencode(kept)}" if kept else "")
    older = None
    if page.next_cursor is not None:
        older = "/admin/policy?" + urlencode({**kept, "cursor": page.next_cursor})
    context = {
        "entries": page.entries,
        "names": {user.id: user.name for user in accounts.list_users(db)},
        "filters": filters,
        "decisions": DECISIONS,
        "older": older,
        "newest": newest if cursor else None,
        "error": error,
    }
    return render(request, session, "admin/policy.html", context)


def _charts(period: spend.PeriodSpend) -> dict[str, BarChart]:
    def items(lines: tuple[spend.SpendLine, ...]) -> list[tuple[str, Any]]:
        return [(line.name, line.usd) for line in lines]

    return {
        "users": bar_chart(f"Per user, {period.name}", items(period.per_user), views.dollars),
        "backends": bar_chart(
            f"Per backend, {period.name}", items(period.per_backend), views.dollars
        ),
    }


@router.get("/spend")
def spend_page(request: Request, session: Admin) -> Response:
    report = spend.spend_report(service_state(request).app)
    periods = [
        {"id": key, "period": period, "charts": _charts(period)}
        for key, period in (("today", report.today), ("month", report.month))
    ]
    context = {"report": report, "periods": periods, "fleet_prefix": spend.FLEET_PREFIX}
    return render(request, session, "admin/spend.html", context)


@router.get("/health")
def health_page(request: Request, session: Admin) -> Response:
    report = health.health_report(service_state(request).app)
    return render(request, session, "admin/health.html", {"report": report})

"""The dashboard's admin pages on SQLite and PostgreSQL: hidden from everyone but admins (the
404 page of an unknown route, whatever the method), and an admin's walk through users, keys,
invites, mature grants, budgets, the policy audit, the fleet against the fake providers,
spend and health, every change a CSRF-checked form.

Two tests per database, each walking many steps on one running app (starting it is most of
the cost).
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from i2v.api.app import create_app
from i2v.bootstrap import App, open_app
from i2v.config import load_settings
from i2v.db.engine import Database
from i2v.db.tables import FleetLease, Job, utcnow
from i2v.domain.ids import new_id
from i2v.services import accounts, spend
from i2v.services import fleet as fleet_service
from i2v.services.breaker import breakers_of
from i2v.web import routes_admin_reports
from i2v.web.flash import COOKIE as FLASH
from tests.fakes.runpod import FakeRunPod
from tests.fakes.vast import FakeVast
from tests.support.api import EXAMPLE, QUICK, Api, running_api
from tests.support.fleet import WORKFLOW, fake_fleet_env
from tests.support.web import check_page, csrf_of, key_of, sign_in

pytestmark = pytest.mark.integration

PAGES = (
    "/admin",
    "/admin/users",
    "/admin/users/alice",
    "/admin/policy",
    "/admin/fleet",
    "/admin/fleet/offers",
    "/admin/spend",
    "/admin/health",
)
FORMS = (
    "/admin/users",
    "/admin/users/alice/keys",
    "/admin/users/alice/keys/key0123456789ab/revoke",
    "/admin/users/alice/invites",
    "/admin/users/alice/mature",
    "/admin/users/alice/budget",
    "/admin/fleet/launch",
    "/admin/fleet/reconcile",
    "/admin/fleet/fin0123456789ab/destroy",
)
TOKEN = re.compile(r"i2v_key[0-9a-f]{12}_[A-Za-z0-9_-]{43}")
INVITE = re.compile(r"http://127\.0\.0\.1:8000/invite/[A-Za-z0-9_-]+")


def _browser(client: TestClient) -> TestClient:
    """Another browser on the same running app (its own cookies)."""
    return TestClient(client.app)


def _app_of(client: TestClient) -> App:
    app: App = client.app.state.services.app  # type: ignore[attr-defined]
    return app


@pytest.fixture
def web(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    with running_api(db, tmp_path, monkeypatch) as running:
        yield running


def test_only_admins_see_the_admin_pages_and_a_fleet_that_is_off_says_so(web: Api) -> None:
    # Signed out: every admin page goes to sign-in, as an unknown route does.
    anonymous = _browser(web.client)
    away = anonymous.get("/admin/fleet", follow_redirects=False)
    assert (away.status_code, away.headers["location"]) == (303, "/signin?next=%2Fadmin%2Ffleet")
    assert anonymous.post("/admin/users", data={"name": "x"}).status_code == 401

    # A signed-in user who is not an admin: the unknown route's 404 page, whatever the method.
    alice = _browser(web.client)
    token = sign_in(alice, key_of(web.alice))
    unknown = alice.get("/admin-nothing/here")
    assert unknown.status_code == 404
    assert 'href="/admin"' not in unknown.text  # no Admin link for her
    for path in PAGES:
        hidden = alice.get(path)
        assert (hidden.status_code, hidden.text) == (404, unknown.text), path
        check_page(hidden)
    for path in FORMS:
        hidden = alice.post(path, data={"csrf_token": token, "name": "mallory", "usd": "9"})
        assert (hidden.status_code, hidden.text) == (404, unknown.text), path
        assert hidden.headers["connection"] == "close"  # refused before its body was read
    assert alice.request("DELETE", "/admin/users").status_code == 404
    db = _app_of(web.client).db
    assert [u.name for u in accounts.list_users(db)] == ["alice", "bob", "root"]
    assert accounts.list_keys(db, "alice")[0].revoked_at is None

    # An admin sees them, with the Admin link and the sub-navigation.
    root = _browser(web.client)
    root_token = sign_in(root, key_of(web.admin))
    overview = root.get("/admin")
    assert overview.status_code == 200
    assert '<a href="/admin" aria-current="page">Admin</a>' in overview.text
    assert '<nav class="subnav" aria-label="Admin">' in overview.text
    for path in PAGES[1:]:
        assert f'href="{path}"' in overview.text or path.count("/") > 2, path
    # A message planted in the cookie (not signed with this session's secret) is not shown.
    planted = _browser(web.client)
    sign_in(planted, key_of(web.admin))
    planted.cookies.set(FLASH, "eyJ0IjoiQWxsIGlzIHdlbGwiLCJlIjpmYWxzZX0.00")
    assert "All is well" not in planted.get("/admin").text
    # A form without its token is refused, and nothing changes.
    forged = root.post("/admin/users", data={"name": "mallory"})
    assert forged.status_code == 403
    assert "text/html" in forged.headers["content-type"]
    assert "mallory" not in root.get("/admin/users").text

    # The fleet off: said plainly, and nothing to launch.
    fleet = root.get("/admin/fleet")
    assert "The fleet is off." in fleet.text
    assert "I2V_FLEET_ENABLED=true" in fleet.text
    assert 'action="/admin/fleet/launch"' not in fleet.text
    refused = root.post(
        "/admin/fleet/launch", data={"csrf_token": root_token, "workflow": WORKFLOW}
    )
    assert refused.url.path == "/admin/fleet"
    assert '<p class="error" role="alert">the fleet is off' in refused.text
    offers = root.get("/admin/fleet/offers")
    assert "The fleet is off." in offers.text
    health = root.get("/admin/health")
    assert "The fleet is off (I2V_FLEET_ENABLED)" in health.text
    assert "unavailable: no I2V_COMFYUI_URLS" in health.text
    for page in (overview, fleet, refused, offers, health):
        check_page(page)


@dataclass
class FleetWeb:
    client: TestClient
    alice: str  # API keys
    root: str
    vast: FakeVast
    runpod: FakeRunPod


@pytest.fixture
def fleet_web(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FleetWeb]:
    (tmp_path / "data").mkdir()
    with FakeVast(tmp_path / "vast") as vast, FakeRunPod(root=tmp_path / "runpod") as runpod:
        env = fake_fleet_env(db, tmp_path / "data", vast, runpod, "webadmin")
        env["I2V_MAX_UPLOAD_MB"] = "1"
        for key in list(os.environ):
            if key.startswith("I2V_") and key not in env:
                monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = load_settings()
        app = open_app(settings)
        keys = {}
        for name, admin in (("alice", False), ("root", True)):
            accounts.create_user(app.db, name, admin=admin)
            keys[name] = accounts.create_key(app.db, name).token
        app.close()
        with TestClient(create_app(settings, run_worker=False)) as client:
            yield FleetWeb(client, keys["alice"], keys["root"], vast, runpod)


def _said(page: Any) -> str:
    """The one-shot message on a page a form led to."""
    found = re.search(r'<p class="(?:flash|error)" role="(?:status|alert)">([^<]*)</p>', page.text)
    assert found is not None, page.text[:2000]
    return html.unescape(found.group(1))


def _job(app: App, owner: str, **values: Any) -> str:
    """A job row as a finished (or running) render leaves it."""
    job_id = new_id("job")
    now = utcnow()
    row = {"state": "succeeded", "backend": "local", "created_at": now, "finished_at": now}
    with app.db.session() as session:
        session.add(
            Job(id=job_id, owner_id=accounts.find_user(app.db, owner).id, spec={}, **row | values)
        )
    return job_id


def test_an_admin_runs_users_policy_fleet_spend_and_health_from_the_dashboard(
    fleet_web: FleetWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, app = fleet_web.client, _app_of(fleet_web.client)
    root = _browser(client)
    token = sign_in(root, fleet_web.root)
    pages = []

    # Users: create one; the message after the form is shown once.
    made = root.post("/admin/users", data={"csrf_token": token, "name": "carol"})
    assert made.url.path == "/admin/users/carol"
    assert _said(made) == "Created carol, a user. Give them a key or an invite link below."
    assert FLASH not in root.cookies
    again = root.get("/admin/users/carol")
    assert "Created carol" not in again.text
    clash = root.post("/admin/users", data={"csrf_token": token, "name": "carol"})
    assert (clash.url.path, _said(clash)) == ("/admin/users", "user 'carol' already exists")
    users = root.get("/admin/users")
    assert re.search(r'<a href="/admin/users/carol">carol</a></th>\s*<td>user</td>', users.text)
    assert re.search(r'<a href="/admin/users/root">root</a></th>\s*<td>admin</td>', users.text)
    pages += [made, users]

    # A key: shown once, on the form's answer; it works; revoked, it does not.
    shown = root.post("/admin/users/carol/keys", data={"csrf_token": token})
    assert shown.status_code == 200
    (key,) = TOKEN.findall(shown.text)
    assert shown.headers["cache-control"] == "no-store"
    assert "it is not shown again" in shown.text
    assert client.get("/v1/jobs", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    page = root.get("/admin/users/carol")
    assert key not in page.text
    assert not TOKEN.search(page.text)
    key_id = key.split("_")[1]
    assert f"<code>{key_id}</code>" in page.text
    revoked = root.post(f"/admin/users/carol/keys/{key_id}/revoke", data={"csrf_token": token})
    assert _said(revoked) == f"Revoked key {key_id}: requests with it are refused from now on."
    assert "revoked 20" in revoked.text
    assert client.get("/v1/jobs", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    alice_key = accounts.list_keys(app.db, "alice")[0].id  # not carol's: refused
    other = root.post(f"/admin/users/carol/keys/{alice_key}/revoke", data={"csrf_token": token})
    assert _said(other) == f"carol has no API key '{alice_key}'"
    assert accounts.list_keys(app.db, "alice")[0].revoked_at is None
    pages += [shown, revoked]

    # An invite link: shown once; it signs carol in.
    invited = root.post("/admin/users/carol/invites", data={"csrf_token": token, "hours": "24"})
    (link,) = INVITE.findall(invited.text)
    assert not INVITE.search(root.get("/admin/users/carol").text)
    guest = _browser(client)
    path = link.removeprefix("http://127.0.0.1:8000")
    assert "Continue as carol" in guest.get(path).text
    assert guest.post(path).url.path == "/"
    assert "carol" in guest.get("/").text
    pages.append(invited)

    # Mature content: granted (who and when are kept), then revoked.
    granted = root.post("/admin/users/carol/mature", data={"csrf_token": token, "allowed": "true"})
    assert "carol may now ask for mature" in _said(granted)
    grant = accounts.find_user(app.db, "carol")
    assert (grant.mature_allowed, grant.mature_granted_by) == (True, "root")
    assert grant.mature_granted_at is not None
    assert f"allowed, granted by root on {grant.mature_granted_at:%Y-%m-%d %H:%M} UTC" in (
        granted.text
    )
    taken = root.post("/admin/users/carol/mature", data={"csrf_token": token, "allowed": "false"})
    assert _said(taken) == "carol may no longer ask for mature content."
    assert "not allowed (last granted by root on" in taken.text
    assert accounts.find_user(app.db, "carol").mature_allowed is False
    pages += [granted, taken]

    # A daily budget: set, refused when it is no amount, cleared.
    budget = root.post(
        "/admin/users/carol/budget", data={"csrf_token": token, "usd": "2.5", "action": "set"}
    )
    assert _said(budget) == "carol may spend $2.50 a day on hosted models."
    assert accounts.find_user(app.db, "carol").daily_budget_usd == Decimal("2.5")
    wrong = root.post(
        "/admin/users/carol/budget", data={"csrf_token": token, "usd": "lots", "action": "set"}
    )
    assert _said(wrong) == "budget 'lots' is not an amount of dollars"
    cleared = root.post("/admin/users/carol/budget", data={"csrf_token": token, "action": "clear"})
    assert _said(cleared) == "carol now has the deployment's default daily budget."
    assert accounts.find_user(app.db, "carol").daily_budget_usd is None
    pages += [budget, wrong]
    nobody = root.post("/admin/users/nobody/mature", data={"csrf_token": token, "allowed": "true"})
    assert (nobody.url.path, _said(nobody)) == ("/admin/users", "no user 'nobody'")

    # The policy audit: a refused submission from the dashboard, then an allowed one.
    alice = _browser(client)
    alice_token = sign_in(alice, fleet_web.alice)
    photo = {"image": ("photo.jpg", EXAMPLE.read_bytes(), "image/jpeg")}
    form = {"csrf_token": alice_token, **QUICK}
    refused = alice.post("/jobs", data={**form, "prompt": "topless on the beach"}, files=photo)
    assert refused.status_code == 422
    allowed = alice.post(
        "/jobs", data={**form, "prompt": "slow pan left"}, files=photo, follow_redirects=False
    )
    assert allowed.status_code == 303, allowed.text
    job_id = allowed.headers["location"].removeprefix("/jobs/")
    audit = root.get("/admin/policy")
    rows = re.findall(r"<tr>\s*<td class=\"nowrap\">.*?</tr>", audit.text, re.S)
    assert len(rows) == 2
    assert "allowed" in rows[0]
    assert f"/admin/policy?job_id={job_id}" in rows[0]
    assert 'class="decision-refuse">refused' in rows[1]
    for cell in ("<td>alice</td>", "<td>mature</td>", "<td>PG-13</td>", "(never made)"):
        assert cell in rows[1], cell
    assert re.search(r"<code>[\w.]+</code>", rows[1])  # a rule id, never the matched words
    assert "topless" not in audit.text
    only = root.get("/admin/policy", params={"decision": "refuse"})
    assert job_id not in only.text
    assert 'class="decision-refuse">refused' in only.text
    monkeypatch.setattr(routes_admin_reports, "AUDIT_PAGE", 1)
    first = root.get("/admin/policy")
    older = re.search(r'<a href="(/admin/policy\?cursor=[^"]+)">Older decisions</a>', first.text)
    assert older is not None
    second = root.get(older.group(1).replace("&amp;", "&"))
    assert "(never made)" in second.text
    assert job_id not in second.text
    assert '<a href="/admin/policy">Newest decisions</a>' in second.text
    pages += [audit, second]

    # The fleet against the fake providers: offers, a launch and a destroy through the forms.
    fleet = root.get("/admin/fleet")
    assert "No open instances" in fleet.text
    offers = root.get("/admin/fleet/offers", params={"max_usd_per_hour": "0.5"})
    assert offers.status_code == 200
    assert 'name="offer"' in offers.text
    launched = root.post("/admin/fleet/launch", data={"csrf_token": token, "workflow": WORKFLOW})
    assert launched.url.path == "/admin/fleet"
    said = _said(launched)
    assert said.startswith("Launched fin"), said
    row_id = said.split()[1].rstrip(":")
    assert re.search(rf"<code>{row_id}</code>.*?<td>ready</td>.*?idle", launched.text, re.S)
    assert f'action="/admin/fleet/{row_id}/destroy"' in launched.text
    # A job rendering on it shows as its current job.
    running = _job(app, "alice", state="running", backend="comfyui", finished_at=None)
    with app.db.session() as session:
        session.add(
            FleetLease(id=new_id("fls"), instance=row_id, run_id=f"render.{running}",
                       started_at=utcnow())
        )  # fmt: skip
    busy = root.get("/admin/fleet")
    assert re.search(rf"<code>{row_id}</code>.*?<code>{running}</code>", busy.text, re.S)
    (view,) = fleet_service.list_instances(app)
    gone = root.post(f"/admin/fleet/{row_id}/destroy", data={"csrf_token": token})
    said = f"{row_id} is terminated: {view.provider} {view.instance_id} (terminated by root)."
    assert _said(gone) == said
    live = {str(i) for i in fleet_web.vast.instances} | set(fleet_web.runpod.pods)
    assert view.instance_id not in live
    stray = fleet_web.vast.seed_instance("i2v:webadmin:fin00000000dead")
    fixed = root.post("/admin/fleet/reconcile", data={"csrf_token": token})
    assert _said(fixed) == f"Reconciled: destroyed vast {stray} (not in the database)."
    assert stray not in fleet_web.vast.instances
    closed = root.get("/admin/fleet", params={"closed": "true"})
    assert re.search(rf"<code>{row_id}</code>.*?terminated", closed.text, re.S)
    pages += [fleet, offers, launched, busy, closed]

    # Spend: a known hosted cost, per user and per backend, as SVG bars; the fleet's GPUs.
    _job(app, "alice", backend="fal", hosted=True, cost_usd=Decimal("1.25"))
    shown_spend = root.get("/admin/spend")
    text = shown_spend.text
    assert '<svg viewBox="0 0 320' in text
    assert re.search(r"<desc id=\"today-users-desc\">alice: \$1\.25</desc>", text)
    backends = r'<desc id="today-backends-desc">fal: \$1\.25; fleet GPUs: (vast|runpod): \$0\.0'
    assert re.search(backends, text)
    assert "Today: $1.25</h2>" in text
    pages.append(shown_spend)
    # The report's periods, reckoned at a fixed moment: today, the month, not the month before.
    moment = datetime(2031, 5, 20, 12, tzinfo=UTC)
    for back, usd in ((timedelta(hours=2), "1.00"), (timedelta(days=17), "0.50"),
                      (timedelta(days=21), "9.00")):  # fmt: skip
        finished = moment - back
        _job(app, "carol", backend="fal", hosted=True, cost_usd=Decimal(usd), finished_at=finished)
    report = spend.spend_report(app, now=moment)
    carol_today = [line for line in report.today.per_user if line.name == "carol"]
    carol_month = [line for line in report.month.per_user if line.name == "carol"]
    assert carol_today == [spend.SpendLine("carol", Decimal("1.000000"), 1)]
    assert carol_month == [spend.SpendLine("carol", Decimal("1.500000"), 2)]
    assert report.month.start == datetime(2031, 5, 1, tzinfo=UTC)

    # Health: each backend, a failing one's count and last error, and the providers.
    breakers_of(app).failed("fal", "fal answered 503 at https://queue.fal.run/x")
    health = root.get("/admin/health")
    for needle in ("<th scope=\"row\">local", "<th scope=\"row\">comfyui",
                   "unavailable: no fal API key (I2V_FAL_KEY)",
                   "fal answered 503 at https://queue.fal.run/x", "wan-2.2-14b",
                   "<th scope=\"row\">vast</th>", "<th scope=\"row\">runpod</th>"):  # fmt: skip
        assert needle in health.text, needle
    assert re.search(
        r'<td class="number">1</td>\s*<td><code class="wrap">fal answered', health.text
    )
    pages.append(health)
    for page in pages:
        check_page(page)
        assert page.status_code == 200, page.url
    assert csrf_of(health.text) == token

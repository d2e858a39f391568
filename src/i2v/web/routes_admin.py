"""The admin overview and the users' pages: users, API keys, invite links, mature grants and
daily budgets, through `services.accounts` and `services.invites` as the CLI and the API do.

A new API key or invite link is shown once, on the answer to the form that made it (never
redirected with, never in a URL); every other change answers 303 with a one-shot message.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response

from i2v.api.state import service_state
from i2v.errors import I2VError, InvalidParameter, NotFound
from i2v.services import accounts, invites
from i2v.services.web_sessions import SessionInfo
from i2v.web import flash
from i2v.web.admin import Admin, act, field, form_of, render
from i2v.web.views import dollars

router = APIRouter(prefix="/admin", include_in_schema=False)
INVITE_HOURS = (24, 72, 168)


def _back(name: str) -> str:
    return f"/admin/users/{name}"


async def _unknown(request: Request, session: SessionInfo, name: str) -> Response | None:
    """For a user's forms: None when the user exists, else back to the list, saying so (their
    own page would be a 404, and the message would wait for the next admin page)."""
    db = service_state(request).app.db
    try:
        await anyio.to_thread.run_sync(accounts.find_user, db, name)
    except NotFound as exc:
        return flash.redirect(request, session, "/admin/users", exc.message, error=True)
    return None


@router.get("")
def overview(request: Request, session: Admin) -> Response:
    return render(request, session, "admin/overview.html")


@router.get("/users")
def users(request: Request, session: Admin) -> Response:
    app = service_state(request).app
    context = {
        "users": accounts.list_users(app.db),
        "default_budget": app.settings.user_daily_budget_usd,
    }
    return render(request, session, "admin/users.html", context)


@router.post("/users")
async def create_user(request: Request, session: Admin) -> Response:
    form = await form_of(session, request)
    name, admin = field(form, "name"), field(form, "admin") == "true"
    db = service_state(request).app.db
    try:
        made = await anyio.to_thread.run_sync(lambda: accounts.create_user(db, name, admin=admin))
    except I2VError as exc:
        return flash.redirect(request, session, "/admin/users", exc.message, error=True)
    role = "an admin" if made.is_admin else "a user"
    said = f"Created {made.name}, {role}. Give them a key or an invite link below."
    return flash.redirect(request, session, _back(made.name), said)


@router.get("/users/{name}")
def user_page(name: str, request: Request, session: Admin) -> Response:
    app = service_state(request).app
    user = accounts.find_user(app.db, name)
    context: dict[str, Any] = {
        "person": user,
        "keys": accounts.list_keys(app.db, user.id),
        "default_budget": app.settings.user_daily_budget_usd,
        "invite_hours": INVITE_HOURS,
    }
    return render(request, session, "admin/user.html", context)


@router.post("/users/{name}/keys")
async def create_key(name: str, request: Request, session: Admin) -> Response:
    """The new key, on this answer only: it is stored hashed and never shown again."""
    await form_of(session, request)
    if (gone := await _unknown(request, session, name)) is not None:
        return gone
    db = service_state(request).app.db
    try:
        made = await anyio.to_thread.run_sync(accounts.create_key, db, name)
    except I2VError as exc:
        return flash.redirect(request, session, _back(name), exc.message, error=True)
    context = {
        "title": f"A new API key for {name}",
        "secret": made.token,
        "what": "API key",
        "lead": f"Key {made.info.id} for {name}. Copy it now and give it to them privately: "
        "it is not shown again. Anyone holding it acts as them.",
        "back": _back(name),
    }
    return render(request, session, "admin/secret.html", context)


@router.post("/users/{name}/keys/{key_id}/revoke")
async def revoke_key(name: str, key_id: str, request: Request, session: Admin) -> Response:
    await form_of(session, request)
    if (gone := await _unknown(request, session, name)) is not None:
        return gone
    db = service_state(request).app.db

    def revoke() -> str:
        owner = accounts.find_user(db, name)
        if key_id not in {key.id for key in accounts.list_keys(db, owner.id)}:
            raise NotFound(f"{owner.name} has no API key {key_id!r}")
        accounts.revoke_key(db, key_id)
        return f"Revoked key {key_id}: requests with it are refused from now on."

    return await act(request, session, _back(name), revoke)


@router.post("/users/{name}/invites")
async def create_invite(name: str, request: Request, session: Admin) -> Response:
    """A one-time sign-in link, on this answer only (the table keeps only its hash)."""
    form = await form_of(session, request)
    if (gone := await _unknown(request, session, name)) is not None:
        return gone
    app = service_state(request).app
    try:
        hours = float(field(form, "hours") or invites.INVITE_HOURS)
        made = await anyio.to_thread.run_sync(
            lambda: invites.create_invite(app.db, name, by=f"web:{session.user.name}", hours=hours)
        )
    except ValueError:
        said = "Choose how long the link works."
        return flash.redirect(request, session, _back(name), said, error=True)
    except I2VError as exc:
        return flash.redirect(request, session, _back(name), exc.message, error=True)
    context = {
        "title": f"A sign-in link for {made.user_name}",
        "secret": invites.invite_url(app.settings.public_url, made.token),
        "what": "sign-in link",
        "lead": f"It signs {made.user_name} in once, until {made.expires_at:%Y-%m-%d %H:%M} "
        "UTC. Send it privately: it is not shown again.",
        "back": _back(name),
    }
    return render(request, session, "admin/secret.html", context)


@router.post("/users/{name}/mature")
async def set_mature(name: str, request: Request, session: Admin) -> Response:
    form = await form_of(session, request)
    if (gone := await _unknown(request, session, name)) is not None:
        return gone
    allowed = field(form, "allowed") == "true"
    db = service_state(request).app.db

    def change() -> str:
        user = accounts.set_mature(db, name, allowed=allowed, by=session.user.name)
        if allowed:
            return f"{user.name} may now ask for mature (R, X) content on self-hosted backends."
        return f"{user.name} may no longer ask for mature content."

    return await act(request, session, _back(name), change)


@router.post("/users/{name}/budget")
async def set_budget(name: str, request: Request, session: Admin) -> Response:
    form = await form_of(session, request)
    if (gone := await _unknown(request, session, name)) is not None:
        return gone
    clear = field(form, "action") == "clear"
    typed = field(form, "usd")
    db = service_state(request).app.db

    def change() -> str:
        amount: Decimal | None = None
        if not clear:
            if not typed:
                raise InvalidParameter("usd", typed, "give a budget in US dollars")
            amount = accounts.parse_budget(typed)
        user = accounts.set_daily_budget(db, name, amount)
        if user.daily_budget_usd is None:
            return f"{user.name} now has the deployment's default daily budget."
        return f"{user.name} may spend {dollars(user.daily_budget_usd)} a day on hosted models."

    return await act(request, session, _back(name), change)

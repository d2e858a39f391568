"""`i2v db`, `i2v users` and `i2v keys`: schema upgrades and account administration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from types import ModuleType
from typing import TYPE_CHECKING, Annotated

import typer

from i2v.config import load_settings

if TYPE_CHECKING:
    from i2v.bootstrap import App
    from i2v.services.accounts import UserInfo

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)


@contextmanager
def _app(*, migrate: bool = True) -> Iterator[App]:
    from i2v.bootstrap import open_app  # the database stack loads only for these commands

    app = open_app(load_settings(), migrate=migrate)
    try:
        yield app
    finally:
        app.close()


def _accounts() -> ModuleType:
    from i2v.services import accounts  # the database stack loads only for these commands

    return accounts


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date (serve also does this when it starts)."""
    from i2v.db.migrate import current_revision

    with _app() as app:
        typer.echo(f"database at revision {current_revision(app.db)}")


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Argument(help="User name: letters, digits, '.', '_' or '-'.")],
    admin: Annotated[bool, typer.Option("--admin", help="Allow admin routes.")] = False,
) -> None:
    """Create a user."""
    with _app() as app:
        user = _accounts().create_user(app.db, name, admin=admin)
    typer.echo(f"created user {user.name} ({user.id}){' as admin' if user.is_admin else ''}")


@users_app.command("list")
def users_list() -> None:
    """List users, with their role, creation time and daily budget for hosted models."""
    with _app() as app:
        default = app.settings.user_daily_budget_usd
        for user in _accounts().list_users(app.db):
            role = "admin" if user.is_admin else "user"
            typer.echo(
                f"{user.id}  {user.name}  {role}  {user.created_at:%Y-%m-%d %H:%M}  "
                f"budget {_budget_text(user, default)}"
                + ("  mature" if user.mature_allowed else "")
            )


def _usd(amount: Decimal) -> str:
    cents = amount.quantize(Decimal("0.01"))
    return f"${cents if amount == cents else amount.normalize():f}/day"


def _budget_text(user: UserInfo, default: Decimal | None) -> str:
    if user.daily_budget_usd is not None:
        return _usd(user.daily_budget_usd)
    return f"default ({_usd(default)})" if default is not None else "default (no cap)"


@users_app.command("budget")
def users_budget(
    name: Annotated[str, typer.Argument(help="User name or id.")],
    usd: Annotated[
        str | None,
        typer.Argument(
            metavar="USD",
            help="What the user may spend on hosted models per UTC day, in US dollars "
            "(0: nothing).",
            show_default=False,
        ),
    ] = None,
    clear: Annotated[
        bool,
        typer.Option(
            "--clear", help="Remove the user's own budget: I2V_USER_DAILY_BUDGET_USD applies."
        ),
    ] = False,
) -> None:
    """Set or clear a user's daily budget for hosted models (fal.ai)."""
    from i2v.errors import InvalidParameter

    if usd is not None and clear:
        raise InvalidParameter("usd", usd, "give a budget or --clear, not both")
    if usd is None and not clear:
        raise InvalidParameter("usd", None, "give a budget in US dollars, or --clear")
    amount = None if clear else _accounts().parse_budget(usd or "")
    with _app() as app:
        user = _accounts().set_daily_budget(app.db, name, amount)
        default = app.settings.user_daily_budget_usd
    typer.echo(f"{user.name}: daily budget {_budget_text(user, default)}")


@users_app.command("invite")
def users_invite(
    name: Annotated[str, typer.Argument(help="User name or id.")],
    hours: Annotated[
        float, typer.Option(min=0.1, max=8760, help="How long the link works, in hours.")
    ] = 72.0,
) -> None:
    """Print a one-time dashboard sign-in link for the user (no API key to hand over).

    The link starts with I2V_PUBLIC_URL. Opening it shows a confirm button; confirming it
    signs the browser in and uses the link up."""
    import getpass

    from i2v.services.invites import create_invite, invite_url

    with _app() as app:
        created = create_invite(app.db, name, by=f"cli:{getpass.getuser()}", hours=hours)
        url = invite_url(app.settings.public_url, created.token)
    typer.echo(url)
    typer.echo(
        f"a sign-in link for {created.user_name}, usable once until "
        f"{created.expires_at:%Y-%m-%d %H:%M} UTC; send it privately",
        err=True,
    )


@users_app.command("grant-mature")
def users_grant_mature(name: Annotated[str, typer.Argument(help="User name or id.")]) -> None:
    """Allow the user mature content (R and X ratings, on self-hosted backends only).

    Recorded with who granted it (this machine's user) and when; each job must still ask for
    its rating, and the always-refused kinds stay refused."""
    import getpass

    with _app() as app:
        user = _accounts().set_mature(app.db, name, allowed=True, by=f"cli:{getpass.getuser()}")
    typer.echo(f"{user.name}: mature content allowed (granted by {user.mature_granted_by})")


@users_app.command("revoke-mature")
def users_revoke_mature(name: Annotated[str, typer.Argument(help="User name or id.")]) -> None:
    """Take mature content away from the user; their later jobs are rated up to PG-13."""
    with _app() as app:
        user = _accounts().set_mature(app.db, name, allowed=False, by="")
    typer.echo(f"{user.name}: mature content not allowed")


@keys_app.command("create")
def keys_create(user: Annotated[str, typer.Argument(help="User name or id.")]) -> None:
    """Create an API key; it is printed once and cannot be shown again."""
    with _app() as app:
        created = _accounts().create_key(app.db, user)
    typer.echo(created.token)
    typer.echo(f"key id {created.info.id}; store the key now, it is not shown again", err=True)


@keys_app.command("list")
def keys_list(user: Annotated[str, typer.Argument(help="User name or id.")]) -> None:
    """List a user's API keys (ids only; secrets are never stored)."""
    with _app() as app:
        for key in _accounts().list_keys(app.db, user):
            state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
            typer.echo(f"{key.id}  {state}  created {key.created_at:%Y-%m-%d %H:%M}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id, e.g. key3f9a0c2e7b1d.")],
) -> None:
    """Revoke an API key; requests with it are refused from now on."""
    with _app() as app:
        key = _accounts().revoke_key(app.db, key_id)
    typer.echo(f"revoked {key.id}")

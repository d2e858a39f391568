"""`i2v serve`: the REST API and the web dashboard, with an in-process worker unless
--no-worker."""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from i2v.config import Settings, load_settings


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Only serve the API; run jobs in `i2v worker`s.")
    ] = False,
) -> None:
    """Serve the web dashboard at / and the REST API (OpenAPI at /docs); SIGTERM drains and
    stops gracefully."""
    import uvicorn  # the web stack loads only for this command: `i2v --help` stays fast

    from i2v.api.app import create_app

    settings = load_settings()
    api = create_app(settings, run_worker=not no_worker, host=host)
    for line in welcome(settings, host, port):
        typer.echo(line)
    # uvicorn handles SIGTERM/SIGINT: it stops accepting, finishes requests, then runs the
    # lifespan shutdown, which lets running job steps finish.
    uvicorn.run(api, host=host, port=port, log_level="warning")


FIRST_USER = "admin"


def dashboard_url(settings: Settings, host: str, port: int) -> str:
    """Where this server answers; I2V_PUBLIC_URL when it listens on every address."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"http://{host}:{port}/"
    if address.is_unspecified:
        return f"{settings.public_url}/"
    shown = f"[{host}]" if address.version == 6 else host
    return f"http://{shown}:{port}/"


def welcome(settings: Settings, host: str, port: int) -> list[str]:
    """The dashboard's address; on a server with no users yet, its first: an admin named
    `admin`, and a one-time sign-in link for it (I2V_PUBLIC_URL/invite/..., 72 h), so the
    README's one command leads to a signed-in dashboard. Nothing is made once a user exists."""
    from i2v.bootstrap import open_app
    from i2v.services.accounts import create_user, list_users
    from i2v.services.invites import create_invite, invite_url

    here = dashboard_url(settings, host, port)
    lines = [f"i2v dashboard: {here}  (REST API: /v1, /docs)"]
    if here.rstrip("/") != settings.public_url:
        lines.append(
            f"invite links start with I2V_PUBLIC_URL={settings.public_url}; "
            "set it to the address users reach this server at"
        )
    app = open_app(settings)  # upgrades the schema, as the server's start-up does next
    try:
        if not list_users(app.db):
            first = create_user(app.db, FIRST_USER, admin=True)
            invite = create_invite(app.db, first.name, by="i2v serve")
            lines += [
                f"no users yet: made {first.name!r} (admin); sign in once with this link:",
                f"  {invite_url(settings.public_url, invite.token)}",
                "more users: i2v users create NAME, then i2v users invite NAME",
            ]
    finally:
        app.close()
    return lines

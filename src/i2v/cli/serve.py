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
    """The dashboard's address, and how to make the first user when there is none (nothing
    is created on anyone's behalf)."""
    from i2v.bootstrap import open_app
    from i2v.services.accounts import list_users

    here = dashboard_url(settings, host, port)
    lines = [f"i2v dashboard: {here}  (REST API: /v1, /docs)"]
    if here.rstrip("/") != settings.public_url:
        lines.append(
            f"invite links start with I2V_PUBLIC_URL={settings.public_url}; "
            "set it to the address users reach this server at"
        )
    app = open_app(settings)  # upgrades the schema, as the server's start-up does next
    try:
        has_users = bool(list_users(app.db))
    finally:
        app.close()
    if not has_users:
        lines += [
            "no users yet; make the first one and a one-time sign-in link for it:",
            "  i2v users create NAME --admin",
            "  i2v users invite NAME",
        ]
    return lines

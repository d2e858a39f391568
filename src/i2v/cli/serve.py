"""`i2v serve`: the REST API, with an in-process worker unless --no-worker."""

from __future__ import annotations

from typing import Annotated

import typer

from i2v.config import load_settings


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Only serve the API; run jobs in `i2v worker`s.")
    ] = False,
) -> None:
    """Serve the REST API (OpenAPI at /docs); SIGTERM drains and stops gracefully."""
    import uvicorn  # the web stack loads only for this command: `i2v --help` stays fast

    from i2v.api.app import create_app

    api = create_app(load_settings(), run_worker=not no_worker, host=host)
    # uvicorn handles SIGTERM/SIGINT: it stops accepting, finishes requests, then runs the
    # lifespan shutdown, which lets running job steps finish.
    uvicorn.run(api, host=host, port=port, log_level="warning")

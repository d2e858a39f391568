"""`i2v backends`: each backend, whether it can run here now (and why not), and its models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from i2v.services.backends import BackendView


def backends(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print them as JSON (as GET /v1/backends).")
    ] = False,
) -> None:
    """List the backends: available, unavailable and why, or failing recently (breaker open)."""
    from i2v.cli.admin import _app
    from i2v.services.backends import list_backends

    with _app() as app:
        views = list_backends(app)
    if as_json:
        from i2v.api.schemas_quotes import BackendListOut, BackendOut

        body = BackendListOut(backends=[BackendOut.of(view) for view in views])
        typer.echo(body.model_dump_json(indent=2))
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("BACKEND", no_wrap=True)
    table.add_column("STATE", no_wrap=True)
    table.add_column("MODELS", overflow="fold")
    for view in views:
        table.add_row(view.name, view.state.replace("_", " "), ", ".join(view.models) or "-")
    console = Console(highlight=False, markup=False)  # errors may hold [brackets]
    console.print(table)
    notes = [(view.name, _why(view)) for view in views]
    for name, why in notes:
        if why:
            console.print(f"{name}: {why}")


def _why(view: BackendView) -> str | None:
    """What the state leaves out: why it is unavailable, or how it has been failing."""
    if view.state == "unavailable":
        return view.reason
    if view.state == "breaker_open":
        assert view.open_until is not None
        return (
            f"skipped by backend=auto until {view.open_until:%Y-%m-%d %H:%M:%S} UTC after "
            f"{view.failures} failures in a row; last: {view.last_error}"
        )
    if view.failures:
        return f"{view.failures} failures in a row; last: {view.last_error}"
    return None

"""`i2v fleet`: the rented GPUs: offers, instances, launch, teardown, reconcile and spend."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from types import ModuleType
from typing import Annotated

import typer

from i2v.cli.admin import _app

fleet_app = typer.Typer(help="Rented GPU instances (Vast.ai, RunPod).", no_args_is_help=True)

GpuOption = Annotated[
    str | None,
    typer.Option(
        "--gpu", metavar="NAME", help="Only this GPU, e.g. 'RTX 4090'.", show_default=False
    ),
]
MaxPriceOption = Annotated[
    float | None,
    typer.Option(
        "--max-usd-per-hour",
        metavar="USD",
        help="Price cap instead of I2V_FLEET_MAX_USD_PER_HOUR.",
        show_default=False,
    ),
]


def _fleet() -> ModuleType:
    from i2v.services import fleet  # the database and provider stacks load only when used

    return fleet


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns padded to their widest cell, two spaces apart; the last one is not padded."""
    table = [tuple(header), *(tuple(row) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        typer.echo("  ".join([*cells, row[-1]]).rstrip())


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment is not None else "-"


def _usd(amount: Decimal | float, places: int | None = None) -> str:
    """Dollars: cents from $1 up (or zero), else to a hundredth of a cent, so tiny spends show."""
    if places is None:
        places = 2 if amount == 0 or abs(float(amount)) >= 1 else 4
    return f"${amount:.{places}f}"


def _duration(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


@fleet_app.command("offers")
def fleet_offers(
    min_vram_gb: Annotated[
        float | None,
        typer.Option(
            "--min-vram-gb",
            metavar="GB",
            help="Instead of I2V_FLEET_MIN_VRAM_GB.",
            show_default=False,
        ),
    ] = None,
    gpu: GpuOption = None,
    max_usd_per_hour: MaxPriceOption = None,
) -> None:
    """List the offers that meet the fleet's requirements, cheapest first."""
    service = _fleet()
    query = service.OfferQuery(min_vram_gb=min_vram_gb, gpu=gpu, max_usd_per_hour=max_usd_per_hour)
    with _app() as app:
        offers = service.list_offers(app, query)
    if not offers:
        typer.echo("no offer meets the requirements", err=True)
        return
    _table(
        ("PROVIDER", "OFFER", "GPU", "VRAM", "$/H", "RELIABILITY", "REGION"),
        [
            (
                o.provider,
                o.offer_id,
                f"{o.num_gpus}x {o.gpu_name}" if o.num_gpus > 1 else o.gpu_name,
                f"{o.vram_gb:.0f} GB",
                _usd(o.usd_per_hour, 3),
                f"{o.reliability:.3f}" if o.reliability is not None else "-",
                o.region or "-",
            )
            for o in offers
        ],
    )


@fleet_app.command("ls")
def fleet_ls(
    show_all: Annotated[bool, typer.Option("--all", "-a", help="Closed instances too.")] = False,
) -> None:
    """List the fleet's instances (the open ones, unless --all)."""
    with _app() as app:
        found = _fleet().list_instances(app, include_closed=show_all)
    if not found:
        typer.echo("no instances" if show_all else "no open instances", err=True)
        return
    _table(
        ("ID", "PROVIDER", "INSTANCE", "STATE", "GPU", "$/H", "BUSY", "CREATED", "ENDPOINT"),
        [
            (
                i.id,
                i.provider,
                i.instance_id or "-",
                i.state,
                i.gpu_name or "-",
                _usd(i.usd_per_hour, 3),
                str(i.busy),
                _when(i.created_at),
                i.endpoint or (i.reason or "-"),
            )
            for i in found
        ],
    )


@fleet_app.command("up")
def fleet_up(
    workflow: Annotated[
        str, typer.Option("--workflow", metavar="NAME", help="Workflow the instance must run.")
    ],
    gpu: GpuOption = None,
    max_usd_per_hour: MaxPriceOption = None,
) -> None:
    """Launch an instance for a workflow and wait until it is ready; it is left idle for jobs."""
    service = _fleet()
    with _app() as app:
        if app.settings.fleet_enabled:
            typer.echo(f"launching an instance for {workflow}; waiting until it is ready", err=True)
        view = service.launch_instance(app, workflow, gpu, max_usd_per_hour)
    typer.echo(
        f"{view.id} ready: {view.provider} {view.instance_id} {view.gpu_name or ''} "
        f"at {_usd(view.usd_per_hour, 3)}/h, {view.endpoint}"
    )


@fleet_app.command("down")
def fleet_down(
    row_id: Annotated[str, typer.Argument(metavar="ID", help="The instance's id (fin...).")],
) -> None:
    """Destroy an instance and close its row."""
    with _app() as app:
        view = _fleet().terminate_instance(app, row_id)
    typer.echo(f"{view.id} {view.state}: {view.provider} {view.instance_id or '-'} ({view.reason})")


@fleet_app.command("reconcile")
def fleet_reconcile() -> None:
    """Destroy labelled instances the database does not know or that should not run."""
    with _app() as app:
        report = _fleet().reconcile(app)
    for item in report.destroyed:
        typer.echo(f"destroyed {item.provider} {item.instance_id}: {item.reason}")
    for row_id in report.adopted:
        typer.echo(f"adopted {row_id}")
    for row_id in report.closed:
        typer.echo(f"closed {row_id}: the provider no longer has it")
    if not (report.destroyed or report.adopted or report.closed):
        typer.echo("nothing to do: the providers match the database")


@fleet_app.command("spend")
def fleet_spend() -> None:
    """What the fleet cost, per instance and in total, and what jobs were billed."""
    with _app() as app:
        view = _fleet().spend(app)
    if view.instances:
        _table(
            ("ID", "PROVIDER", "GPU", "STATE", "$/H", "RUNTIME", "USD"),
            [
                (
                    i.id,
                    i.provider,
                    i.gpu_name or "-",
                    i.state,
                    _usd(i.usd_per_hour, 3),
                    _duration(i.runtime_s),
                    _usd(i.usd),
                )
                for i in view.instances
            ],
        )
        typer.echo("")
    typer.echo(f"now      {_usd(view.usd_per_hour, 3)}/h")
    typer.echo(f"today    {_usd(view.spent_today_usd)} (since 00:00 UTC)")
    typer.echo(f"total    {_usd(view.spent_total_usd)}")
    typer.echo(f"jobs     {_usd(view.jobs_usd)} billed to jobs")

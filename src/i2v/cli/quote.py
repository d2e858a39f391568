"""`i2v quote`: what a render would cost on each backend that runs its model, before paying."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from i2v.backends.registry import AUTO, BACKENDS
from i2v.cli.options import (
    Aspect,
    Duration,
    EndImage,
    Fps,
    NegativePrompt,
    OutputSize,
    Resolution,
    Sound,
)
from i2v.domain.size import ASPECT_PRESETS

if TYPE_CHECKING:
    from i2v.services.estimates import Estimate
    from i2v.services.quotes import Quote

_PRESETS = ", ".join(f"{name} ({size})" for name, size in ASPECT_PRESETS.items())


def quote(
    image: Annotated[
        Path,
        typer.Argument(
            help="The input image (PNG, JPEG or WebP), checked as `i2v generate` checks it; "
            "no price depends on it.",
            show_default=False,
        ),
    ],
    model: Annotated[
        str,
        typer.Option(metavar="MODEL", help="A video model (`i2v models list`)."),
    ] = "local",
    duration: Duration = None,
    resolution: Resolution = None,
    aspect: Aspect = None,
    size: OutputSize = None,
    fps: Fps = 30,
    sound: Sound = False,
    end_image: EndImage = None,
    negative_prompt: NegativePrompt = None,
    prompt: Annotated[
        str,
        typer.Option(
            "--prompt",
            "-p",
            help="The motion prompt; it never changes a price, but a backend may refuse it.",
        ),
    ] = "",
    backend: Annotated[
        str | None,
        typer.Option(
            metavar=f"[{'|'.join(BACKENDS)}]",
            help="Price on this backend only.",
            show_default="every backend that runs the model",
        ),
    ] = None,
    prefer: Annotated[
        str,
        typer.Option(metavar="[cost|speed]", help="What auto's choice puts first."),
    ] = "cost",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the quotes as JSON (as POST /v1/quotes).")
    ] = False,
) -> None:
    """Price a render of IMAGE on every backend that runs the model; nothing is paid or run.

    Marks the backend that backend=auto would choose now: the cheapest available one whose
    circuit breaker is closed.
    """
    from i2v.cli.admin import _app
    from i2v.config import load_settings
    from i2v.media.image import ImageLimits, check_image_file
    from i2v.models.catalog import default_duration
    from i2v.services.estimates import estimate, quote_spec
    from i2v.services.routing import check_prefer

    settings = load_settings()
    limits = ImageLimits(max_pixels=settings.max_image_pixels, min_side=settings.min_image_side)
    for picture in (image,) if end_image is None else (image, end_image):
        check_image_file(picture, limits)
    spec = quote_spec(
        model=model,
        duration_s=duration if duration is not None else default_duration(settings, model),
        fps=fps,
        size=size,
        aspect=aspect,
        resolution=resolution,
        audio=sound,
        end_frame=end_image is not None,
        negative_prompt=negative_prompt,
        prompt=prompt,
    )
    with _app() as app:
        found = estimate(app, spec, backend, check_prefer(prefer))
    if as_json:
        from i2v.api.schemas_quotes import EstimateOut

        typer.echo(EstimateOut.of(found).model_dump_json(indent=2))
        return
    _show(found)


def _price(quote: Quote) -> str:
    if quote.spec is None:
        return "refused"
    return "unknown" if quote.usd is None else _usd(quote.usd)


def _usd(amount: Decimal) -> str:
    """Cents where they say it all, else every digit: fleet prices run to hundredths of a cent."""
    cents = amount.quantize(Decimal("0.01"))
    return f"${cents if amount == cents else amount.normalize():f}"


def _availability(found: Estimate, quote: Quote) -> str:
    state = found.state(quote)
    if state == "available":
        return "yes"
    if state == "breaker_open":
        return "yes, but failing recently: auto skips it for now"
    return f"{'no' if state == 'unavailable' else state}: {quote.reason}"


def _show(found: Estimate) -> None:
    table = Table(title=f"{found.model}", title_justify="left", box=None, pad_edge=False)
    for header in ("BACKEND", "PRICE", "HOW PRICED", "AVAILABLE", ""):
        table.add_column(header, overflow="fold")
    for quote in found.quotes:
        chosen = "<- auto" if quote.backend == found.auto else ""
        table.add_row(
            quote.backend, _price(quote), quote.basis, _availability(found, quote), chosen
        )
    console = Console(highlight=False, markup=False)  # reasons may hold [brackets]
    console.print(table)
    if found.auto is not None:
        console.print(f"backend={AUTO} would run it on {found.auto}")
    else:
        console.print(f"backend={AUTO} would not run it now: {found.auto_reason}")

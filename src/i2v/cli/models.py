"""`i2v models`: the model catalogue, what each model takes, and what it costs."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from i2v.backends.fal.manifest import Choice, EndpointManifest
    from i2v.models.catalog import Model, ModelCatalog

models_app = typer.Typer(help="Video models and the backends that run them.", no_args_is_help=True)


def _catalog() -> ModelCatalog:
    from i2v.config import load_settings
    from i2v.models.catalog import catalog_for

    return catalog_for(load_settings())


def _durations_text(allowed: tuple[int, ...]) -> str:
    if not allowed:
        return "fixed by fal"
    if len(allowed) > 3 and list(allowed) == list(range(allowed[0], allowed[-1] + 1)):
        return f"{allowed[0]}-{allowed[-1]} s"
    return f"{'/'.join(map(str, allowed))} s"


def _durations(model: Model) -> str:
    from i2v.backends.comfyui.workflows.library import WORKFLOWS

    if model.fal is not None:
        return _durations_text(model.fal.duration.allowed)
    if model.comfyui is not None:
        workflow = WORKFLOWS[model.comfyui]
        return f"up to {workflow.max_length // workflow.native_fps} s"
    return "any"


def _price_from(model: Model) -> str:
    from i2v.backends.fal.pricing import price_from

    if model.fal is None:
        return "-"
    quote = price_from(model.fal)
    return f"${quote.usd.normalize():f}" if quote is not None else "unknown"


@models_app.command("list")
def models_list() -> None:
    """List the models, the backends that run them, their lengths and fal's lowest price."""
    rows = [("MODEL", "BACKENDS", "DURATIONS", "PRICE FROM")]
    for model in _catalog().models():
        rows.append((model.name, ",".join(model.backends), _durations(model), _price_from(model)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        typer.echo("  ".join([*cells, row[-1]]))


def _interpolation(m: EndpointManifest, fps: int) -> str:
    from i2v.backends.fal.mapping import interpolated_frames

    spec, base = m.interpolation, m.generated_fps
    if spec is None or base is None:
        return "(no interpolator)"
    frames = interpolated_frames(m, fps)
    return (
        f"{spec.model_field} {spec.model} (off: {spec.off}), {spec.frames_field} "
        f"0-{spec.max_frames}, {spec.adjust_fps_field} true; "
        f"a {fps} fps job gets {base} fps x {frames + 1} = {base * (frames + 1)} fps"
    )


def _fal_lines(m: EndpointManifest) -> list[str]:
    from i2v.backends.fal.mapping import to_fal_input
    from i2v.backends.fal.pricing import describe
    from i2v.domain.spec import DEFAULT_FPS
    from i2v.models.request import ModelRequest

    def choices(spec: Choice | None) -> str:
        if spec is None:
            return "(no input)"
        return f"{' | '.join(spec.allowed)} (default {spec.default or 'none'})"

    d = m.duration
    seconds = _durations_text(d.allowed)
    form = {
        "string": 'as a string, e.g. "5"',
        "string_s": 'as a string with an s, e.g. "5s"',
        "integer": "as an integer",
        "frames": f"as {d.field} at {d.fps} fps ({d.fps_field})",
        "none": "not settable",
    }[d.form]
    sample = to_fal_input(
        m, ModelRequest(image_url="https://example.com/in.png", prompt="…"), target_fps=DEFAULT_FPS
    )
    return [
        f"  endpoint       {m.endpoint}",
        f"  image          {m.image_field}",
        f"  end image      {m.end_image_field or '(not supported)'}",
        f"  duration       {seconds}, sent {form}"
        + (f" (default {d.default})" if d.default is not None else ""),
        f"  resolution     {choices(m.resolution)}",
        f"  aspect         {choices(m.aspect)}",
        f"  fps            {m.native_fps or 'not stated by fal'}",
        f"  audio          {m.audio.field if m.audio else '(no sound)'}",
        f"  negative       {'negative_prompt' if m.negative_prompt else '(not supported)'}",
        f"  seed           {'seed' if m.seed else '(not supported)'}",
        f"  safety         {json.dumps(m.safety) if m.safety else '(no safety input)'}",
        f"  interpolation  {_interpolation(m, DEFAULT_FPS)}",
        f"  price          {describe(m)}",
        f"  price source   {m.price.source}",
        f"  sends          {json.dumps(sample.arguments, ensure_ascii=False)}",
        *([f"  notes          {m.notes}"] if m.notes else []),
    ]


@models_app.command("show")
def models_show(
    name: Annotated[str, typer.Argument(help="Model name, e.g. kling-2.5-turbo-pro.")],
) -> None:
    """Show a model's backends, the inputs its fal endpoint takes, allowed values and price."""
    model = _catalog().get(name)
    lines = [f"{model.name}: {model.title}", f"  backends       {', '.join(model.backends)}"]
    if model.comfyui:
        lines.append(
            f"  comfyui        workflow {model.comfyui} (`i2v workflows show {model.comfyui}`)"
        )
    if model.fal is not None:
        lines += _fal_lines(model.fal)
    typer.echo("\n".join(lines))

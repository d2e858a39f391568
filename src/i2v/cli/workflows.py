"""`i2v workflows`: list, show and validate the shipped ComfyUI workflows, and import one's own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from i2v.errors import InvalidParameter

if TYPE_CHECKING:
    from i2v.backends.comfyui.catalog import NodeCatalog
    from i2v.backends.comfyui.graph import ApiGraph
    from i2v.backends.comfyui.manifest import Binding

workflows_app = typer.Typer(help="ComfyUI workflows.", no_args_is_help=True)

EXIT_INVALID = 2

_OBJECT_INFO_HELP = (
    "A server's /object_info saved as .json or .json.gz (default: the packaged catalogue "
    "of ComfyUI 0.3.64, which has no model files, so model names go unchecked)."
)
ObjectInfoOption = Annotated[
    Path | None,
    typer.Option("--object-info", metavar="FILE", help=_OBJECT_INFO_HELP, show_default=False),
]


def _catalog(path: Path | None, *, extended: bool = False) -> NodeCatalog:
    from i2v.backends.comfyui.catalog import NodeCatalog
    from i2v.backends.comfyui.workflows import library

    if path is not None:
        return NodeCatalog.load(path)
    return library.extended_catalog() if extended else library.packaged_catalog()


def _targets(bindings: tuple[Binding, ...], graph: ApiGraph) -> str:
    return ", ".join(
        f"{b.node_id}.{b.input_name} ({graph.nodes[b.node_id].class_type})"
        if b.node_id in graph.nodes
        else f"{b.node_id}.{b.input_name}"
        for b in bindings
    )


@workflows_app.command("list")
def workflows_list() -> None:
    """List the shipped workflows."""
    from i2v.backends.comfyui.workflows.library import list_workflows

    rows = [("NAME", "VERSION", "FAMILY", "FPS", "MODELS")]
    for m in list_workflows():
        models = f"{len(m.models)} files"
        if m.requires_nodes:
            models += f"; needs ComfyUI >= {m.min_comfyui or 'newer than 0.3.64'}"
        rows.append((m.name, f"v{m.version}", m.family, str(m.native_fps), models))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        typer.echo("  ".join([*cells, row[-1]]))


@workflows_app.command("show")
def workflows_show(
    name: Annotated[str, typer.Argument(help="Workflow name, e.g. wan22_ti2v_5b.")],
) -> None:
    """Show a workflow's rules, bindings, LoRA slots and model files."""
    from i2v.backends.comfyui.manifest import PARAMS
    from i2v.backends.comfyui.workflows.library import get_workflow

    workflow = get_workflow(name)
    m, graph = workflow.manifest, workflow.graph
    lines = [
        f"{m.name} v{m.version}: {m.title}",
        f"  family         {m.family}",
        f"  source         {m.source_template or '-'}",
        f"  fps            {m.native_fps} (native)",
        f"  length         {m.default_length} frames by default, "
        f"{m.length_multiple}k+{m.length_offset}, at most {m.max_length}",
        f"  sides          multiples of {m.side_multiple}, {m.min_side}..{m.max_side}",
        f"  steps          at least {m.min_steps}",
        f"  nodes          {len(graph.nodes)}: {', '.join(sorted(workflow.required_nodes()))}",
    ]
    if m.requires_nodes:
        lines.append(
            f"  needs          {', '.join(m.requires_nodes)} "
            f"(ComfyUI >= {m.min_comfyui or 'newer than 0.3.64'})"
        )
    if m.notes:
        lines.append(f"  notes          {m.notes}")
    lines.append("bindings:")
    for param in PARAMS:
        bound = m.bindings.get(param, ())
        lines.append(f"  {param:<14} {_targets(bound, graph) if bound else '(fixed)'}")
    lines.append("LoRA slots:")
    lines += [f"  {slot:<14} node {spec.node_id}" for slot, spec in m.lora_slots.items()]
    if not m.lora_slots:
        lines.append("  (none)")
    lines.append("models:")
    for model in m.models:
        size = f"{model.size_bytes} bytes" if model.size_bytes is not None else "size unknown"
        lines.append(f"  {model.folder}/{model.name} ({size})")
        lines.append(f"      {model.url}")
        if model.sha256:
            lines.append(f"      sha256 {model.sha256}")
    typer.echo("\n".join(lines))


@workflows_app.command("validate")
def workflows_validate(
    name: Annotated[str, typer.Argument(help="Workflow name, e.g. wan22_ti2v_5b.")],
    object_info: ObjectInfoOption = None,
    server: Annotated[
        str | None,
        typer.Option(help="Check against this ComfyUI server's /object_info, models included."),
    ] = None,
) -> None:
    """Fill a workflow with its default parameters and check it against a node catalogue."""
    from i2v.backends.comfyui.client import ComfyClient
    from i2v.backends.comfyui.validate import graph_errors
    from i2v.backends.comfyui.workflows.library import get_workflow

    if server is not None and object_info is not None:
        raise InvalidParameter("server", server, "give either --server or --object-info")
    workflow = get_workflow(name)
    graph = workflow.fill(workflow.default_params())
    if server is not None:
        with ComfyClient(server) as client:
            catalog, where = client.object_info(), server
    else:
        catalog = _catalog(object_info)
        where = str(object_info) if object_info is not None else "ComfyUI 0.3.64 (packaged)"
    packaged = server is None and object_info is None
    errors = graph_errors(graph, catalog, server=where, ignore_models=packaged)
    if errors:
        for error in errors:
            typer.echo(f"i2v: error: {workflow.manifest.key}: {error.message}", err=True)
        raise typer.Exit(EXIT_INVALID)
    note = " (model files not checked)" if packaged else ""
    typer.echo(f"{workflow.manifest.key}: valid against {where}{note}")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidParameter("FILE", str(path), f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise InvalidParameter("FILE", str(path), f"{path} is not JSON: {exc}") from exc


@workflows_app.command("import")
def workflows_import(
    file: Annotated[Path, typer.Argument(help="A workflow saved by ComfyUI (UI or API format).")],
    object_info: ObjectInfoOption = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="PARAM=NODE.INPUT",
            help="Bind a parameter yourself: param=node_id.input (repeatable).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write the API-format graph here.", show_default=False),
    ] = None,
    fold: Annotated[
        bool,
        typer.Option(
            help="Fold constant primitive, switch and math nodes into their users, "
            "and drop nodes no output needs."
        ),
    ] = True,
) -> None:
    """Convert a workflow to the API format and print the parameter bindings it detects.

    Without --object-info, the packaged catalogue also knows the few newer nodes that the
    official templates use (HunyuanVideo 1.5, switches, math expressions).
    """
    from i2v.backends.comfyui.convert import (
        apply_overrides,
        detect_bindings,
        parse_overrides,
        ui_to_api,
    )
    from i2v.backends.comfyui.fold import fold_constants, prune
    from i2v.backends.comfyui.manifest import PARAMS
    from i2v.backends.comfyui.validate import graph_errors
    from i2v.media.atomic import atomic_outputs, check_writable

    if output is not None:
        check_writable(output)
    catalog = _catalog(object_info, extended=True)
    graph = ui_to_api(_read_json(file), catalog)
    if fold:  # folding a switch leaves its other branch unused: drop it
        graph = prune(fold_constants(graph), catalog)
    bindings = detect_bindings(graph, catalog)
    bindings = apply_overrides(bindings, parse_overrides(overrides or ()), graph, catalog=catalog)
    problems = graph_errors(graph, catalog, server=None, ignore_models=object_info is None)
    for problem in problems:
        typer.echo(f"warning: {problem.message}", err=True)
    typer.echo(f"{file.name}: {len(graph.nodes)} nodes")
    for param in PARAMS:
        bound = bindings.get(param, ())
        typer.echo(f"  {param:<9} {_targets(bound, graph) if bound else '(not found)'}")
    if output is not None:
        with atomic_outputs(output) as (tmp,):
            tmp.write_text(json.dumps(graph.to_json(), indent=2, ensure_ascii=False) + "\n")
        typer.echo(f"wrote {output}")

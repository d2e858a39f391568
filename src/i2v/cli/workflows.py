"""`i2v workflows`: list, show and validate ComfyUI workflows; import, add and remove one's own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from i2v.errors import InvalidParameter

if TYPE_CHECKING:
    from i2v.backends.comfyui.catalog import NodeCatalog
    from i2v.backends.comfyui.graph import ApiGraph
    from i2v.backends.comfyui.manifest import Binding, WorkflowManifest

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


def _user_dir() -> Path:
    from i2v.config import load_settings, resolved_workflows_dir

    return resolved_workflows_dir(load_settings())


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


def _length_rule(m: WorkflowManifest) -> str:
    if m.is_user and not m.bindings.get("length"):
        return "set by the graph (frames is not bound)"
    rule = f"{m.length_multiple}k+{m.length_offset}, " if m.length_multiple > 1 else ""
    return f"{m.default_length} frames by default, {rule}at most {m.max_length}"


@workflows_app.command("list")
def workflows_list() -> None:
    """List the shipped workflows and the ones added with `i2v workflows add` (marked user)."""
    from i2v.backends.comfyui.workflows.library import list_workflows

    rows = [("NAME", "VERSION", "FAMILY", "FPS", "MODELS")]
    for m in list_workflows(_user_dir()):
        models = f"{len(m.models)} files"
        if m.requires_nodes:
            models += f"; needs ComfyUI >= {m.min_comfyui or 'newer than 0.3.64'}"
        family = f"{m.family} (user)" if m.is_user else m.family
        rows.append((m.name, m.label, family, str(m.native_fps), models))
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

    workflow = get_workflow(name, user_dir=_user_dir())
    m, graph = workflow.manifest, workflow.graph
    lines = [
        f"{m.name} {m.label}: {m.title}",
        f"  family         {m.family}{' (user workflow)' if m.is_user else ''}",
        f"  source         {m.source_template or '-'}",
        f"  fps            {m.native_fps} (native)",
        f"  length         {_length_rule(m)}",
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
    lines.append("models:" if m.models else "models: (none)")
    for model in m.models:
        size = f"{model.size_bytes} bytes" if model.size_bytes is not None else "size unknown"
        lines.append(f"  {model.folder}/{model.name} ({size})")
        lines.append(f"      {model.url or '(no URL: install it on the servers yourself)'}")
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
    workflow = get_workflow(name, user_dir=_user_dir())
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


@workflows_app.command("add")
def workflows_add(
    file: Annotated[Path, typer.Argument(help="A workflow saved by ComfyUI (UI or API format).")],
    name: Annotated[str, typer.Option("--name", help="The name jobs give as their workflow.")],
    binds: Annotated[
        list[str],
        typer.Option(
            "--bind",
            metavar="PARAM=NODE.INPUT",
            help="Where a job's parameter goes: image and prompt are required; negative, "
            "seed, frames, fps, width and height are optional (repeatable).",
        ),
    ],
    fps: Annotated[
        int | None,
        typer.Option(
            help="The frame rate the workflow's video is made at (default: read off the graph).",
            show_default=False,
        ),
    ] = None,
    model_urls: Annotated[
        list[str] | None,
        typer.Option(
            "--model-url",
            metavar="FILE=URL",
            help="Where a rented GPU (I2V_FLEET_ENABLED) downloads a model file the workflow "
            "loads (repeatable); without one, the servers must have it already.",
            show_default=False,
        ),
    ] = None,
    object_info: ObjectInfoOption = None,
) -> None:
    """Store your own workflow, so jobs can name it like a shipped one (--workflow NAME).

    Each version is kept under its content hash, and a job pins the one it was submitted
    with. Node classes the catalogue does not know (custom nodes) are warned about; check
    them with `i2v workflows validate NAME --server URL`.
    """
    from i2v.backends.comfyui import user_workflows

    catalog = _catalog(object_info, extended=True)
    workflow, warnings = user_workflows.prepare(
        name,
        _read_json(file),
        binds,
        fps,
        catalog,
        source=file.name,
        model_urls=model_urls or (),
        strict=object_info is not None,
    )
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
    added = user_workflows.UserWorkflows(_user_dir()).add(workflow, source=file.name)
    m = added.workflow.manifest
    state = "added" if added.new else "unchanged (already stored)"
    models = ", ".join(f"{f.folder}/{f.name}" for f in m.models) or "none"
    typer.echo(
        f"{m.key}: {state}; {len(workflow.graph.nodes)} nodes at {m.native_fps} fps, "
        f"{added.versions} version(s) stored; models: {models}"
    )


@workflows_app.command("remove")
def workflows_remove(
    name: Annotated[str, typer.Argument(help="A workflow added with `i2v workflows add`.")],
) -> None:
    """Delete every stored version of one of your workflows (jobs pinned to one then fail)."""
    from i2v.backends.comfyui.manifest import canonical_name
    from i2v.backends.comfyui.user_workflows import UserWorkflows
    from i2v.backends.comfyui.workflows.library import WORKFLOWS

    if canonical_name(name) in WORKFLOWS:
        raise InvalidParameter("NAME", name, f"{name} is a shipped workflow; it cannot be removed")
    count = UserWorkflows(_user_dir()).remove(name)
    typer.echo(f"removed {canonical_name(name)} ({count} version(s))")

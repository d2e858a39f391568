"""Checks graphs against a server's node catalogue, and job parameters against a workflow.

Both run before anything is sent; a graph's problems are all reported at once.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from i2v.backends.comfyui.catalog import InputSpec, NodeCatalog, model_folder, types_compatible
from i2v.backends.comfyui.graph import ApiGraph, InputValue, Link
from i2v.errors import InvalidParameter, NodeError, WorkflowInvalid

if TYPE_CHECKING:
    from i2v.backends.comfyui.manifest import WorkflowManifest, WorkflowParams

SEED_MAX = 2**64 - 1  # KSampler's and RandomNoise's own limit
MAX_FPS = 120  # CreateVideo's limit
MAX_STEPS = 1000
MAX_CFG = 100.0
MAX_LORA_STRENGTH = 100.0


def check_graph(
    graph: ApiGraph, catalog: NodeCatalog, *, server: str | None, ignore_models: bool = False
) -> None:
    """Raise WorkflowInvalid listing every problem the server would refuse the graph for.

    `ignore_models` skips loader file names, for a catalogue recorded without the models
    (such as the packaged one). Uploaded files (LoadImage) are never checked.
    """
    errors = graph_errors(graph, catalog, server=server, ignore_models=ignore_models)
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise WorkflowInvalid(
            f"workflow refused: {first.message}{more}",
            node_errors=tuple(errors),
            backend="comfyui",
            server=server,
        )


def graph_errors(
    graph: ApiGraph, catalog: NodeCatalog, *, server: str | None, ignore_models: bool = False
) -> list[NodeError]:
    where = server or "the server"
    errors: list[NodeError] = []
    outputs = 0
    for node_id, node in graph.nodes.items():
        cls = node.class_type
        if not catalog.has(cls):
            message = f"node {node_id}: node class {cls} does not exist on {where}"
            errors.append(NodeError(node_id, cls, None, "missing_node_type", message))
            continue
        outputs += catalog.is_output_node(cls)
        for name, spec in catalog.inputs(cls).items():
            value = node.inputs.get(name)
            if value is None:
                if spec.required:
                    message = f"node {node_id} ({cls}): required input {name} is missing"
                    errors.append(NodeError(node_id, cls, name, "required_input_missing", message))
                continue
            if isinstance(value, Link):
                error = _link_error(graph, catalog, node_id, spec, value)
            else:
                error = _value_error(node_id, cls, spec, value, where, ignore_models)
            if error is not None:
                errors.append(error)
    if graph.nodes and not outputs:
        message = "the workflow has no output node (such as SaveVideo)"
        errors.append(NodeError("", "", None, "prompt_no_outputs", message))
    return errors


def model_errors(errors: tuple[NodeError, ...] | list[NodeError]) -> list[NodeError]:
    """The errors that are only a model file missing from the server."""
    return [
        e
        for e in errors
        if e.kind == "value_not_in_list"
        and e.input_name is not None
        and model_folder(e.class_type, e.input_name, e.received) is not None
    ]


def _link_error(
    graph: ApiGraph, catalog: NodeCatalog, node_id: str, spec: InputSpec, link: Link
) -> NodeError | None:
    cls = graph.nodes[node_id].class_type
    here = f"node {node_id} ({cls}): input {spec.name}"
    source = graph.nodes.get(link.node_id)
    if source is None:
        message = f"{here} is linked to node {link.node_id}, which is not in the workflow"
        return NodeError(node_id, cls, spec.name, "link_to_missing_node", message, link.node_id)
    if not catalog.has(source.class_type):
        return None  # reported on the source node itself
    types = catalog.output_types(source.class_type)
    if not 0 <= link.output < len(types):
        message = (
            f"{here} is linked to output {link.output} of node {link.node_id} "
            f"({source.class_type}), which has {len(types)} output(s)"
        )
        return NodeError(node_id, cls, spec.name, "output_index_out_of_range", message, link.output)
    if not types_compatible(types[link.output], spec.kind):
        message = f"{here} takes {spec.kind} but node {link.node_id} gives {types[link.output]}"
        return NodeError(
            node_id, cls, spec.name, "return_type_mismatch", message, types[link.output]
        )
    return None


def _value_error(
    node_id: str, cls: str, spec: InputSpec, value: InputValue, where: str, ignore_models: bool
) -> NodeError | None:
    here = f"node {node_id} ({cls}): {spec.name}"

    def error(kind: str, message: str) -> NodeError:
        return NodeError(node_id, cls, spec.name, kind, f"{here} {message}", value)

    kind = spec.kind
    if kind == "COMBO":
        folder = model_folder(cls, spec.name, value)
        if spec.upload or spec.options is None or (folder and ignore_models):
            return None
        if str(value) in spec.options:
            return None
        if folder is not None:
            return NodeError(
                node_id,
                cls,
                spec.name,
                "value_not_in_list",
                f"node {node_id} ({cls}): model {value} is not installed on {where} "
                f"(models/{folder})",
                value,
            )
        shown = ", ".join(spec.options[:8]) + (", ..." if len(spec.options) > 8 else "")
        return error("value_not_in_list", f"is {value!r}, not one of: {shown}")
    if kind in ("INT", "FLOAT"):
        number = (
            float(value)
            if isinstance(value, int | float) and not isinstance(value, bool)
            else math.nan
        )
        integral = isinstance(value, int) or number.is_integer()
        if not math.isfinite(number) or (kind == "INT" and not integral):
            return error("invalid_input_type", f"must be {kind}, got {value!r}")
        if spec.min is not None and number < spec.min:
            return error("value_smaller_than_min", f"is {value}, below the minimum {spec.min:g}")
        if spec.max is not None and number > spec.max:
            return error("value_bigger_than_max", f"is {value}, above the maximum {spec.max:g}")
        return None
    if kind == "STRING" and not isinstance(value, str):
        return error("invalid_input_type", f"must be a string, got {value!r}")
    if kind == "BOOLEAN" and not isinstance(value, bool):
        return error("invalid_input_type", f"must be true or false, got {value!r}")
    if kind not in ("STRING", "BOOLEAN") and not spec.is_widget and kind != "*":
        return error("invalid_input_type", f"takes a {kind} link, not a literal {value!r}")
    return None


# -- job parameters against a workflow's own rules -----------------------------------------


def _bad(field: str, value: object, message: str) -> InvalidParameter:
    return InvalidParameter(field, value, message)


def _nearest(value: int, multiple: int, offset: int) -> str:
    below = max(offset, (value - offset) // multiple * multiple + offset)
    above = below + multiple
    return f"{below} or {above}" if below != value else str(above)


def check_params(manifest: WorkflowManifest, params: WorkflowParams) -> None:
    """Raise InvalidParameter for the first parameter the workflow cannot take."""
    name = manifest.name
    if not params.image_name.strip():
        raise _bad("image", params.image_name, "the uploaded image name is empty")
    for field, side in (("width", params.width), ("height", params.height)):
        if side < manifest.min_side or side > manifest.max_side:
            raise _bad(
                field,
                side,
                f"{field} {side} is out of range for {name}: "
                f"{manifest.min_side}..{manifest.max_side}",
            )
        if side % manifest.side_multiple:
            lower = side // manifest.side_multiple * manifest.side_multiple
            raise _bad(
                field,
                side,
                f"{field} {side} is not a multiple of {manifest.side_multiple}, as {name} "
                f"needs (try {lower} or {lower + manifest.side_multiple})",
            )
    mult, off = manifest.length_multiple, manifest.length_offset
    if params.length < off + mult or params.length > manifest.max_length:
        raise _bad(
            "length",
            params.length,
            f"length {params.length} is out of range for {name}: "
            f"{off + mult}..{manifest.max_length} frames",
        )
    if (params.length - off) % mult:
        raise _bad(
            "length",
            params.length,
            f"length {params.length} is not valid for {name}: frames must be "
            f"{mult}k+{off} (try {_nearest(params.length, mult, off)})",
        )
    if not 1 <= params.fps <= MAX_FPS:
        raise _bad("fps", params.fps, f"fps {params.fps} is out of range: 1..{MAX_FPS}")
    if not 0 <= params.seed <= SEED_MAX:
        raise _bad("seed", params.seed, f"seed {params.seed} is out of range: 0..2**64-1")
    if params.steps is not None and not manifest.min_steps <= params.steps <= MAX_STEPS:
        raise _bad(
            "steps",
            params.steps,
            f"steps {params.steps} is out of range for {name}: {manifest.min_steps}..{MAX_STEPS}",
        )
    if params.cfg is not None and not (math.isfinite(params.cfg) and 0 <= params.cfg <= MAX_CFG):
        raise _bad("cfg", params.cfg, f"cfg {params.cfg} is out of range: 0..{MAX_CFG:g}")
    _check_loras(manifest, params)


def _check_loras(manifest: WorkflowManifest, params: WorkflowParams) -> None:
    seen: set[str] = set()
    for choice in params.loras:
        if choice.slot not in manifest.lora_slots:
            slots = ", ".join(manifest.lora_slots) or "none"
            raise _bad(
                "loras",
                choice.slot,
                f"{manifest.name} has no LoRA slot {choice.slot!r} (slots: {slots})",
            )
        if choice.slot in seen:
            raise _bad("loras", choice.slot, f"LoRA slot {choice.slot!r} is given twice")
        seen.add(choice.slot)
        if not choice.name.strip():
            raise _bad("loras", choice.name, f"LoRA slot {choice.slot!r}: the file name is empty")
        if not (math.isfinite(choice.strength) and abs(choice.strength) <= MAX_LORA_STRENGTH):
            raise _bad(
                "loras",
                choice.strength,
                f"LoRA strength {choice.strength} is out of range: "
                f"-{MAX_LORA_STRENGTH:g}..{MAX_LORA_STRENGTH:g}",
            )

"""Finds the node inputs that carry a workflow's parameters, and lets users name them instead."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import get_args

from i2v.backends.comfyui.catalog import NodeCatalog
from i2v.backends.comfyui.graph import ApiGraph, Link
from i2v.backends.comfyui.manifest import PARAMS, Binding, Param
from i2v.errors import InvalidParameter

# Nodes that hold a literal for whoever links to them; a binding goes to their "value".
PRIMITIVE_CLASSES = frozenset(
    {"PrimitiveInt", "PrimitiveFloat", "PrimitiveString", "PrimitiveStringMultiline"}
)
# The names people give parameters on the command line, for the ones a manifest calls otherwise.
ALIASES: dict[str, Param] = {"prompt": "positive", "frames": "length"}
_PROMPT_INPUTS = ("text", "prompt")
_SEED_INPUTS = ("seed", "noise_seed")
_FPS_INPUTS = ("fps", "frame_rate")
# Conditioning that discards its input's text: the encoder behind it is not that prompt.
_TEXT_DISCARDING = frozenset({"ConditioningZeroOut"})


def _literal_target(graph: ApiGraph, node_id: str, name: str) -> Binding | None:
    """Where the literal behind `node_id.name` lives: the input itself, or the primitive
    node it is linked to; None when it comes out of some computation."""
    value = graph.nodes[node_id].inputs.get(name)
    if value is None:
        return None
    if not isinstance(value, Link):
        return Binding(node_id, name)
    source = graph.nodes.get(value.node_id)
    if source is not None and source.class_type in PRIMITIVE_CLASSES:
        held = source.inputs.get("value")
        if held is not None and not isinstance(held, Link):
            return Binding(value.node_id, "value")
    return None


def _is_number(value: object, *, integral: bool = False) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) if integral else isinstance(value, int | float)


def _conditioning_inputs(graph: ApiGraph, catalog: NodeCatalog, node_id: str) -> list[Link]:
    node = graph.nodes[node_id]
    specs = catalog.inputs(node.class_type) if catalog.has(node.class_type) else {}
    links = []
    for name, value in node.inputs.items():
        if not isinstance(value, Link):
            continue
        spec = specs.get(name)
        if (spec.kind == "CONDITIONING") if spec else name in ("positive", "negative"):
            links.append(value)
    return links


def _prompt_sources(
    graph: ApiGraph, catalog: NodeCatalog, link: Link, seen: set[Link]
) -> list[Binding]:
    """The text inputs of the encoders whose conditioning reaches `link`."""
    if link in seen or link.node_id not in graph.nodes:
        return []
    seen.add(link)
    node = graph.nodes[link.node_id]
    if node.class_type in _TEXT_DISCARDING:
        return []
    for key in _PROMPT_INPUTS:
        target = _literal_target(graph, link.node_id, key) if key in node.inputs else None
        if target is not None:
            return [target]
    # Conditioning nodes (WanImageToVideo, LTXVConditioning...) pass "positive" through to
    # their "positive" output; following the same name keeps the two prompts apart.
    names = catalog.output_names(node.class_type) if catalog.has(node.class_type) else ()
    out_name = names[link.output] if link.output < len(names) else ""
    same = node.inputs.get(out_name) if out_name in ("positive", "negative") else None
    if isinstance(same, Link):
        return _prompt_sources(graph, catalog, same, seen)
    found: list[Binding] = []
    for upstream in _conditioning_inputs(graph, catalog, link.node_id):
        found += _prompt_sources(graph, catalog, upstream, seen)
    return found


def _prompts(graph: ApiGraph, catalog: NodeCatalog) -> tuple[list[Binding], list[Binding]]:
    positive: list[Binding] = []
    negative: list[Binding] = []
    for node in graph.nodes.values():
        pos, neg = node.inputs.get("positive"), node.inputs.get("negative")
        if not (isinstance(pos, Link) and isinstance(neg, Link)):
            continue
        known = catalog.has(node.class_type)
        if known and "CONDITIONING" in catalog.output_types(node.class_type):
            continue  # a conditioning step, not a sampler or guider: traced through instead
        positive += _prompt_sources(graph, catalog, pos, set())
        negative += _prompt_sources(graph, catalog, neg, set())
    both = set(positive) & set(negative)  # one encoder feeding both roles binds neither
    return _unique(b for b in positive if b not in both), _unique(
        b for b in negative if b not in both
    )


def _reaches(graph: ApiGraph, start: str, input_names: set[str]) -> bool:
    """Whether any output of `start` flows, through any nodes, into an input so named."""
    frontier, seen = [start], {start}
    while frontier:
        current = frontier.pop()
        for consumer, name in graph.consumers(current):
            if name in input_names:
                return True
            if consumer not in seen:
                seen.add(consumer)
                frontier.append(consumer)
    return False


def _unique(bindings: Iterable[Binding]) -> list[Binding]:
    return list(dict.fromkeys(bindings))


def detect_bindings(graph: ApiGraph, catalog: NodeCatalog) -> dict[str, tuple[Binding, ...]]:
    """Guess each parameter's inputs from the usual i2v graph shapes; params not found are
    absent from the result."""
    found: dict[str, list[Binding]] = {p: [] for p in PARAMS}
    loads = [
        nid
        for nid, n in graph.nodes.items()
        if n.class_type == "LoadImage" and isinstance(n.inputs.get("image"), str)
    ]
    if len(loads) > 1:  # e.g. first and last frame: the start image is ours
        loads = [nid for nid in loads if _reaches(graph, nid, {"start_image"})] or loads
    found["image"] = [Binding(nid, "image") for nid in loads]
    found["positive"], found["negative"] = _prompts(graph, catalog)
    for node_id, node in graph.nodes.items():
        if node.class_type in PRIMITIVE_CLASSES:
            continue  # bound through whoever uses them
        for name in node.inputs:
            target = _literal_target(graph, node_id, name)
            if target is None:
                continue
            value = graph.nodes[target.node_id].inputs[target.input_name]
            if name in _SEED_INPUTS and _is_number(value, integral=True):
                found["seed"].append(target)
            elif name in _FPS_INPUTS and _is_number(value):
                found["fps"].append(target)
            elif name == "steps" and _is_number(value, integral=True):
                found["steps"].append(target)
            elif name == "cfg" and _is_number(value):
                found["cfg"].append(target)
        sizes = [_literal_target(graph, node_id, k) for k in ("width", "height", "length")]
        if all(sizes):
            for param, target in zip(("width", "height", "length"), sizes, strict=True):
                assert target is not None
                found[param].append(target)
    return {p: tuple(_unique(b)) for p, b in found.items() if b}


def parse_overrides(items: Iterable[str], *, flag: str = "--set") -> dict[str, str]:
    """Parse "param=node_id.input" strings (repeatable per param) -> {param: "a.x,b.y"}."""
    out: dict[str, str] = {}
    for item in items:
        param, eq, target = item.partition("=")
        if not eq or not param.strip() or not target.strip():
            raise InvalidParameter(
                flag, item, f"{flag} {item!r}: expected param=node_id.input_name"
            )
        key = param.strip()
        out[key] = f"{out[key]},{target.strip()}" if key in out else target.strip()
    return out


def apply_overrides(
    bindings: Mapping[str, tuple[Binding, ...]],
    overrides: Mapping[str, str],
    graph: ApiGraph,
    *,
    catalog: NodeCatalog | None = None,
    flag: str = "--set",
) -> dict[str, tuple[Binding, ...]]:
    """Replace the bindings of each overridden param with the inputs the user named
    ("node_id.input_name", several separated by commas); "prompt" and "frames" are
    accepted for positive and length."""
    result = dict(bindings)
    for given, spec in overrides.items():
        param = ALIASES.get(given, given)
        if param not in get_args(Param):
            known = ", ".join([*PARAMS, *ALIASES])
            raise InvalidParameter(
                flag,
                f"{given}={spec}",
                f"{flag} {given}={spec}: unknown parameter {given!r}; known: {known}",
            )
        if param != given and param in overrides:
            raise InvalidParameter(
                flag, given, f"{flag}: {given} and {param} are the same parameter; give one"
            )
        targets = [
            _override_target(f"{flag} {given}", item.strip(), graph, catalog, flag)
            for item in spec.split(",")
        ]
        result[param] = tuple(_unique(targets))
    return result


def _override_target(
    option: str, item: str, graph: ApiGraph, catalog: NodeCatalog | None, flag: str
) -> Binding:
    node_id, dot, name = item.rpartition(".")
    where = f"{option}={item}"
    if not dot or not node_id or not name:
        raise InvalidParameter(flag, item, f"{where}: expected node_id.input_name")
    node = graph.nodes.get(node_id)
    if node is None:
        raise InvalidParameter(flag, item, f"{where}: the workflow has no node {node_id!r}")
    known = set(node.inputs)
    if catalog is not None and catalog.has(node.class_type):
        known |= set(catalog.inputs(node.class_type))
    if name not in known:
        raise InvalidParameter(
            flag,
            item,
            f"{where}: node {node_id} ({node.class_type}) has no input {name!r}; "
            f"it has {', '.join(sorted(known)) or 'none'}",
        )
    value = node.inputs.get(name)
    if isinstance(value, Link):
        raise InvalidParameter(
            flag,
            item,
            f"{where}: {node_id}.{name} is linked from node {value.node_id}; "
            "bind the input that holds the value",
        )
    return Binding(node_id, name)

"""Converts the UI format that ComfyUI's editor saves into the API format that /prompt runs.

It follows what the frontend's graphToPrompt does: widget values are matched to the widget
inputs in catalogue order (a seed's "control after generate" keeps an extra value, as does an
upload button); links are followed through Reroute nodes, PrimitiveNode values are inlined,
notes and muted nodes are dropped, bypassed nodes pass an input of the output's type through,
and subgraphs are expanded in place with ids "<outer id>:<inner id>".
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from i2v.backends.comfyui.bindings import apply_overrides, detect_bindings, parse_overrides
from i2v.backends.comfyui.catalog import InputSpec, NodeCatalog, types_compatible
from i2v.backends.comfyui.graph import ApiGraph, ApiNode, InputValue, Link
from i2v.errors import NodeError, WorkflowInvalid

__all__ = [
    "activate_nodes",
    "apply_overrides",
    "detect_bindings",
    "is_api_format",
    "is_ui_format",
    "parse_overrides",
    "ui_to_api",
]

CONTROL_VALUES = frozenset({"fixed", "increment", "decrement", "randomize", "increment-wrap"})
NOTE_TYPES = frozenset({"Note", "MarkdownNote"})
MUTED, BYPASSED = 2, 4  # LiteGraph modes: NEVER and BYPASS
SUBGRAPH_INPUT, SUBGRAPH_OUTPUT = "-10", "-20"  # ids of a subgraph's proxy input/output nodes
_MAX_DEPTH = 256  # a deeper chain of reroutes, bypasses and subgraphs can only be a cycle

Scalar = str | int | float | bool


@dataclass(frozen=True, slots=True)
class _UiLink:
    origin: str
    origin_slot: int
    target: str
    target_slot: int


@dataclass(slots=True)
class _Scope:
    """One level of the graph: the top level, or the inside of one subgraph instance."""

    prefix: str  # "" at the top; "129:" inside instance 129; "129:7:" one level further
    nodes: dict[str, Mapping[str, Any]]
    links: dict[str, _UiLink]
    definition: Mapping[str, Any] | None = None
    parent: _Scope | None = None
    instance: Mapping[str, Any] | None = None
    promoted: dict[str, Scalar] = field(default_factory=dict)


def is_api_format(raw: object) -> bool:
    """An API-format workflow is a non-empty object of id -> {class_type, inputs}."""
    return (
        isinstance(raw, Mapping)
        and bool(raw)
        and all(isinstance(v, Mapping) and "class_type" in v for v in raw.values())
    )


def is_ui_format(raw: object) -> bool:
    return isinstance(raw, Mapping) and isinstance(raw.get("nodes"), list)


def activate_nodes(ui: Mapping[str, Any], node_ids: Collection[int | str]) -> dict[str, Any]:
    """A copy of a UI workflow with the given top-level nodes un-muted and un-bypassed
    (templates ship some nodes bypassed, e.g. the Wan 2.2 5B template's LoadImage)."""
    wanted = {str(n) for n in node_ids}
    out = copy.deepcopy(dict(ui))
    for node in out.get("nodes") or []:
        if str(node.get("id")) in wanted:
            node["mode"] = 0
            wanted.discard(str(node.get("id")))
    if wanted:
        raise KeyError(f"no top-level node(s) {', '.join(sorted(wanted))} in the workflow")
    return out


def ui_to_api(ui: Mapping[str, Any], catalog: NodeCatalog) -> ApiGraph:
    """Convert a UI-format workflow; an API-format one is returned as it is."""
    if is_api_format(ui):
        return ApiGraph.from_json(ui)
    if is_ui_format(ui):
        return _Converter(ui, catalog).run()
    raise WorkflowInvalid(
        "not a ComfyUI workflow: expected the editor's format (with 'nodes' and 'links') "
        "or the API format (node id -> class_type and inputs)",
        backend="comfyui",
    )


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


def _index_nodes(raw: object) -> dict[str, Mapping[str, Any]]:
    nodes = raw if isinstance(raw, list) else []
    return {str(n["id"]): n for n in nodes if isinstance(n, Mapping) and "id" in n}


def _index_links(raw: object) -> dict[str, _UiLink]:
    links: dict[str, _UiLink] = {}
    for item in raw if isinstance(raw, list) else []:
        # Top-level links are arrays [id, from, from_slot, to, to_slot, type]; subgraphs
        # (and newer top-level schemas) store objects with the same fields.
        if isinstance(item, list) and len(item) >= 5:
            link_id, origin, origin_slot, target, target_slot = item[:5]
        elif isinstance(item, Mapping):
            link_id, origin, origin_slot = (
                item.get("id"),
                item.get("origin_id"),
                item.get("origin_slot"),
            )
            target, target_slot = item.get("target_id"), item.get("target_slot")
        else:
            continue
        if isinstance(origin_slot, int) and isinstance(target_slot, int):
            links[str(link_id)] = _UiLink(str(origin), origin_slot, str(target), target_slot)
    return links


def _slots(node: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    raw = node.get(key)
    return [s for s in raw if isinstance(s, Mapping)] if isinstance(raw, list) else []


def widget_values(node: Mapping[str, Any], specs: Mapping[str, InputSpec]) -> dict[str, Scalar]:
    """Match a UI node's widgets_values to its class's widget inputs, by position."""
    raw = node.get("widgets_values")
    if isinstance(raw, Mapping):  # some custom nodes save widgets by name
        return {k: v for k, v in raw.items() if k in specs and specs[k].is_widget and _scalar(v)}
    if not isinstance(raw, list):
        return {}
    out: dict[str, Scalar] = {}
    i = 0
    for spec in specs.values():
        if not spec.is_widget:
            continue
        if i >= len(raw):
            break
        value = raw[i]
        i += 1
        if _scalar(value):
            out[spec.name] = value
        seed_like = spec.control_after_generate or spec.name in ("seed", "noise_seed")
        if seed_like and i < len(raw) and raw[i] in CONTROL_VALUES:
            i += 1
        if spec.upload and i < len(raw) and raw[i] in (spec.upload, None, ""):
            i += 1
    return out


class _Converter:
    def __init__(self, ui: Mapping[str, Any], catalog: NodeCatalog) -> None:
        self.catalog = catalog
        definitions = ui.get("definitions")
        subgraphs = definitions.get("subgraphs") if isinstance(definitions, Mapping) else None
        self.subgraphs: dict[str, Mapping[str, Any]] = {
            str(s["id"]): s
            for s in (subgraphs if isinstance(subgraphs, list) else [])
            if isinstance(s, Mapping) and "id" in s
        }
        self.root = _Scope("", _index_nodes(ui.get("nodes")), _index_links(ui.get("links")))
        self.children: dict[str, _Scope] = {}
        self.out: dict[str, ApiNode] = {}
        self.errors: list[NodeError] = []
        self.depth = 0

    def run(self) -> ApiGraph:
        self._emit(self.root)
        if self.errors:
            classes = sorted({e.class_type for e in self.errors})
            raise WorkflowInvalid(
                f"cannot convert: the catalogue lacks node class(es) {', '.join(classes)}, "
                "so their widget values cannot be named; use the server's /object_info",
                node_errors=tuple(self.errors),
                backend="comfyui",
            )
        return ApiGraph(self.out)

    # -- emitting -------------------------------------------------------------------------

    def _emit(self, scope: _Scope) -> None:
        for node_id, node in scope.nodes.items():
            mode = node.get("mode", 0)
            kind = str(node.get("type", ""))
            if mode in (MUTED, BYPASSED) or kind in NOTE_TYPES:
                continue
            if kind in ("Reroute", "PrimitiveNode"):
                continue  # virtual: resolved where their outputs are used
            if kind in self.subgraphs:
                self._enter()
                self._emit(self._child(scope, node_id, node))
                self.depth -= 1
                continue
            self._emit_node(scope, node_id, node, kind)

    def _emit_node(self, scope: _Scope, node_id: str, node: Mapping[str, Any], kind: str) -> None:
        full_id = scope.prefix + node_id
        inputs: dict[str, InputValue] = {}
        if self.catalog.has(kind):
            inputs.update(widget_values(node, self.catalog.inputs(kind)))
        elif node.get("widgets_values"):
            message = f"node class {kind} is not in the catalogue"
            self.errors.append(NodeError(full_id, kind, None, "missing_node_type", message))
        for slot in _slots(node, "inputs"):
            name = str(slot.get("name", ""))
            if slot.get("link") is None:
                continue
            source = self._resolve_link(scope, slot["link"])
            if source is not None:
                inputs[name] = source
            elif "widget" not in slot:
                inputs.pop(name, None)
            # else: a widget input whose link leads nowhere keeps the widget's own value
        title = node.get("title")
        self.out[full_id] = ApiNode(kind, inputs, title if isinstance(title, str) else None)

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise WorkflowInvalid(
                "the workflow's links or subgraphs form a cycle", backend="comfyui"
            )

    def _child(self, scope: _Scope, node_id: str, node: Mapping[str, Any]) -> _Scope:
        prefix = f"{scope.prefix}{node_id}:"
        if prefix not in self.children:
            definition = self.subgraphs[str(node.get("type"))]
            links = _index_links(definition.get("links"))
            nodes = _index_nodes(definition.get("nodes"))
            self.children[prefix] = _Scope(
                prefix,
                nodes,
                links,
                definition,
                scope,
                node,
                _promoted(definition, nodes, links, node),
            )
        return self.children[prefix]

    # -- resolving where an input's value comes from --------------------------------------

    def _resolve_link(self, scope: _Scope, link_id: object) -> InputValue | None:
        link = scope.links.get(str(link_id))
        if link is None:
            return None
        self._enter()
        try:
            if link.origin == SUBGRAPH_INPUT:
                return self._resolve_subgraph_input(scope, link.origin_slot)
            return self._resolve_output(scope, link.origin, link.origin_slot)
        finally:
            self.depth -= 1

    def _resolve_output(self, scope: _Scope, node_id: str, slot: int) -> InputValue | None:
        node = scope.nodes.get(node_id)
        if node is None:
            return None
        mode = node.get("mode", 0)
        kind = str(node.get("type", ""))
        if mode == MUTED or kind in NOTE_TYPES:
            return None
        if mode == BYPASSED:
            return self._bypass(scope, node, slot)
        if kind == "Reroute":
            return self._follow_input(scope, node, 0)
        if kind == "PrimitiveNode":
            values = node.get("widgets_values")
            value = values[0] if isinstance(values, list) and values else None
            return value if _scalar(value) else None
        if kind in self.subgraphs:
            return self._resolve_subgraph_output(self._child(scope, node_id, node), slot)
        return Link(scope.prefix + node_id, slot)

    def _follow_input(
        self, scope: _Scope, node: Mapping[str, Any], index: int
    ) -> InputValue | None:
        inputs = _slots(node, "inputs")
        if index >= len(inputs) or inputs[index].get("link") is None:
            return None
        return self._resolve_link(scope, inputs[index]["link"])

    def _bypass(self, scope: _Scope, node: Mapping[str, Any], slot: int) -> InputValue | None:
        outputs = _slots(node, "outputs")
        out_type = str(outputs[slot].get("type", "*")) if slot < len(outputs) else "*"
        index = _bypass_index(_slots(node, "inputs"), slot, out_type)
        return None if index is None else self._follow_input(scope, node, index)

    def _resolve_subgraph_input(self, scope: _Scope, index: int) -> InputValue | None:
        if scope.definition is None or scope.parent is None or scope.instance is None:
            return None
        proxies = _slots(scope.definition, "inputs")
        if index >= len(proxies):
            return None
        name = proxies[index].get("name")
        for slot in _slots(scope.instance, "inputs"):
            if slot.get("name") == name and slot.get("link") is not None:
                resolved = self._resolve_link(scope.parent, slot["link"])
                if resolved is not None:
                    return resolved
        return scope.promoted.get(str(name))

    def _resolve_subgraph_output(self, child: _Scope, slot: int) -> InputValue | None:
        for link in child.links.values():
            if link.target == SUBGRAPH_OUTPUT and link.target_slot == slot:
                self._enter()
                try:
                    if link.origin == SUBGRAPH_INPUT:
                        return self._resolve_subgraph_input(child, link.origin_slot)
                    return self._resolve_output(child, link.origin, link.origin_slot)
                finally:
                    self.depth -= 1
        return None


def _bypass_index(inputs: list[Mapping[str, Any]], slot: int, out_type: str) -> int | None:
    """The input a bypassed node passes to output `slot`, as the frontend picks it: the same
    slot if its type fits, else the first input of exactly that type, else the first that fits."""
    if not inputs:
        return None
    if out_type in ("*", ""):
        return slot if slot < len(inputs) else 0
    types = [str(s.get("type", "*")) for s in inputs]
    if slot < len(types) and types_compatible(out_type, types[slot]):
        return slot
    for i, t in enumerate(types):
        if t == out_type:
            return i
    for i, t in enumerate(types):
        if types_compatible(out_type, t):
            return i
    return None


def _promoted(
    definition: Mapping[str, Any],
    nodes: Mapping[str, Mapping[str, Any]],
    links: Mapping[str, _UiLink],
    instance: Mapping[str, Any],
) -> dict[str, Scalar]:
    """The values of the widgets a subgraph instance shows for its proxy inputs.

    The editor saves one value per subgraph input that feeds an inner widget, in input order.
    Newer editors save none (the inner widgets keep the values); then this is empty.
    """
    values = instance.get("widgets_values")
    if not isinstance(values, list) or not values:
        return {}
    names: list[str] = []
    for proxy in _slots(definition, "inputs"):
        for link_id in proxy.get("linkIds") or []:
            link = links.get(str(link_id))
            target = nodes.get(link.target) if link else None
            slots = _slots(target, "inputs") if target else []
            if link and link.target_slot < len(slots) and "widget" in slots[link.target_slot]:
                names.append(str(proxy.get("name")))
                break
    if len(names) != len(values):
        return {}
    return {name: value for name, value in zip(names, values, strict=True) if _scalar(value)}

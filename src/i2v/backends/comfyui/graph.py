"""The API-format graph that ComfyUI's POST /prompt runs: node id -> class_type and inputs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from i2v.errors import NodeError, WorkflowInvalid


@dataclass(frozen=True, slots=True)
class Link:
    """An input fed by output number `output` of node `node_id`."""

    node_id: str
    output: int


InputValue = str | int | float | bool | Link


@dataclass(frozen=True, slots=True)
class ApiNode:
    class_type: str
    inputs: dict[str, InputValue] = field(default_factory=dict)
    title: str | None = None


def _value(node_id: str, class_type: str, name: str, raw: object) -> InputValue:
    if isinstance(raw, str | int | float | bool):
        return raw
    if (
        isinstance(raw, list)
        and len(raw) == 2
        and isinstance(raw[0], str | int)
        and isinstance(raw[1], int)
        and not isinstance(raw[1], bool)
    ):
        return Link(str(raw[0]), raw[1])
    raise WorkflowInvalid(
        f"node {node_id} ({class_type}): input {name} holds an unsupported value",
        node_errors=(
            NodeError(node_id, class_type, name, "invalid_input_type", "unsupported value", raw),
        ),
        backend="comfyui",
    )


def _raw(value: InputValue) -> object:
    return [value.node_id, value.output] if isinstance(value, Link) else value


@dataclass(frozen=True, slots=True)
class ApiGraph:
    """An immutable API-format workflow; every change returns a new graph."""

    nodes: dict[str, ApiNode]

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ApiGraph:
        """Parse the object under "prompt" in a /prompt body (an "API format" export)."""
        if not isinstance(raw, Mapping):
            raise WorkflowInvalid("the workflow must be a JSON object", backend="comfyui")
        nodes: dict[str, ApiNode] = {}
        errors: list[NodeError] = []
        for node_id, body in raw.items():
            nid = str(node_id)
            class_type = body.get("class_type") if isinstance(body, Mapping) else None
            if not isinstance(class_type, str) or not class_type:
                errors.append(NodeError(nid, "", None, "missing_class_type", "no class_type"))
                continue
            raw_inputs = body.get("inputs", {})
            if not isinstance(raw_inputs, Mapping):
                errors.append(NodeError(nid, class_type, None, "invalid_inputs", "bad inputs"))
                continue
            meta = body.get("_meta")
            title = meta.get("title") if isinstance(meta, Mapping) else None
            inputs = {str(k): _value(nid, class_type, str(k), v) for k, v in raw_inputs.items()}
            nodes[nid] = ApiNode(class_type, inputs, title if isinstance(title, str) else None)
        if errors:
            raise WorkflowInvalid(
                f"the workflow has {len(errors)} malformed node(s)",
                node_errors=tuple(errors),
                backend="comfyui",
            )
        return cls(nodes)

    def to_json(self) -> dict[str, Any]:
        """Exactly the object POST /prompt takes under "prompt"."""
        out: dict[str, Any] = {}
        for node_id, node in self.nodes.items():
            body: dict[str, Any] = {
                "class_type": node.class_type,
                "inputs": {k: _raw(v) for k, v in node.inputs.items()},
            }
            if node.title is not None:
                body["_meta"] = {"title": node.title}
            out[node_id] = body
        return out

    def node(self, node_id: str) -> ApiNode:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise KeyError(f"no node {node_id!r} in the workflow") from None

    def with_input(self, node_id: str, name: str, value: InputValue) -> ApiGraph:
        node = self.node(node_id)
        return self.with_node(node_id, replace(node, inputs={**node.inputs, name: value}))

    def with_node(self, node_id: str, node: ApiNode) -> ApiGraph:
        return ApiGraph({**self.nodes, node_id: node})

    def without_node(self, node_id: str) -> ApiGraph:
        return ApiGraph({k: v for k, v in self.nodes.items() if k != node_id})

    def links(self) -> Iterator[tuple[str, str, Link]]:
        """(consumer node id, input name, link) for every linked input."""
        for node_id, node in self.nodes.items():
            for name, value in node.inputs.items():
                if isinstance(value, Link):
                    yield node_id, name, value

    def consumers(self, node_id: str, output: int | None = None) -> list[tuple[str, str]]:
        return [
            (consumer, name)
            for consumer, name, link in self.links()
            if link.node_id == node_id and (output is None or link.output == output)
        ]

    def replace_source(self, old: Link, new: InputValue | None) -> ApiGraph:
        """Point every input fed by `old` at `new` instead (a literal, another link, or
        nothing: None removes those inputs)."""
        nodes = dict(self.nodes)
        for consumer, name, link in self.links():
            if link != old:
                continue
            node = nodes[consumer]
            inputs = {k: v for k, v in node.inputs.items() if k != name}
            if new is not None:
                inputs = {**node.inputs, name: new}
            nodes[consumer] = replace(node, inputs=inputs)
        return ApiGraph(nodes)

    def splice_out(self, node_id: str, through: str) -> ApiGraph:
        """Remove a one-in one-out node, feeding its consumers from its input `through`
        (what ComfyUI's bypass does)."""
        node = self.node(node_id)
        graph = self.replace_source(Link(node_id, 0), node.inputs.get(through))
        return graph.without_node(node_id)

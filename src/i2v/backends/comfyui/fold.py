"""Folds constant helper nodes into their users, and prunes nodes that no output needs.

Primitives, switches and math expressions with constant inputs are replaced by their value,
so that graphs from recent editors run on older servers too: recent templates steer
themselves with ComfySwitchNode and ComfyMathExpression, which ComfyUI 0.3.64 lacks.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping

from i2v.backends.comfyui.catalog import NodeCatalog
from i2v.backends.comfyui.graph import ApiGraph, InputValue, Link
from i2v.errors import WorkflowInvalid

PRIMITIVES = frozenset(
    {
        "PrimitiveInt",
        "PrimitiveFloat",
        "PrimitiveBoolean",
        "PrimitiveString",
        "PrimitiveStringMultiline",
    }
)
_MAX_EXPONENT = 64

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
    "floor": math.floor,
    "ceil": math.ceil,
    "sqrt": math.sqrt,
    "int": int,
    "float": float,
}


def fold_constants(graph: ApiGraph) -> ApiGraph:
    """Replace every constant primitive, switch and math node by its value, until none is
    left that can be folded."""
    changed = True
    while changed:
        changed = False
        for node_id, node in graph.nodes.items():
            folded = _fold_one(graph, node_id, node.class_type, node.inputs)
            if folded is not None:
                graph, changed = folded, True
                break
    return graph


def _fold_one(
    graph: ApiGraph, node_id: str, class_type: str, inputs: Mapping[str, InputValue]
) -> ApiGraph | None:
    if class_type in PRIMITIVES:
        value = inputs.get("value")
        if value is None or isinstance(value, Link):
            return None
        return graph.replace_source(Link(node_id, 0), value).without_node(node_id)
    if class_type == "ComfySwitchNode":
        switch = inputs.get("switch")
        if not isinstance(switch, bool):
            return None
        chosen = inputs.get("on_true" if switch else "on_false")
        return graph.replace_source(Link(node_id, 0), chosen).without_node(node_id)
    if class_type == "ComfyMathExpression":
        expression = inputs.get("expression")
        names: dict[str, float] = {}
        for key, value in inputs.items():
            if key == "expression":
                continue
            if isinstance(value, Link | str):
                return None  # not constant (yet)
            names[key.removeprefix("values.")] = float(value)
        if not isinstance(expression, str):
            return None
        result = evaluate(expression, names)
        # Its outputs are the result as FLOAT, INT and BOOLEAN, in that order.
        for slot, value in enumerate((float(result), int(result), bool(result))):
            graph = graph.replace_source(Link(node_id, slot), value)
        return graph.without_node(node_id)
    return None


def evaluate(expression: str, names: Mapping[str, float]) -> float:
    """A small, safe arithmetic evaluator: numbers, the given names, + - * / // % **,
    and min max abs round floor ceil sqrt int float."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
        return _eval(tree.body, names)
    except (SyntaxError, ValueError, TypeError, ZeroDivisionError, OverflowError) as exc:
        raise WorkflowInvalid(
            f"cannot fold the math expression {expression!r}: {exc}", backend="comfyui"
        ) from exc


def _eval(node: ast.expr, names: Mapping[str, float]) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise ValueError(f"unknown name {node.id!r}")
        return names[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _eval(node.operand, names)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, names), _eval(node.right, names)
        if isinstance(node.op, ast.Pow):
            if abs(right) > _MAX_EXPONENT:
                raise ValueError("exponent too large")
            return float(left**right)
        op = _BINARY.get(type(node.op))
        if op is not None:
            return op(left, right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        function = _FUNCTIONS.get(node.func.id)
        if function is not None:
            return float(function(*(_eval(a, names) for a in node.args)))
    raise ValueError(f"unsupported syntax {ast.dump(node)[:40]}")


def prune(graph: ApiGraph, catalog: NodeCatalog) -> ApiGraph:
    """Only the nodes some output node depends on (ComfyUI runs no others anyway); a node
    of a class the catalogue lacks is kept, since it might be an output."""
    roots = [
        node_id
        for node_id, node in graph.nodes.items()
        if not catalog.has(node.class_type) or catalog.is_output_node(node.class_type)
    ]
    keep: set[str] = set()
    while roots:
        node_id = roots.pop()
        if node_id in keep or node_id not in graph.nodes:
            continue
        keep.add(node_id)
        roots += [v.node_id for v in graph.nodes[node_id].inputs.values() if isinstance(v, Link)]
    return ApiGraph({k: v for k, v in graph.nodes.items() if k in keep})

"""What a workflow needs and takes: its model files, parameter bindings and rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, get_args

from i2v.backends.comfyui.graph import ApiGraph, InputValue, Link
from i2v.backends.comfyui.validate import check_params
from i2v.errors import InvalidParameter

Family = Literal["wan", "ltx", "hunyuan", "custom"]  # custom: a user's own workflow
Param = Literal[
    "image", "positive", "negative", "seed", "width", "height", "length", "fps", "steps", "cfg"
]
PARAMS: tuple[Param, ...] = get_args(Param)
# Every shipped workflow binds these; steps and cfg are optional (None keeps the default).
REQUIRED_PARAMS: tuple[Param, ...] = (
    "image",
    "positive",
    "negative",
    "seed",
    "width",
    "height",
    "length",
    "fps",
)


def canonical_name(name: str) -> str:
    """Workflow names are forgiving the way people write model names: "Wan2.2-TI2V-5B" is
    wan22_ti2v_5b."""
    return re.sub(r"[.\s]", "", name.strip().lower()).replace("-", "_")


@dataclass(frozen=True, slots=True)
class ModelFile:
    """One file a workflow loads, and where to get it."""

    name: str
    folder: str  # the ComfyUI models/ subfolder: diffusion_models, text_encoders, vae...
    size_bytes: int | None
    sha256: str | None
    url: str


@dataclass(frozen=True, slots=True)
class Binding:
    """A node input that a parameter sets."""

    node_id: str
    input_name: str


@dataclass(frozen=True, slots=True)
class LoraSlot:
    """A LoraLoaderModelOnly node the user may fill; an unused slot is spliced out."""

    node_id: str
    name_input: str = "lora_name"
    strength_input: str = "strength_model"
    through: str = "model"  # the input that feeds its output when the slot is empty


@dataclass(frozen=True, slots=True)
class LoraChoice:
    name: str  # the file name, as the server's loras/ folder lists it
    strength: float = 1.0
    slot: str = "main"


@dataclass(frozen=True, slots=True)
class WorkflowManifest:
    name: str
    version: int | str  # shipped: a number; a user's own: the content hash of graph and manifest
    title: str
    family: Family
    native_fps: int
    default_length: int
    length_multiple: int  # frame counts must be length_multiple * k + length_offset
    length_offset: int
    side_multiple: int  # width and height must be multiples of this
    max_side: int
    max_length: int
    models: tuple[ModelFile, ...]
    bindings: dict[str, tuple[Binding, ...]]
    lora_slots: dict[str, LoraSlot] = field(default_factory=dict)
    min_side: int = 256
    min_steps: int = 1  # e.g. more than the step a two-model pair hands over at
    # Node classes the workflow needs that the packaged ComfyUI 0.3.64 catalogue lacks.
    requires_nodes: tuple[str, ...] = ()
    min_comfyui: str | None = None
    source_template: str | None = None  # the official template it was exported from
    notes: str = ""

    @property
    def is_user(self) -> bool:
        """Added by a user (`i2v workflows add`) rather than shipped with i2v."""
        return isinstance(self.version, str)

    @property
    def label(self) -> str:
        """The version as people write it after the name: "v1", or "@<content hash>"."""
        return f"@{self.version}" if self.is_user else f"v{self.version}"

    @property
    def graph_file(self) -> str:
        return f"{self.name}.v{self.version}.json"

    @property
    def key(self) -> str:
        """The exact version a job pins: "name.v1", or "name@<content hash>"."""
        return f"{self.name}{self.label}" if self.is_user else f"{self.name}.{self.label}"


@dataclass(frozen=True, slots=True)
class WorkflowParams:
    image_name: str  # the name the server gave the uploaded image
    positive: str
    negative: str
    seed: int
    width: int
    height: int
    length: int
    fps: int
    steps: int | None = None  # None keeps the workflow's own
    cfg: float | None = None
    loras: tuple[LoraChoice, ...] = ()

    def value(self, param: Param) -> object:
        return self.image_name if param == "image" else getattr(self, param)


def _coerce(current: InputValue | None, value: object) -> InputValue:
    """The value in the type the input already holds (CreateVideo takes fps as a float)."""
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str | int | float | bool):
        raise TypeError(f"cannot bind a {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class Workflow:
    """A manifest with its API graph: fill it with a job's parameters and send it."""

    manifest: WorkflowManifest
    graph: ApiGraph

    def fill(self, params: WorkflowParams) -> ApiGraph:
        """The graph with every binding set and every LoRA slot filled or spliced out."""
        check_params(self.manifest, params)
        graph = self.graph
        for param in PARAMS:
            value = params.value(param)
            if value is None:
                continue
            bindings = self.manifest.bindings.get(param, ())
            if not bindings and self.manifest.is_user and param in REQUIRED_PARAMS:
                continue  # a user's workflow may fix what it does not bind, e.g. its length
            if not bindings:
                raise InvalidParameter(
                    param, value, f"{self.manifest.name} has a fixed {param}; leave it unset"
                )
            for b in bindings:
                current = graph.node(b.node_id).inputs.get(b.input_name)
                graph = graph.with_input(b.node_id, b.input_name, _coerce(current, value))
        chosen = {c.slot: c for c in params.loras}
        for slot_name, slot in self.manifest.lora_slots.items():
            choice = chosen.get(slot_name)
            if choice is None:
                graph = graph.splice_out(slot.node_id, slot.through)
                continue
            graph = graph.with_input(slot.node_id, slot.name_input, choice.name)
            graph = graph.with_input(slot.node_id, slot.strength_input, float(choice.strength))
        return graph

    def required_nodes(self) -> set[str]:
        """Every node class the graph uses."""
        return {node.class_type for node in self.graph.nodes.values()}

    def default_params(self, image_name: str = "example.png") -> WorkflowParams:
        """The parameters the graph already holds (the template's own values)."""

        def current(param: Param) -> object:
            for b in self.manifest.bindings.get(param, ()):
                value = self.graph.node(b.node_id).inputs.get(b.input_name)
                if value is not None and not isinstance(value, Link):
                    return value
            return None

        m = self.manifest
        # What the job's parameters would be for a parameter a user's workflow leaves fixed.
        unbound = {"seed": 0, "width": m.max_side, "height": m.max_side, "fps": m.native_fps}
        unbound["length"] = m.default_length

        def number(param: Param) -> int:
            value = current(param)
            if m.is_user and not m.bindings.get(param):
                return unbound[param]
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValueError(f"{self.manifest.name}: no default {param}")
            return int(value)

        steps, cfg = current("steps"), current("cfg")
        return WorkflowParams(
            image_name=image_name,
            positive=str(current("positive") or ""),
            negative=str(current("negative") or ""),
            seed=number("seed"),
            width=number("width"),
            height=number("height"),
            length=number("length"),
            fps=number("fps"),
            steps=int(steps) if isinstance(steps, int | float) else None,
            cfg=float(cfg) if isinstance(cfg, int | float) else None,
        )

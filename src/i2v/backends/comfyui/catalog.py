"""A typed view of a ComfyUI server's /object_info: each node class's inputs and outputs.

Also the cache of servers' catalogues that picking a server for a run reads.
"""

from __future__ import annotations

import functools
import gzip
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from i2v.errors import ConfigError

# Value kinds that the UI shows as widgets; anything else is a socket fed by a link.
WIDGET_KINDS = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"})
# Option keys that make the UI add an upload button after the input; the button keeps a
# value of its own in `widgets_values` (LoadImage saves ["name.png", "image"]).
_UPLOAD_OPTIONS = {
    "image_upload": "image",
    "video_upload": "video",
    "audio_upload": "audio",
    "file_upload": "file",
}

# The models/ subfolder each stock loader input lists; its combo is the files found there.
LOADER_FOLDERS: dict[tuple[str, str], str] = {
    ("CheckpointLoaderSimple", "ckpt_name"): "checkpoints",
    ("UNETLoader", "unet_name"): "diffusion_models",
    ("CLIPLoader", "clip_name"): "text_encoders",
    ("DualCLIPLoader", "clip_name1"): "text_encoders",
    ("DualCLIPLoader", "clip_name2"): "text_encoders",
    ("TripleCLIPLoader", "clip_name1"): "text_encoders",
    ("TripleCLIPLoader", "clip_name2"): "text_encoders",
    ("TripleCLIPLoader", "clip_name3"): "text_encoders",
    ("VAELoader", "vae_name"): "vae",
    ("LoraLoader", "lora_name"): "loras",
    ("LoraLoaderModelOnly", "lora_name"): "loras",
    ("CLIPVisionLoader", "clip_name"): "clip_vision",
    ("UpscaleModelLoader", "model_name"): "upscale_models",
    ("LatentUpscaleModelLoader", "model_name"): "latent_upscale_models",
    ("ControlNetLoader", "control_net_name"): "controlnet",
}

CATALOG_TTL_S = 60.0  # a server's cached catalogue is fetched again after this
MODEL_EXTENSIONS = (".safetensors", ".sft", ".ckpt", ".pt", ".pth", ".bin", ".gguf")


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One input of a node class, as the server describes it."""

    name: str
    kind: str  # "INT", "FLOAT", "STRING", "BOOLEAN", "COMBO", or a link type ("MODEL", ...)
    required: bool
    default: object = None
    min: float | None = None
    max: float | None = None
    options: tuple[str, ...] | None = None  # combo values
    control_after_generate: bool = False
    step: float | None = None
    force_input: bool = False  # a widget kind the UI shows as a socket only
    upload: str | None = None  # "image", "video"...: the UI adds an upload widget after it

    @property
    def is_widget(self) -> bool:
        return self.kind in WIDGET_KINDS and not self.force_input


@dataclass(frozen=True, slots=True)
class _NodeSpec:
    inputs: dict[str, InputSpec]
    output_types: tuple[str, ...]
    output_names: tuple[str, ...]
    output_node: bool


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _input_spec(name: str, raw: object, *, required: bool) -> InputSpec:
    spec = raw if isinstance(raw, list | tuple) else [raw]
    head = spec[0] if spec else "*"
    opts: Mapping[str, Any] = spec[1] if len(spec) > 1 and isinstance(spec[1], Mapping) else {}
    options: tuple[str, ...] | None = None
    if isinstance(head, list | tuple):
        kind, options = "COMBO", tuple(str(o) for o in head)
    elif head == "COMBO":
        kind, options = "COMBO", tuple(str(o) for o in opts.get("options", ()))
    else:
        kind = str(head)
    upload = next((label for key, label in _UPLOAD_OPTIONS.items() if opts.get(key)), None)
    return InputSpec(
        name=name,
        kind=kind,
        required=required,
        default=opts.get("default"),
        min=_number(opts.get("min")),
        max=_number(opts.get("max")),
        options=options,
        control_after_generate=bool(opts.get("control_after_generate")),
        step=_number(opts.get("step")),
        force_input=bool(opts.get("forceInput")),
        upload=upload,
    )


def _section(raw: Mapping[str, Any], order: Mapping[str, Any], key: str) -> list[str]:
    section = raw.get(key) or {}
    names = [str(n) for n in order.get(key) or [] if n in section]
    # input_order is authoritative where present; any input it misses keeps the dict order.
    return names + [str(n) for n in section if n not in names]


def _node_spec(class_type: str, raw: Mapping[str, Any]) -> _NodeSpec:
    inputs_raw = raw.get("input") or {}
    order = raw.get("input_order") or {}
    if not isinstance(inputs_raw, Mapping) or not isinstance(order, Mapping):
        raise ConfigError(f"object_info: {class_type} has a malformed input section")
    inputs: dict[str, InputSpec] = {}
    for key, required in (("required", True), ("optional", False)):
        section = inputs_raw.get(key) or {}
        for name in _section(inputs_raw, order, key):
            inputs[name] = _input_spec(name, section[name], required=required)
    outputs = tuple(
        "COMBO" if isinstance(t, list | tuple) else str(t) for t in raw.get("output") or ()
    )
    names = tuple(str(n) for n in raw.get("output_name") or outputs)
    return _NodeSpec(
        inputs=inputs,
        output_types=outputs,
        output_names=names if len(names) == len(outputs) else outputs,
        output_node=bool(raw.get("output_node")),
    )


class NodeCatalog:
    """The node classes one server offers; read-only once built."""

    __slots__ = ("_nodes",)

    def __init__(self, nodes: Mapping[str, _NodeSpec]) -> None:
        self._nodes = dict(nodes)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> NodeCatalog:
        if not isinstance(raw, Mapping):
            raise ConfigError("object_info must be a JSON object of node classes")
        nodes = {}
        for class_type, spec in raw.items():
            if not isinstance(spec, Mapping):
                raise ConfigError(f"object_info: {class_type} is not an object")
            nodes[str(class_type)] = _node_spec(str(class_type), spec)
        return cls(nodes)

    @classmethod
    def load(cls, path: Path) -> NodeCatalog:
        """Read an /object_info dump, plain (.json) or gzipped (.json.gz)."""
        try:
            data = path.read_bytes()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            raw = json.loads(data)
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
        except (ValueError, EOFError) as exc:
            raise ConfigError(f"{path} is not an object_info JSON file: {exc}") from exc
        return cls.from_json(raw)

    def merged(self, other: NodeCatalog) -> NodeCatalog:
        """This catalogue plus the classes only `other` has (ours win on a clash)."""
        return NodeCatalog({**other._nodes, **self._nodes})

    def classes(self) -> frozenset[str]:
        return frozenset(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)

    def has(self, class_type: str) -> bool:
        return class_type in self._nodes

    def _node(self, class_type: str) -> _NodeSpec:
        try:
            return self._nodes[class_type]
        except KeyError:
            raise KeyError(f"unknown node class {class_type!r}") from None

    def inputs(self, class_type: str) -> dict[str, InputSpec]:
        """Required then optional inputs, in the catalogue's order."""
        return dict(self._node(class_type).inputs)

    def output_types(self, class_type: str) -> tuple[str, ...]:
        return self._node(class_type).output_types

    def output_names(self, class_type: str) -> tuple[str, ...]:
        return self._node(class_type).output_names

    def is_output_node(self, class_type: str) -> bool:
        return self._node(class_type).output_node

    def combo(self, class_type: str, input_name: str) -> tuple[str, ...] | None:
        spec = self._node(class_type).inputs.get(input_name)
        return spec.options if spec is not None else None


class CatalogCache:
    """Servers' node catalogues by URL, each trusted for `ttl_s`: at about half a megabyte,
    fetching one costs more than all the rest of i2v's work on a run.

    A server that refused a run for a missing model or node is forgotten at once, so the
    next attempt asks it afresh: the files may have been installed since.
    """

    def __init__(self, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._entries: dict[str, tuple[float, NodeCatalog]] = {}
        self._lock = threading.Lock()

    def get(self, url: str, fetch: Callable[[], NodeCatalog], now: float) -> NodeCatalog:
        with self._lock:
            cached = self._entries.get(url)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        catalog = fetch()
        with self._lock:
            self._entries[url] = (now, catalog)
        return catalog

    def forget(self, url: str) -> None:
        with self._lock:
            self._entries.pop(url, None)


@functools.cache
def shared_catalogs() -> CatalogCache:
    """The process's cache, made on first use: a backend lives for one job, a server's
    catalogue changes only when nodes or models are installed."""
    return CatalogCache(ttl_s=CATALOG_TTL_S)


def model_folder(class_type: str, input_name: str, value: object) -> str | None:
    """The models/ subfolder when `class_type.input_name` loads a model file, else None;
    other loaders are recognised by the model file name they are given."""
    if not isinstance(value, str):
        return None
    folder = LOADER_FOLDERS.get((class_type, input_name))
    if folder is None and value.lower().endswith(MODEL_EXTENSIONS):
        folder = "models"
    return folder


def types_compatible(output_type: str, input_type: str) -> bool:
    """Whether a link from an output of one type may feed an input of another, as ComfyUI
    judges it: "*" matches anything, and "A,B" lists alternatives on either side."""
    if output_type == input_type or "*" in (output_type, input_type):
        return True
    if "COMBO" in (output_type, input_type):
        # A combo widget may be fed by a primitive or another node's combo list output.
        return {output_type, input_type} <= {"COMBO", "STRING"}
    outs = {t.strip() for t in output_type.split(",")}
    ins = {t.strip() for t in input_type.split(",")}
    return bool(outs & ins)

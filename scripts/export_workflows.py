"""Regenerates the shipped ComfyUI workflow graphs from the official workflow templates.

    .venv/bin/python scripts/export_workflows.py          # rewrite the graph files
    .venv/bin/python scripts/export_workflows.py --check  # exit 1 if any file would change
    .venv/bin/python scripts/export_workflows.py --show   # also print bindings and models

Each recipe converts one template (comfyui-workflow-templates-json, a dev dependency) with
i2v's own converter, folds its constant helper nodes so ComfyUI 0.3.64 can run it, drops
what no output needs, applies a few documented edits, and adds empty LoRA slots.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from i2v.backends.comfyui.bindings import detect_bindings
from i2v.backends.comfyui.catalog import NodeCatalog
from i2v.backends.comfyui.convert import activate_nodes, ui_to_api
from i2v.backends.comfyui.fold import fold_constants, prune
from i2v.backends.comfyui.graph import ApiGraph, ApiNode, Link
from i2v.backends.comfyui.workflows.library import extended_catalog

TEMPLATES_PACKAGE = "comfyui-workflow-templates-json"
TEMPLATES_VERSION = "0.1.123"  # the version the shipped files were exported from
OUT_DIR = Path(__file__).resolve().parents[1] / "src/i2v/backends/comfyui/workflows"
EMPTY_LORA = ""  # an empty slot is spliced out by Workflow.fill before anything is sent

UiTweak = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Recipe:
    name: str
    version: int
    template: str
    activate: tuple[int, ...] = ()  # template nodes shipped bypassed that i2v needs
    tweak: UiTweak | None = None  # edits to the UI workflow before converting
    set_inputs: tuple[tuple[str, str, object], ...] = ()  # (node, input, value) afterwards
    lora_slots: tuple[tuple[str, str], ...] = ()  # (new node id, id of the model loader)
    notes: tuple[str, ...] = field(default=())

    @property
    def file_name(self) -> str:
        return f"{self.name}.v{self.version}.json"


def _turbo_on(ui: dict[str, Any]) -> None:
    # The 14B template's subgraph takes "enable_turbo_mode" as its last promoted widget:
    # on, it chains the lightx2v 4-step LoRAs and runs 4 steps at cfg 1, split at step 2.
    (instance,) = [n for n in ui["nodes"] if n["id"] == 129]
    instance["widgets_values"][-1] = True


# The Wan 2.2 14B pair: the high-noise model denoises steps 0..split, the low-noise model the
# rest. The template ends the second sampler at its own step count; 10000 means "to the end",
# so changing `steps` keeps the second half whole.
_WAN14_LOW_TO_END = ("129:85", "end_at_step", 10000)

RECIPES: tuple[Recipe, ...] = (
    Recipe(
        "wan22_ti2v_5b",
        1,
        "video_wan2_2_5B_ti2v",
        activate=(56,),  # the template ships its LoadImage bypassed (text to video)
        lora_slots=(("1001", "37"),),
    ),
    Recipe(
        "wan22_i2v_14b",
        1,
        "video_wan2_2_14B_i2v",
        set_inputs=(_WAN14_LOW_TO_END,),
        lora_slots=(("1001", "129:95"), ("1002", "129:96")),
    ),
    Recipe(
        "wan22_i2v_14b_lightning",
        1,
        "video_wan2_2_14B_i2v",
        tweak=_turbo_on,
        set_inputs=(_WAN14_LOW_TO_END,),
        lora_slots=(("1001", "129:95"), ("1002", "129:96")),
    ),
    Recipe(
        "ltxv_i2v",
        1,
        "ltxv_image_to_video",
        # The template conditions on 25 fps but writes 24; the fps binding sets both.
        set_inputs=(("69", "frame_rate", 24.0),),
        lora_slots=(("1001", "44"),),
    ),
    Recipe(
        "hunyuan15_i2v",
        1,
        "video_hunyuan_video_1.5_720p_i2v",
        lora_slots=(("1001", "12"),),
    ),
)


def templates_version() -> str | None:
    try:
        return metadata.version(TEMPLATES_PACKAGE)
    except metadata.PackageNotFoundError:
        return None


def load_template(name: str) -> dict[str, Any]:
    root = resources.files("comfyui_workflow_templates_json") / "templates"
    data: dict[str, Any] = json.loads((root / f"{name}.json").read_text(encoding="utf-8"))
    return data


def _id_key(node_id: str) -> tuple[int | str, ...]:
    return tuple(int(p) if p.isdigit() else p for p in node_id.split(":"))


def _insert_lora_slot(graph: ApiGraph, slot_id: str, loader_id: str) -> ApiGraph:
    source = Link(loader_id, 0)
    if not graph.consumers(loader_id, 0):
        raise SystemExit(f"LoRA slot {slot_id}: nothing uses the MODEL of node {loader_id}")
    slot = ApiNode(
        "LoraLoaderModelOnly",
        {"lora_name": EMPTY_LORA, "strength_model": 1.0, "model": source},
        "LoRA slot",
    )
    return graph.replace_source(source, Link(slot_id, 0)).with_node(slot_id, slot)


def _video_output(graph: ApiGraph, name: str) -> ApiGraph:
    saves = [k for k, n in graph.nodes.items() if n.class_type == "SaveVideo"]
    if len(saves) != 1:
        raise SystemExit(f"{name}: expected one SaveVideo, found {len(saves)}")
    (save,) = saves
    video = graph.nodes[save].inputs.get("video")
    if not isinstance(video, Link) or graph.nodes[video.node_id].class_type != "CreateVideo":
        raise SystemExit(f"{name}: SaveVideo is not fed by CreateVideo")
    for key, value in (("filename_prefix", f"i2v/{name}"), ("format", "mp4"), ("codec", "h264")):
        graph = graph.with_input(save, key, value)
    return graph


def export(recipe: Recipe, catalog: NodeCatalog) -> ApiGraph:
    ui = load_template(recipe.template)
    if recipe.activate:
        ui = activate_nodes(ui, recipe.activate)
    if recipe.tweak is not None:
        recipe.tweak(ui)
    graph = prune(fold_constants(ui_to_api(ui, catalog)), catalog)
    graph = _video_output(graph, recipe.name)
    for node_id, input_name, value in recipe.set_inputs:
        if input_name not in graph.node(node_id).inputs:
            raise SystemExit(f"{recipe.name}: node {node_id} has no input {input_name}")
        assert isinstance(value, str | int | float | bool)
        graph = graph.with_input(node_id, input_name, value)
    for slot_id, loader_id in recipe.lora_slots:
        graph = _insert_lora_slot(graph, slot_id, loader_id)
    return ApiGraph({k: graph.nodes[k] for k in sorted(graph.nodes, key=_id_key)})


def render(graph: ApiGraph) -> str:
    return json.dumps(graph.to_json(), indent=2, ensure_ascii=False) + "\n"


def template_models(recipe: Recipe, graph: ApiGraph) -> Iterator[Mapping[str, Any]]:
    """The templates' own model entries (name, url, directory) for files the graph loads."""
    ui = load_template(recipe.template)
    subgraphs = (ui.get("definitions") or {}).get("subgraphs") or []
    nodes = list(ui["nodes"]) + [n for s in subgraphs for n in s["nodes"]]
    used = {v for n in graph.nodes.values() for v in n.inputs.values() if isinstance(v, str)}
    seen = set()
    for node in nodes:
        for model in (node.get("properties") or {}).get("models") or []:
            if model["name"] in used and model["name"] not in seen:
                seen.add(model["name"])
                yield model


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    parser.add_argument("--show", action="store_true", help="print bindings and models")
    args = parser.parse_args(argv)
    if templates_version() != TEMPLATES_VERSION:
        print(
            f"warning: {TEMPLATES_PACKAGE} is {templates_version()}, "
            f"the shipped files come from {TEMPLATES_VERSION}",
            file=sys.stderr,
        )
    catalog = extended_catalog()
    stale = []
    for recipe in RECIPES:
        graph = export(recipe, catalog)
        text = render(graph)
        path = OUT_DIR / recipe.file_name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
        print(f"{recipe.file_name}: {len(graph.nodes)} nodes")
        if args.show:
            for param, bindings in detect_bindings(graph, catalog).items():
                print(f"  {param}: {', '.join(f'{b.node_id}.{b.input_name}' for b in bindings)}")
            for model in template_models(recipe, graph):
                print(f"  model {model['directory']}/{model['name']} {model['url']}")
    if stale:
        print(f"out of date: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""UI -> API conversion on the official templates and on hand-made graphs; binding detection.

Each conversion rule has a small case: widget order, reroutes, primitives, notes, mute,
bypass and subgraphs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from i2v.backends.comfyui.catalog import NodeCatalog
from i2v.backends.comfyui.convert import (
    activate_nodes,
    apply_overrides,
    detect_bindings,
    is_api_format,
    parse_overrides,
    ui_to_api,
)
from i2v.backends.comfyui.fold import evaluate, fold_constants, prune
from i2v.backends.comfyui.graph import ApiGraph, ApiNode, Link
from i2v.backends.comfyui.manifest import Binding
from i2v.backends.comfyui.validate import graph_errors, model_errors
from i2v.backends.comfyui.workflows import library
from i2v.errors import InvalidParameter, NodeError, WorkflowInvalid

OBJECT_INFO = Path(__file__).parents[1] / "data" / "comfyui" / "object_info.json"
CORE_PARAMS = {"image", "positive", "negative", "seed", "width", "height", "length", "fps"}
# Template nodes shipped bypassed that an image-to-video run needs.
ACTIVATE = {"video_wan2_2_5B_ti2v": (56,)}
I2V_TEMPLATES = (
    "video_wan2_2_5B_ti2v",
    "video_wan2_2_14B_i2v",
    "ltxv_image_to_video",
    "image_to_video_wan",
    "video_wan2_2_14B_flf2v",
    "wan2.1_flf2v_720_f16",
    "video_wan2_2_5B_fun_inpaint",
    "video_wan2_2_14B_fun_inpaint",
    "wan2.1_fun_inp",
)
# Newer templates than the recorded server: only option lists and output counts differ.
VERSION_DRIFT = {"value_not_in_list", "output_index_out_of_range"}

Json = dict[str, Any]


@cache
def recorded() -> NodeCatalog:
    return NodeCatalog.load(OBJECT_INFO)


def extended() -> NodeCatalog:
    return library.extended_catalog()


def template_names() -> list[str]:
    try:
        root = resources.files("comfyui_workflow_templates_json") / "templates"
    except ModuleNotFoundError:
        return []
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".json"))


def template(name: str) -> Json:
    pytest.importorskip("comfyui_workflow_templates_json")
    root = resources.files("comfyui_workflow_templates_json") / "templates"
    data: Json = json.loads((root / f"{name}.json").read_text(encoding="utf-8"))
    return activate_nodes(data, ACTIVATE[name]) if name in ACTIVATE else data


def convert(name: str) -> ApiGraph:
    catalog = extended()
    return prune(fold_constants(ui_to_api(template(name), catalog)), catalog)


def non_model_errors(graph: ApiGraph) -> list[NodeError]:
    errors = graph_errors(graph, recorded(), server=None)
    models = model_errors(errors)
    return [e for e in errors if e not in models]


# -- the official templates ---------------------------------------------------------------


@pytest.mark.parametrize("name", I2V_TEMPLATES)
def test_i2v_templates_convert_and_validate(name: str) -> None:
    graph = convert(name)
    assert non_model_errors(graph) == []
    errors = graph_errors(graph, recorded(), server="gpu-1")
    assert errors, "the recorded server has no models, so every loader is refused"
    assert all("is not installed on gpu-1" in e.message for e in errors)
    classes = {n.class_type for n in graph.nodes.values()}
    assert {"LoadImage", "CreateVideo", "SaveVideo"} <= classes
    bindings = detect_bindings(graph, extended())
    assert set(bindings) >= CORE_PARAMS
    assert all(len(bindings[p]) == 1 for p in ("image", "positive", "negative", "width"))


def test_templates_whose_nodes_all_exist_convert_cleanly() -> None:
    """Every template the recorded catalogue can describe converts with its widget values
    where the server expects them: no type, range, missing-input or link errors."""
    pytest.importorskip("comfyui_workflow_templates_json")
    known = extended().classes() | {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
    newer = extended().classes() - recorded().classes()
    converted = 0
    for name in template_names():
        ui = template(name)
        if not isinstance(ui, dict) or "nodes" not in ui:
            continue  # the package's index files
        subgraphs = ui.get("definitions", {}).get("subgraphs", [])
        ids = {s["id"] for s in subgraphs}
        types = {n["type"] for n in ui["nodes"]} | {
            n["type"] for s in subgraphs for n in s["nodes"]
        }
        if not types - ids <= known:
            continue
        graph = prune(fold_constants(ui_to_api(ui, extended())), extended())
        drift = [
            e
            for e in non_model_errors(graph)
            if e.kind not in VERSION_DRIFT and e.class_type not in newer
        ]
        assert drift == [], name
        converted += 1
    assert converted >= 100


def test_wan_14b_expands_its_subgraph_and_needs_folding_for_0_3_64() -> None:
    raw = ui_to_api(template("video_wan2_2_14B_i2v"), extended())
    # Inner nodes get "<outer>:<inner>" ids; the subgraph's promoted widgets fill them.
    assert raw.nodes["129:98"].inputs["width"] == 640
    assert raw.nodes["129:98"].inputs["start_image"] == Link("97", 0)
    assert raw.nodes["108"].inputs["video"] == Link("129:94", 0)
    missing = {e.class_type for e in non_model_errors(raw) if e.kind == "missing_node_type"}
    assert missing == {"ComfySwitchNode", "ComfyMathExpression"}
    folded = prune(fold_constants(raw), extended())
    assert non_model_errors(folded) == []
    assert folded.nodes["129:98"].inputs["length"] == 81  # floor(5 s * 16 fps + 1)
    assert {n.class_type for n in folded.nodes.values()}.isdisjoint(
        {"ComfySwitchNode", "ComfyMathExpression", "PrimitiveInt", "LoraLoaderModelOnly"}
    )


def test_the_5b_template_is_text_to_video_until_its_load_image_is_enabled() -> None:
    pytest.importorskip("comfyui_workflow_templates_json")
    root = resources.files("comfyui_workflow_templates_json") / "templates"
    ui = json.loads((root / "video_wan2_2_5B_ti2v.json").read_text(encoding="utf-8"))
    graph = ui_to_api(ui, recorded())
    assert "56" not in graph.nodes  # bypassed LoadImage: gone, and nothing passes through
    assert "start_image" not in graph.nodes["55"].inputs
    assert "image" not in detect_bindings(graph, recorded())
    with pytest.raises(KeyError, match="999"):
        activate_nodes(ui, (56, 999))


def test_hunyuan_15_needs_the_newer_node_definitions() -> None:
    ui = template("video_hunyuan_video_1.5_720p_i2v")
    with pytest.raises(WorkflowInvalid, match="HunyuanVideo15ImageToVideo") as caught:
        ui_to_api(ui, recorded())
    assert {e.class_type for e in caught.value.node_errors} == {"HunyuanVideo15ImageToVideo"}
    graph = convert("video_hunyuan_video_1.5_720p_i2v")
    # The bypassed super-resolution stage is gone; EasyCache (bypassed) passes the model on.
    assert graph.nodes["126"].inputs["model"] == Link("12", 0)
    missing = {e.class_type for e in non_model_errors(graph) if e.kind == "missing_node_type"}
    assert missing == {"HunyuanVideo15ImageToVideo"}
    assert set(detect_bindings(graph, extended())) >= CORE_PARAMS


def test_api_format_is_accepted_unchanged() -> None:
    api = {"1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}}}
    assert is_api_format(api)
    assert ui_to_api(api, recorded()).to_json() == api
    with pytest.raises(WorkflowInvalid, match="not a ComfyUI workflow"):
        ui_to_api({"hello": 1}, recorded())


# -- hand-made UI graphs ------------------------------------------------------------------


def slot(name: str, kind: str, link: int | None = None, *, widget: bool = False) -> Json:
    out: Json = {"name": name, "type": kind, "link": link}
    if widget:
        out["widget"] = {"name": name}
    return out


def node(
    node_id: int,
    kind: str,
    *,
    widgets: Sequence[object] | None = None,
    inputs: Sequence[Json] = (),
    outputs: Sequence[tuple[str, str]] = (),
    mode: int = 0,
) -> Json:
    return {
        "id": node_id,
        "type": kind,
        "mode": mode,
        "inputs": list(inputs),
        "outputs": [{"name": n, "type": t, "links": []} for n, t in outputs],
        "widgets_values": list(widgets) if widgets is not None else None,
    }


def ui(nodes: Sequence[Json], links: Sequence[Sequence[object]], **extra: object) -> Json:
    return {"nodes": list(nodes), "links": [list(x) for x in links], "version": 0.4, **extra}


def image_chain(middle: Json, *, links: Sequence[Sequence[object]]) -> Json:
    """LoadImage(1) -> <middle nodes> -> CreateVideo(5) -> SaveVideo(6)."""
    return ui(
        [
            node(1, "LoadImage", widgets=["pic.png", "image"], outputs=[("IMAGE", "IMAGE")]),
            *middle["nodes"],
            node(5, "CreateVideo", widgets=[24], inputs=[slot("images", "IMAGE", 50)]),
            node(6, "SaveVideo", widgets=["v", "mp4", "h264"], inputs=[slot("video", "VIDEO", 60)]),
        ],
        [*links, [60, 5, 0, 6, 0, "VIDEO"]],
    )


def scale(node_id: int, link: int, *, mode: int = 0, width_link: int | None = None) -> Json:
    return node(
        node_id,
        "ImageScale",
        widgets=["nearest-exact", 512, 512, "disabled"],
        inputs=[slot("image", "IMAGE", link), slot("width", "INT", width_link, widget=True)],
        outputs=[("IMAGE", "IMAGE")],
        mode=mode,
    )


def test_widget_values_follow_the_catalogue_with_control_and_upload_values() -> None:
    graph = ui_to_api(
        ui(
            [
                node(1, "LoadImage", widgets=["pic.png", "image"]),
                node(3, "KSampler", widgets=[123, "randomize", 20, 7.5, "euler", "normal", 1.0]),
                node(9, "Note", widgets=["a note"]),
                node(10, "MarkdownNote", widgets=["# notes"]),
            ],
            [],
        ),
        recorded(),
    )
    assert graph.nodes["1"].inputs == {"image": "pic.png"}
    assert graph.nodes["3"].inputs == {
        "seed": 123,
        "steps": 20,
        "cfg": 7.5,
        "sampler_name": "euler",
        "scheduler": "normal",
        "denoise": 1.0,
    }
    assert set(graph.nodes) == {"1", "3"}  # notes dropped


def test_reroute_chains_are_followed() -> None:
    reroutes = {
        "nodes": [
            node(2, "Reroute", inputs=[slot("", "*", 20)], outputs=[("", "IMAGE")]),
            node(3, "Reroute", inputs=[slot("", "*", 30)], outputs=[("", "IMAGE")]),
            scale(4, 40),
        ]
    }
    links = [[20, 1, 0, 2, 0, "IMAGE"], [30, 2, 0, 3, 0, "IMAGE"], [40, 3, 0, 4, 0, "IMAGE"]]
    graph = ui_to_api(image_chain(reroutes, links=[*links, [50, 4, 0, 5, 0, "IMAGE"]]), recorded())
    assert graph.nodes["4"].inputs["image"] == Link("1", 0)
    assert "2" not in graph.nodes
    assert "3" not in graph.nodes
    assert non_model_errors(graph) == []


def test_primitive_node_values_are_inlined_into_converted_widgets() -> None:
    primitive = node(7, "PrimitiveNode", widgets=[640, "fixed"], outputs=[("INT", "INT")])
    middle = {"nodes": [primitive, scale(4, 40, width_link=70)]}
    links = [[40, 1, 0, 4, 0, "IMAGE"], [70, 7, 0, 4, 1, "INT"], [50, 4, 0, 5, 0, "IMAGE"]]
    graph = ui_to_api(image_chain(middle, links=links), recorded())
    assert graph.nodes["4"].inputs["width"] == 640  # the primitive's, not the widget's 512
    assert graph.nodes["4"].inputs["height"] == 512
    assert "7" not in graph.nodes


def test_muted_nodes_are_dropped_with_their_links() -> None:
    middle = {"nodes": [scale(4, 40, mode=2)]}
    links = [[40, 1, 0, 4, 0, "IMAGE"], [50, 4, 0, 5, 0, "IMAGE"]]
    graph = ui_to_api(image_chain(middle, links=links), recorded())
    assert "4" not in graph.nodes
    assert "images" not in graph.nodes["5"].inputs
    (error,) = non_model_errors(graph)
    assert (error.node_id, error.kind, error.input_name) == (
        "5",
        "required_input_missing",
        "images",
    )


def test_bypassed_nodes_pass_an_input_of_the_same_type_through() -> None:
    middle = {"nodes": [scale(4, 40, mode=4)]}
    links = [[40, 1, 0, 4, 0, "IMAGE"], [50, 4, 0, 5, 0, "IMAGE"]]
    graph = ui_to_api(image_chain(middle, links=links), recorded())
    assert "4" not in graph.nodes
    assert graph.nodes["5"].inputs["images"] == Link("1", 0)


def test_bypass_prefers_the_same_slot_else_the_first_input_of_the_type() -> None:
    nodes = [
        node(1, "CheckpointLoaderSimple", widgets=["m.safetensors"]),
        node(
            2,
            "SomeCustomPatch",
            mode=4,
            inputs=[slot("clip", "CLIP", 21), slot("model", "MODEL", 22)],
            outputs=[("MODEL", "MODEL"), ("CLIP", "CLIP")],
        ),
        node(3, "ModelSamplingSD3", widgets=[5.0], inputs=[slot("model", "MODEL", 30)]),
        node(4, "CLIPTextEncode", widgets=["hi"], inputs=[slot("clip", "CLIP", 40)]),
    ]
    links = [
        [21, 1, 1, 2, 0, "CLIP"],
        [22, 1, 0, 2, 1, "MODEL"],
        [30, 2, 0, 3, 0, "MODEL"],
        [40, 2, 1, 4, 0, "CLIP"],
    ]
    graph = ui_to_api(ui(nodes, links), recorded())
    assert graph.nodes["3"].inputs["model"] == Link("1", 0)  # slot 0 is CLIP: first MODEL input
    assert graph.nodes["4"].inputs["clip"] == Link("1", 1)  # slot 1 is MODEL: first CLIP input


def subgraph_definition(inner: Sequence[Json], links: Sequence[Json], sg_id: str) -> Json:
    return {
        "id": sg_id,
        "name": "scale and encode",
        "inputs": [
            {"name": "image", "type": "IMAGE", "linkIds": [101]},
            {"name": "width", "type": "INT", "linkIds": [102]},
        ],
        "outputs": [{"name": "VIDEO", "type": "VIDEO", "linkIds": [104]}],
        "nodes": list(inner),
        "links": list(links),
    }


def sg_link(link_id: int, origin: int, o_slot: int, target: int, t_slot: int) -> Json:
    return {
        "id": link_id,
        "origin_id": origin,
        "origin_slot": o_slot,
        "target_id": target,
        "target_slot": t_slot,
        "type": "*",
    }


SG = "11111111-2222-3333-4444-555555555555"


def subgraph_workflow(*, promoted: Sequence[object] | None, nested: bool = False) -> Json:
    inner = [
        scale(1, 101, width_link=102),
        node(2, "CreateVideo", widgets=[16], inputs=[slot("images", "IMAGE", 103)]),
    ]
    links = [
        sg_link(101, -10, 0, 1, 0),
        sg_link(102, -10, 1, 1, 1),
        sg_link(103, 1, 0, 2, 0),
        sg_link(104, 2, 0, -20, 0),
    ]
    definitions = [subgraph_definition(inner, links, SG)]
    instance_type = SG
    if nested:  # an outer subgraph that only wraps the first one
        wrapper = subgraph_definition(
            [
                {
                    **node(7, SG, inputs=[slot("image", "IMAGE", 101)]),
                    "widgets_values": [320],
                }
            ],
            [sg_link(101, -10, 0, 7, 0), sg_link(104, 7, 0, -20, 0)],
            "wrapper",
        )
        wrapper["inputs"] = [wrapper["inputs"][0]]
        definitions.append(wrapper)
        instance_type = "wrapper"
    instance = node(
        20,
        instance_type,
        inputs=[slot("image", "IMAGE", 10)],
        outputs=[("VIDEO", "VIDEO")],
        widgets=promoted,
    )
    return ui(
        [
            node(1, "LoadImage", widgets=["pic.png", "image"]),
            instance,
            node(
                30, "SaveVideo", widgets=["v", "mp4", "h264"], inputs=[slot("video", "VIDEO", 11)]
            ),
        ],
        [[10, 1, 0, 20, 0, "IMAGE"], [11, 20, 0, 30, 0, "VIDEO"]],
        definitions={"subgraphs": definitions},
    )


def test_subgraphs_expand_with_prefixed_ids_and_wired_proxies() -> None:
    graph = ui_to_api(subgraph_workflow(promoted=[384]), recorded())
    assert set(graph.nodes) == {"1", "20:1", "20:2", "30"}
    assert graph.nodes["20:1"].inputs["image"] == Link("1", 0)
    assert graph.nodes["20:1"].inputs["width"] == 384  # the instance's promoted widget
    assert graph.nodes["20:2"].inputs["images"] == Link("20:1", 0)
    assert graph.nodes["30"].inputs["video"] == Link("20:2", 0)
    assert non_model_errors(graph) == []


def test_subgraph_without_promoted_values_keeps_the_inner_widgets() -> None:
    graph = ui_to_api(subgraph_workflow(promoted=None), recorded())
    assert graph.nodes["20:1"].inputs["width"] == 512


def test_nested_subgraphs() -> None:
    graph = ui_to_api(subgraph_workflow(promoted=None, nested=True), recorded())
    assert set(graph.nodes) == {"1", "20:7:1", "20:7:2", "30"}
    assert graph.nodes["20:7:1"].inputs["image"] == Link("1", 0)
    assert graph.nodes["20:7:1"].inputs["width"] == 320
    assert graph.nodes["30"].inputs["video"] == Link("20:7:2", 0)


def test_a_reroute_cycle_is_refused() -> None:
    nodes = [
        node(2, "Reroute", inputs=[slot("", "*", 30)], outputs=[("", "*")]),
        node(3, "Reroute", inputs=[slot("", "*", 20)], outputs=[("", "*")]),
        node(4, "PreviewImage", inputs=[slot("images", "IMAGE", 40)]),
    ]
    links = [[20, 2, 0, 3, 0, "*"], [30, 3, 0, 2, 0, "*"], [40, 3, 0, 4, 0, "IMAGE"]]
    with pytest.raises(WorkflowInvalid, match="cycle"):
        ui_to_api(ui(nodes, links), recorded())


def test_nodes_the_catalogue_lacks_keep_their_links_only_without_widgets() -> None:
    nodes = [
        node(1, "LoadImage", widgets=["pic.png", "image"]),
        node(2, "CustomImageOp", inputs=[slot("image", "IMAGE", 20)]),
    ]
    graph = ui_to_api(ui(nodes, [[20, 1, 0, 2, 0, "IMAGE"]]), recorded())
    assert graph.nodes["2"] == ApiNode("CustomImageOp", {"image": Link("1", 0)})
    nodes[1]["widgets_values"] = [3]
    with pytest.raises(WorkflowInvalid, match="CustomImageOp"):
        ui_to_api(ui(nodes, [[20, 1, 0, 2, 0, "IMAGE"]]), recorded())


# -- bindings ------------------------------------------------------------------------------


def test_the_start_frame_is_the_image_of_a_first_last_frame_workflow() -> None:
    graph = convert("video_wan2_2_14B_flf2v")
    (image,) = detect_bindings(graph, extended())["image"]
    (consumer,) = [n for n in graph.nodes.values() if n.class_type == "WanFirstLastFrameToVideo"]
    assert consumer.inputs["start_image"] == Link(image.node_id, 0)


def test_an_encoder_feeding_both_prompts_binds_neither() -> None:
    graph = ApiGraph(
        {
            "1": ApiNode("CLIPTextEncode", {"text": "x", "clip": Link("9", 0)}),
            "2": ApiNode(
                "KSampler",
                {"seed": 1, "positive": Link("1", 0), "negative": Link("1", 0)},
            ),
        }
    )
    bindings = detect_bindings(graph, recorded())
    assert "positive" not in bindings
    assert "negative" not in bindings
    assert bindings["seed"] == (Binding("2", "seed"),)


def test_overrides_replace_bindings() -> None:
    graph = convert("image_to_video_wan")
    bindings = detect_bindings(graph, extended())
    overrides = parse_overrides(["seed=3.seed", "seed=3.steps", "fps=55.fps"])
    assert overrides == {"seed": "3.seed,3.steps", "fps": "55.fps"}
    result = apply_overrides(bindings, overrides, graph, catalog=extended())
    assert result["seed"] == (Binding("3", "seed"), Binding("3", "steps"))
    assert result["image"] == bindings["image"]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("colour=3.seed", "unknown parameter 'colour'; known: image, positive"),
        ("seed=3seed", "seed=3seed: expected node_id.input_name"),
        ("seed=99.seed", "the workflow has no node '99'"),
        ("seed=3.sed", "node 3 (KSampler) has no input 'sed'; it has cfg, denoise"),
        ("seed=3.model", "3.model is linked from node 54; bind the input that holds the value"),
    ],
)
def test_bad_overrides_say_precisely_what_is_wrong(item: str, message: str) -> None:
    graph = convert("image_to_video_wan")
    with pytest.raises(InvalidParameter, match=message.replace("(", r"\(").replace(")", r"\)")):
        apply_overrides({}, parse_overrides([item]), graph, catalog=extended())
    with pytest.raises(InvalidParameter, match=r"expected param=node_id\.input_name"):
        parse_overrides(["seed"])


# -- folding --------------------------------------------------------------------------------


def test_math_expressions_are_evaluated_safely() -> None:
    assert evaluate("floor (a * b + 1)", {"a": 5, "b": 16}) == 81
    assert evaluate("max(a, 2) ** 2 - -1", {"a": 1}) == 5
    with pytest.raises(WorkflowInvalid, match="unknown name 'c'"):
        evaluate("a + c", {"a": 1})
    with pytest.raises(WorkflowInvalid, match="cannot fold"):
        evaluate("__import__('os')", {})
    with pytest.raises(WorkflowInvalid, match="exponent too large"):
        evaluate("2 ** 1000", {})


def test_switches_fold_to_the_chosen_branch_and_prune_drops_the_other() -> None:
    graph = ApiGraph(
        {
            "1": ApiNode("PrimitiveBoolean", {"value": False}),
            "2": ApiNode("PrimitiveInt", {"value": 4}),
            "3": ApiNode("PrimitiveInt", {"value": 20}),
            "4": ApiNode("ComfySwitchNode", {"switch": Link("1", 0), "on_true": Link("2", 0)}),
            "5": ApiNode("ComfySwitchNode", {"switch": Link("1", 0), "on_false": Link("3", 0)}),
            "6": ApiNode("KSampler", {"steps": Link("5", 0), "seed": Link("4", 0)}),
            "7": ApiNode("SaveVideo", {"video": Link("8", 0)}),
            "8": ApiNode("CreateVideo", {"fps": 24.0}),
        }
    )
    folded = fold_constants(graph)
    assert set(folded.nodes) == {"6", "7", "8"}
    assert folded.nodes["6"].inputs == {"steps": 20}  # the unchosen branch feeds nothing
    assert set(prune(folded, recorded()).nodes) == {"7", "8"}  # nothing uses the sampler

"""The shipped workflow library: manifests, filling, parameter rules, validation and the CLI.

Also the API graph type, and that the export script reproduces the shipped graphs.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from i2v.backends.comfyui.bindings import detect_bindings
from i2v.backends.comfyui.catalog import NodeCatalog
from i2v.backends.comfyui.graph import ApiGraph, ApiNode, Link
from i2v.backends.comfyui.manifest import (
    PARAMS,
    REQUIRED_PARAMS,
    LoraChoice,
    Workflow,
    WorkflowParams,
)
from i2v.backends.comfyui.validate import check_graph, graph_errors, model_errors
from i2v.backends.comfyui.workflows import library
from i2v.cli.workflows import workflows_app
from i2v.errors import InvalidParameter, NotFound, WorkflowInvalid

ROOT = Path(__file__).parents[2]
OBJECT_INFO = ROOT / "tests" / "data" / "comfyui" / "object_info.json"
SHIPPED = ("hunyuan15_i2v", "ltxv_i2v", "wan22_i2v_14b", "wan22_i2v_14b_lightning", "wan22_ti2v_5b")


@cache
def recorded() -> NodeCatalog:
    return NodeCatalog.load(OBJECT_INFO)


def custom_params(workflow: Workflow) -> WorkflowParams:
    """Values unlike every template default, valid for every shipped workflow."""
    m = workflow.manifest
    return WorkflowParams(
        image_name="job-42.png",
        positive="a cat walks across the frame",
        negative="blurry",
        seed=4242,
        width=768 if m.side_multiple <= 32 else m.side_multiple * 24,
        height=512,
        length=m.length_multiple * 6 + m.length_offset,
        fps=m.native_fps,
        steps=m.min_steps + 3,
        cfg=2.5,
    )


# -- the library ---------------------------------------------------------------------------


def test_the_library_lists_every_shipped_workflow() -> None:
    assert [m.name for m in library.list_workflows()] == list(SHIPPED)
    assert set(library.WORKFLOWS) == set(SHIPPED)
    assert library.get_workflow("ltxv_i2v.v1").manifest.name == "ltxv_i2v"


@pytest.mark.parametrize("name", ["nope", "ltxv_i2v.v2"])
def test_unknown_workflows_are_not_found(name: str) -> None:
    with pytest.raises(NotFound, match=rf"unknown workflow '{re.escape(name)}'; known: .*ltxv_i2v"):
        library.get_workflow(name)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_graphs_end_in_an_mp4_and_match_their_manifest(name: str) -> None:
    workflow = library.get_workflow(name)
    m, graph = workflow.manifest, workflow.graph
    saves = [n for n in graph.nodes.values() if n.class_type == "SaveVideo"]
    assert len(saves) == 1
    (save,) = saves
    assert save.inputs["format"] == "mp4"
    assert save.inputs["codec"] == "h264"
    video = save.inputs["video"]
    assert isinstance(video, Link)
    assert graph.nodes[video.node_id].class_type == "CreateVideo"
    assert set(REQUIRED_PARAMS) <= set(m.bindings)
    assert set(m.bindings) <= set(PARAMS)
    for bindings in m.bindings.values():
        for b in bindings:
            value = graph.node(b.node_id).inputs[b.input_name]
            assert not isinstance(value, Link), b
    # The manifest's bindings are exactly what detection finds in the exported graph.
    detected = detect_bindings(graph, library.extended_catalog())
    assert {p: set(b) for p, b in detected.items()} == {p: set(b) for p, b in m.bindings.items()}
    for slot in m.lora_slots.values():
        assert graph.node(slot.node_id).class_type == "LoraLoaderModelOnly"
    loaded = {v for n in graph.nodes.values() for v in n.inputs.values() if isinstance(v, str)}
    for model in m.models:
        assert model.name in loaded
        assert model.url.startswith("https://")
        assert model.url.endswith(model.name)
    assert m.key == f"{name}.v1"


@pytest.mark.parametrize("name", SHIPPED)
def test_fill_applies_every_binding_and_validates(name: str) -> None:
    workflow = library.get_workflow(name)
    params = custom_params(workflow)
    graph = workflow.fill(params)
    for param, bindings in workflow.manifest.bindings.items():
        expected = params.value(param)  # type: ignore[arg-type]
        for b in bindings:
            assert graph.node(b.node_id).inputs[b.input_name] == expected, (param, b)
    # The original is unchanged: graphs are immutable.
    assert workflow.graph.node(workflow.manifest.bindings["seed"][0].node_id) != graph.node(
        workflow.manifest.bindings["seed"][0].node_id
    )
    # Unused LoRA slots are spliced out, and nothing links to them any more.
    for slot in workflow.manifest.lora_slots.values():
        assert slot.node_id not in graph.nodes
    assert not [link for _, _, link in graph.links() if link.node_id not in graph.nodes]
    errors = graph_errors(graph, recorded(), server="gpu-1")
    rest = [e for e in errors if e not in model_errors(errors)]
    if workflow.manifest.requires_nodes:
        missing = {e.class_type for e in rest if e.kind == "missing_node_type"}
        assert missing == set(workflow.manifest.requires_nodes)
        clip_type = [e for e in rest if e.kind != "missing_node_type"]
        assert [(e.class_type, e.input_name, e.received) for e in clip_type] == [
            ("DualCLIPLoader", "type", "hunyuan_video_15")
        ]
    else:
        assert rest == []
        check_graph(graph, recorded(), server="gpu-1", ignore_models=True)


def test_hunyuan_reports_exactly_its_missing_node_classes() -> None:
    workflow = library.get_workflow("hunyuan15_i2v")
    assert workflow.manifest.requires_nodes == ("HunyuanVideo15ImageToVideo",)
    missing = workflow.required_nodes() - recorded().classes()
    assert missing == set(workflow.manifest.requires_nodes)
    with pytest.raises(WorkflowInvalid) as caught:
        check_graph(workflow.fill(workflow.default_params()), recorded(), server="gpu-1")
    messages = [e.message for e in caught.value.node_errors if e.kind == "missing_node_type"]
    assert messages == ["node 78: node class HunyuanVideo15ImageToVideo does not exist on gpu-1"]


def test_fps_goes_in_as_the_type_each_input_takes() -> None:
    workflow = library.get_workflow("ltxv_i2v")
    graph = workflow.fill(dataclasses.replace(workflow.default_params(), fps=30))
    assert graph.node("80").inputs["fps"] == 30
    assert graph.node("69").inputs["frame_rate"] == 30.0
    assert isinstance(graph.node("69").inputs["frame_rate"], float)


def test_lora_slots_take_the_chosen_file() -> None:
    workflow = library.get_workflow("wan22_i2v_14b")
    params = dataclasses.replace(
        workflow.default_params(), loras=(LoraChoice("motion.safetensors", 0.7, "low_noise"),)
    )
    graph = workflow.fill(params)
    assert "1001" not in graph.nodes  # the high-noise slot is unused
    assert graph.node("129:104").inputs["model"] == Link("129:95", 0)
    assert graph.node("1002").inputs == {
        "lora_name": "motion.safetensors",
        "strength_model": 0.7,
        "model": Link("129:96", 0),
    }
    assert graph.node("129:103").inputs["model"] == Link("1002", 0)


def test_default_params_are_the_templates_own() -> None:
    params = library.get_workflow("wan22_ti2v_5b").default_params("in.png")
    assert (params.width, params.height, params.length, params.fps) == (1280, 704, 121, 24)
    assert (params.steps, params.cfg, params.image_name) == (20, 5.0, "in.png")


BAD_PARAMS = [
    ("wan22_ti2v_5b", {"length": 80}, "length", r"frames must be 4k\+1 \(try 77 or 81\)"),
    ("ltxv_i2v", {"length": 100}, "length", r"frames must be 8k\+1 \(try 97 or 105\)"),
    ("wan22_ti2v_5b", {"length": 1}, "length", r"out of range for wan22_ti2v_5b: 5\.\.121"),
    ("wan22_ti2v_5b", {"width": 1000}, "width", r"not a multiple of 32.*try 992 or 1024"),
    ("wan22_i2v_14b", {"height": 1920}, "height", r"height 1920 is out of range.*256\.\.1280"),
    ("wan22_i2v_14b", {"steps": 8}, "steps", r"steps 8 is out of range.*12\.\.1000"),
    ("wan22_ti2v_5b", {"fps": 0}, "fps", r"fps 0 is out of range: 1\.\.120"),
    ("wan22_ti2v_5b", {"seed": -1}, "seed", r"seed -1 is out of range"),
    ("wan22_ti2v_5b", {"cfg": 500.0}, "cfg", r"cfg 500\.0 is out of range"),
    ("wan22_ti2v_5b", {"image_name": " "}, "image", r"image name is empty"),
    (
        "wan22_ti2v_5b",
        {"loras": (LoraChoice("a.safetensors", 1.0, "high_noise"),)},
        "loras",
        r"no LoRA slot 'high_noise' \(slots: main\)",
    ),
    (
        "wan22_i2v_14b",
        {"loras": (LoraChoice("a.safetensors"),)},
        "loras",
        r"no LoRA slot 'main' \(slots: high_noise, low_noise\)",
    ),
    (
        "ltxv_i2v",
        {"loras": (LoraChoice("a.safetensors"), LoraChoice("b.safetensors"))},
        "loras",
        r"slot 'main' is given twice",
    ),
    ("ltxv_i2v", {"loras": (LoraChoice("a.safetensors", 1e9),)}, "loras", "strength"),
]


@pytest.mark.parametrize(("name", "change", "field", "message"), BAD_PARAMS)
def test_bad_params_are_refused_precisely(
    name: str, change: dict[str, object], field: str, message: str
) -> None:
    workflow = library.get_workflow(name)
    params = dataclasses.replace(workflow.default_params(), **change)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match=message) as caught:
        workflow.fill(params)
    assert caught.value.field == field


def test_a_fixed_parameter_cannot_be_set() -> None:
    manifest = library.get_workflow("ltxv_i2v").manifest
    bindings = {k: v for k, v in manifest.bindings.items() if k != "cfg"}
    workflow = Workflow(
        dataclasses.replace(manifest, bindings=bindings), library.get_workflow("ltxv_i2v").graph
    )
    params = dataclasses.replace(workflow.default_params(), cfg=4.0)
    with pytest.raises(InvalidParameter, match="ltxv_i2v has a fixed cfg; leave it unset"):
        workflow.fill(params)
    assert workflow.fill(dataclasses.replace(params, cfg=None)).node("72").inputs["cfg"] == 3


# -- check_graph on hand-made graphs -----------------------------------------------------------


def test_check_graph_lists_every_problem() -> None:
    graph = ApiGraph(
        {
            "1": ApiNode("LoadImage", {"image": "anything.png"}),  # uploads are never checked
            "2": ApiNode("NoSuchNode", {}),
            "3": ApiNode("ImageScale", {"image": Link("1", 0), "width": 64}),
            "4": ApiNode("CreateVideo", {"images": Link("99", 0), "fps": 500}),
            "5": ApiNode("SaveVideo", {"video": Link("1", 1), "filename_prefix": 3}),
            "6": ApiNode("RepeatImageBatch", {"image": Link("1", 7), "amount": 2.5}),
            "7": ApiNode("ImageScale", {"image": Link("1", 0), "upscale_method": "nope"}),
            "8": ApiNode("UNETLoader", {"unet_name": "x.safetensors", "weight_dtype": "default"}),
            "9": ApiNode("SaveVideo", {"video": Link("4", 0), "filename_prefix": "v", "codec": 1}),
            "10": ApiNode("ImageScale", {"image": "not a link", "crop": "center"}),
            "11": ApiNode("RepeatImageBatch", {"image": Link("1", 0), "amount": 0}),
            "12": ApiNode("LoraLoaderModelOnly", {"model": Link("8", 0), "lora_name": True}),
        }
    )
    with pytest.raises(WorkflowInvalid) as caught:
        check_graph(graph, recorded(), server="http://gpu-1:8188")
    errors = {(e.node_id, e.input_name, e.kind) for e in caught.value.node_errors}
    expected = {
        ("2", None, "missing_node_type"),
        ("3", "upscale_method", "required_input_missing"),
        ("3", "height", "required_input_missing"),
        ("4", "images", "link_to_missing_node"),
        ("4", "fps", "value_bigger_than_max"),
        ("5", "video", "return_type_mismatch"),
        ("5", "filename_prefix", "invalid_input_type"),
        ("6", "image", "output_index_out_of_range"),
        ("6", "amount", "invalid_input_type"),
        ("7", "upscale_method", "value_not_in_list"),
        ("8", "unet_name", "value_not_in_list"),
        ("9", "codec", "value_not_in_list"),
        ("10", "image", "invalid_input_type"),
        ("11", "amount", "value_smaller_than_min"),
        ("12", "lora_name", "value_not_in_list"),
    }
    assert expected <= errors
    by_node = {e.node_id: e for e in caught.value.node_errors if e.input_name == "unet_name"}
    assert by_node["8"].message == (
        "node 8 (UNETLoader): model x.safetensors is not installed on http://gpu-1:8188 "
        "(models/diffusion_models)"
    )
    assert str(caught.value).startswith("workflow refused: ")
    assert caught.value.server == "http://gpu-1:8188"
    assert [e.node_id for e in model_errors(caught.value.node_errors)] == ["8"]


def test_a_graph_without_outputs_is_refused() -> None:
    graph = ApiGraph({"1": ApiNode("LoadImage", {"image": "a.png"})})
    with pytest.raises(WorkflowInvalid, match="no output node"):
        check_graph(graph, recorded(), server=None)


# -- the API graph type -----------------------------------------------------------------------


def test_api_graph_round_trips_the_prompt_body() -> None:
    raw = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}, "_meta": {"title": "in"}},
        "2": {"class_type": "ImageFlip", "inputs": {"image": ["1", 0], "flip_method": "x-axis"}},
    }
    graph = ApiGraph.from_json(raw)
    assert graph.nodes["1"].title == "in"
    assert graph.nodes["2"].inputs["image"] == Link("1", 0)
    assert graph.to_json() == raw
    changed = graph.with_input("1", "image", "b.png")
    assert graph.to_json() == raw
    assert changed.nodes["1"].inputs["image"] == "b.png"
    with pytest.raises(KeyError, match="no node '9'"):
        graph.with_input("9", "x", 1)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ({"1": {"inputs": {}}}, "missing_class_type"),
        ({"1": {"class_type": "X", "inputs": []}}, "invalid_inputs"),
        ({"1": {"class_type": "X", "inputs": {"a": {"b": 1}}}}, "invalid_input_type"),
    ],
)
def test_malformed_api_graphs_are_refused(raw: dict[str, object], kind: str) -> None:
    with pytest.raises(WorkflowInvalid) as caught:
        ApiGraph.from_json(raw)
    assert [e.kind for e in caught.value.node_errors] == [kind]


# -- the export script ---------------------------------------------------------------------


def export_script() -> ModuleType:
    path = ROOT / "scripts" / "export_workflows.py"
    spec = importlib.util.spec_from_file_location("export_workflows", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while defined
    spec.loader.exec_module(module)
    return module


def test_the_shipped_graphs_are_what_the_export_script_makes() -> None:
    script = export_script()
    if script.templates_version() != script.TEMPLATES_VERSION:
        pytest.skip(f"templates package is not {script.TEMPLATES_VERSION}")
    assert {r.name for r in script.RECIPES} == set(SHIPPED)
    for recipe in script.RECIPES:
        shipped = (script.OUT_DIR / recipe.file_name).read_text(encoding="utf-8")
        assert script.render(script.export(recipe, library.extended_catalog())) == shipped


# -- the CLI ----------------------------------------------------------------------------------


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(workflows_app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cli_list_and_show() -> None:
    code, out, _ = invoke("list")
    assert code == 0
    assert out.splitlines()[0].split() == ["NAME", "VERSION", "FAMILY", "FPS", "MODELS"]
    assert re.search(r"wan22_i2v_14b +v1 +wan +16 +4 files", out)
    assert "needs ComfyUI >= 0.3.68" in out
    code, out, _ = invoke("show", "wan22_i2v_14b")
    assert code == 0
    assert "seed           129:86.noise_seed (KSamplerAdvanced), 129:85.noise_seed" in out
    assert "high_noise     node 1001" in out
    assert "diffusion_models/wan2.2_i2v_high_noise_14B_fp8_scaled.safetensors" in out
    with pytest.raises(NotFound):
        invoke("show", "nope")


def test_cli_validate(tmp_path: Path) -> None:
    code, out, _ = invoke("validate", "wan22_ti2v_5b")
    assert code == 0
    assert out.strip() == (
        "wan22_ti2v_5b.v1: valid against ComfyUI 0.3.64 (packaged) (model files not checked)"
    )
    code, _, err = invoke("validate", "hunyuan15_i2v")
    assert code == 2
    assert "node class HunyuanVideo15ImageToVideo does not exist" in err
    assert all(line.startswith("i2v: error: hunyuan15_i2v.v1: ") for line in err.splitlines())
    code, _, err = invoke("validate", "ltxv_i2v", "--object-info", str(OBJECT_INFO))
    assert code == 2
    assert "model ltx-video-2b-v0.9.5.safetensors is not installed" in err


def test_cli_import_converts_and_prints_bindings(tmp_path: Path) -> None:
    pytest.importorskip("comfyui_workflow_templates_json")
    from importlib import resources

    source = resources.files("comfyui_workflow_templates_json") / "templates"
    ui = tmp_path / "wf.json"
    ui.write_text((source / "video_wan2_2_14B_i2v.json").read_text(encoding="utf-8"))
    out = tmp_path / "api.json"
    code, stdout, _ = invoke("import", str(ui), "-o", str(out), "--set", "seed=129:86.noise_seed")
    assert code == 0
    assert "seed      129:86.noise_seed (KSamplerAdvanced)\n" in stdout
    assert "length    129:98.length (WanImageToVideo)" in stdout
    graph = ApiGraph.from_json(json.loads(out.read_text()))
    assert "ComfySwitchNode" not in {n.class_type for n in graph.nodes.values()}
    with pytest.raises(InvalidParameter, match="unknown parameter 'colour'"):
        invoke("import", str(ui), "--set", "colour=1.x")

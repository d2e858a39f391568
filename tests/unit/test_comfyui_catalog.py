"""The typed /object_info view, on the catalogue recorded from a real ComfyUI 0.3.64."""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path

import pytest

from i2v.backends.comfyui.catalog import (
    InputSpec,
    NodeCatalog,
    model_folder,
    types_compatible,
)
from i2v.backends.comfyui.workflows import library
from i2v.errors import ConfigError

OBJECT_INFO = Path(__file__).parents[1] / "data" / "comfyui" / "object_info.json"


@cache
def recorded() -> NodeCatalog:
    return NodeCatalog.load(OBJECT_INFO)


def test_the_recorded_catalogue_has_every_node() -> None:
    catalog = recorded()
    assert len(catalog) >= 478  # the stock nodes, plus the recording's TestSlowProgress
    assert catalog.has("KSampler")
    assert not catalog.has("HunyuanVideo15ImageToVideo")


def test_inputs_come_required_then_optional_in_catalogue_order() -> None:
    inputs = recorded().inputs("CreateVideo")
    assert list(inputs) == ["images", "fps", "audio"]
    assert [s.required for s in inputs.values()] == [True, True, False]
    sampler = recorded().inputs("KSampler")
    assert list(sampler)[:4] == ["model", "seed", "steps", "cfg"]


def test_numbers_carry_their_limits_and_the_seed_its_control_widget() -> None:
    seed = recorded().inputs("KSampler")["seed"]
    assert seed == InputSpec(
        "seed",
        "INT",
        True,
        default=0,
        min=0,
        max=18446744073709551615,
        control_after_generate=True,
    )
    cfg = recorded().inputs("KSampler")["cfg"]
    assert (cfg.kind, cfg.min, cfg.max, cfg.step, cfg.default) == ("FLOAT", 0.0, 100.0, 0.1, 8.0)
    assert not cfg.control_after_generate


def test_both_combo_shapes_become_combo_with_options() -> None:
    catalog = recorded()
    # The old shape: [["euler", ...], {...}]
    sampler = catalog.inputs("KSampler")["sampler_name"]
    assert sampler.kind == "COMBO"
    assert sampler.options is not None
    assert "euler" in sampler.options
    # The new shape: ["COMBO", {"options": [...]}]
    assert catalog.combo("SaveVideo", "format") == ("auto", "mp4")
    assert catalog.combo("SaveVideo", "codec") == ("auto", "h264")
    assert catalog.combo("SaveVideo", "filename_prefix") is None
    # A loader with no models installed offers an empty list.
    assert catalog.combo("UNETLoader", "unet_name") == ()


def test_widgets_and_sockets() -> None:
    catalog = recorded()
    inputs = catalog.inputs("KSampler")
    assert inputs["steps"].is_widget
    assert inputs["sampler_name"].is_widget
    assert not inputs["model"].is_widget
    assert not inputs["positive"].is_widget
    forced = [
        spec
        for cls in sorted(catalog.classes())
        for spec in catalog.inputs(cls).values()
        if spec.force_input
    ]
    assert forced, "the recorded catalogue has forceInput inputs"
    assert not any(spec.is_widget for spec in forced)


def test_upload_inputs_are_marked() -> None:
    assert recorded().inputs("LoadImage")["image"].upload == "image"
    assert recorded().inputs("KSampler")["seed"].upload is None


def test_outputs() -> None:
    catalog = recorded()
    assert catalog.output_types("WanImageToVideo") == ("CONDITIONING", "CONDITIONING", "LATENT")
    assert catalog.output_names("WanImageToVideo") == ("positive", "negative", "latent")
    assert catalog.is_output_node("SaveVideo")
    assert not catalog.is_output_node("CreateVideo")
    with pytest.raises(KeyError, match="NoSuchNode"):
        catalog.output_types("NoSuchNode")


def test_the_packaged_catalogue_is_the_recorded_one_and_small() -> None:
    packaged = library.packaged_catalog()
    assert packaged.classes() == recorded().classes()
    for cls in ("KSampler", "LoadImage", "SaveVideo", "WanImageToVideo"):
        assert packaged.inputs(cls) == recorded().inputs(cls)
    gz = Path(library.__file__).with_name(library.PACKAGED_OBJECT_INFO)
    assert gz.stat().st_size < 100_000


def test_the_extended_catalogue_adds_only_newer_nodes() -> None:
    extended = library.extended_catalog()
    added = extended.classes() - recorded().classes()
    assert added == {"HunyuanVideo15ImageToVideo", "ComfySwitchNode", "ComfyMathExpression"}
    hv = extended.inputs("HunyuanVideo15ImageToVideo")
    assert [n for n, s in hv.items() if s.is_widget] == ["width", "height", "length", "batch_size"]


def test_load_reads_gzip_and_reports_bad_files(tmp_path: Path) -> None:
    raw = {"X": {"input": {"required": {"a": ["INT", {"min": 1}]}}, "output": ["INT"]}}
    path = tmp_path / "info.json.gz"
    path.write_bytes(gzip.compress(json.dumps(raw).encode()))
    assert NodeCatalog.load(path).inputs("X")["a"].min == 1
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ConfigError, match="not an object_info JSON"):
        NodeCatalog.load(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        NodeCatalog.load(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="not an object"):
        NodeCatalog.from_json({"X": 3})


def test_merged_keeps_its_own_classes_first() -> None:
    a = NodeCatalog.from_json({"X": {"input": {"required": {"a": ["INT"]}}, "output": []}})
    b = NodeCatalog.from_json(
        {
            "X": {"input": {"required": {"b": ["INT"]}}, "output": []},
            "Y": {"input": {}, "output": []},
        }
    )
    merged = a.merged(b)
    assert merged.classes() == {"X", "Y"}
    assert list(merged.inputs("X")) == ["a"]


@pytest.mark.parametrize(
    ("output", "input_", "ok"),
    [
        ("IMAGE", "IMAGE", True),
        ("MASK", "IMAGE", False),
        ("*", "MODEL", True),
        ("IMAGE", "IMAGE,MASK", True),
        ("FLOAT", "FLOAT,INT,BOOLEAN", True),
        ("LATENT", "IMAGE,MASK", False),
        ("COMBO", "COMBO", True),
        ("STRING", "COMBO", True),
        ("INT", "COMBO", False),
    ],
)
def test_types_compatible(output: str, input_: str, ok: bool) -> None:
    assert types_compatible(output, input_) is ok


def test_model_folders() -> None:
    assert model_folder("UNETLoader", "unet_name", "x.safetensors") == "diffusion_models"
    assert model_folder("CheckpointLoaderSimple", "ckpt_name", "x") == "checkpoints"
    assert model_folder("LatentUpscaleModelLoader", "model_name", "x") == "latent_upscale_models"
    assert model_folder("SomeCustomLoader", "name", "y.gguf") == "models"
    assert model_folder("KSampler", "sampler_name", "euler") is None
    assert model_folder("UNETLoader", "unet_name", 3) is None

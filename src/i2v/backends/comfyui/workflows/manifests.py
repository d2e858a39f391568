"""The manifests of the shipped workflows: models to install, bindings, and frame rules.

The graphs come from scripts/export_workflows.py; node ids here are the templates' own (a
subgraph's inner nodes are "<outer>:<inner>"; LoRA slots were added as 1001 and 1002).
Model names and URLs are the templates' own `properties.models` entries; sizes and hashes
are left unknown rather than guessed.
"""

from __future__ import annotations

from i2v.backends.comfyui.manifest import Binding, LoraSlot, ModelFile, WorkflowManifest

_HF = "https://huggingface.co"
_WAN22 = f"{_HF}/Comfy-Org/Wan_2.2_ComfyUI_Repackaged/resolve/main/split_files"
_WAN21 = f"{_HF}/Comfy-Org/Wan_2.1_ComfyUI_repackaged/resolve/main/split_files"
_HV15 = f"{_HF}/Comfy-Org/HunyuanVideo_1.5_repackaged/resolve/main/split_files"


def _model(folder: str, name: str, url: str) -> ModelFile:
    return ModelFile(name=name, folder=folder, size_bytes=None, sha256=None, url=url)


def _split(folder: str, name: str, base: str) -> ModelFile:
    """A file from one of Comfy-Org's repackaged repositories (split_files/<folder>/<name>)."""
    return _model(folder, name, f"{base}/{folder}/{name}")


def _b(*targets: str) -> tuple[Binding, ...]:
    """Bindings from "node_id.input" strings (node ids may hold ':', never '.')."""
    return tuple(Binding(*t.rsplit(".", 1)) for t in targets)


_UMT5 = _split("text_encoders", "umt5_xxl_fp8_e4m3fn_scaled.safetensors", _WAN21)

WAN22_TI2V_5B = WorkflowManifest(
    name="wan22_ti2v_5b",
    version=1,
    title="Wan 2.2 TI2V 5B (image to video, 720p, 24 fps)",
    family="wan",
    native_fps=24,
    default_length=121,
    length_multiple=4,
    length_offset=1,
    side_multiple=32,  # Wan22ImageToVideoLatent steps its sides by 32
    max_side=1280,
    max_length=121,
    models=(
        _split("diffusion_models", "wan2.2_ti2v_5B_fp16.safetensors", _WAN22),
        _UMT5,
        _split("vae", "wan2.2_vae.safetensors", _WAN22),
    ),
    bindings={
        "image": _b("56.image"),
        "positive": _b("6.text"),
        "negative": _b("7.text"),
        "seed": _b("3.seed"),
        "width": _b("55.width"),
        "height": _b("55.height"),
        "length": _b("55.length"),
        "fps": _b("57.fps"),
        "steps": _b("3.steps"),
        "cfg": _b("3.cfg"),
    },
    lora_slots={"main": LoraSlot("1001")},
    source_template="video_wan2_2_5B_ti2v.json",
    notes="The template's LoadImage ships bypassed (text to video); it is enabled here.",
)

_WAN14_MODELS = (
    _split("diffusion_models", "wan2.2_i2v_high_noise_14B_fp8_scaled.safetensors", _WAN22),
    _split("diffusion_models", "wan2.2_i2v_low_noise_14B_fp8_scaled.safetensors", _WAN22),
    _UMT5,
    _split("vae", "wan_2.1_vae.safetensors", _WAN22),
)
_WAN14_BINDINGS = {
    "image": _b("97.image"),
    "positive": _b("129:93.text"),
    "negative": _b("129:89.text"),
    # 129:86 is the high-noise sampler, 129:85 the low-noise one; the second adds no noise,
    # so its seed is unused, but both are set so the graph says one seed.
    "seed": _b("129:86.noise_seed", "129:85.noise_seed"),
    "width": _b("129:98.width"),
    "height": _b("129:98.height"),
    "length": _b("129:98.length"),
    "fps": _b("129:94.fps"),
    "steps": _b("129:86.steps", "129:85.steps"),
    "cfg": _b("129:86.cfg", "129:85.cfg"),
}
_WAN14_SLOTS = {"high_noise": LoraSlot("1001"), "low_noise": LoraSlot("1002")}

WAN22_I2V_14B = WorkflowManifest(
    name="wan22_i2v_14b",
    version=1,
    title="Wan 2.2 I2V 14B, high/low-noise pair (16 fps, 20 steps)",
    family="wan",
    native_fps=16,
    default_length=81,
    length_multiple=4,
    length_offset=1,
    side_multiple=16,  # WanImageToVideo steps its sides by 16
    max_side=1280,
    max_length=121,
    min_steps=12,  # the high-noise model runs steps 0..10; the low-noise model needs some
    models=_WAN14_MODELS,
    bindings=_WAN14_BINDINGS,
    lora_slots=_WAN14_SLOTS,
    source_template="video_wan2_2_14B_i2v.json",
    notes="Subgraph expanded; the template's switches folded with turbo mode off.",
)

WAN22_I2V_14B_LIGHTNING = WorkflowManifest(
    name="wan22_i2v_14b_lightning",
    version=1,
    title="Wan 2.2 I2V 14B with the lightx2v 4-step LoRAs (16 fps, 4 steps)",
    family="wan",
    native_fps=16,
    default_length=81,
    length_multiple=4,
    length_offset=1,
    side_multiple=16,
    max_side=1280,
    max_length=121,
    min_steps=3,  # the high-noise model runs steps 0..2
    models=(
        *_WAN14_MODELS,
        _split("loras", "wan2.2_i2v_lightx2v_4steps_lora_v1_high_noise.safetensors", _WAN22),
        _split("loras", "wan2.2_i2v_lightx2v_4steps_lora_v1_low_noise.safetensors", _WAN22),
    ),
    bindings=_WAN14_BINDINGS,
    lora_slots=_WAN14_SLOTS,
    source_template="video_wan2_2_14B_i2v.json",
    notes="Subgraph expanded; the template's switches folded with turbo mode on.",
)

LTXV_I2V = WorkflowManifest(
    name="ltxv_i2v",
    version=1,
    title="LTX-Video 2B 0.9.5 (image to video, 24 fps)",
    family="ltx",
    native_fps=24,
    default_length=97,
    length_multiple=8,
    length_offset=1,
    side_multiple=32,  # LTXVImgToVideo steps its sides by 32
    max_side=1280,
    max_length=257,
    models=(
        _model(
            "checkpoints",
            "ltx-video-2b-v0.9.5.safetensors",
            f"{_HF}/Lightricks/LTX-Video/resolve/main/ltx-video-2b-v0.9.5.safetensors",
        ),
        _model(
            "text_encoders",
            "t5xxl_fp16.safetensors",
            f"{_HF}/comfyanonymous/flux_text_encoders/resolve/main/t5xxl_fp16.safetensors",
        ),
    ),
    bindings={
        "image": _b("78.image"),
        "positive": _b("6.text"),
        "negative": _b("7.text"),
        "seed": _b("72.noise_seed"),
        "width": _b("77.width"),
        "height": _b("77.height"),
        "length": _b("77.length"),
        # The model is told the frame rate it is making, and the file is written at it.
        "fps": _b("69.frame_rate", "80.fps"),
        "steps": _b("71.steps"),
        "cfg": _b("72.cfg"),
    },
    lora_slots={"main": LoraSlot("1001")},
    source_template="ltxv_image_to_video.json",
)

HUNYUAN15_I2V = WorkflowManifest(
    name="hunyuan15_i2v",
    version=1,
    title="HunyuanVideo 1.5 I2V 720p (24 fps)",
    family="hunyuan",
    native_fps=24,
    default_length=121,
    length_multiple=4,
    length_offset=1,
    side_multiple=16,  # HunyuanVideo15ImageToVideo steps its sides by 16
    max_side=1280,
    max_length=121,
    models=(
        _split("diffusion_models", "hunyuanvideo1.5_720p_i2v_fp16.safetensors", _HV15),
        _split("text_encoders", "qwen_2.5_vl_7b_fp8_scaled.safetensors", _HV15),
        _split("text_encoders", "byt5_small_glyphxl_fp16.safetensors", _HV15),
        _split("vae", "hunyuanvideo15_vae_fp16.safetensors", _HV15),
        _model(
            "clip_vision",
            "sigclip_vision_patch14_384.safetensors",
            f"{_HF}/Comfy-Org/sigclip_vision_384/resolve/main/"
            "sigclip_vision_patch14_384.safetensors",
        ),
    ),
    bindings={
        "image": _b("80.image"),
        "positive": _b("44.text"),
        "negative": _b("93.text"),
        "seed": _b("127.noise_seed"),
        "width": _b("78.width"),
        "height": _b("78.height"),
        "length": _b("78.length"),
        "fps": _b("101.fps"),
        "steps": _b("126.steps"),
        "cfg": _b("129.cfg"),
    },
    lora_slots={"main": LoraSlot("1001")},
    requires_nodes=("HunyuanVideo15ImageToVideo",),
    min_comfyui="0.3.68",  # the version the template was saved with
    source_template="video_hunyuan_video_1.5_720p_i2v.json",
    notes=(
        "Needs a ComfyUI newer than 0.3.64: the HunyuanVideo15ImageToVideo node, and the "
        "DualCLIPLoader type 'hunyuan_video_15'. The template's bypassed 1080p "
        "super-resolution stage is left out."
    ),
)

MANIFESTS: tuple[WorkflowManifest, ...] = (
    WAN22_TI2V_5B,
    WAN22_I2V_14B,
    WAN22_I2V_14B_LIGHTNING,
    LTXV_I2V,
    HUNYUAN15_I2V,
)

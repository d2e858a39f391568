"""Node catalogue and prompt validation for the fake ComfyUI, mirroring ComfyUI 0.3.64.

The validation follows ComfyUI's own `execution.validate_prompt` / `validate_inputs`
step for step, with the same Python operations, so that odd input (a prompt that is a list,
a link to a missing node, a string where an int belongs) fails with the same error JSON, or
the same exception (which the server turns into a 500), as on the real server. Both
recorded in `tests/data/comfyui/err_*.json`.
"""

from __future__ import annotations

import copy
import functools
import json
import mimetypes
import operator
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

Json = dict[str, Any]
CATALOGUE_PATH = Path(__file__).parents[1] / "data" / "comfyui" / "object_info.json"
PT_EXTENSIONS = frozenset({".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"})
# The keys of ComfyUI's folder_paths.folder_names_and_paths, in its order: GET /models.
MODEL_FOLDERS = (
    "checkpoints", "configs", "loras", "vae", "text_encoders", "diffusion_models", "clip_vision",
    "style_models", "embeddings", "diffusers", "vae_approx", "controlnet", "gligen",
    "upscale_models", "custom_nodes", "hypernetworks", "photomaker", "classifiers",
    "model_patches", "audio_encoders",
)  # fmt: skip
CONVERTERS: dict[Any, Callable[[Any], Any]] = {
    "INT": int,
    "FLOAT": float,
    "STRING": str,
    "BOOLEAN": bool,
}
LEGACY_FOLDERS = {"unet": "diffusion_models", "clip": "text_encoders"}
# Loader inputs whose combo list is the content of a models folder ("Class.input").
_LOADERS = {
    "checkpoints": "CheckpointLoaderSimple.ckpt_name CheckpointLoader.ckpt_name "
    "unCLIPCheckpointLoader.ckpt_name ImageOnlyCheckpointLoader.ckpt_name "
    "CreateHookModelAsLora.ckpt_name CreateHookModelAsLoraModelOnly.ckpt_name",
    "diffusion_models": "UNETLoader.unet_name",
    "text_encoders": "CLIPLoader.clip_name DualCLIPLoader.clip_name1 DualCLIPLoader.clip_name2 "
    "TripleCLIPLoader.clip_name1 TripleCLIPLoader.clip_name2 TripleCLIPLoader.clip_name3 "
    "QuadrupleCLIPLoader.clip_name1 QuadrupleCLIPLoader.clip_name2 "
    "QuadrupleCLIPLoader.clip_name3 QuadrupleCLIPLoader.clip_name4",
    "vae": "VAELoader.vae_name",
    "loras": "LoraLoader.lora_name LoraLoaderModelOnly.lora_name CreateHookLora.lora_name "
    "CreateHookLoraModelOnly.lora_name",
    "clip_vision": "CLIPVisionLoader.clip_name",
    "controlnet": "ControlNetLoader.control_net_name DiffControlNetLoader.control_net_name",
    "style_models": "StyleModelLoader.style_model_name",
    "gligen": "GLIGENLoader.gligen_name",
    "hypernetworks": "HypernetworkLoader.hypernetwork_name",
    "upscale_models": "UpscaleModelLoader.model_name",
    "photomaker": "PhotoMakerLoader.photomaker_model_name",
    "model_patches": "ModelPatchLoader.name",
}
LOADER_INPUTS: dict[tuple[str, str], str] = {
    tuple(spec.split(".", 1)): folder  # type: ignore[misc]
    for folder, specs in _LOADERS.items()
    for spec in specs.split()
}
# Nodes with a VALIDATE_INPUTS that checks a file exists instead of the combo list:
# class -> (input, content type listed in the combo, message).
FILE_INPUTS = {
    "LoadImage": ("image", "image", "Invalid image file: {}"),
    "LoadImageMask": ("image", "image", "Invalid image file: {}"),
    "LoadImageOutput": ("image", "", "Invalid image file: {}"),
    "LoadVideo": ("file", "video", "Invalid video file: {}"),
}
# format_tb() of the KeyError that a link to a missing node raises, as the real server has it.
_TB_RECURSE = (
    '  File "/app/ComfyUI/execution.py", line 808, in validate_inputs\n'
    "    r = await validate_inputs(prompt_id, prompt, o_id, validated)\n"
    "        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
)
_TB_TOP = (
    '  File "/app/ComfyUI/execution.py", line 862, in validate_prompt\n'
    "    m = await validate_inputs(prompt_id, prompt, o, validated)\n"
    "        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
)
_TB_LOOKUP = (
    '  File "/app/ComfyUI/execution.py", line 788, in validate_inputs\n'
    "    o_class_type = prompt[o_id]['class_type']\n"
    "                   ~~~~~~^^^^^^\n"
)


@functools.cache
def load_catalogue(path: Path = CATALOGUE_PATH) -> Json:
    """The recorded GET /object_info of a real server (read-only: callers copy what they change)."""
    with path.open(encoding="utf-8") as f:
        return json.load(f)  # type: ignore[no-any-return]


def content_type_of(name: str) -> str:
    """ComfyUI's folder_paths content type: the first half of the guessed MIME type."""
    if name.lower().endswith(".webp"):  # ComfyUI maps it explicitly: mimetypes may not know it
        return "image"
    mime = mimetypes.guess_type(name)[0]
    return mime.split("/")[0] if mime else ""


def model_files(installed: Mapping[str, list[str]], folder: str) -> list[str]:
    """What folder_paths.get_filename_list lists: files with a model extension, sorted."""
    folder = LEGACY_FOLDERS.get(folder, folder)
    names: set[str] = set()
    for key, files in installed.items():
        if LEGACY_FOLDERS.get(key, key) == folder:
            names.update(f for f in files if os.path.splitext(f)[1].lower() in PT_EXTENSIONS)
    return sorted(names)


def annotated_path(name: str, dirs: Mapping[str, Path], default: str = "input") -> Path:
    """folder_paths.get_annotated_filepath: "x.png [output]" names a file in the output dir."""
    for kind in ("output", "input", "temp"):
        if name.endswith(f"[{kind}]"):
            return dirs[kind] / name[: -len(kind) - 3]
    return dirs[default] / name


class Catalogue:
    """GET /object_info as the real server computes it: combo lists follow the disk."""

    def __init__(self, installed: Mapping[str, list[str]], dirs: Mapping[str, Path]) -> None:
        self.base = load_catalogue()
        self.installed = installed
        self.dirs = dirs
        self._dynamic = {cls for cls, _ in LOADER_INPUTS} | set(FILE_INPUTS)

    def info(self, class_type: Any) -> Json | None:
        base: Json | None = self.base.get(class_type)
        if base is None or class_type not in self._dynamic:
            return base
        info = copy.deepcopy(base)
        for category in ("required", "optional"):
            for name, spec in info["input"].get(category, {}).items():
                options = self._options(class_type, name)
                if options is None:
                    continue
                if spec[0] == "COMBO":  # a V3 node: the list lives in the options
                    spec[1]["options"] = options
                else:
                    spec[0] = options
        return info

    def all(self) -> Json:
        return {**self.base, **{c: self.info(c) for c in self._dynamic if c in self.base}}

    def _options(self, class_type: str, name: str) -> list[str] | None:
        folder = LOADER_INPUTS.get((class_type, name))
        if folder is not None:
            files = model_files(self.installed, folder)
            return [*files, "pixel_space"] if class_type == "VAELoader" else files
        file_input = FILE_INPUTS.get(class_type)
        if file_input is None or file_input[0] != name or not file_input[1]:
            return None
        folder_path = self.dirs["input"]
        files = [p.name for p in folder_path.iterdir() if p.is_file()]
        return sorted(f for f in files if content_type_of(f) == file_input[1])


def input_info(info: Json, name: str) -> tuple[Any, str | None, Json | None]:
    """comfy_execution.graph.get_input_info on a catalogue entry."""
    for category in ("required", "optional", "hidden"):
        spec = info["input"].get(category, {}).get(name)
        if spec is not None:
            return spec[0], category, (spec[1] if len(spec) > 1 else {})
    return None, None, None


def types_match(received: Any, expected: Any) -> bool:
    """comfy_execution.validation.validate_node_input: "*" matches all, "A,B" is a union."""
    if received == expected or received == "*" or expected == "*":
        return True
    if not isinstance(received, str) or not isinstance(expected, str):
        return False
    return bool({t.strip() for t in received.split(",")} & {t.strip() for t in expected.split(",")})


def _error(kind: str, message: str, details: str, **extra: Any) -> Json:
    return {"type": kind, "message": message, "details": details, "extra_info": extra}


class _Validator:
    def __init__(self, prompt: Any, catalogue: Catalogue) -> None:
        self.prompt = prompt
        self.catalogue = catalogue
        self.validated: dict[Any, tuple[bool, list[Json], Any]] = {}

    def info(self, class_type: Any) -> Json:
        info = self.catalogue.info(class_type)
        assert info is not None  # validate_prompt checked every class_type first
        return info

    def inputs(self, unique_id: Any) -> tuple[bool, list[Json], Any]:
        """execution.validate_inputs, operation for operation."""
        if unique_id in self.validated:
            return self.validated[unique_id]
        prompt = self.prompt
        inputs = prompt[unique_id]["inputs"]
        class_type = prompt[unique_id]["class_type"]
        info = self.info(class_type)
        file_input = FILE_INPUTS.get(class_type)
        validate_args = [file_input[0]] if file_input else []
        names = [*info["input"].get("required", {}), *info["input"].get("optional", {})]
        errors: list[Json] = []
        valid = True
        for x in names:
            input_type, category, extra_info = input_info(info, x)
            assert extra_info is not None
            if x not in inputs:
                if category == "required":
                    errors.append(
                        _error(
                            "required_input_missing", "Required input is missing", x, input_name=x
                        )
                    )
                continue
            val = inputs[x]
            config = [input_type, extra_info]
            if isinstance(val, list):
                if len(val) != 2:
                    errors.append(
                        _error(
                            "bad_linked_input",
                            "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                            x,
                            input_name=x,
                            input_config=config,
                            received_value=val,
                        )
                    )
                    continue
                o_id = val[0]
                o_class_type = prompt[o_id]["class_type"]
                received_type = tuple(self.info(o_class_type)["output"])[val[1]]
                if not types_match(received_type, input_type):
                    details = (
                        f"{x}, received_type({received_type}) mismatch input_type({input_type})"
                    )
                    errors.append(
                        _error(
                            "return_type_mismatch",
                            "Return type mismatch between linked nodes",
                            details,
                            input_name=x,
                            input_config=config,
                            received_type=received_type,
                            linked_node=val,
                        )
                    )
                    continue
                try:
                    if self.inputs(o_id)[0] is False:
                        valid = False
                        continue
                except Exception as ex:
                    valid = False
                    reason = _error(
                        "exception_during_inner_validation",
                        "Exception when validating inner node",
                        str(ex),
                        input_name=x,
                        input_config=config,
                        exception_message=str(ex),
                        exception_type=_type_name(ex),
                        traceback=[_TB_RECURSE, _TB_LOOKUP],
                        linked_node=val,
                    )
                    self.validated[o_id] = (False, [reason], o_id)
                    continue
            else:
                try:
                    if isinstance(val, dict) and "__value__" in val:
                        val = inputs[x] = val["__value__"]
                    convert: dict[Any, Callable[[Any], Any]] = CONVERTERS
                    if isinstance(input_type, str) and input_type in convert:
                        val = inputs[x] = convert[input_type](val)
                except Exception as ex:
                    errors.append(
                        _error(
                            "invalid_input_type",
                            f"Failed to convert an input value to a {input_type} value",
                            f"{x}, {val}, {ex}",
                            input_name=x,
                            input_config=config,
                            received_value=val,
                            exception_message=str(ex),
                        )
                    )
                    continue
                if x in validate_args:
                    continue
                for bound, kind, word, outside in (
                    ("min", "value_smaller_than_min", "smaller", operator.lt),
                    ("max", "value_bigger_than_max", "bigger", operator.gt),
                ):
                    if bound in extra_info and outside(val, extra_info[bound]):
                        message = f"Value {val} {word} than {bound} of {extra_info[bound]}"
                        errors.append(
                            _error(
                                kind,
                                message,
                                x,
                                input_name=x,
                                input_config=config,
                                received_value=val,
                            )
                        )
                        break
                else:
                    if input_type == "COMBO":
                        options = extra_info.get("options", [])
                    elif isinstance(input_type, list):
                        options = input_type
                    else:
                        continue
                    if val not in options:
                        big = len(options) > 20
                        listing = f"(list of length {len(options)})" if big else str(options)
                        errors.append(
                            _error(
                                "value_not_in_list",
                                "Value not in list",
                                f"{x}: '{val}' not in {listing}",
                                input_name=x,
                                input_config=None if big else config,
                                received_value=val,
                            )
                        )
        if file_input and file_input[0] in inputs and not isinstance(inputs[file_input[0]], list):
            name = inputs[file_input[0]]
            if not annotated_path(str(name), self.catalogue.dirs).exists():
                details = f"{file_input[0]} - {file_input[2].format(name)}"
                errors.append(
                    _error(
                        "custom_validation_failed",
                        "Custom validation failed for node",
                        details,
                        input_name=file_input[0],
                    )
                )
        ret = (False, errors, unique_id) if errors or valid is not True else (True, [], unique_id)
        self.validated[unique_id] = ret
        return ret


def _type_name(ex: BaseException) -> str:
    module = type(ex).__module__
    return type(ex).__qualname__ if module == "builtins" else f"{module}.{type(ex).__qualname__}"


def validate_prompt(
    prompt: Any, partial_targets: Any, catalogue: Catalogue
) -> tuple[bool, Json | None, list[str], Json]:
    """execution.validate_prompt: (valid, error, outputs to execute, node_errors).

    Exceptions escape exactly where they escape on the real server, and the caller answers
    them with a 500.
    """
    outputs: list[Any] = []  # a set on the real server; prompt order here
    for x in prompt:
        if "class_type" not in prompt[x]:
            error = _error(
                "invalid_prompt",
                "Cannot execute because a node is missing the class_type property.",
                f"Node ID '#{x}'",
            )
            return False, error, [], {}
        class_type = prompt[x]["class_type"]
        info = catalogue.info(class_type)
        if info is None:
            message = f"Cannot execute because node {class_type} does not exist."
            return False, _error("invalid_prompt", message, f"Node ID '#{x}'"), [], {}
        if info.get("output_node") is True and (partial_targets is None or x in partial_targets):
            outputs.append(x)
    if not outputs:
        return False, _error("prompt_no_outputs", "Prompt has no outputs", ""), [], {}

    validator = _Validator(prompt, catalogue)
    good: list[str] = []
    failed: list[tuple[Any, list[Json]]] = []
    node_errors: Json = {}
    for o in outputs:
        try:
            valid, reasons, _ = validator.inputs(o)
        except Exception as ex:
            valid = False
            reasons = [
                _error(
                    "exception_during_validation",
                    "Exception when validating node",
                    str(ex),
                    exception_type=_type_name(ex),
                    traceback=[_TB_TOP, _TB_LOOKUP],
                )
            ]
            validator.validated[o] = (False, reasons, o)
        if valid is True:
            good.append(o)
            continue
        failed.append((o, reasons))
        # As on the real server, every failing output is added to the dependent_outputs of
        # every node with errors found so far, whether or not it depends on it.
        for node_id, (node_valid, node_reasons, _) in validator.validated.items():
            if node_valid is not True and node_reasons:
                entry = node_errors.setdefault(
                    node_id,
                    {
                        "errors": node_reasons,
                        "dependent_outputs": [],
                        "class_type": prompt[node_id]["class_type"],
                    },
                )
                entry["dependent_outputs"].append(o)
    if not good:
        details = "\n".join(f"{e['message']}: {e['details']}" for _, errs in failed for e in errs)
        error = _error(
            "prompt_outputs_failed_validation", "Prompt outputs failed validation", details
        )
        return False, error, [], node_errors
    return True, None, good, node_errors

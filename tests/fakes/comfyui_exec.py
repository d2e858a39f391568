"""Prompt execution for the fake ComfyUI: scheduling, progress, node failures, saved media.

`Run` does what ComfyUI 0.3.64's PromptExecutor.execute_async does, message for message, but
runs no models: each node sleeps `node_delay_s`, samplers report one step at a time, and save
nodes write a small real file (a moving gradient) whose size, frame count and fps are read
off the graph. The order nodes run in is ComfyUI's (ExecutionList.ux_friendly_pick_node),
and nodes whose inputs did not change since the last prompt are cached, as on the real server.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import string
import time
from collections.abc import Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

import av
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from tests.fakes.comfyui_validate import Json, annotated_path

if TYPE_CHECKING:
    from tests.fakes.comfyui import _Server

SAMPLERS = frozenset({"KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced"})
LATENT_VIDEO = frozenset(
    {
        "Wan22ImageToVideoLatent", "WanImageToVideo", "LTXVImgToVideo", "HunyuanImageToVideo",
        "EmptyHunyuanLatentVideo", "EmptyLTXVLatentVideo",
    }
)  # fmt: skip
DEFAULT_SHAPE = (64, 64, 9)  # width, height, frames when the graph does not say
DEFAULT_FPS = 16.0
MAX_SIDE = 512  # generated videos are scaled down to this, to keep tests fast
# Inputs that carry the picture, in the order shape inference follows them upstream.
PICTURE_INPUTS = ("video", "images", "image", "pixels", "samples", "latent_image", "latent",
                  "start_image", "image1")  # fmt: skip
SAVE_EXTENSIONS = {"SaveVideo": "mp4", "SaveWEBM": "webm", "SaveAnimatedWEBP": "webp",
                   "SaveAnimatedPNG": "png"}  # fmt: skip
# execution.py's message for torch.OutOfMemoryError: torch's own text, then ComfyUI's tips.
OOM_MESSAGE = (
    "Allocation on device \nThis error means you ran out of memory on your GPU.\n\nTIPS: If the "
    "workflow worked before you might have accidentally set the batch_size to a large number."
)
LOADER_ERROR = ("safetensors._safetensors_rust.SafetensorError",
                "Error while deserializing header: header too large\n")  # fmt: skip
# The frames every execution_error traceback starts with on the real server.
TRACEBACK_HEAD = [
    '  File "/app/ComfyUI/execution.py", line 496, in execute\n    output_data, output_ui, '
    "has_subgraph, has_pending_tasks = await get_output_data(prompt_id, unique_id, obj, "
    "input_data_all, execution_block_cb=execution_block_cb, pre_execute_cb=pre_execute_cb, "
    "hidden_inputs=hidden_inputs)\n",
    '  File "/app/ComfyUI/execution.py", line 315, in get_output_data\n    return_values = await '
    "_async_map_node_over_list(prompt_id, unique_id, obj, input_data_all, obj.FUNCTION, "
    "allow_interrupt=True, execution_block_cb=execution_block_cb, pre_execute_cb=pre_execute_cb, "
    "hidden_inputs=hidden_inputs)\n",
    '  File "/app/ComfyUI/execution.py", line 289, in _async_map_node_over_list\n'
    "    await process_inputs(input_dict, i)\n",
    '  File "/app/ComfyUI/execution.py", line 277, in process_inputs\n    result = f(**inputs)\n',
]


class Interrupted(Exception):
    pass


class Killed(Exception):
    """The server "process" was restarted or stopped under a running prompt."""


class NodeFailure(Exception):
    def __init__(self, exception_type: str, message: str, frames: list[str] | None = None) -> None:
        super().__init__(message)
        self.exception_type, self.message, self.frames = exception_type, message, frames or []


def is_link(value: Any) -> TypeGuard[list[Any]]:
    """comfy_execution.graph_utils.is_link."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], (int, float))
    )


def graph_media(
    prompt: Json, node_id: str, dirs: Mapping[str, Path]
) -> tuple[int, int, int, float]:
    """(width, height, frames, fps) of what an output node saves, read off the graph."""
    memo: dict[str, tuple[int, int, int]] = {}

    def num(inputs: Json, key: str, default: float = 0) -> float:
        value = inputs.get(key)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else default

    def upstream(inputs: Json) -> str | None:
        links = [inputs.get(k) for k in PICTURE_INPUTS] + list(inputs.values())
        return next((link[0] for link in links if is_link(link) and link[0] in prompt), None)

    def shape(nid: str | None) -> tuple[int, int, int]:
        if nid is None or nid not in prompt or memo.get(nid) == (0, 0, 0):
            return DEFAULT_SHAPE
        if nid in memo:
            return memo[nid]
        memo[nid] = (0, 0, 0)  # cycle guard
        node = prompt[nid]
        cls, inputs = node["class_type"], node["inputs"]
        if cls in LATENT_VIDEO or cls == "EmptyLatentImage":
            count = num(inputs, "length", num(inputs, "batch_size", 1))
            result = (int(num(inputs, "width", 64)), int(num(inputs, "height", 64)), int(count))
        elif cls in ("LoadImage", "LoadImageMask"):
            try:
                with Image.open(annotated_path(str(inputs.get("image")), dirs)) as im:
                    result = (im.width, im.height, 1)
            except (OSError, ValueError):
                result = (DEFAULT_SHAPE[0], DEFAULT_SHAPE[1], 1)
        else:
            w, h, frames = shape(upstream(inputs))
            if cls == "ImageScale":
                nw, nh = int(num(inputs, "width")), int(num(inputs, "height"))
                nw = nw or (round(w * nh / h) if nh else w)
                nh = nh or round(h * nw / w)
                w, h = nw, nh
            elif cls == "ImageScaleBy":
                w, h = round(w * num(inputs, "scale_by", 1)), round(h * num(inputs, "scale_by", 1))
            elif cls == "RepeatImageBatch":
                frames *= int(num(inputs, "amount", 1))
            elif cls == "ImageBatch" and is_link(inputs.get("image2")):
                frames += shape(inputs["image2"][0])[2]
            result = (w, h, frames)
        memo[nid] = result
        return result

    fps: float | None = None
    nid: str | None = node_id
    hops = 0
    while fps is None and nid is not None and hops < len(prompt):  # own fps, else CreateVideo's
        inputs = prompt[nid]["inputs"]
        fps, nid, hops = num(inputs, "fps", 0) or None, upstream(inputs), hops + 1
    w, h, frames = shape(upstream(prompt[node_id]["inputs"]))
    return w, h, max(frames, 1), float(fps or DEFAULT_FPS)


def _fit(width: int, height: int) -> tuple[int, int]:
    """Scale both sides down proportionally to at most MAX_SIDE, to even numbers (yuv420p)."""
    scale = min(1.0, MAX_SIDE / max(width, height, 1))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _frames(width: int, height: int, count: int, seed: int) -> list[NDArray[np.uint8]]:
    """A gradient that moves from frame to frame, coloured by the seed."""
    phase = np.random.default_rng(seed).uniform(0, 255, 3)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = []
    for i in range(count):
        t = 255.0 * i / count
        rgb = np.stack(
            [
                xs * 255 / width + t + phase[0],
                ys * 255 / height + t + phase[1],
                (xs + ys) * 128 / (width + height) - t + phase[2],
            ],
            axis=-1,
        )
        frames.append((rgb % 256).astype(np.uint8))
    return frames


def _write_media(path: Path, frames: list[NDArray[np.uint8]], fps: float) -> None:
    ext = path.suffix
    if ext in (".webp", ".png"):
        first, *rest = (Image.fromarray(f) for f in frames)
        first.save(path, save_all=True, append_images=rest, duration=round(1000 / fps), loop=0)
        return
    codec = "libx264" if ext == ".mp4" else "libvpx-vp9"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        assert isinstance(stream, av.VideoStream)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"} if codec == "libx264" else {"deadline": "realtime"}
        for array in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
        container.mux(stream.encode())


def save_image_path(output_dir: Path, prefix: str, w: int, h: int) -> tuple[Path, str, int, str]:
    """folder_paths.get_save_image_path: (folder, name, next counter, subfolder)."""
    prefix = prefix.replace("%width%", str(w)).replace("%height%", str(h))
    subfolder = os.path.dirname(os.path.normpath(prefix))
    name = os.path.basename(os.path.normpath(prefix))
    folder = os.path.abspath(os.path.join(output_dir, subfolder))
    if os.path.commonpath((str(output_dir), folder)) != str(output_dir):
        message = (
            "**** ERROR: Saving image outside the output folder is not allowed."
            f"\n full_output_folder: {folder}\n         output_dir: {output_dir}"
        )
        raise NodeFailure("Exception", message + "\n")
    os.makedirs(folder, exist_ok=True)
    counters = [0]
    for existing in os.listdir(folder):
        digits = existing[len(name) + 1 :].split("_")[0]
        if existing[: len(name) + 1].lower() == f"{name}_".lower():
            counters.append(int(digits) if digits.isdigit() else 0)
    return Path(folder), name, max(counters) + 1, subfolder


class Run:
    """One prompt's execution, from execution_start to the history entry's status."""

    def __init__(self, server: _Server, item: tuple[Any, ...]) -> None:
        self.server, self.fake = server, server.fake
        self.number, self.prompt_id, self.prompt, extra, self.outputs = item
        self.client_id: str | None = extra.get("client_id")
        self.messages: list[tuple[str, Json]] = []
        self.progress: dict[str, Json] = {}
        self.executed: list[str] = []
        self.ui: Json = {}
        self.meta: Json = {}

    def is_output(self, node_id: str) -> bool:
        info = self.fake.catalogue.info(self.prompt[node_id]["class_type"])
        return bool(info and info.get("output_node") is True)

    def send(self, event: str, data: Json) -> None:
        if self.client_id is not None:
            self.server.emit(event, data, self.client_id)

    def add_message(self, event: str, data: Json, broadcast: bool = False) -> None:
        data = {**data, "timestamp": int(time.time() * 1000)}
        self.messages.append((event, data))
        if self.client_id is not None or broadcast:
            self.server.emit(event, data, self.client_id)

    def set_progress(self, node_id: str, state: str, value: float, max_: float) -> None:
        self.progress[node_id] = {"state": state, "value": value, "max": max_}
        nodes = {
            nid: {
                "value": e["value"], "max": e["max"], "state": e["state"], "node_id": nid,
                "prompt_id": self.prompt_id, "display_node_id": nid, "parent_node_id": None,
                "real_node_id": nid,
            }
            for nid, e in self.progress.items()
        }  # fmt: skip
        self.server.emit("progress_state", {"prompt_id": self.prompt_id, "nodes": nodes})

    def check(self) -> None:
        """nodes.before_node_execution(): where an interrupt (or a restart) takes effect."""
        if self.server.dead:
            raise Killed
        if self.server.interrupt.is_set():
            raise Interrupted

    def signatures(self) -> dict[str, str]:
        """The cache keys of ComfyUI's classic cache: class, IS_CHANGED and inputs, recursively."""
        memo: dict[str, str] = {}

        def sig(nid: str) -> str:
            if nid not in memo:
                memo[nid] = ""
                node = self.prompt[nid]
                changed = ""
                if node["class_type"] in ("LoadImage", "LoadImageMask"):  # IS_CHANGED: a hash
                    path = annotated_path(str(node["inputs"].get("image")), self.fake.dirs)
                    with contextlib.suppress(OSError):
                        changed = hashlib.sha256(path.read_bytes()).hexdigest()
                inputs = {
                    k: ["link", sig(v[0]), v[1]] if is_link(v) and v[0] in self.prompt else v
                    for k, v in node["inputs"].items()
                }
                memo[nid] = json.dumps([node["class_type"], changed, inputs], sort_keys=True)
            return memo[nid]

        return {nid: sig(nid) for nid in self.prompt}

    def schedule(self, cached: set[str]) -> Iterator[str]:
        """comfy_execution.graph.ExecutionList, with its ux_friendly_pick_node order."""
        pending: dict[str, bool] = {}
        blocked_by: dict[str, int] = {}
        blocking: dict[str, dict[str, dict[Any, bool]]] = {}

        def add_node(start: str) -> None:
            stack, links = [start], []
            while stack:
                nid = stack.pop()
                if nid in pending:
                    continue
                pending[nid], blocked_by[nid], blocking[nid] = True, 0, {}
                for value in self.prompt[nid]["inputs"].values():
                    if is_link(value) and value[0] not in cached:
                        stack.append(value[0])
                        links.append((value[0], value[1], nid))
            for source, slot, target in links:
                add_node(source)
                if target not in blocking[source]:
                    blocking[source][target] = {}
                    blocked_by[target] += 1
                blocking[source][target][slot] = True

        def pick(ready: list[str]) -> str:
            def feeds_output(nid: str, depth: int) -> bool:
                if depth == 0:
                    return self.is_output(nid)
                return any(feeds_output(b, depth - 1) for b in blocking[nid])

            for depth in range(3):
                found = next((nid for nid in ready if feeds_output(nid, depth)), None)
                if found is not None:
                    return found
            return ready[0]

        for output in self.outputs:
            add_node(output)
        while pending:
            ready = [nid for nid in pending if blocked_by[nid] == 0]
            if not ready:
                raise NodeFailure("graph.DependencyCycleError", "Dependency cycle detected")
            nid = pick(ready)
            yield nid
            del pending[nid]
            for target in blocking.pop(nid):
                blocked_by[target] -= 1

    def execute(self) -> bool:
        self.server.interrupt.clear()
        self.server.client_id = self.client_id
        self.add_message("execution_start", {"prompt_id": self.prompt_id})
        sigs = self.signatures()
        cache = self.server.cache
        cache.intersection_update(sigs.values())  # classic cache: clean_unused()
        cached = {n for n in self.prompt if sigs[n] in cache and not self.is_output(n)}
        nodes = [n for n in self.prompt if n in cached]
        self.add_message("execution_cached", {"nodes": nodes, "prompt_id": self.prompt_id})
        node_id = next(iter(self.prompt))
        try:
            for node_id in self.schedule(cached):
                self.run_node(node_id)
                if not self.is_output(node_id):
                    cache.add(sigs[node_id])
        except Interrupted:
            data = {"prompt_id": self.prompt_id, "node_id": node_id, "node_type": self.cls(node_id),
                    "executed": list(self.executed)}  # fmt: skip
            self.add_message("execution_interrupted", data, broadcast=True)
            return False
        except Killed:
            raise
        except Exception as ex:  # NodeFailure, or a bug in the fake: reported as a node error
            if not isinstance(ex, NodeFailure):
                module, name = type(ex).__module__, type(ex).__qualname__
                ex = NodeFailure(name if module == "builtins" else f"{module}.{name}", f"{ex}\n")
            self.add_message("execution_error", self.error_details(node_id, ex))
            return False
        finally:
            self.server.last_node_id = None
        self.add_message("execution_success", {"prompt_id": self.prompt_id})
        return True

    def cls(self, node_id: str) -> str:
        return str(self.prompt[node_id]["class_type"])

    def error_details(self, node_id: str, failure: NodeFailure) -> Json:
        info = self.fake.catalogue.info(self.cls(node_id)) or {"input": {}}
        known = {**info["input"].get("required", {}), **info["input"].get("optional", {})}
        current: Json = {}
        for name, value in self.prompt[node_id]["inputs"].items():
            if is_link(value):  # the real server prints the upstream object, e.g. a tensor
                current[name] = [f"<{known.get(name, ['*'])[0]} from node {value[0]}>"]
            elif name in known:
                current[name] = [value]
        return {
            "prompt_id": self.prompt_id, "node_id": node_id, "node_type": self.cls(node_id),
            "executed": list(self.executed), "exception_message": failure.message,
            "exception_type": failure.exception_type,
            "traceback": [*TRACEBACK_HEAD, *failure.frames], "current_inputs": current,
            "current_outputs": list(self.prompt),
        }  # fmt: skip

    def run_node(self, node_id: str) -> None:
        cls, inputs, faults = self.cls(node_id), self.prompt[node_id]["inputs"], self.fake.faults
        self.set_progress(node_id, "running", 0.0, 1.0)
        self.send(
            "executing", {"node": node_id, "display_node": node_id, "prompt_id": self.prompt_id}
        )
        self.server.last_node_id = node_id
        self.check()
        if faults.hang_prompt:
            while True:
                self.check()
                time.sleep(0.01)
        if faults.out_of_memory_on in (node_id, cls):
            raise NodeFailure("torch.OutOfMemoryError", OOM_MESSAGE)
        if faults.execution_error_on in (node_id, cls):
            is_loader = cls.endswith("Loader") or cls.startswith("CheckpointLoader")
            kind, message = faults.execution_error or (
                LOADER_ERROR if is_loader else ("RuntimeError", f"fake failure in {cls}\n")
            )
            raise NodeFailure(kind, message)
        time.sleep(self.fake.node_delay_s)
        if cls in ("LoadImage", "LoadImageMask"):
            self.load_image(str(inputs.get("image")))
        steps = self.sampler_steps(cls, inputs) if cls in SAMPLERS else 0
        for value in range(1, steps + 1):
            self.check()
            time.sleep(faults.step_delay_s)
            self.set_progress(node_id, "running", value, steps)
            progress = {"value": value, "max": steps, "prompt_id": self.prompt_id, "node": node_id}
            self.server.emit("progress", progress, self.client_id)  # no client: to all
        ui = self.save(node_id, cls, inputs)
        if ui:
            self.ui[node_id] = ui
            self.meta[node_id] = {"node_id": node_id, "display_node": node_id,
                                  "parent_node": None, "real_node_id": node_id}  # fmt: skip
            executed = {"node": node_id, "display_node": node_id, "output": ui}
            self.send("executed", {**executed, "prompt_id": self.prompt_id})
        entry = self.progress[node_id]
        self.set_progress(node_id, "finished", entry["max"], entry["max"])
        self.executed.append(node_id)

    def load_image(self, name: str) -> None:
        """LoadImage opens the file: junk uploads fail at run time, as on the real server."""
        try:
            with Image.open(annotated_path(name, self.fake.dirs)) as image:
                image.load()
        except Exception as ex:
            module = type(ex).__module__
            kind = type(ex).__name__ if module == "builtins" else f"{module}.{type(ex).__name__}"
            raise NodeFailure(kind, f"{ex}\n") from ex

    def sampler_steps(self, cls: str, inputs: Json) -> int:
        if cls == "KSamplerAdvanced":
            last = min(int(inputs.get("end_at_step", 10000)), int(inputs.get("steps", 1)))
            return max(0, last - int(inputs.get("start_at_step", 0)))
        if "steps" in inputs:
            return int(inputs["steps"])
        sigmas = inputs.get("sigmas")  # SamplerCustom*: the scheduler node has the steps
        if is_link(sigmas) and sigmas[0] in self.prompt:
            return int(self.prompt[sigmas[0]]["inputs"].get("steps", 1))
        return 1

    def save(self, node_id: str, cls: str, inputs: Json) -> Json | None:
        """What the save nodes write and report: small real files, real names."""
        if cls not in SAVE_EXTENSIONS and cls not in ("SaveImage", "PreviewImage"):
            return None
        width, height, count, fps = graph_media(self.prompt, node_id, self.fake.dirs)
        width, height = _fit(width, height)
        seeds = (n["inputs"].get(k) for n in self.prompt.values() for k in ("seed", "noise_seed"))
        seed = next((s for s in seeds if isinstance(s, int)), 0)
        frames = _frames(width, height, count, seed)
        kind, prefix = "output", str(inputs.get("filename_prefix", "ComfyUI"))
        if cls == "PreviewImage":
            kind, prefix = (
                "temp",
                "ComfyUI_temp_" + "".join(random.choices(string.ascii_lowercase, k=5)),
            )
        folder, name, counter, subfolder = save_image_path(
            self.fake.dirs[kind], prefix, width, height
        )
        if cls in SAVE_EXTENSIONS:
            filename = f"{name}_{counter:05}_.{SAVE_EXTENSIONS[cls]}"
            _write_media(folder / filename, frames, fps)
            animated = cls in ("SaveVideo", "SaveWEBM") or count != 1
            result = {"filename": filename, "subfolder": subfolder, "type": kind}
            return {"images": [result], "animated": [animated]}
        images = []
        for i, frame in enumerate(frames):
            filename = f"{name}_{counter + i:05}_.png"
            Image.fromarray(frame).save(folder / filename, compress_level=1)
            images.append({"filename": filename, "subfolder": subfolder, "type": kind})
        return {"images": images}

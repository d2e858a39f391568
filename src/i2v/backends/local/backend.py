"""LocalBackend: the VideoBackend that animates a still image with a camera move on the CPU."""

from __future__ import annotations

from dataclasses import replace

import cv2

from i2v.backends.base import (
    Capabilities,
    FrameStream,
    GenerationRequest,
    Progress,
    ProgressCallback,
)
from i2v.backends.local.camera import max_zoom
from i2v.backends.local.framing import frame
from i2v.backends.local.path import plan_path
from i2v.backends.local.renderer import PathRenderer
from i2v.domain.spec import MAX_DURATION_S, MAX_FPS, RenderSpec
from i2v.errors import InvalidParameter
from i2v.framing.cover import cover_frame
from i2v.media.canvas import build_canvas
from i2v.models.names import canonical


class LocalBackend:
    name = "local"

    def capabilities(self) -> Capabilities:
        return Capabilities(
            name=self.name,
            max_frames=int(MAX_DURATION_S * MAX_FPS),
            needs_gpu=False,
            runs_locally=True,
        )

    def prepare(self, spec: RenderSpec) -> RenderSpec:
        """Every valid RenderSpec renders locally; there are no workflows or models to choose."""
        if spec.workflow is not None:
            raise InvalidParameter(
                "workflow", spec.workflow, "workflow applies to backend comfyui, not local"
            )
        if spec.model is not None and canonical(spec.model) != "local":
            raise InvalidParameter(
                "model",
                spec.model,
                f"model {spec.model} is not the local renderer's; use backend auto, fal or comfyui",
            )
        for field, value in (
            ("negative_prompt", spec.negative_prompt),
            ("resolution", spec.resolution),
            ("sound", spec.audio or None),
            ("end_image", spec.end_frame or None),
        ):
            if value is not None:
                raise InvalidParameter(
                    field, value, f"the local renderer takes no {field.replace('_', ' ')}"
                )
        return replace(spec, model=None)

    def generate(self, request: GenerationRequest, on_progress: ProgressCallback) -> FrameStream:
        # OpenCV's worker threads spin-wait between calls. With x264's frame threads busy on
        # every core they only take CPU from the encoder (and from other jobs), so OpenCV
        # runs on the calling thread. Process-wide: OpenCV has no per-thread setting.
        cv2.setNumThreads(1)
        rgb = request.image.rgb
        canvas = build_canvas(rgb, request.size, request.fit, max_zoom(), request.backdrop)
        framed = frame(rgb, canvas, request.size, request.prompt, request.focus)
        height, width = canvas.pixels.shape[:2]
        path = plan_path(
            [request.motion, *request.then],
            request.intensity,
            width,
            height,
            request.size,
            framed.subject,
            framed.zones,
            aim_at_face=framed.aim_at_face,
        )
        renderer = PathRenderer(canvas.pixels, path, request.frame_count)
        cover = cover_frame(path, framed.subject, framed.zones, request.frame_count)
        on_progress(Progress("prepare", 1, 1))
        return FrameStream(
            size=request.size,
            fps=request.fps,
            frame_count=request.frame_count,
            frames=renderer.__iter__,
            cover_frame=cover,
            framing=framed.record,
        )

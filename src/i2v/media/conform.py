"""Bring a backend's finished clip to the platform preset: copy it if it meets it, else re-time.

Remote models return their own size and rate (Wan 2.2: 16 fps, 832x480 or 1280x704).
Re-timing keeps the clip's length and motion: each output frame at time i/fps shows the
source frame on screen at that moment, so 16 fps becomes 30 fps by repeating frames, never
by speeding the motion up. Frame interpolation would be smoother but needs a model; it
belongs in the backend, where a GPU is at hand (a RIFE node in a ComfyUI workflow, fal's
interpolator on Wan 2.2 A14B), which brings the clip to at least the job's rate first.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from numpy.typing import NDArray

from i2v.backends.base import FrameStream, NV12Frame
from i2v.domain.size import Size
from i2v.domain.spec import DEFAULT_BACKDROP, Backdrop, Fit
from i2v.errors import RenderError
from i2v.media.canvas import build_canvas
from i2v.media.color import rgb_to_luma_chroma
from i2v.media.probe import VideoInfo, frame_times

_AVCOL_SPC_BT709 = 1
_AVCOL_RANGE_JPEG = 2
_PUBLISHABLE_PROFILES = {"High", "Main", "Constrained Baseline"}


def publish_ready(info: VideoInfo, size: Size, fps: int) -> bool:
    """Whether the clip already is what publishing would make: then it is copied as it is."""
    return (
        info.codec == "h264"
        and info.profile in _PUBLISHABLE_PROFILES
        and info.pix_fmt == "yuv420p"
        and (info.width, info.height) == (size.width, size.height)
        and info.fps == fps
        and info.faststart
        and not info.edit_list
    )


def output_times(times: list[Fraction], last: Fraction, fps: int) -> list[int]:
    """For each output frame at constant `fps`, the index of the source frame it shows."""
    total = times[-1] + last
    count = max(1, math.ceil(total * fps))
    return [max(0, bisect.bisect_right(times, Fraction(i, fps)) - 1) for i in range(count)]


def fit_frame(
    rgb: NDArray[np.uint8], size: Size, fit: Fit, backdrop: Backdrop = DEFAULT_BACKDROP
) -> NDArray[np.uint8]:
    """`rgb` at exactly `size`: scaled to cover and centre-cropped, or contained on `backdrop`."""
    height, width = rgb.shape[:2]
    if (width, height) == (size.width, size.height):
        return rgb
    if fit is Fit.CONTAIN:
        return build_canvas(rgb, size, Fit.CONTAIN, 1.0, backdrop).pixels
    scale = max(size.width / width, size.height / height)
    scaled_w = max(size.width, round(width * scale))
    scaled_h = max(size.height, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    scaled = cv2.resize(rgb, (scaled_w, scaled_h), interpolation=interpolation)
    x0, y0 = (scaled_w - size.width) // 2, (scaled_h - size.height) // 2
    return np.ascontiguousarray(scaled[y0 : y0 + size.height, x0 : x0 + size.width])


def to_nv12(rgb: NDArray[np.uint8], size: Size) -> NV12Frame:
    frame = np.empty((size.height * 3 // 2, size.width), np.uint8)
    chroma = frame[size.height :].reshape(size.height // 2, size.width // 2, 2)
    rgb_to_luma_chroma(rgb, frame[: size.height], chroma)
    return frame


def decoded_rgb(
    path: Path, *, frame_threads: bool = True, only: frozenset[int] | None = None
) -> Iterator[NDArray[np.uint8]]:
    """Every frame of the video at `path` as RGB, in presentation order; with `only`, just the
    frames at those 0-based indices.

    An untagged matrix is taken as BT.601, as FFmpeg's own RGB-to-YUV conversion (which most
    ComfyUI video nodes use) writes it. Frame threads decode frames ahead, in parallel: worth
    it for a whole clip, twice the CPU for its first frame alone. Frames left out are decoded
    but never converted: the RGB conversion costs about four times the decode.
    """
    stop = max(only, default=-1) if only is not None else math.inf
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if frame_threads:
                stream.thread_type = "AUTO"
            for index, frame in enumerate(container.decode(stream)):
                if index > stop:
                    break
                if only is not None and index not in only:
                    continue
                rgb = frame.to_ndarray(
                    format="rgb24",
                    src_colorspace="itu709" if frame.colorspace == _AVCOL_SPC_BT709 else "itu601",
                    src_color_range="JPEG" if frame.color_range == _AVCOL_RANGE_JPEG else "MPEG",
                    dst_color_range="JPEG",
                )
                yield np.asarray(rgb, dtype=np.uint8)  # rgb24 is uint8; the stub can't tell
    except (av.error.FFmpegError, IndexError, OSError) as exc:
        raise RenderError(f"{path.name}: cannot decode the backend's clip ({exc})") from exc


def retimed(
    path: Path, size: Size, fps: int, fit: Fit, backdrop: Backdrop = DEFAULT_BACKDROP
) -> FrameStream:
    """The clip at `path` as NV12 frames at `size` and constant `fps`, its length kept."""
    times, last = frame_times(path)
    sources = output_times(times, last, fps)

    def frames() -> Iterator[NV12Frame]:
        decoded = decoded_rgb(path)
        index, latest, current = -1, None, None
        for wanted in sources:
            while index < wanted:
                rgb = next(decoded, None)
                if rgb is None:  # fewer decodable frames than packets: hold the last one
                    break
                index, latest, current = index + 1, rgb, None
            if current is None:  # converted only when shown: dropped frames cost a decode
                if latest is None:
                    raise RenderError(f"{path.name}: the backend's clip has no decodable frames")
                current = to_nv12(fit_frame(latest, size, fit, backdrop), size)
            yield current  # repeats share one array; nothing writes to a frame once made

    return FrameStream(size=size, fps=fps, frame_count=len(sources), frames=frames)

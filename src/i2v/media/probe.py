"""Read back what an MP4 actually contains, to validate it against the platform spec."""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from i2v.errors import RenderError
from i2v.media.h264 import avcc_pix_fmt

_RANGE_MPEG = 1  # FFmpeg's AVCOL_RANGE_MPEG: limited range


@dataclass(frozen=True, slots=True)
class VideoInfo:
    codec: str
    profile: str | None
    pix_fmt: str | None
    width: int
    height: int
    fps: Fraction
    frames: int
    duration_s: float
    size_bytes: int
    faststart: bool


def top_level_boxes(path: Path) -> list[str]:
    """The ISO-BMFF top-level box types of `path`, in file order."""
    boxes: list[str] = []
    with path.open("rb") as f:
        while header := f.read(8):
            if len(header) < 8:
                break
            size, kind = struct.unpack(">I4s", header)
            boxes.append(kind.decode("latin-1"))
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0] - 8
            elif size == 0:
                break
            f.seek(size - 8, 1)
    return boxes


def probe_video(path: Path) -> VideoInfo:
    try:
        # Skipping the decode leaves the pixel format to the SPS; where that cannot tell,
        # open again and let FFmpeg decode as it needs.
        info = _read_info(path, skip_decode=True)
        if info.pix_fmt is None:
            info = _read_info(path, skip_decode=False)
    except (av.error.FFmpegError, IndexError, OSError) as exc:
        raise RenderError(f"{path}: cannot read back the video ({exc})") from exc
    boxes = top_level_boxes(path)
    faststart = "moov" in boxes and "mdat" in boxes and boxes.index("moov") < boxes.index("mdat")
    return replace(info, faststart=faststart)


def _read_info(path: Path, skip_decode: bool) -> VideoInfo:
    # PyAV's stubs type stream_options as strings; it takes one dict of options per stream.
    options: list[Any] = [{"skip_frame": "nonref"}] if skip_decode else []
    with av.open(str(path), stream_options=options) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        pix_fmt = ctx.pix_fmt
        # Only where the container states limited range: FFmpeg calls full range yuvj420p.
        if pix_fmt is None and ctx.name == "h264" and ctx.color_range == _RANGE_MPEG:
            pix_fmt = avcc_pix_fmt(ctx.extradata)
        rate = stream.average_rate or stream.guessed_rate or Fraction(0)
        duration = (
            float(stream.duration * stream.time_base)
            if stream.duration is not None and stream.time_base is not None
            else float(container.duration or 0) / 1_000_000
        )
        return VideoInfo(
            codec=ctx.name,
            profile=ctx.profile,
            pix_fmt=pix_fmt,
            width=ctx.width,
            height=ctx.height,
            fps=Fraction(rate),
            frames=stream.frames,
            duration_s=duration,
            size_bytes=path.stat().st_size,
            faststart=False,
        )

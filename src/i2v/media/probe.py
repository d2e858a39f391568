"""Read back what an MP4 actually contains, to validate it against the platform spec."""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av

from i2v.errors import RenderError


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
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            ctx = stream.codec_context
            frames = stream.frames
            rate = stream.average_rate or stream.guessed_rate or Fraction(0)
            duration = (
                float(stream.duration * stream.time_base)
                if stream.duration is not None and stream.time_base is not None
                else float(container.duration or 0) / 1_000_000
            )
            info = VideoInfo(
                codec=ctx.name,
                profile=ctx.profile,
                pix_fmt=ctx.pix_fmt,
                width=ctx.width,
                height=ctx.height,
                fps=Fraction(rate),
                frames=frames,
                duration_s=duration,
                size_bytes=path.stat().st_size,
                faststart=False,
            )
    except (av.error.FFmpegError, IndexError, OSError) as exc:
        raise RenderError(f"{path}: cannot read back the video ({exc})") from exc
    boxes = top_level_boxes(path)
    faststart = "moov" in boxes and "mdat" in boxes and boxes.index("moov") < boxes.index("mdat")
    return replace(info, faststart=faststart)

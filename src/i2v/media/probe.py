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
    edit_list: bool = False  # an elst box; Instagram refuses files that have one


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


_CONTAINERS = {b"moov", b"trak", b"edts"}  # the boxes on the way to an elst


def _has_box(data: bytes, wanted: bytes) -> bool:
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        if size < 8:
            return False  # 64-bit or to-end sizes never occur inside moov's small boxes
        if kind == wanted:
            return True
        if kind in _CONTAINERS and _has_box(data[offset + 8 : offset + size], wanted):
            return True
        offset += size
    return False


def has_edit_list(path: Path) -> bool:
    """Whether any track of the MP4 at `path` carries an edit list."""
    with path.open("rb") as f:
        while header := f.read(8):
            if len(header) < 8:
                return False
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0] - 8
            elif size == 0:
                return False
            if kind == b"moov":
                return _has_box(f.read(size - 8), b"elst")
            f.seek(size - 8, 1)
    return False


def frame_times(path: Path) -> tuple[list[Fraction], Fraction]:
    """Presentation times (s, from the first frame) of every video frame, and the last's length.

    From the packets alone, without decoding; variable frame rates are kept as they are.
    """
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            base = stream.time_base or Fraction(1, 90000)
            stamps = sorted(
                packet.pts * base
                for packet in container.demux(stream)
                if packet.pts is not None and packet.size
            )
            rate = stream.average_rate or stream.guessed_rate
    except (av.error.FFmpegError, IndexError, OSError) as exc:
        raise RenderError(f"{path}: cannot read back the video ({exc})") from exc
    if not stamps:
        raise RenderError(f"{path}: the video has no frames")
    last = Fraction(1) / Fraction(rate) if rate else (stamps[-1] - stamps[0]) / len(stamps)
    return [stamp - stamps[0] for stamp in stamps], last


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
    return replace(info, faststart=faststart, edit_list=has_edit_list(path))


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

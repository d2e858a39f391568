"""probe_video reads the pixel format from the SPS where it can, and agrees with FFmpeg."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from i2v.media.h264 import avcc_pix_fmt
from i2v.media.probe import probe_video

FRAMES = 8


def encode(dest: Path, pix_fmt: str, options: dict[str, str], color_range: int = 1) -> Path:
    with av.open(str(dest), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=Fraction(24), options=options)
        stream.codec_context.width, stream.codec_context.height = 64, 48
        stream.codec_context.pix_fmt = pix_fmt
        stream.codec_context.color_range = color_range
        rng = np.random.default_rng(1)
        for index in range(FRAMES):
            rgb = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return dest


def ffmpeg_view(path: Path) -> tuple[str, str | None, str | None, int, int]:
    """What FFmpeg reports after its own probing, frames decoded as it sees fit."""
    with av.open(str(path)) as container:
        ctx = container.streams.video[0].codec_context
        return ctx.name, ctx.profile, ctx.pix_fmt, ctx.width, ctx.height


@pytest.mark.parametrize(
    ("pix_fmt", "options", "color_range"),
    [
        ("yuv420p", {"preset": "ultrafast", "profile": "high", "bf": "3"}, 1),
        ("yuv420p", {"preset": "ultrafast", "profile": "baseline"}, 1),
        ("yuv444p", {"preset": "ultrafast"}, 1),  # High 4:4:4: the SPS parse says no
        ("yuv420p", {"preset": "ultrafast"}, 2),  # full range: FFmpeg says yuvj420p
        ("yuv420p", {"preset": "ultrafast"}, 0),  # range unstated: FFmpeg decides
    ],
    ids=["high", "baseline", "444", "full-range", "unstated"],
)
def test_probe_agrees_with_ffmpeg(
    tmp_path: Path, pix_fmt: str, options: dict[str, str], color_range: int
) -> None:
    path = encode(tmp_path / "clip.mp4", pix_fmt, options, color_range)
    info = probe_video(path)
    assert (info.codec, info.profile, info.pix_fmt, info.width, info.height) == ffmpeg_view(path)
    assert info.frames == FRAMES
    assert info.faststart
    with av.open(str(path)) as container:
        extradata = container.streams.video[0].codec_context.extradata
    assert (avcc_pix_fmt(extradata) is not None) == (pix_fmt == "yuv420p")


@pytest.mark.parametrize(
    "avcc",
    [None, b"", b"\x01\x64\x00\x28\xff\xe1\x00", b"\x01\x64\x00\x28\xff\xe1\x00\x10\x67\x64"],
    ids=["none", "empty", "no-sps-length", "short-sps"],
)
def test_unreadable_avcc_leaves_it_to_ffmpeg(avcc: bytes | None) -> None:
    assert avcc_pix_fmt(avcc) is None

"""encode_nv12: NV12 frames in, with padded rows or not, and the colours come out right."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from numpy.typing import NDArray

from i2v.domain.size import Size
from i2v.media.encode import EncoderSettings, encode_nv12
from i2v.media.probe import _read_info

FAST_ENCODER = EncoderSettings(preset="ultrafast")
FRAMES = 6


def nv12(size: Size, index: int, luma: int, cb: int, cr: int) -> NDArray[np.uint8]:
    """A flat-coloured NV12 frame with a moving luma ramp, so frames differ."""
    w, h = size.width, size.height
    frame = np.empty((h * 3 // 2, w), np.uint8)
    frame[:h] = (luma + (np.arange(w) + 4 * index) % 32).astype(np.uint8)
    chroma = frame[h:].reshape(h // 2, w // 2, 2)
    chroma[..., 0], chroma[..., 1] = cb, cr
    return frame


def padded(frame: NDArray[np.uint8], pad: int) -> NDArray[np.uint8]:
    """The same frame as a view with `pad` bytes of garbage after each row."""
    rows, width = frame.shape
    buffer = np.full((rows, width + pad), 7, np.uint8)
    buffer[:, :width] = frame
    return buffer[:, :width]


def encode(frames: Iterator[NDArray[np.uint8]], dest: Path, size: Size) -> bytes:
    assert encode_nv12(frames, dest, size, 24, FAST_ENCODER) == FRAMES
    return dest.read_bytes()


@pytest.mark.parametrize("size", [Size(360, 640), Size(360, 642)], ids=str)  # 642: not 4k
def test_padded_rows_encode_like_contiguous_frames(tmp_path: Path, size: Size) -> None:
    frames = [nv12(size, i, 60, 100, 150) for i in range(FRAMES)]
    contiguous = encode(iter(frames), tmp_path / "contiguous.mp4", size)
    strided = encode((padded(f, 40) for f in frames), tmp_path / "strided.mp4", size)
    assert strided == contiguous


def test_cb_and_cr_are_interleaved_in_that_order(tmp_path: Path) -> None:
    size = Size(64, 64)
    # BT.709 limited range red: Y' 63, Cb 102, Cr 240.
    dest = tmp_path / "red.mp4"
    encode((nv12(size, i, 63 - 16, 102, 240) for i in range(FRAMES)), dest, size)
    with av.open(str(dest)) as container:
        frame = next(container.decode(video=0))
        rgb = frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
    assert rgb[0] > 150 > max(rgb[1], rgb[2])


def test_our_videos_are_read_back_without_decoding(tmp_path: Path) -> None:
    # The encoder states BT.709 limited range, so probe_video's SPS shortcut applies
    # (FFmpeg's own probe decodes ~7 frames: 30 ms at 1080x1920).
    size = Size(64, 64)
    dest = tmp_path / "clip.mp4"
    encode((nv12(size, i, 60, 128, 128) for i in range(FRAMES)), dest, size)
    assert _read_info(dest, skip_decode=True).pix_fmt == "yuv420p"

"""Publishing a backend's encoded clip: copied when it meets the preset, else re-timed and framed.

The clips are made the way ComfyUI's video nodes make them (FFmpeg's libx264 from RGB,
untagged BT.601), at Wan's 16 fps, with each frame's index written into its brightness so
the output can be checked frame by frame.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from i2v.backends import registry
from i2v.backends.base import Capabilities, EncodedClip, GenerationRequest, ProgressCallback
from i2v.config import Settings
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import Fit, RenderSpec
from i2v.media.conform import output_times
from i2v.media.probe import has_edit_list, probe_video
from i2v.services.generate import cover_path, generate_video

pytestmark = pytest.mark.integration

LEVEL_STEP = 3  # brightness between neighbouring source frames, well above coding noise


def level(index: int) -> int:
    return 16 + (index * LEVEL_STEP) % 220


def make_clip(
    path: Path, size: Size, fps: int, frames: int, *, left_half_red: bool = False
) -> Path:
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "12"})
        stream.width, stream.height, stream.pix_fmt = size.width, size.height, "yuv420p"
        for index in range(frames):
            rgb = np.full((size.height, size.width, 3), level(index), np.uint8)
            if left_half_red:
                rgb[:, : size.width // 2] = (200, 30, 30)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


class ClipBackend:
    """Hands back a clip made beforehand, as a remote backend does after downloading it."""

    name = "clip"
    clip: Path

    def capabilities(self) -> Capabilities:
        return Capabilities(name=self.name, max_frames=1000, needs_gpu=False, runs_locally=True)

    def prepare(self, spec: RenderSpec) -> RenderSpec:
        return spec

    def generate(self, request: GenerationRequest, on_progress: ProgressCallback) -> EncodedClip:
        copy = request.workdir / "download.mp4"
        copy.write_bytes(self.clip.read_bytes())
        return EncodedClip(copy)


@pytest.fixture
def clip_backend(monkeypatch: pytest.MonkeyPatch) -> type[ClipBackend]:
    monkeypatch.setitem(registry.BACKENDS, "clip", lambda _settings, _db: ClipBackend())
    return ClipBackend


def publish(
    clip_backend: type[ClipBackend], clip: Path, tmp_path: Path, photo: Path, **spec: object
) -> Path:
    clip_backend.clip = clip
    render = RenderSpec(motion=Motion.ZOOM_IN, intensity=Intensity.NORMAL, **spec)  # type: ignore[arg-type]
    out = tmp_path / "out" / "video.mp4"
    out.parent.mkdir()
    generate_video(photo, out, render, Settings(), lambda _: None, "clip")
    return out


def luma_means(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [
            float(frame.to_ndarray(format="gray").mean()) for frame in container.decode(video=0)
        ]


def test_wan_16fps_is_retimed_to_30fps_keeping_its_length(
    clip_backend: type[ClipBackend], tmp_path: Path, photo_jpeg: Path
) -> None:
    clip = make_clip(tmp_path / "wan.mp4", Size(832, 480), 16, 81)
    out = publish(clip_backend, clip, tmp_path, photo_jpeg, size=Size(1080, 1920), fps=30)

    info = probe_video(out)
    assert (info.codec, info.pix_fmt, info.width, info.height) == ("h264", "yuv420p", 1080, 1920)
    assert (info.fps, info.faststart, has_edit_list(out)) == (30, True, False)
    assert info.frames == 152  # ceil(81 / 16 * 30): 5.0625 s either way
    assert cover_path(out).exists()
    # Output frame i shows the source frame on screen at i/30 s, never a later one.
    for i, mean in enumerate(luma_means(out)):
        source = (i * 16) // 30
        assert abs(mean - level(source)) < 2.5, (i, source, mean)


def test_untagged_bt601_colours_survive(
    clip_backend: type[ClipBackend], tmp_path: Path, photo_jpeg: Path
) -> None:
    clip = make_clip(tmp_path / "red.mp4", Size(720, 1280), 24, 72, left_half_red=True)
    out = publish(clip_backend, clip, tmp_path, photo_jpeg, size=Size(720, 1280), fps=24)
    with av.open(str(out)) as container:
        frame = next(container.decode(video=0))
        rgb = frame.to_ndarray(format="rgb24", src_colorspace="itu709")
    red = rgb[600:680, 100:260].reshape(-1, 3).mean(axis=0)
    assert np.all(np.abs(red - (200, 30, 30)) < 6), red


def test_a_clip_already_at_the_preset_is_copied_byte_for_byte(
    clip_backend: type[ClipBackend], tmp_path: Path, photo_jpeg: Path
) -> None:
    # Our own encoder's output meets the preset by construction: render one, then feed it back.
    first = tmp_path / "first" / "video.mp4"
    first.parent.mkdir()
    spec = RenderSpec(
        motion=Motion.ZOOM_IN,
        intensity=Intensity.NORMAL,
        size=Size(360, 640),
        fps=24,
        duration_s=3,
    )
    generate_video(photo_jpeg, first, spec, Settings(), lambda _: None)
    out = publish(
        clip_backend, first, tmp_path, photo_jpeg, size=Size(360, 640), fps=24, duration_s=3
    )
    assert out.read_bytes() == first.read_bytes()
    assert cover_path(out).stat().st_size > 0


def test_contain_keeps_the_whole_frame(
    clip_backend: type[ClipBackend], tmp_path: Path, photo_jpeg: Path
) -> None:
    clip = make_clip(tmp_path / "wide.mp4", Size(1280, 720), 24, 24 * 3)
    out = publish(
        clip_backend, clip, tmp_path, photo_jpeg, size=Size(720, 1280), fps=24, fit=Fit.CONTAIN
    )
    info = probe_video(out)
    assert (info.width, info.height, info.frames) == (720, 1280, 72)


@pytest.mark.parametrize(
    ("times", "last", "fps", "expected"),
    [
        # 16 -> 30 fps: frames repeat, 2 or 1 times, in order
        ([Fraction(i, 16) for i in range(4)], Fraction(1, 16), 30, [0, 0, 1, 1, 2, 2, 3, 3]),
        # 60 -> 30 fps: every other frame
        ([Fraction(i, 60) for i in range(6)], Fraction(1, 60), 30, [0, 2, 4]),
        # variable rate: a frame held for 0.1 s covers three output frames
        ([Fraction(0), Fraction(1, 10), Fraction(2, 15)], Fraction(1, 30), 30, [0, 0, 0, 1, 2]),
    ],
)
def test_output_times(times: list[Fraction], last: Fraction, fps: int, expected: list[int]) -> None:
    assert output_times(times, last, fps) == expected

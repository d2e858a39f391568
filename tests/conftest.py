"""Shared fixtures: synthetic test images, the installed `i2v` console script, and ffprobe.

ffprobe is only ever used by the tests, to check the encoder's output independently of the
PyAV code under test. Where it is missing, tests that need it are skipped with a visible
reason, unless ``I2V_REQUIRE_FFPROBE=1`` is set (as in CI), which turns the skip into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from i2v.db.engine import Database, open_database
from i2v.db.migrate import upgrade
from tests.support import postgres

REQUIRE_FFPROBE_ENV = "I2V_REQUIRE_FFPROBE"
# Read by the tests themselves, never by i2v; everything else named I2V_* is product config.
# (tests/support/browser.py reads the last two.)
_TEST_ONLY_ENV = frozenset(
    {REQUIRE_FFPROBE_ENV, postgres.REQUIRE_ENV, "I2V_REQUIRE_BROWSER", "I2V_SCREENSHOTS_DIR"}
)


def _is_product_setting(key: str) -> bool:
    """I2V_* names configure the product, except the tests' own (I2V_REQUIRE_*, I2V_TEST_*)."""
    return key.startswith("I2V_") and not key.startswith("I2V_TEST_") and key not in _TEST_ONLY_ENV


# Environment that changes how Rich and Typer draw output; cleared so output is deterministic.
_TERMINAL_ENV = ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "TERM")

PHOTO_SIZE = (1200, 800)  # width, height: a typical landscape photo, small enough to be quick

Json = dict[str, Any]
FfprobeJson = Callable[..., Json]


# -- images -------------------------------------------------------------------------------


def photo_pixels(width: int, height: int, seed: int = 7) -> NDArray[np.uint8]:
    """A deterministic photo-like RGB image: sky gradient, a sun, saturated shapes, texture.

    Saturated colours make colour-matrix mistakes visible; the texture gives motion
    estimation and the encoder something real to work on.
    """
    rng = np.random.default_rng(seed)
    rows = np.arange(height, dtype=np.float32)[:, None, None] / height
    sky = (
        np.array([40, 90, 170], np.float32) * (1 - rows)
        + np.array([250, 200, 150], np.float32) * rows
    )
    img = np.broadcast_to(sky, (height, width, 3)).copy()
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    sun = np.exp(-((xx - 0.7 * width) ** 2 + (yy - 0.25 * height) ** 2) / (0.01 * width * width))
    img += sun[..., None] * np.array([255, 220, 120], np.float32) * 0.6
    colours = [(220, 30, 40), (30, 170, 60), (40, 60, 220), (240, 200, 20), (160, 40, 180)]
    for i, colour in enumerate(colours):
        cx, cy = rng.uniform(0.1, 0.9) * width, rng.uniform(0.45, 0.9) * height
        radius = rng.uniform(0.05, 0.12) * min(width, height)
        if i % 2:
            disc = ((xx - cx) ** 2 + (yy - cy) ** 2) < radius**2
        else:
            disc = (abs(xx - cx) < radius) & (abs(yy - cy) < 0.6 * radius)
        img[disc] = colour
    texture = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 2.0)
    img += 18 * texture[..., None] + rng.normal(0, 2.5, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def noise_pixels(width: int, height: int, seed: int = 3) -> NDArray[np.uint8]:
    """Evenly detailed everywhere (unlike a photo's smooth sky), for sharpness comparisons."""
    rng = np.random.default_rng(seed)
    grey = cv2.GaussianBlur(rng.uniform(0, 255, (height, width)).astype(np.float32), (0, 0), 1.0)
    grey = (grey - grey.mean()) * 4 + 128
    return np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def save_image(pixels: NDArray[np.uint8], path: Path, quality: int = 90) -> Path:
    """Write `pixels` in the format named by `path`'s suffix and return `path`."""
    image = Image.fromarray(pixels)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        image.save(path, format="JPEG", quality=quality)
    else:
        image.save(path)
    return path


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` RGB but which holds no pixel data.

    Refusing it as too large proves the limit is checked from the header: decoding it
    would fail as truncated instead.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="session")
def photo_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1200x800 photo-like JPEG, made once per session. Treat it as read-only."""
    folder = tmp_path_factory.mktemp("photo")
    return save_image(photo_pixels(*PHOTO_SIZE), folder / "photo.jpg")


@pytest.fixture(scope="session")
def noise_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1200x800 JPEG with fine detail everywhere. Treat it as read-only."""
    folder = tmp_path_factory.mktemp("noise")
    return save_image(noise_pixels(*PHOTO_SIZE), folder / "noise.jpg", quality=95)


# -- running i2v --------------------------------------------------------------------------


def i2v_environment() -> dict[str, str]:
    """The environment for an `i2v` subprocess: no I2V_* settings leak in from the caller.

    PATH holds only the virtual environment's bin folder, so a product that shelled out
    to ffmpeg or ffprobe would fail here instead of passing by accident.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not _is_product_setting(key) and key not in _TERMINAL_ENV
    }
    env["PATH"] = str(Path(sys.executable).parent)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="session")
def i2v_exe() -> Path:
    """The installed `i2v` console script of the interpreter running the tests."""
    exe = Path(sys.executable).parent / "i2v"
    if not exe.is_file():
        pytest.fail(f"console script {exe} not found; install the package (pip install -e .)")
    return exe


@pytest.fixture
def run_i2v(i2v_exe: Path, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `i2v ARGS...` as a subprocess in `tmp_path` (so no stray .env is read)."""

    def run(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(i2v_exe), *map(str, args)],
            cwd=tmp_path,
            env=i2v_environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """For in-process `run(...)`: cwd is `tmp_path`, no I2V_* settings, plain terminal output."""
    for key in list(os.environ):
        if _is_product_setting(key) or key in _TERMINAL_ENV:
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- ffprobe ------------------------------------------------------------------------------


def require_ffprobe() -> str:
    """The path to ffprobe; skip the test where it is missing, or fail if it is required."""
    found = shutil.which("ffprobe")
    if found is not None:
        return found
    if os.environ.get(REQUIRE_FFPROBE_ENV) == "1":
        pytest.fail(f"ffprobe is not on PATH, and {REQUIRE_FFPROBE_ENV}=1 requires it")
    pytest.skip(
        f"ffprobe is not on PATH: encoder output not checked (install ffmpeg, "
        f"or set {REQUIRE_FFPROBE_ENV}=1 to make this a failure)"
    )


@pytest.fixture(scope="session")
def ffprobe_bin() -> str:
    return require_ffprobe()


@pytest.fixture(scope="session")
def ffprobe_json(ffprobe_bin: str) -> FfprobeJson:
    """`ffprobe_json(path, *args)` runs `ffprobe -v error -of json ARGS PATH` and parses it."""

    def probe(path: Path, *args: str) -> Json:
        done = subprocess.run(
            [ffprobe_bin, "-v", "error", "-of", "json", *args, str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"ffprobe failed on {path}: {done.stderr.strip()}"
        result: Json = json.loads(done.stdout)
        return result

    return probe


# -- databases: every test that takes `db` runs on SQLite and on a real PostgreSQL --------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[postgres.PostgresCluster]:
    reason = postgres.missing_reason()
    if reason is not None:
        if os.environ.get(postgres.REQUIRE_ENV) == "1":
            pytest.fail(f"{reason}, and {postgres.REQUIRE_ENV}=1 requires PostgreSQL")
        pytest.skip(reason)
    cluster = postgres.PostgresCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_template(pg_cluster: postgres.PostgresCluster) -> str:
    """A migrated database that per-test databases are copied from (fast)."""
    name = pg_cluster.create_database()
    db = open_database(pg_cluster.url(name))
    upgrade(db)
    db.dispose()
    return name


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        database = open_database(f"sqlite:///{tmp_path / 'i2v.db'}")
        upgrade(database)
    else:
        cluster: postgres.PostgresCluster = request.getfixturevalue("pg_cluster")
        template: str = request.getfixturevalue("pg_template")
        database = open_database(cluster.url(cluster.create_database(template)))
    try:
        yield database
    finally:
        database.dispose()

"""The pixel budget for decodes (DecodeGate), and normalising a strip at a time."""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageOps

from i2v.errors import CorruptImage, ImageTooLarge, NotAnImage
from i2v.media.gate import DecodeGate
from i2v.media.image import STRIP_BYTES, ImageLimits, _to_srgb8, decode_image, inspect_image
from tests.unit.test_image import SRGB_BLUE, SRGB_GREEN, SRGB_RED, icc_rgb_profile

LIMITS = ImageLimits()


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def start(target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


# --- DecodeGate ----------------------------------------------------------------------------


def test_decodes_run_together_only_while_their_pixels_fit_the_budget() -> None:
    gate = DecodeGate(100)
    lock = threading.Lock()
    holders = [0]
    most = [0]

    def decode() -> None:
        with gate.admit(40):
            with lock:
                holders[0] += 1
                most[0] = max(most[0], holders[0])
            assert gate.in_use <= 100
            time.sleep(0.05)
            with lock:
                holders[0] -= 1

    threads = [start(decode) for _ in range(6)]
    for thread in threads:
        thread.join(10)
    assert most[0] == 2  # 2 x 40 fit in 100, a third would not
    assert (gate.in_use, gate.waiting) == (0, 0)


def test_the_line_is_first_come_first_served_so_a_big_decode_is_not_starved() -> None:
    gate = DecodeGate(100)
    release_first, admitted = threading.Event(), []

    def hold_first() -> None:
        with gate.admit(60):
            release_first.wait(10)

    def later(name: str, pixels: int) -> Callable[[], None]:
        def run() -> None:
            with gate.admit(pixels):
                admitted.append(name)

        return run

    first = start(hold_first)
    wait_until(lambda: gate.in_use == 60)
    big = start(later("big", 60))  # does not fit beside the first
    wait_until(lambda: gate.waiting == 1)
    small = start(later("small", 10))  # would fit, but the big one is ahead of it
    wait_until(lambda: gate.waiting == 2)
    time.sleep(0.05)
    assert admitted == []
    release_first.set()
    for thread in (first, big, small):
        thread.join(10)
    assert admitted == ["big", "small"]


def test_an_image_over_the_whole_budget_takes_all_of_it_and_still_runs() -> None:
    gate = DecodeGate(100)
    with gate.admit(10**9):
        assert gate.in_use == 100
    assert gate.in_use == 0


def test_a_failed_decode_gives_its_pixels_back() -> None:
    gate = DecodeGate(100)
    with pytest.raises(RuntimeError), gate.admit(70):
        raise RuntimeError("decoder failed")
    with gate.admit(100):
        assert gate.in_use == 100


def test_the_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        DecodeGate(0)


# --- inspect_image -------------------------------------------------------------------------


def encode(img: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **params)
    return buffer.getvalue()


def old_digest(rgb: NDArray[np.uint8]) -> str:
    """The cache's pixel hash as it was defined on the whole array: keys made before still hit."""
    digest = hashlib.sha256(f"{rgb.shape}".encode())
    digest.update(np.ascontiguousarray(rgb).data)
    return digest.hexdigest()


def noise(width: int, height: int, channels: int = 3) -> NDArray[np.uint8]:
    shape = (height, width, channels) if channels > 1 else (height, width)
    return np.random.default_rng(width + height).integers(0, 256, shape, dtype=np.uint8)


def rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(Image.fromarray(noise(400, 300)), "JPEG", quality=90, exif=exif.tobytes())


CASES: dict[str, Callable[[], bytes]] = {
    "rgb png, several strips": lambda: encode(Image.fromarray(noise(2000, 1500)), "PNG"),
    "rgba png": lambda: encode(Image.fromarray(noise(300, 280, 4), "RGBA"), "PNG"),
    "palette png": lambda: encode(Image.fromarray(noise(300, 300)).convert("P"), "PNG"),
    "16-bit grey png": lambda: encode(
        Image.fromarray(noise(300, 300, 1).astype(np.uint16) * 257), "PNG"
    ),
    "plain jpeg": lambda: encode(Image.fromarray(noise(500, 400)), "JPEG", quality=90),
    "rotated jpeg": rotated_jpeg,
    "greyscale jpeg": lambda: encode(Image.fromarray(noise(300, 300, 1)), "JPEG"),
    "webp": lambda: encode(Image.fromarray(noise(320, 300)), "WEBP", quality=80),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_inspect_hashes_exactly_the_pixels_decode_returns(case: str) -> None:
    data = CASES[case]()
    decoded = decode_image(data, LIMITS)
    inspected = inspect_image(data, LIMITS, gate=DecodeGate(10**8))
    assert inspected.pixels_sha256 == old_digest(decoded.rgb)
    assert (inspected.width, inspected.height) == (decoded.width, decoded.height)
    assert (inspected.source_format, inspected.source_size) == (
        decoded.source_format,
        decoded.source_size,
    )


def test_inspect_waits_for_room_in_the_gate() -> None:
    data = CASES["plain jpeg"]()
    gate = DecodeGate(500 * 400)
    done = threading.Event()

    def check() -> None:
        inspect_image(data, LIMITS, gate=gate)
        done.set()

    with gate.admit(1):  # one pixel too many for the image to fit beside it
        thread = start(check)
        wait_until(lambda: gate.waiting == 1)
        assert not done.wait(0.05)
    thread.join(10)
    assert done.is_set()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"not an image at all", NotAnImage),
        (CASES["plain jpeg"]()[:200], CorruptImage),
    ],
)
def test_inspect_refuses_what_decode_refuses(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_image(data, LIMITS)
    with pytest.raises(error):
        inspect_image(data, LIMITS)


def test_an_image_over_the_limit_is_refused_without_waiting_for_the_gate() -> None:
    data = encode(Image.new("RGB", (3000, 2000)), "PNG")
    gate = DecodeGate(100)
    # The budget is taken, so any admission would block.
    with gate.admit(100), pytest.raises(ImageTooLarge):
        inspect_image(data, ImageLimits(max_pixels=5_000_000), gate=gate)
    assert gate.waiting == 0


# --- strip by strip is the same as the whole image -----------------------------------------

SIDE_W, SIDE_H = 2400, 1600  # two strips or more either way up
assert STRIP_BYTES // (3 * SIDE_H) < SIDE_W  # sideways: upright rows per strip < height
assert STRIP_BYTES // (3 * SIDE_W) < SIDE_H


def oriented(img: Image.Image, orientation: int, **params: Any) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(img, "PNG", exif=exif.tobytes(), compress_level=1, **params)


def whole_image(data: bytes) -> NDArray[np.uint8]:
    """Upright and converted in one piece, as decode_image did before it went strip-wise."""
    with Image.open(io.BytesIO(data)) as img:
        upright = ImageOps.exif_transpose(img)
        return np.asarray(_to_srgb8(upright), dtype=np.uint8)


def swapped_profile() -> bytes:
    return icc_rgb_profile(SRGB_BLUE, SRGB_GREEN, SRGB_RED, 2.2, "Swapped test RGB")


rgb = Image.fromarray(noise(SIDE_W, SIDE_H))
STRIPWISE: dict[str, Callable[[], bytes]] = {
    **{f"rgb, orientation {o}": (lambda o=o: oriented(rgb, o)) for o in range(1, 9)},
    "rgba, sideways": lambda: oriented(Image.fromarray(noise(SIDE_W, SIDE_H, 4), "RGBA"), 6),
    "palette with transparency, upside down": lambda: oriented(rgb.convert("P"), 3, transparency=7),
    "16-bit grey, transposed": lambda: oriented(
        Image.fromarray(noise(SIDE_W, SIDE_H, 1).astype(np.uint16) * 257), 7
    ),
    "grey and alpha": lambda: oriented(rgb.convert("LA"), 1),
    "non-sRGB profile, sideways": lambda: oriented(rgb, 8, icc_profile=swapped_profile()),
}


@pytest.mark.parametrize("case", sorted(STRIPWISE))
def test_strip_by_strip_gives_the_pixels_of_the_whole_image(case: str) -> None:
    data = STRIPWISE[case]()
    expected = whole_image(data)
    np.testing.assert_array_equal(decode_image(data, LIMITS).rgb, expected)
    assert inspect_image(data, LIMITS).pixels_sha256 == old_digest(expected)

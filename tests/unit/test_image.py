"""Image loading and normalisation: formats, orientation, alpha, colour, limits, errors."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageCms, ImageFile

from i2v.errors import (
    CorruptImage,
    ImageError,
    ImageNotFound,
    ImageTooLarge,
    ImageTooSmall,
    NotAnImage,
)
from i2v.media.image import ImageLimits, NormalisedImage, decode_image, load_image

LIMITS = ImageLimits()
RED = (255, 0, 0)
ORIENTATION_TAG = 0x0112


# --- helpers -----------------------------------------------------------------------------


def encode(img: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **params)
    return buffer.getvalue()


def gradient(width: int, height: int) -> NDArray[np.uint8]:
    """A smooth colour image that survives lossy compression well."""
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    rgb = np.empty((height, width, 3), dtype=np.uint8)
    rgb[..., 0] = np.rint(40 + 180 * x)
    rgb[..., 1] = np.rint(60 + 140 * y)
    rgb[..., 2] = np.rint(200 - 100 * x * y)
    return rgb


def noise(width: int, height: int, seed: int = 0) -> NDArray[np.uint8]:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def patch_mean(rgb: NDArray[np.uint8], corner: str, size: int = 12) -> NDArray[np.float64]:
    """Mean colour of a size x size patch just inside `corner` ("tl", "tr", "bl", "br")."""
    ys = slice(2, 2 + size) if corner[0] == "t" else slice(-2 - size, -2)
    xs = slice(2, 2 + size) if corner[1] == "l" else slice(-2 - size, -2)
    return np.asarray(rgb[ys, xs].reshape(-1, 3).mean(axis=0), dtype=np.float64)


def assert_close(actual: Any, expected: Any, tolerance: float) -> None:
    diff = np.abs(np.asarray(actual, dtype=np.float64) - np.asarray(expected, dtype=np.float64))
    assert diff.max() <= tolerance, f"{actual} is not within {tolerance} of {expected}"


def assert_normalised(result: NormalisedImage, width: int, height: int) -> None:
    assert result.rgb.shape == (height, width, 3)
    assert result.rgb.dtype == np.uint8
    assert result.rgb.flags.c_contiguous
    assert (result.width, result.height) == (width, height)


def png_chunk(tag: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(tag + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)


def crafted_png(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height RGB but whose IDAT holds only a few bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def s15fixed16(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def icc_rgb_profile(
    red: tuple[float, float, float],
    green: tuple[float, float, float],
    blue: tuple[float, float, float],
    gamma: float,
    description: str,
) -> bytes:
    """A minimal ICC v2 matrix/TRC RGB display profile (colorants in D50 XYZ)."""

    def xyz(values: tuple[float, float, float]) -> bytes:
        return b"XYZ " + bytes(4) + b"".join(s15fixed16(v) for v in values)

    def curve() -> bytes:
        return b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)

    text = description.encode("ascii") + b"\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(8 + 2 + 1 + 67)
    d50 = (0.9642, 1.0, 0.8249)
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(d50)),
        (b"rXYZ", xyz(red)),
        (b"gXYZ", xyz(green)),
        (b"bXYZ", xyz(blue)),
        (b"rTRC", curve()),
        (b"gTRC", curve()),
        (b"bTRC", curve()),
        (b"cprt", b"text" + bytes(4) + b"none\0"),
    ]
    body_start = 128 + 4 + 12 * len(tags)
    entries, body = b"", b""
    for signature, data in tags:
        body += bytes(-(body_start + len(body)) % 4)
        entries += signature + struct.pack(">II", body_start + len(body), len(data))
        body += data
    header = (
        struct.pack(">I", body_start + len(body))
        + bytes(4)
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + bytes(12)
        + b"acsp"
        + bytes(28)
        + b"".join(s15fixed16(v) for v in d50)
        + bytes(4 + 16 + 28)
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + entries + body


# sRGB's colorants adapted to D50, as every ICC profile stores them.
SRGB_RED = (0.4361, 0.2225, 0.0139)
SRGB_GREEN = (0.3851, 0.7169, 0.0971)
SRGB_BLUE = (0.1431, 0.0606, 0.7141)
# Display P3's colorants adapted to D50: a wider gamut than sRGB.
P3_RED = (0.5151, 0.2412, -0.0011)
P3_GREEN = (0.2920, 0.6922, 0.0419)
P3_BLUE = (0.1571, 0.0666, 0.7841)


def srgb_encode(linear: NDArray[np.float64]) -> NDArray[np.float64]:
    linear = np.clip(linear, 0.0, 1.0)
    return (
        np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055) * 255.0
    )


# --- formats -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "params", "tolerance"),
    [
        ("PNG", {}, 0),
        ("JPEG", {"quality": 95}, 6),
        ("WEBP", {"lossless": True}, 0),
        ("WEBP", {"quality": 90}, 10),
    ],
)
def test_png_jpeg_and_webp_load_to_contiguous_rgb8(
    fmt: str, params: dict[str, Any], tolerance: int
) -> None:
    pixels = gradient(320, 280)
    result = decode_image(encode(Image.fromarray(pixels), fmt, **params), LIMITS)
    assert_normalised(result, 320, 280)
    assert result.source_format == fmt
    assert result.source_size == (320, 280)
    assert np.abs(result.rgb.astype(int) - pixels.astype(int)).mean() <= max(tolerance / 3, 0)
    assert_close(patch_mean(result.rgb, "tl"), patch_mean(pixels, "tl"), tolerance)
    assert_close(patch_mean(result.rgb, "br"), patch_mean(pixels, "br"), tolerance)


def test_load_image_reads_a_file_from_disk(tmp_path: Path) -> None:
    pixels = noise(300, 260)
    path = tmp_path / "photo.png"
    Image.fromarray(pixels).save(path)
    result = load_image(path, LIMITS)
    assert_normalised(result, 300, 260)
    np.testing.assert_array_equal(result.rgb, pixels)


# --- EXIF orientation ----------------------------------------------------------------------

# Where the stored image's top-left corner is seen once upright, and whether the sides swap.
ORIENTATIONS = {
    1: ("tl", False),
    2: ("tr", False),
    3: ("br", False),
    4: ("bl", False),
    5: ("tl", True),
    6: ("tr", True),
    7: ("br", True),
    8: ("bl", True),
}


def marked_image(width: int, height: int) -> Image.Image:
    """Mid grey with a red block in the top-left corner."""
    pixels = np.full((height, width, 3), 128, dtype=np.uint8)
    pixels[:40, :40] = RED
    return Image.fromarray(pixels)


@pytest.mark.parametrize("orientation", sorted(ORIENTATIONS))
def test_exif_orientation_is_applied_to_jpeg(orientation: int) -> None:
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    data = encode(marked_image(400, 300), "JPEG", quality=95, exif=exif.tobytes())

    result = decode_image(data, LIMITS)

    corner, swapped = ORIENTATIONS[orientation]
    assert (result.width, result.height) == ((300, 400) if swapped else (400, 300))
    assert result.source_size == (400, 300)
    assert_close(patch_mean(result.rgb, corner), RED, 12)
    for other in {"tl", "tr", "bl", "br"} - {corner}:
        assert_close(patch_mean(result.rgb, other), (128, 128, 128), 12)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_exif_orientation_is_applied_to_png_and_webp(fmt: str) -> None:
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6
    params: dict[str, Any] = {"exif": exif.tobytes()}
    if fmt == "WEBP":
        params["lossless"] = True
    result = decode_image(encode(marked_image(400, 300), fmt, **params), LIMITS)
    assert (result.width, result.height) == (300, 400)
    assert_close(patch_mean(result.rgb, "tr"), RED, 0)
    assert_close(patch_mean(result.rgb, "tl"), (128, 128, 128), 0)


# --- alpha ---------------------------------------------------------------------------------


def test_rgba_png_is_flattened_onto_white() -> None:
    pixels = np.zeros((300, 300, 4), dtype=np.uint8)
    pixels[:, :100] = (0, 0, 0, 0)  # transparent black -> white
    pixels[:, 100:200] = (255, 0, 0, 255)  # opaque red
    pixels[:, 200:] = (0, 0, 255, 128)  # half-transparent blue over white
    result = decode_image(encode(Image.fromarray(pixels, "RGBA"), "PNG"), LIMITS)
    assert_normalised(result, 300, 300)
    assert_close(result.rgb[:, :100], (255, 255, 255), 0)
    assert_close(result.rgb[:, 100:200], RED, 0)
    assert_close(result.rgb[:, 200:], (127, 127, 255), 1)


def test_rgba_webp_is_flattened_onto_white() -> None:
    pixels = np.zeros((300, 300, 4), dtype=np.uint8)
    pixels[:150] = (0, 0, 0, 0)
    pixels[150:] = (0, 128, 0, 255)
    result = decode_image(encode(Image.fromarray(pixels, "RGBA"), "WEBP", lossless=True), LIMITS)
    assert_close(result.rgb[:150], (255, 255, 255), 0)
    assert_close(result.rgb[150:], (0, 128, 0), 0)


def test_la_png_is_flattened_onto_white() -> None:
    luma = np.zeros((300, 300), dtype=np.uint8)
    alpha = np.zeros((300, 300), dtype=np.uint8)
    alpha[150:] = 255
    img = Image.merge("LA", [Image.fromarray(luma), Image.fromarray(alpha)])
    data = encode(img, "PNG")
    assert Image.open(io.BytesIO(data)).mode == "LA"
    result = decode_image(data, LIMITS)
    assert result.source_mode == "LA"
    assert_close(result.rgb[:150], (255, 255, 255), 0)
    assert_close(result.rgb[150:], (0, 0, 0), 0)


def test_palette_png_with_transparency_is_flattened_onto_white() -> None:
    img = Image.new("P", (300, 300), 0)
    img.putpalette([0, 0, 0, 200, 30, 40] + [0] * (254 * 3))
    img.paste(1, (0, 0, 300, 150))
    data = encode(img, "PNG", transparency=0)
    assert Image.open(io.BytesIO(data)).mode == "P"
    result = decode_image(data, LIMITS)
    assert result.source_mode == "P"
    assert_close(result.rgb[:150], (200, 30, 40), 0)
    assert_close(result.rgb[150:], (255, 255, 255), 0)


# --- colour modes ----------------------------------------------------------------------------


def test_cmyk_jpeg_becomes_rgb_with_sensible_colours() -> None:
    img = Image.new("CMYK", (300, 300), (255, 0, 0, 0))  # pure cyan
    img.paste((0, 255, 0, 0), (0, 150, 300, 300))  # pure magenta
    data = encode(img, "JPEG", quality=95)
    result = decode_image(data, LIMITS)
    assert result.source_mode == "CMYK"
    assert_normalised(result, 300, 300)
    assert_close(patch_mean(result.rgb, "tl"), (0, 255, 255), 20)
    assert_close(patch_mean(result.rgb, "bl"), (255, 0, 255), 20)


def test_palette_png_without_transparency_becomes_rgb() -> None:
    img = Image.new("P", (300, 300), 0)
    img.putpalette([10, 200, 90, 250, 250, 0] + [0] * (254 * 3))
    img.paste(1, (150, 0, 300, 300))
    result = decode_image(encode(img, "PNG"), LIMITS)
    assert_close(result.rgb[:, :150], (10, 200, 90), 0)
    assert_close(result.rgb[:, 150:], (250, 250, 0), 0)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_greyscale_becomes_rgb_with_equal_channels(fmt: str) -> None:
    luma = np.tile(np.linspace(0, 255, 300).round().astype(np.uint8), (280, 1))
    result = decode_image(encode(Image.fromarray(luma, "L"), fmt), LIMITS)
    assert result.source_mode == "L"
    assert_normalised(result, 300, 280)
    np.testing.assert_array_equal(result.rgb[..., 0], result.rgb[..., 1])
    np.testing.assert_array_equal(result.rgb[..., 0], result.rgb[..., 2])
    tolerance = 0 if fmt == "PNG" else 4
    assert_close(result.rgb[..., 0], luma, tolerance)


def test_16_bit_greyscale_png_is_scaled_not_clipped() -> None:
    wide = np.zeros((300, 300), dtype=np.uint16)
    wide[:100] = 65535
    wide[100:200] = 32768
    wide[200:] = 255  # would be white if clipped, is nearly black when scaled
    data = encode(Image.fromarray(wide), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    result = decode_image(data, LIMITS)
    assert result.source_mode.startswith("I")
    assert_normalised(result, 300, 300)
    assert_close(result.rgb[:100], (255, 255, 255), 0)
    assert_close(result.rgb[100:200], (128, 128, 128), 0)
    assert_close(result.rgb[200:], (0, 0, 0), 1)


def test_1_bit_png_becomes_black_and_white_rgb() -> None:
    bits = np.zeros((300, 300), dtype=bool)
    bits[:, 150:] = True
    data = encode(Image.fromarray(bits), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "1"
    result = decode_image(data, LIMITS)
    assert_normalised(result, 300, 300)
    assert_close(result.rgb[:, :150], (0, 0, 0), 0)
    assert_close(result.rgb[:, 150:], (255, 255, 255), 0)


# --- ICC profiles ----------------------------------------------------------------------------


def test_embedded_srgb_profile_leaves_pixels_unchanged() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    pixels = noise(300, 300, seed=3)
    result = decode_image(encode(Image.fromarray(pixels), "PNG", icc_profile=srgb), LIMITS)
    np.testing.assert_array_equal(result.rgb, pixels)


def test_embedded_non_srgb_profile_is_converted() -> None:
    # A profile whose red and blue colorants are sRGB's blue and red: converting to sRGB
    # must swap the channels, which no accidental no-op can imitate.
    swapped = icc_rgb_profile(SRGB_BLUE, SRGB_GREEN, SRGB_RED, 2.2, "Swapped test RGB")
    pixels = np.zeros((300, 300, 3), dtype=np.uint8)
    pixels[:100] = (255, 0, 0)
    pixels[100:200] = (40, 120, 220)
    pixels[200:] = (0, 0, 255)
    result = decode_image(encode(Image.fromarray(pixels), "PNG", icc_profile=swapped), LIMITS)
    assert_close(result.rgb[:100], (0, 0, 255), 2)
    assert_close(result.rgb[100:200], (220, 120, 40), 8)
    assert_close(result.rgb[200:], (255, 0, 0), 2)


def test_wide_gamut_profile_is_converted_to_srgb() -> None:
    gamma = 2.2
    p3 = icc_rgb_profile(P3_RED, P3_GREEN, P3_BLUE, gamma, "Display P3 test")
    colour = np.array([200.0, 90.0, 80.0])
    to_xyz = np.array([P3_RED, P3_GREEN, P3_BLUE]).T
    srgb_to_xyz = np.array([SRGB_RED, SRGB_GREEN, SRGB_BLUE]).T
    linear = np.linalg.solve(srgb_to_xyz, to_xyz @ (colour / 255.0) ** gamma)
    expected = srgb_encode(linear)
    assert expected[0] > colour[0] + 10  # the same numbers mean a more saturated colour in P3

    img = Image.new("RGB", (300, 300), tuple(int(c) for c in colour))
    result = decode_image(encode(img, "PNG", icc_profile=p3), LIMITS)
    assert_close(patch_mean(result.rgb, "tl"), expected, 3)


def test_broken_icc_profile_is_ignored() -> None:
    pixels = noise(300, 300, seed=4)
    data = encode(Image.fromarray(pixels), "PNG", icc_profile=b"not an icc profile" * 10)
    np.testing.assert_array_equal(decode_image(data, LIMITS).rgb, pixels)


# --- size limits -----------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(255, 400), (400, 255), (100, 100)])
def test_image_below_min_side_is_too_small(width: int, height: int) -> None:
    with pytest.raises(ImageTooSmall) as info:
        decode_image(encode(Image.fromarray(noise(width, height)), "PNG"), LIMITS)
    assert f"{width}x{height}" in str(info.value)
    assert info.value.code == "image_too_small"


def test_image_of_exactly_min_side_is_accepted() -> None:
    result = decode_image(encode(Image.fromarray(noise(256, 256)), "PNG"), LIMITS)
    assert_normalised(result, 256, 256)


def test_custom_limits_are_honoured() -> None:
    data = encode(Image.fromarray(noise(300, 300)), "PNG")
    with pytest.raises(ImageTooSmall):
        decode_image(data, ImageLimits(min_side=301))
    with pytest.raises(ImageTooLarge):
        decode_image(data, ImageLimits(max_pixels=300 * 300 - 1))
    assert_normalised(decode_image(data, ImageLimits(max_pixels=300 * 300)), 300, 300)


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if any pixel data is decoded."""

    def refuse(self: ImageFile.ImageFile) -> Any:
        raise AssertionError(f"decoded a {self.size} image that should have been refused")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


@pytest.mark.parametrize(
    ("width", "height", "limits"),
    [
        (20000, 20000, LIMITS),  # beyond Pillow's own bomb threshold
        (8000, 7000, LIMITS),  # 56 MP: over our 50 MP limit, under Pillow's
        (3000, 2000, ImageLimits(max_pixels=5_000_000)),
    ],
)
@pytest.mark.usefixtures("no_decoding")
def test_image_over_max_pixels_is_refused_from_the_header(
    width: int, height: int, limits: ImageLimits
) -> None:
    data = crafted_png(width, height)
    assert len(data) < 200
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge) as info:
        decode_image(data, limits, name="bomb.png")
    assert time.perf_counter() - started < 0.5
    assert info.value.path == "bomb.png"
    assert info.value.code == "image_too_large"


def test_crafted_png_header_is_what_the_bomb_test_claims() -> None:
    # Guard for the test above: Pillow reads the crafted header as the size we wrote.
    with Image.open(io.BytesIO(crafted_png(8000, 7000))) as img:
        assert img.format == "PNG"
        assert img.size == (8000, 7000)


def test_too_large_file_on_disk_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(crafted_png(20000, 20000))
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge) as info:
        load_image(path, LIMITS)
    assert time.perf_counter() - started < 0.5
    assert info.value.path == str(path)


# --- broken and foreign inputs ---------------------------------------------------------------


def test_truncated_jpeg_data_is_corrupt() -> None:
    data = encode(Image.fromarray(noise(300, 300)), "JPEG", quality=90)
    with pytest.raises(CorruptImage) as info:
        decode_image(data[: len(data) // 2], LIMITS, name="cut.jpg")
    assert info.value.code == "corrupt_image"
    assert "cut.jpg" in str(info.value)


def test_truncated_png_data_is_corrupt() -> None:
    data = encode(Image.fromarray(noise(300, 300)), "PNG")
    with pytest.raises(CorruptImage):
        decode_image(data[: len(data) // 2], LIMITS)


def test_jpeg_truncated_inside_its_header_is_an_image_error() -> None:
    data = encode(Image.fromarray(noise(300, 300)), "JPEG", quality=90)
    with pytest.raises(ImageError):
        decode_image(data[:200], LIMITS)


def test_truncated_webp_is_corrupt() -> None:
    data = encode(Image.fromarray(noise(300, 300)), "WEBP", quality=90)
    with pytest.raises(CorruptImage):
        decode_image(data[: len(data) // 2], LIMITS)


def test_random_bytes_are_not_an_image() -> None:
    data = np.random.default_rng(7).bytes(4096)
    with pytest.raises(NotAnImage) as info:
        decode_image(data, LIMITS, name="noise.bin")
    assert info.value.code == "not_an_image"
    assert info.value.path == "noise.bin"


def test_text_file_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("these are not the pixels you are looking for\n" * 20)
    with pytest.raises(NotAnImage):
        load_image(path, LIMITS)


def test_empty_file_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(NotAnImage):
        load_image(path, LIMITS)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_unsupported_formats_are_not_an_image(fmt: str) -> None:
    data = encode(Image.fromarray(gradient(300, 300)), fmt)
    with pytest.raises(NotAnImage) as info:
        decode_image(data, LIMITS)
    assert fmt in str(info.value)
    assert "PNG, JPEG or WebP" in str(info.value)


def test_missing_path_is_image_not_found(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.jpg"
    with pytest.raises(ImageNotFound) as info:
        load_image(path, LIMITS)
    assert info.value.path == str(path)
    assert info.value.code == "image_not_found"


def test_directory_is_image_not_found(tmp_path: Path) -> None:
    with pytest.raises(ImageNotFound):
        load_image(tmp_path, LIMITS)


# --- reduced-scale JPEG decoding ---------------------------------------------------------------


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    return encode(Image.fromarray(gradient(4000, 3000)), "JPEG", quality=80)


def test_min_decode_size_decodes_a_big_jpeg_at_reduced_scale(big_jpeg: bytes) -> None:
    result = decode_image(big_jpeg, LIMITS, min_decode_size=(900, 700))
    assert_normalised(result, 1000, 750)
    assert result.source_size == (4000, 3000)
    # Still the same picture, only smaller.
    small = gradient(1000, 750)
    assert np.abs(result.rgb.astype(int) - small.astype(int)).mean() < 3


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ((1000, 750), (1000, 750)),  # exactly a quarter
        ((1001, 700), (2000, 1500)),  # a quarter would be too narrow by one pixel
        ((1000, 751), (2000, 1500)),
        ((400, 300), (500, 375)),  # an eighth is the smallest DCT scale
        ((4000, 3000), (4000, 3000)),
        ((8000, 6000), (4000, 3000)),  # never upscaled
    ],
)
def test_min_decode_size_never_goes_below_the_requested_size(
    big_jpeg: bytes, requested: tuple[int, int], expected: tuple[int, int]
) -> None:
    result = decode_image(big_jpeg, LIMITS, min_decode_size=requested)
    assert (result.width, result.height) == expected
    assert result.width >= min(requested[0], 4000)
    assert result.height >= min(requested[1], 3000)


def test_min_decode_size_rounds_up_for_sizes_not_divisible_by_the_scale() -> None:
    data = encode(Image.fromarray(gradient(4001, 3001)), "JPEG", quality=70)
    result = decode_image(data, LIMITS, min_decode_size=(1000, 750))
    assert (result.width, result.height) == (1001, 751)


def test_min_decode_size_is_in_upright_coordinates_for_rotated_jpegs() -> None:
    # Stored 3000 wide, 4000 high, shown 4000 x 3000. Without swapping the request into
    # stored coordinates the decoder would only shrink by 2 (3000 // 900 == 3).
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6
    data = encode(Image.fromarray(gradient(3000, 4000)), "JPEG", quality=70, exif=exif.tobytes())
    result = decode_image(data, LIMITS, min_decode_size=(900, 700))
    assert (result.width, result.height) == (1000, 750)


def test_min_decode_size_does_not_shrink_png() -> None:
    data = encode(Image.fromarray(noise(1200, 1000)), "PNG")
    result = decode_image(data, LIMITS, min_decode_size=(300, 250))
    assert (result.width, result.height) == (1200, 1000)

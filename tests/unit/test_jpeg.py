"""OpenCV's decode of plain colour JPEGs: the same pixels as Pillow's, or no answer at all."""

from __future__ import annotations

import io

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageCms, ImageOps

from i2v.media.jpeg import decode_plain_jpeg, draft_scale


def photo(width: int, height: int) -> NDArray[np.uint8]:
    rng = np.random.default_rng(width * height)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def jpeg(pixels: NDArray[np.uint8], mode: str = "RGB", **params: object) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(out, format="JPEG", quality=90, **params)
    return out.getvalue()


def pillow_decode(data: bytes, need: tuple[int, int] | None) -> NDArray[np.uint8]:
    with Image.open(io.BytesIO(data)) as img:
        if need is not None:
            img.draft("RGB", need)
        img.load()
        ImageOps.exif_transpose(img, in_place=True)
        return np.asarray(img)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("need", [None, (320, 240), (150, 100)])
def test_plain_jpeg_decodes_to_pillows_pixels(
    orientation: int, need: tuple[int, int] | None
) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = jpeg(photo(640, 480), exif=exif.tobytes())
    with Image.open(io.BytesIO(data)) as img:
        got = decode_plain_jpeg(data, img, orientation, need)
    assert got is not None
    assert got.flags.c_contiguous
    np.testing.assert_array_equal(got, pillow_decode(data, need))


@pytest.mark.parametrize(
    ("size", "need"),
    [((4000, 3000), (1000, 750)), ((4000, 3000), (1001, 700)), ((4001, 3001), (400, 300))],
)
def test_draft_scale_is_pillows(size: tuple[int, int], need: tuple[int, int]) -> None:
    img = Image.new("RGB", size)
    out = io.BytesIO()
    img.save(out, format="JPEG")
    with Image.open(out) as opened:
        opened.draft("RGB", need)
        scale = draft_scale(size, need)
        assert opened.size == (-(-size[0] // scale), -(-size[1] // scale))


def test_no_need_means_full_size() -> None:
    assert draft_scale((4000, 3000), None) == 1
    assert draft_scale((4000, 3000), (8000, 6000)) == 1


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize(
    "data",
    [
        jpeg(photo(320, 240))[:-500],  # truncated: OpenCV would fill it with grey
        jpeg(photo(320, 240), mode="L"),
        jpeg(photo(320, 240), mode="CMYK"),
        jpeg(photo(320, 240), icc_profile=srgb_profile()),
    ],
    ids=["truncated", "greyscale", "cmyk", "icc"],
)
def test_everything_else_is_left_to_pillow(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as img:
        assert decode_plain_jpeg(data, img, 1, None) is None

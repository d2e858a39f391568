"""Load an input image safely and normalise it to 8-bit sRGB RGB pixels."""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import (
    Image,
    ImageCms,
    JpegImagePlugin,
    PngImagePlugin,
    UnidentifiedImageError,
    WebPImagePlugin,
)

from i2v.errors import CorruptImage, ImageNotFound, ImageTooLarge, ImageTooSmall, NotAnImage
from i2v.media.gate import DecodeGate
from i2v.media.jpeg import decode_plain_jpeg

ACCEPTED_FORMATS = frozenset({"PNG", "JPEG", "WEBP"})
FLATTEN_BACKGROUND = (255, 255, 255)  # alpha is composited onto white, as browsers show it
# The decoders of the accepted formats, imported with this module rather than by the first
# Image.open (~20 ms, mostly the JPEG plugin's EXIF support) in the middle of a render.
_DECODERS = (JpegImagePlugin, PngImagePlugin, WebPImagePlugin)
# Pixels leave Pillow's store a strip at a time (see _Stored): np.asarray(img) would first
# build the whole image as bytes, twice (chunks, then their join), beside the store itself.
# 8 MB strips cost about as much time as one whole-image pass (4 MB ones were slower).
STRIP_BYTES = 8 * 1024 * 1024
# Pillow stores an image in blocks, 16 MB by default. glibc serves a freed block's size from
# its heaps afterwards (its mmap threshold rises to at most 32 MB), and a heap rarely gives
# memory back: eight 49 MP decodes on eight API threads left each thread's arena holding
# ~200 MB. Blocks over 32 MB are always mapped, so they go back to the system when freed.
BLOCK_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ImageLimits:
    max_pixels: int = 50_000_000
    min_side: int = 256


@dataclass(frozen=True, slots=True)
class NormalisedImage:
    """Upright 8-bit sRGB pixels, shape (height, width, 3), C-contiguous."""

    rgb: NDArray[np.uint8]
    source_format: str
    source_mode: str
    source_size: tuple[int, int]  # as stored in the file, before orientation and draft

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


@dataclass(frozen=True, slots=True)
class InspectedImage:
    """What submission needs of an image: its format, and the hash of its normalised pixels."""

    source_format: str
    source_size: tuple[int, int]
    width: int  # upright
    height: int
    pixels_sha256: str  # the same picture in another file format has the same hash
    # Every step-th row and column, no longer than `thumbnail_side` (when asked for): the
    # content policy's classifier looks at 224 px, so a second decode would only cost memory.
    thumbnail: NDArray[np.uint8] | None = None


def load_image(
    path: Path,
    limits: ImageLimits,
    min_decode_size: tuple[int, int] | None = None,
    *,
    gate: DecodeGate | None = None,
) -> NormalisedImage:
    """Open, check and normalise `path`.

    The pixel limit is checked from the header, before any pixel is decoded, so a
    decompression bomb costs nothing. `min_decode_size` (upright width, height) lets
    a JPEG decode at a reduced DCT scale when the caller needs fewer pixels.
    """
    return decode_image(_read(path), limits, min_decode_size, name=str(path), gate=gate)


def check_image_file(path: Path, limits: ImageLimits) -> tuple[int, int]:
    """The stored (width, height) of the image at `path`, refused as `load_image` would refuse
    it from its header; no pixel is decoded (for `i2v quote`, which never renders)."""
    with _opened(_read(path), limits, str(path)) as img:
        return img.size


def _read(path: Path) -> bytes:
    if not path.exists():
        raise ImageNotFound(path, f"{path}: no such file")
    if not path.is_file():
        raise ImageNotFound(path, f"{path}: not a file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImageNotFound(path, f"{path}: cannot read ({exc.strerror})") from exc


def decode_image(
    data: bytes,
    limits: ImageLimits,
    min_decode_size: tuple[int, int] | None = None,
    *,
    name: str = "image",
    gate: DecodeGate | None = None,
) -> NormalisedImage:
    """Check and normalise encoded image `data`; the decode waits for room in `gate`."""
    with _opened(data, limits, name) as img, _admitted(gate, img):
        source = (str(img.format), img.mode, img.size)
        pixels = _upright_srgb(img, data, min_decode_size, name)
        rgb = pixels if isinstance(pixels, np.ndarray) else _to_array(pixels)
        return NormalisedImage(rgb, *source)


def inspect_image(
    data: bytes,
    limits: ImageLimits,
    *,
    name: str = "image",
    gate: DecodeGate | None = None,
    thumbnail_side: int | None = None,
) -> InspectedImage:
    """Check `data` and hash the pixels `decode_image` would return, without keeping them.

    The pixels are hashed a strip at a time straight from the decoder's store, so checking an
    upload costs the decoded image once, inside `gate`, and nothing after. With
    `thumbnail_side`, a small copy is kept from the same strips (every step-th pixel).
    """
    with _opened(data, limits, name) as img, _admitted(gate, img):
        source_format, source_size = str(img.format), img.size
        pixels = _upright_srgb(img, data, None, name)
        height, width = _shape(pixels)
        step = -(-max(height, width) // thumbnail_side) if thumbnail_side else 0
        kept: list[NDArray[np.uint8]] = []
        digest = hashlib.sha256(f"{(height, width, 3)}".encode())
        top = 0
        for strip in _strips(pixels):
            digest.update(strip.data)
            if step:
                # Rows of the whole picture at multiples of `step`, wherever the strip starts.
                kept.append(strip[(-top) % step :: step, ::step].copy())
            top += strip.shape[0]
    thumbnail = np.concatenate(kept) if kept else None
    return InspectedImage(source_format, source_size, width, height, digest.hexdigest(), thumbnail)


@contextmanager
def _opened(data: bytes, limits: ImageLimits, name: str) -> Iterator[Image.Image]:
    """The lazily opened image, its header checked; no pixel is decoded yet."""
    # i2v enforces its own pixel limit from the header before anything is decoded (see
    # _check_header), so Pillow's process-wide guard would only pre-empt it with its own,
    # different limit and message.
    Image.MAX_IMAGE_PIXELS = None
    Image.core.set_block_size(BLOCK_BYTES)  # type: ignore[attr-defined]  # see BLOCK_BYTES
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except UnidentifiedImageError as exc:
            raise NotAnImage(name, f"{name}: not a PNG, JPEG or WebP image") from exc
        except (OSError, SyntaxError, ValueError) as exc:
            raise CorruptImage(
                name, f"{name}: image header is truncated or corrupt ({exc})"
            ) from exc
        with img:
            _check_header(img, limits, name)
            yield img


def _admitted(gate: DecodeGate | None, img: Image.Image) -> AbstractContextManager[None]:
    return nullcontext() if gate is None else gate.admit(img.size[0] * img.size[1])


def _check_header(img: Image.Image, limits: ImageLimits, name: str) -> None:
    if img.format not in ACCEPTED_FORMATS:
        raise NotAnImage(
            name, f"{name}: {img.format} images are not supported; use PNG, JPEG or WebP"
        )
    width, height = img.size
    if width * height > limits.max_pixels:
        raise ImageTooLarge(
            name,
            f"{name}: image is {width}x{height} ({width * height / 1e6:.1f} MP); "
            f"the limit is {limits.max_pixels / 1e6:.1f} MP",
        )
    if min(width, height) < limits.min_side:
        raise ImageTooSmall(
            name,
            f"{name}: image is {width}x{height}; each side must be at least {limits.min_side} px",
        )


@dataclass(frozen=True, slots=True)
class _Stored:
    """Decoded pixels as the file stores them; made upright 8-bit sRGB a strip at a time.

    Orientation and colour conversion are per pixel, so converting strip by strip gives the
    same pixels as converting the whole image, without a second and third full-size copy
    (a rotated, RGBA, palette or 16-bit image would otherwise cost two to three times its
    store).
    """

    img: Image.Image
    orientation: int

    @property
    def height(self) -> int:
        return self.img.width if self.orientation in _SIDEWAYS else self.img.height

    @property
    def width(self) -> int:
        return self.img.height if self.orientation in _SIDEWAYS else self.img.width

    def rows(self, top: int, bottom: int) -> NDArray[np.uint8]:
        """Upright rows ``top`` to ``bottom`` as RGB."""
        width, height = self.img.size
        if self.orientation in (3, 4):  # upside down: the rows come from the bottom
            box = (0, height - bottom, width, height - top)
        elif self.orientation in (5, 6):  # upright rows are stored columns, left to right
            box = (top, 0, bottom, height)
        elif self.orientation in (7, 8):  # ... right to left
            box = (width - bottom, 0, width - top, height)
        else:
            box = (0, top, width, bottom)
        strip = self.img.crop(box)  # keeps the palette, transparency and ICC profile
        turn = _TRANSPOSE.get(self.orientation)
        if turn is not None:
            strip = strip.transpose(turn)
        return np.asarray(_to_srgb8(strip), dtype=np.uint8)


# EXIF orientation -> what makes the stored pixels upright (as ImageOps.exif_transpose does).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SIDEWAYS = frozenset({5, 6, 7, 8})
Pixels = NDArray[np.uint8] | _Stored


def _upright_srgb(
    img: Image.Image, data: bytes, min_decode_size: tuple[int, int] | None, name: str
) -> Pixels:
    """The decoded pixels: an upright RGB array (plain JPEGs), or as stored (the rest)."""
    try:
        # For PNG, reading EXIF decodes the image, so it belongs inside the error mapping.
        orientation = img.getexif().get(0x0112, 1)
        need = min_decode_size
        if need is not None and orientation in _SIDEWAYS:
            need = (need[1], need[0])
        pixels = decode_plain_jpeg(data, img, orientation, need)
        if pixels is not None:
            return pixels
        if need is not None and img.format == "JPEG" and img.mode in ("RGB", "L"):
            img.draft(img.mode, need)
        img.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptImage(name, f"{name}: image data is truncated or corrupt ({exc})") from exc
    return _Stored(img, orientation if orientation in _TRANSPOSE else 1)


def _shape(pixels: Pixels) -> tuple[int, int]:
    """(height, width) of either kind of pixels, upright."""
    if isinstance(pixels, np.ndarray):
        return int(pixels.shape[0]), int(pixels.shape[1])
    return pixels.height, pixels.width


def _strips(pixels: Pixels) -> Iterator[NDArray[np.uint8]]:
    """The upright RGB rows, top to bottom, a few MB at a time, as C-contiguous arrays."""
    height, width = _shape(pixels)
    rows = max(1, STRIP_BYTES // (3 * width))
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        if isinstance(pixels, np.ndarray):
            yield np.ascontiguousarray(pixels[top:bottom])
        else:
            yield pixels.rows(top, bottom)


def _to_array(pixels: _Stored) -> NDArray[np.uint8]:
    rgb = np.empty((pixels.height, pixels.width, 3), dtype=np.uint8)
    top = 0
    for strip in _strips(pixels):
        rgb[top : top + len(strip)] = strip
        top += len(strip)
    return rgb


def _to_srgb8(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # Pillow clips 16-bit to 8-bit on convert("L"); scale instead.
        wide = np.asarray(img).astype(np.uint32)
        img = Image.fromarray((wide >> 8).clip(0, 255).astype(np.uint8), "L")
    elif img.mode == "F":
        img = Image.fromarray(np.asarray(img).clip(0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("LA", "La", "PA", "RGBa"):
        img = img.convert("RGBA")
    icc = img.info.get("icc_profile")
    if icc and img.mode in ("RGB", "RGBA", "CMYK", "L"):
        img = _icc_to_srgb(img, icc)
    if img.mode == "RGBA":
        background = Image.new("RGB", img.size, FLATTEN_BACKGROUND)
        background.paste(img, mask=img.getchannel("A"))
        img = background
    if img.mode != "RGB":
        img = img.convert("RGB")
    return img


def _icc_to_srgb(img: Image.Image, icc: bytes) -> Image.Image:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (OSError, ImageCms.PyCMSError):
        return img  # a broken profile is ignored, as browsers do
    description = (ImageCms.getProfileDescription(profile) or "").lower()
    if "srgb" in description and img.mode != "CMYK":
        return img
    alpha = img.getchannel("A") if img.mode == "RGBA" else None
    base = img.convert("RGB") if img.mode == "RGBA" else img
    try:
        converted = ImageCms.profileToProfile(
            base, profile, ImageCms.createProfile("sRGB"), outputMode="RGB"
        )
    except ImageCms.PyCMSError:
        return img
    if converted is None:
        return img
    if alpha is not None:
        converted.putalpha(alpha)
    return converted

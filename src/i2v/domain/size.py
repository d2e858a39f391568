"""Output frame sizes: the platform presets and parsing of WxH and W:H strings."""

from __future__ import annotations

import re
from dataclasses import dataclass

from i2v.errors import InvalidParameter

MIN_SIDE = 360  # TikTok's smallest accepted side
MAX_SIDE = 1920  # Instagram's widest accepted frame


@dataclass(frozen=True, slots=True)
class Size:
    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def aspect(self) -> float:
        return self.width / self.height


ASPECT_PRESETS: dict[str, Size] = {
    "9:16": Size(1080, 1920),
    "4:5": Size(1080, 1350),
    "1:1": Size(1080, 1080),
    "16:9": Size(1920, 1080),
}
DEFAULT_SIZE = ASPECT_PRESETS["9:16"]

_SIZE_RE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


def validate_size(size: Size) -> Size:
    for name, side in (("width", size.width), ("height", size.height)):
        if not MIN_SIDE <= side <= MAX_SIDE:
            raise InvalidParameter(
                "size", str(size), f"size {size}: {name} {side} is outside {MIN_SIDE}-{MAX_SIDE} px"
            )
        if side % 2:
            raise InvalidParameter(
                "size", str(size), f"size {size}: {name} {side} must be even for yuv420p video"
            )
    return size


def parse_size(text: str) -> Size:
    match = _SIZE_RE.match(text)
    if not match:
        raise InvalidParameter("size", text, f"size {text!r} is not WIDTHxHEIGHT, e.g. 1080x1920")
    return validate_size(Size(int(match[1]), int(match[2])))


def parse_aspect(text: str) -> Size:
    try:
        return ASPECT_PRESETS[text.strip()]
    except KeyError:
        known = ", ".join(ASPECT_PRESETS)
        raise InvalidParameter("aspect", text, f"aspect {text!r} is not one of: {known}") from None


def output_size(size: str | None, aspect: str | None) -> Size:
    """The frame size from an explicit WxH or an aspect preset (not both); 9:16 by default."""
    if size is not None and aspect is not None:
        raise InvalidParameter("size", size, "give either size or aspect, not both")
    if size is not None:
        return parse_size(size)
    if aspect is not None:
        return parse_aspect(aspect)
    return DEFAULT_SIZE

"""Blurred previews: a mature job's cover is shown blurred until the viewer asks to see it."""

from __future__ import annotations

import io

from PIL import Image, ImageFilter

PREVIEW_SIDE = 480  # long side: a preview needs no more, and blurring fewer pixels is cheap
BLUR_FRACTION = 0.06  # of the long side: shapes stay, nothing can be made out
PREVIEW_QUALITY = 80


def blurred_jpeg(data: bytes) -> bytes:
    """A small, heavily blurred JPEG of the picture in `data` (a cover we made ourselves)."""
    with Image.open(io.BytesIO(data)) as img:
        img.draft("RGB", (PREVIEW_SIDE, PREVIEW_SIDE))  # JPEG: decode at a reduced scale
        picture = img.convert("RGB")
    picture.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.BILINEAR)
    radius = max(picture.size) * BLUR_FRACTION
    blurred = picture.filter(ImageFilter.GaussianBlur(radius))
    out = io.BytesIO()
    blurred.save(out, format="JPEG", quality=PREVIEW_QUALITY)
    return out.getvalue()

"""Uploaded pictures: checked once, stored by content, and shrunk for the policy and a model."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from i2v.media.image import ImageLimits, decode_image, inspect_image
from i2v.media.jpeg import encode_jpeg
from i2v.storage.base import BlobStore

if TYPE_CHECKING:
    from i2v.bootstrap import App
    from i2v.policy.base import ImageClassifier

_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
POLICY_SIDE = 512  # the classifier looks at 224 px; a JPEG decodes at a reduced DCT scale
MODEL_SIDE = 1024  # what a language model that reads images is sent, at most


@dataclass(frozen=True, slots=True)
class Picture:
    """An uploaded picture, checked: where it is stored, and what identifies its pixels."""

    data: bytes
    name: str  # the field it came in: image or end_image
    key: str
    sha256: str  # of the file as uploaded
    pixels_sha256: str  # of the decoded pixels: the same picture in another format matches
    content_type: str
    small: NDArray[np.uint8] | None = None  # kept from the check's decode, for the policy

    def keep(self, blobs: BlobStore) -> None:
        if not blobs.exists(self.key):
            blobs.put(self.key, self.data, self.content_type)

    def thumbnail(self, app: App, side: int = POLICY_SIDE) -> NDArray[np.uint8]:
        """Upright RGB no longer than `side` on either side, for the image classifier."""
        if side == POLICY_SIDE and self.small is not None:
            return self.small
        limits = ImageLimits(app.settings.max_image_pixels, app.settings.min_image_side)
        rgb = decode_image(
            self.data, limits, (side, side), name=self.name, gate=app.decode_gate
        ).rgb
        return policy_thumbnail(rgb, side)

    def jpeg_for_model(self, app: App) -> bytes:
        return encode_jpeg(self.thumbnail(app, MODEL_SIDE), quality=85)


def checked_picture(app: App, data: bytes, name: str) -> Picture:
    """`data` checked as an image (refused from its header when too large), and named."""
    settings = app.settings
    limits = ImageLimits(settings.max_image_pixels, settings.min_image_side)
    decoded = inspect_image(
        data, limits, name=name, gate=app.decode_gate, thumbnail_side=POLICY_SIDE
    )
    digest = hashlib.sha256(data).hexdigest()
    kind = decoded.source_format
    return Picture(
        data,
        name,
        f"inputs/{digest}{_EXTENSIONS[kind]}",
        digest,
        decoded.pixels_sha256,
        _CONTENT_TYPES[kind],
        decoded.thumbnail,
    )


def policy_thumbnail(rgb: NDArray[np.uint8], side: int = POLICY_SIDE) -> NDArray[np.uint8]:
    from i2v.policy.image import downscaled  # OpenCV's resize, only when rating

    return downscaled(rgb, side)


def default_classifier() -> ImageClassifier:
    """The content policy's image classifier (its model loads once per process)."""
    from i2v.policy.image import OpenNsfwClassifier

    return OpenNsfwClassifier()


def classifier_of(app: App) -> ImageClassifier:
    """The deployment's image classifier; one for every deployment so far."""
    return default_classifier()

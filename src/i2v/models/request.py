"""The one request every model takes, whichever backend runs it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """What a user asks of a model; None leaves a choice to the model's default.

    Images are URLs (public, or data: URIs) because hosted endpoints fetch them themselves.
    """

    image_url: str
    prompt: str
    negative_prompt: str | None = None
    duration_s: int | None = None
    aspect: str | None = None  # e.g. "16:9"
    resolution: str | None = None  # e.g. "720p"
    seed: int | None = None
    audio: bool = False  # sound costs more and i2v's outputs are silent unless asked
    end_image_url: str | None = None

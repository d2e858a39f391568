"""Framing types: a subject's box and focus, why they were chosen, and a platform's safe zones."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle in fractions of a picture's width and height (0 <= left < right <= 1)."""

    left: float
    top: float
    right: float
    bottom: float

    def __post_init__(self) -> None:
        if not (0.0 <= self.left < self.right <= 1.0 and 0.0 <= self.top < self.bottom <= 1.0):
            raise ValueError(f"not a box inside the picture: {self}")

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def centre(self) -> tuple[float, float]:
        return (self.left + self.right) / 2, (self.top + self.bottom) / 2


class FocusSource(StrEnum):
    """Why the framing aims where it does; recorded on the job."""

    FACE = "face"  # the largest face found
    SALIENCY = "saliency"  # no face: the most salient region
    USER = "user"  # --focus X,Y / the API's `focus`
    CENTRE = "centre"  # nothing stood out: the picture's centre


@dataclass(frozen=True, slots=True)
class Subject:
    """What a crop must keep in view (`box`) and where zooms aim (`focus`), in fractions."""

    box: Box
    focus: tuple[float, float]
    source: FocusSource
    face: Box | None = None  # the largest face, where one was found: "zoom in on her face"


class SubjectFinder(Protocol):
    def find(self, rgb: NDArray[np.uint8]) -> Subject:
        """The subject of an (H, W, 3) uint8 sRGB picture; never fails (falls back to CENTRE)."""
        ...


@dataclass(frozen=True, slots=True)
class SafeZones:
    """Bands of a vertical frame that platform UI covers, in fractions of the output's sides.

    A subject kept clear of them is not hidden by captions, buttons or the top bar.
    """

    name: str
    top: float = 0.0
    bottom: float = 0.0
    left: float = 0.0
    right: float = 0.0

"""Camera motions the renderers understand, and how strong they are."""

from __future__ import annotations

from enum import StrEnum

from i2v.errors import UnknownMotion


class Motion(StrEnum):
    ZOOM_IN = "zoom-in"
    ZOOM_OUT = "zoom-out"
    PAN_LEFT = "pan-left"
    PAN_RIGHT = "pan-right"
    PAN_UP = "pan-up"
    PAN_DOWN = "pan-down"
    PAN_UP_LEFT = "pan-up-left"
    PAN_UP_RIGHT = "pan-up-right"
    PAN_DOWN_LEFT = "pan-down-left"
    PAN_DOWN_RIGHT = "pan-down-right"
    STATIC = "static"

    @classmethod
    def parse(cls, name: str) -> Motion:
        key = name.strip().lower().replace("_", "-").replace(" ", "-")
        try:
            return cls(key)
        except ValueError:
            known = ", ".join(m.value for m in cls)
            raise UnknownMotion(
                "motion", name, f"unknown motion {name!r}; choose one of: {known}"
            ) from None


class Intensity(StrEnum):
    SUBTLE = "subtle"
    NORMAL = "normal"
    STRONG = "strong"


DEFAULT_MOTION = Motion.ZOOM_IN
DEFAULT_INTENSITY = Intensity.SUBTLE

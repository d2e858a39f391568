"""Where ComfyUI jobs may run: the static URL list now, fleet instances once the fleet lands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class Targets(Protocol):
    def urls(self) -> Sequence[str]:
        """Base URLs of the ComfyUI servers a job may be sent to, right now."""
        ...


@dataclass(frozen=True, slots=True)
class StaticTargets:
    """The servers named by `I2V_COMFYUI_URLS`."""

    configured: tuple[str, ...]

    def urls(self) -> Sequence[str]:
        return self.configured

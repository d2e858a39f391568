"""Where ComfyUI runs go: a static list of servers, or machines the fleet rents per run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from i2v.backends.comfyui.manifest import Workflow


class Targets(Protocol):
    def urls(self) -> Sequence[str]:
        """Servers that may hold a run already: searched for a run being retried."""
        ...

    def acquire(
        self, workflow: Workflow, run_id: str, exclude: Sequence[str], *, more_memory: bool
    ) -> str | None:
        """A server reserved for `run_id`, or None to pick the least-loaded of `urls()`.

        `more_memory`: the last attempt ran out of GPU memory; ask for a bigger GPU.
        """
        ...

    def release(self, url: str, run_id: str) -> Decimal:
        """Give back what `acquire` reserved; returns what the run cost on it."""
        ...


@dataclass(frozen=True, slots=True)
class StaticTargets:
    """The servers named by `I2V_COMFYUI_URLS`: shared, never reserved, costed elsewhere."""

    configured: tuple[str, ...]

    def urls(self) -> Sequence[str]:
        return self.configured

    def acquire(
        self, workflow: Workflow, run_id: str, exclude: Sequence[str], *, more_memory: bool
    ) -> str | None:
        return None

    def release(self, url: str, run_id: str) -> Decimal:
        return Decimal(0)

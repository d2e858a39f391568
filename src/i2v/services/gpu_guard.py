"""A CLI command's guard over the GPUs it launches, loading the fleet only where it is on."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from i2v.config import Settings


def may_launch_gpus(settings: Settings, backend: str) -> bool:
    """Whether a command on `backend` can launch fleet GPUs at all."""
    return backend in ("comfyui", "auto") and settings.fleet_enabled


@contextmanager
def gpus_launched_here(
    settings: Settings, backend: str, *, keep: bool, say: Callable[[str], None]
) -> Iterator[None]:
    """i2v.services.fleet.gpus_launched_here where GPUs may be launched, else nothing: that
    module brings the database, DBOS and the providers' clients, ~0.5 s of imports that a
    local render has no use for."""
    if not may_launch_gpus(settings, backend):
        yield
        return
    from i2v.services import fleet

    with fleet.gpus_launched_here(settings, backend, keep=keep, say=say):
        yield

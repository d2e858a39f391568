"""The explicit registry of generation backends, by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from i2v.errors import InvalidParameter

if TYPE_CHECKING:
    from i2v.backends.base import VideoBackend
    from i2v.config import Settings
    from i2v.db.engine import Database

# A backend from the settings and, where the caller has one, the app's database (a worker's,
# the CLI's): backends that keep state there (fleet leases, fal checkpoints) use it instead
# of opening one per call. Each factory imports its backend itself: the names are all that
# the CLI's options and a local render need, and the remote backends' HTTP stacks are heavy.
BackendFactory = Callable[["Settings", "Database | None"], "VideoBackend"]


def _local(settings: Settings, db: Database | None) -> VideoBackend:
    from i2v.backends.local.backend import LocalBackend

    return LocalBackend()


def _comfyui(settings: Settings, db: Database | None) -> VideoBackend:
    """On the fleet's rented machines when it is on, else on the configured servers."""
    from i2v.backends.comfyui.backend import ComfyBackend

    if settings.fleet_enabled:
        from i2v.fleet.targets import FleetTargets  # the vendor clients load only when used

        return ComfyBackend(settings, targets=FleetTargets(settings, db))
    return ComfyBackend(settings)


def _fal(settings: Settings, db: Database | None) -> VideoBackend:
    from i2v.backends.fal.backend import FalBackend

    return FalBackend(settings, db=db)


BACKENDS: dict[str, BackendFactory] = {
    "local": _local,
    "comfyui": _comfyui,
    "fal": _fal,
}
DEFAULT_BACKEND = "local"
AUTO = "auto"  # not a backend: route to the cheapest available one that runs the model
HOSTED = frozenset({"fal"})  # billed per request by a third party; never for mature jobs


def check_backend(name: str) -> str:
    if name not in BACKENDS:
        known = ", ".join(BACKENDS)
        raise InvalidParameter("backend", name, f"unknown backend {name!r}; choose one of: {known}")
    return name


def unavailable_reason(name: str, settings: Settings) -> str | None:
    """Why this deployment cannot run the backend, or None when it can."""
    if name == "comfyui" and not (settings.comfyui_urls or settings.fleet_enabled):
        return "no I2V_COMFYUI_URLS and the GPU fleet is off (I2V_FLEET_ENABLED)"
    if name == "fal" and (settings.fal_key is None or not settings.fal_key.get_secret_value()):
        return "no fal API key (I2V_FAL_KEY)"
    return None


def available_backends(settings: Settings) -> list[str]:
    """The backends this deployment can run: comfyui needs servers or the fleet, fal a key."""
    return [name for name in BACKENDS if unavailable_reason(name, settings) is None]


def get_backend(name: str, settings: Settings, db: Database | None = None) -> VideoBackend:
    return BACKENDS[check_backend(name)](settings, db)

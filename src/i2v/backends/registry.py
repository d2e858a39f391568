"""The explicit registry of generation backends, by name."""

from __future__ import annotations

from collections.abc import Callable

from i2v.backends.base import VideoBackend
from i2v.backends.comfyui.backend import ComfyBackend
from i2v.backends.local.backend import LocalBackend
from i2v.config import Settings
from i2v.errors import InvalidParameter


def _comfyui(settings: Settings) -> VideoBackend:
    """On the fleet's rented machines when it is on, else on the configured servers."""
    if settings.fleet_enabled:
        from i2v.fleet.targets import FleetTargets  # the vendor clients load only when used

        return ComfyBackend(settings, targets=FleetTargets(settings))
    return ComfyBackend(settings)


BACKENDS: dict[str, Callable[[Settings], VideoBackend]] = {
    "local": lambda _settings: LocalBackend(),
    "comfyui": _comfyui,
}
DEFAULT_BACKEND = "local"


def check_backend(name: str) -> str:
    if name not in BACKENDS:
        known = ", ".join(BACKENDS)
        raise InvalidParameter("backend", name, f"unknown backend {name!r}; choose one of: {known}")
    return name


def available_backends(settings: Settings) -> list[str]:
    """The backends this deployment can run: comfyui needs servers or the fleet."""
    runnable = bool(settings.comfyui_urls) or settings.fleet_enabled
    return [name for name in BACKENDS if name != "comfyui" or runnable]


def get_backend(name: str, settings: Settings) -> VideoBackend:
    return BACKENDS[check_backend(name)](settings)

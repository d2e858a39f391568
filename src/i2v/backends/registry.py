"""The explicit registry of generation backends, by name."""

from __future__ import annotations

from collections.abc import Callable

from i2v.backends.base import VideoBackend
from i2v.backends.comfyui.backend import ComfyBackend
from i2v.backends.local.backend import LocalBackend
from i2v.config import Settings
from i2v.errors import InvalidParameter

BACKENDS: dict[str, Callable[[Settings], VideoBackend]] = {
    "local": lambda _settings: LocalBackend(),
    "comfyui": ComfyBackend,
}
DEFAULT_BACKEND = "local"


def check_backend(name: str) -> str:
    if name not in BACKENDS:
        known = ", ".join(BACKENDS)
        raise InvalidParameter("backend", name, f"unknown backend {name!r}; choose one of: {known}")
    return name


def get_backend(name: str, settings: Settings) -> VideoBackend:
    return BACKENDS[check_backend(name)](settings)

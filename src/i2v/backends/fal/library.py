"""The fal endpoint manifests: the ones shipped with i2v, and users' own from a directory."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from i2v.backends.fal.manifest import EndpointManifest, parse_manifest
from i2v.errors import ConfigError
from i2v.models.names import canonical

_SHIPPED = "endpoints"


@functools.cache
def shipped_manifests() -> tuple[EndpointManifest, ...]:
    folder = resources.files(__package__ or __name__).joinpath(_SHIPPED)
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
    return tuple(parse_manifest(f.read_text(encoding="utf-8"), f"shipped {f.name}") for f in files)


def load_manifests(user_dir: Path | None) -> tuple[EndpointManifest, ...]:
    """Shipped manifests, then each *.json in user_dir (a missing directory adds none).

    A user's manifest may not reuse a shipped (or another user file's) endpoint or model
    name: which one runs would otherwise depend on file order.
    """
    manifests = list(shipped_manifests())
    origin = {id(m): "a shipped manifest" for m in manifests}
    if user_dir is not None and user_dir.exists():
        if not user_dir.is_dir():
            raise ConfigError(f"{user_dir}: the fal manifests directory is not a directory")
        for path in sorted(user_dir.glob("*.json")):
            manifest = _load_user(path)
            for other in manifests:
                clash = _clash(manifest, other)
                if clash:
                    raise ConfigError(f"{path}: {clash} is already used by {origin[id(other)]}")
            origin[id(manifest)] = str(path)
            manifests.append(manifest)
    return tuple(manifests)


def _load_user(path: Path) -> EndpointManifest:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse_manifest(text, str(path))


def _clash(a: EndpointManifest, b: EndpointManifest) -> str | None:
    if a.endpoint == b.endpoint:
        return f"endpoint {a.endpoint!r}"
    if canonical(a.model) == canonical(b.model):
        return f"model {a.model!r}"
    return None

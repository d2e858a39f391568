"""The model catalogue: one name per model, and which backends can run it."""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from i2v.config import Settings, resolved_fal_manifests_dir
from i2v.domain.spec import MIN_DURATION_S
from i2v.errors import ConfigError, InvalidParameter
from i2v.models.names import canonical

if TYPE_CHECKING:
    from i2v.backends.fal.manifest import EndpointManifest


@dataclass(frozen=True, slots=True)
class Model:
    name: str
    title: str
    fal: EndpointManifest | None = None
    comfyui: str | None = None  # a shipped ComfyUI workflow's name
    local: bool = False  # i2v's own CPU renderer

    @property
    def default_duration_s(self) -> float:
        """The length a job gets when it names none: i2v's 5 s where the model makes it,
        else the hosted endpoint's own default (Veo makes 4, 6 or 8 s)."""
        if self.fal is None or self.fal.duration.form == "none":
            return DEFAULT_DURATION_S
        spec = self.fal.duration
        if DEFAULT_DURATION_S in spec.allowed:
            return DEFAULT_DURATION_S
        fits = [d for d in spec.allowed if d >= MIN_DURATION_S]
        return float(spec.default if spec.default in fits else min(fits, default=5))

    @property
    def backends(self) -> tuple[str, ...]:
        found = ("local", self.local), ("fal", self.fal is not None), ("comfyui", self.comfyui)
        return tuple(name for name, present in found if present)


DEFAULT_DURATION_S = 5.0
LOCAL = Model("local", "i2v's CPU renderer: camera moves over the still image", local=True)
# Models the shipped ComfyUI workflows run; a fal endpoint of the same model joins its entry.
COMFYUI_WORKFLOWS: dict[str, tuple[str, str]] = {
    "wan-2.2-14b": ("Wan 2.2 A14B", "wan22_i2v_14b"),
    "wan-2.2-5b": ("Wan 2.2 TI2V 5B", "wan22_ti2v_5b"),
    "ltx-video": ("LTX-Video", "ltxv_i2v"),
    "hunyuan-video-1.5": ("HunyuanVideo 1.5", "hunyuan15_i2v"),
}


class ModelCatalog:
    """Models by forgiving name: "Wan 2.2 14B", "wan-2.2-14b" and "WAN2.2_14B" are one."""

    def __init__(self, endpoints: tuple[EndpointManifest, ...]) -> None:
        by_key: dict[str, Model] = {canonical(LOCAL.name): LOCAL}
        for name, (title, workflow) in COMFYUI_WORKFLOWS.items():
            by_key[canonical(name)] = Model(name, title, comfyui=workflow)
        for endpoint in endpoints:
            key = canonical(endpoint.model)
            known = by_key.get(key)
            if known is not None and (known.local or known.fal is not None):
                raise ConfigError(
                    f"fal endpoint {endpoint.endpoint!r}: model name {endpoint.model!r} is taken"
                )
            by_key[key] = Model(
                known.name if known else endpoint.model,
                known.title if known else endpoint.title,
                fal=endpoint,
                comfyui=known.comfyui if known else None,
            )
        self._by_key = by_key

    def models(self) -> list[Model]:
        return sorted(self._by_key.values(), key=lambda m: (not m.local, m.name))

    def get(self, name: str) -> Model:
        """The model; InvalidParameter naming the close names if there is none."""
        model = self._by_key.get(canonical(name))
        if model is not None:
            return model
        names = {m.name for m in self._by_key.values()}
        close = difflib.get_close_matches(name.strip().lower(), sorted(names), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else "; see `i2v models list`"
        raise InvalidParameter("model", name, f"unknown model {name!r}{hint}")


def catalog_for(settings: Settings) -> ModelCatalog:
    """The catalogue this deployment knows: the shipped endpoints and the user's own.

    Built once per state of the user's manifests directory (a page asks for it a dozen
    times): a file added, removed or rewritten there is read at the next call."""
    folder = resolved_fal_manifests_dir(settings)
    return _catalog(folder, _fingerprint(folder))


# Whether the directory is there (or is not a directory), and which file (by name) holds
# what (inode, size, mtime): an edit in place changes its mtime, a save by rename its inode.
Fingerprint = tuple[str, tuple[tuple[str, int, int, int], ...]]


def _fingerprint(folder: Path) -> Fingerprint:
    """The user's manifests as load_manifests reads them."""
    if not folder.is_dir():
        return ("not a directory" if folder.exists() else "absent"), ()
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            stat = path.stat()
        except OSError:  # gone since, or a dangling link: load_manifests says which
            found.append((path.name, -1, -1, -1))
            continue
        found.append((path.name, stat.st_ino, stat.st_size, stat.st_mtime_ns))
    return "directory", tuple(found)


@functools.lru_cache(maxsize=16)
def _catalog(folder: Path, fingerprint: Fingerprint) -> ModelCatalog:
    """Errors (a bad manifest) are not cached: the next call reads the files again."""
    del fingerprint  # the cache's key only
    from i2v.backends.fal.library import load_manifests  # parsed only where a model is named

    return ModelCatalog(load_manifests(folder))


def default_duration(settings: Settings, model: str | None) -> float:
    """The length of a job that names none, for its model (an unknown model: 5 s, and the
    job is refused by name later)."""
    if model is None:
        return DEFAULT_DURATION_S
    try:
        return catalog_for(settings).get(model).default_duration_s
    except InvalidParameter:
        return DEFAULT_DURATION_S

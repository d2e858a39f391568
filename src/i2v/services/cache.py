"""The result cache key: a hash of the normalised input and every parameter that shapes output."""

from __future__ import annotations

import hashlib
import json

from i2v.domain.spec import RenderSpec, render_json

# Bumped whenever a backend's output for the same inputs changes (a new renderer, encoder
# settings, how a clip is published), so stale results are never served. A ComfyUI job's
# workflow version is in the render parameters already (prepare pins it as name.vN).
BACKEND_VERSIONS: dict[str, str] = {"local": "local-renderer-3", "comfyui": "comfyui-publish-1"}


def cache_key(
    pixels_sha256: str, render: RenderSpec, backend: str, end_pixels_sha256: str | None = None
) -> str:
    """`end_pixels_sha256`: the end image's pixels, for a job that gives one."""
    parameters = render_json(render)
    material: dict[str, object] = {
        "pixels": pixels_sha256,
        "backend": backend,
        "backend_version": BACKEND_VERSIONS.get(backend, backend),
        "render": parameters,  # prompt, seed, size, fps, duration, motion, fit, workflow
    }
    if render.end_frame:
        material["end_pixels"] = end_pixels_sha256
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()

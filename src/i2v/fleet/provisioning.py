"""The start-up script that puts a workflow's model files into ComfyUI before it counts as ready."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from i2v.fleet.base import ModelDownload

COMFY_ROOT = "/workspace/ComfyUI"  # where the ComfyUI templates of both providers keep it


def provisioning_script(downloads: Sequence[ModelDownload], comfy_root: str = COMFY_ROOT) -> str:
    """POSIX sh: download each missing file, check its SHA-256, move it into place atomically.

    A file that fails its checksum is deleted and the script exits non-zero, so the machine
    never reports a model it does not really have. Re-running it skips finished files.
    """
    lines = ["set -eu"]
    # A user's workflow may name a file with no URL: the machine's template must bring it,
    # and readiness waits for it like for any other.
    for item in (d for d in downloads if d.url):
        folder = f"{comfy_root}/models/{item.folder}"
        dest = f"{folder}/{item.name}"
        part = f"{dest}.part"
        lines.append(f"mkdir -p {shlex.quote(folder)}")
        fetch = f"curl -fL --retry 5 --retry-delay 5 -o {shlex.quote(part)} {shlex.quote(item.url)}"
        check = (
            f" && echo {shlex.quote(f'{item.sha256}  {part}')} | sha256sum -c -"
            if item.sha256
            else ""
        )
        lines.append(
            f"[ -f {shlex.quote(dest)} ] || {{ {fetch}{check} && mv {shlex.quote(part)} "
            f"{shlex.quote(dest)} || {{ rm -f {shlex.quote(part)}; exit 1; }}; }}"
        )
    return "\n".join(lines) + "\n"

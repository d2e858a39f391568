"""The start-up script a launch runs, run for real with sh and curl on local files.

It is the only check on model files before an instance counts as ready: a manifest's SHA-256,
where it carries one, is verified and a mismatch keeps the file out of ComfyUI's folder.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from i2v.fleet.base import ModelDownload
from i2v.fleet.provisioning import provisioning_script

CONTENT = b"not really a diffusion model\n" * 100


def run(tmp_path: Path, sha256: str | None) -> tuple[subprocess.CompletedProcess[str], Path]:
    source = tmp_path / "source.safetensors"
    source.write_bytes(CONTENT)
    item = ModelDownload(source.as_uri(), "vae", "model.safetensors", sha256=sha256)
    root = tmp_path / "ComfyUI"
    script = provisioning_script([item], comfy_root=str(root))
    done = subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    return done, root / "models" / "vae" / "model.safetensors"


def test_a_file_with_the_right_hash_is_put_in_place(tmp_path: Path) -> None:
    done, dest = run(tmp_path, hashlib.sha256(CONTENT).hexdigest())
    assert done.returncode == 0, done.stderr
    assert dest.read_bytes() == CONTENT


def test_a_file_with_the_wrong_hash_never_reaches_comfyui(tmp_path: Path) -> None:
    done, dest = run(tmp_path, hashlib.sha256(b"another file").hexdigest())
    assert done.returncode != 0
    assert not dest.exists()
    assert not dest.with_name(dest.name + ".part").exists()


def test_without_a_hash_only_the_download_itself_is_checked(tmp_path: Path) -> None:
    done, dest = run(tmp_path, None)
    assert done.returncode == 0, done.stderr
    assert dest.read_bytes() == CONTENT

"""Scratch folders under the data directory, named by their process, and the sweep of those
that dead processes left behind (copies of users' pictures, half-written files)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path

from i2v.config import Settings, resolved_data_dir

_OWNER = re.compile(r"(\d+)-[0-9a-f]{12}")  # what follows the prefix: "<pid>-<random>"


def scratch_root(settings: Settings) -> Path:
    """`data_dir/scratch`, created: on the data disk, not a tmpfs that fills memory."""
    root = resolved_data_dir(settings) / "scratch"
    root.mkdir(parents=True, exist_ok=True)
    return root


def new_scratch_dir(root: Path, prefix: str) -> Path:
    """A new, private folder `{prefix}{pid}-{random}` in `root`; the caller removes it."""
    path = root / f"{prefix}{os.getpid()}-{secrets.token_hex(6)}"
    path.mkdir(mode=0o700)
    return path


def sweep_scratch(root: Path, prefix: str) -> int:
    """Remove the folders `new_scratch_dir(root, prefix)` made in processes no longer alive.

    Pids mean something only on their own host: processes sharing `root` across hosts must
    put their host in `prefix`. A pid reused by a live process keeps its folder (until a
    later sweep), never the other way round.
    """
    swept = 0
    try:
        entries = list(root.iterdir())
    except FileNotFoundError:
        return 0
    for entry in entries:
        owner = _OWNER.fullmatch(entry.name[len(prefix) :])
        if not entry.name.startswith(prefix) or owner is None or _alive(int(owner[1])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
            swept += 1
    return swept


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True

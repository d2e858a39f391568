"""Scratch folders under the data directory, named by their owner's pid so leftovers are swept.

A run killed with SIGKILL cannot clean up; the next run finds its folder by the dead pid in
the name (`{prefix}{pid}-{random}`) and removes it. Folders past `MAX_AGE_S` go too, so a
leftover whose pid was reused by an unrelated process does not stay for ever.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import time
from pathlib import Path

from i2v.config import Settings, resolved_data_dir
from i2v.errors import ConfigError

MAX_AGE_S = 24 * 3600  # far longer than any run; only a reused pid keeps a leftover that long


def scratch_root(settings: Settings) -> Path:
    """`data_dir/scratch`, created (private to this user) if missing."""
    root = resolved_data_dir(settings) / "scratch"
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{root}: cannot create the scratch folder under I2V_DATA_DIR ({exc.strerror})"
        ) from exc
    return root


def host_prefix(kind: str) -> str:
    """`{kind}-{host}-`: a data dir may be shared by several hosts, and only the host that
    made a folder can tell whether the pid in its name is alive."""
    return f"{kind}-{socket.gethostname()}-"


def new_scratch_dir(root: Path, prefix: str) -> Path:
    """A new, empty folder in `root` named `{prefix}{pid}-{random}`; the caller removes it."""
    path = root / f"{prefix}{os.getpid()}-{secrets.token_hex(4)}"
    path.mkdir(mode=0o700)
    return path


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (another user's counts: it may be a run)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_leftover(path: Path, pid: int, now: float) -> bool:
    """Whether `path`, made by process `pid`, belongs to a run that is gone."""
    try:
        age = now - path.lstat().st_mtime
    except FileNotFoundError:
        return False
    return age > MAX_AGE_S or (pid != os.getpid() and not pid_alive(pid))


def sweep_scratch(root: Path, prefix: str) -> int:
    """Remove the `prefix` folders in `root` of runs that are gone; return how many."""
    pattern = re.compile(rf"{re.escape(prefix)}(\d+)-[0-9a-f]+")
    now = time.time()
    removed = 0
    try:
        entries = list(root.iterdir())
    except FileNotFoundError:
        return 0
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or entry.is_symlink() or not entry.is_dir():
            continue
        if is_leftover(entry, int(match.group(1)), now):
            shutil.rmtree(entry, ignore_errors=True)
            if not entry.exists():
                removed += 1
    return removed

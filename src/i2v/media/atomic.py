"""Write files so that a destination only ever holds a complete result, and never an input."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from i2v.errors import OutputError, OutputExists, OutputIsInput
from i2v.scratch import is_leftover

# link(2) fails with these where the filesystem has no hard links (FAT, exFAT, some shares).
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})


def check_writable(dest: Path) -> None:
    """Fail early, with the reason, if `dest` cannot be written."""
    parent = dest.parent
    if dest.is_dir():
        raise OutputError(
            dest, f"{dest}: is a directory; give a file name such as {dest / 'out.mp4'}"
        )
    if not parent.exists():
        raise OutputError(dest, f"{parent}: output folder does not exist")
    if not parent.is_dir():
        raise OutputError(dest, f"{parent}: output folder is not a directory")
    probe = parent / f".i2v-write-test-{secrets.token_hex(4)}"
    try:
        with probe.open("xb"):
            pass
    except OSError as exc:
        raise OutputError(
            dest, f"{parent}: output folder is not writable ({exc.strerror})"
        ) from exc
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


def _is_same_file(dest: Path, source: Path) -> bool:
    """Whether writing `dest` could replace `source`.

    True for the same file reached through any path, symlink or hard link, and for the same
    name but for case in the same folder, which is one file on a case-insensitive filesystem.
    """
    with contextlib.suppress(OSError):
        if os.path.samefile(dest, source):
            return True
    if os.path.normcase(dest.name).casefold() != os.path.normcase(source.name).casefold():
        return False
    try:
        return os.path.samefile(dest.parent, source.parent)
    except OSError:
        return False


def _exists(dest: Path) -> OutputExists:
    return OutputExists(dest, f"{dest} exists; pass --force to replace it")


def check_outputs(dests: Sequence[Path], inputs: Sequence[Path], *, replace: bool) -> None:
    """Fail before any work if a destination is an input, or exists and `replace` is off."""
    for dest in dests:
        for source in inputs:
            if _is_same_file(dest, source):
                raise OutputIsInput(
                    dest, f"{dest}: would overwrite the input {source}; choose another output"
                )
    if not replace:
        for dest in dests:
            if os.path.lexists(dest):
                raise _exists(dest)


def _place(tmp: Path, dest: Path, *, replace: bool) -> None:
    """Rename `tmp` to `dest`; without `replace`, never over a file that appeared meanwhile."""
    if replace:
        os.replace(tmp, dest)
        return
    try:
        # link(2) refuses an existing name atomically, where rename(2) would replace it.
        os.link(tmp, dest)
    except FileExistsError:
        raise _exists(dest) from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        # No hard links here: check, then rename; only a file made in between is at risk.
        if os.path.lexists(dest):
            raise _exists(dest) from None
        os.rename(tmp, dest)
    else:
        os.unlink(tmp)


def temp_path(dest: Path) -> Path:
    """`.NAME.PID-RANDOM.part` beside `dest`: hidden, and sweepable once PID is gone."""
    return dest.with_name(f".{dest.name}.{os.getpid()}-{secrets.token_hex(4)}.part")


_TEMP_NAME = re.compile(r"\..+\.(\d+)-[0-9a-f]{8}\.part")


def sweep_temps(folder: Path) -> int:
    """Remove the temporaries that killed runs left in `folder`; return how many."""
    now = time.time()
    try:
        with os.scandir(folder) as entries:
            found = [
                (Path(entry.path), int(match.group(1)))
                for entry in entries
                if (match := _TEMP_NAME.fullmatch(entry.name))
                and entry.is_file(follow_symlinks=False)
            ]
    except OSError:  # an unreadable folder fails later, with the reason, when it is written
        return 0
    removed = 0
    for path, pid in found:
        if is_leftover(path, pid, now):
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
    return removed


@contextlib.contextmanager
def atomic_outputs(*dests: Path, replace: bool = True) -> Iterator[tuple[Path, ...]]:
    """Yield temporary paths beside `dests`; rename them into place only if the block succeeds.

    Renames happen in reverse order, so the first destination (the primary artifact)
    appears last: its presence means every other file is complete too. On any
    exception, Ctrl-C or SystemExit the temporaries are removed and no destination
    is touched. Without `replace`, a destination that exists by then fails the whole
    set with OutputExists and is left as it is. Temporaries of killed runs in the
    destinations' folders are removed first.
    """
    for folder in dict.fromkeys(d.parent for d in dests):
        sweep_temps(folder)
    temps = tuple(temp_path(d) for d in dests)
    placed: list[Path] = []
    try:
        yield temps
        for tmp, dest in reversed(list(zip(temps, dests, strict=True))):
            _place(tmp, dest, replace=replace)
            placed.append(dest)
    except BaseException:
        # All or nothing: a file already renamed is removed again if a later rename fails.
        for path in (*temps, *placed):
            with contextlib.suppress(OSError):
                path.unlink()
        raise

"""Write files so that the destination only ever holds a complete result."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from i2v.errors import OutputError


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


def temp_path(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")


@contextlib.contextmanager
def atomic_outputs(*dests: Path) -> Iterator[tuple[Path, ...]]:
    """Yield temporary paths beside `dests`; rename them into place only if the block succeeds.

    Renames happen in reverse order, so the first destination (the primary artifact)
    appears last: its presence means every other file is complete too. On any
    exception, Ctrl-C or SystemExit the temporaries are removed and no destination
    is touched.
    """
    temps = tuple(temp_path(d) for d in dests)
    placed: list[Path] = []
    try:
        yield temps
        for tmp, dest in reversed(list(zip(temps, dests, strict=True))):
            os.replace(tmp, dest)
            placed.append(dest)
    except BaseException:
        # All or nothing: a file already renamed is removed again if a later rename fails.
        for path in (*temps, *placed):
            with contextlib.suppress(OSError):
                path.unlink()
        raise

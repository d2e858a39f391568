"""A worker's housekeeping: its steps' scratch folders, the sweep of what dead runs left
behind when it starts, and the periodic pass that enforces input retention."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from i2v.bootstrap import App
from i2v.config import Settings
from i2v.db.tables import utcnow
from i2v.scratch import host_prefix, new_scratch_dir, scratch_root, sweep_scratch
from i2v.services.retention import remove_expired_inputs
from i2v.storage.base import BlobStore
from i2v.storage.local import LocalBlobStore

RETENTION_EVERY_S = 3600.0
# A live put rewrites its temporary file every chunk; one untouched this long was killed.
PART_STALE_S = 900.0

log = logging.getLogger(__name__)


def job_scratch_prefix() -> str:
    """The worker's scratch folders: `i2v-job-{host}-{pid}-{random}`."""
    return host_prefix("i2v-job")


@contextmanager
def job_scratch(settings: Settings) -> Iterator[Path]:
    """A step's scratch folder under the data dir; a kill leaves it to the next sweep."""
    folder = new_scratch_dir(scratch_root(settings), job_scratch_prefix())
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sweep_leftovers(settings: Settings, blobs: BlobStore, now: float | None = None) -> None:
    """Remove the scratch folders of this host's dead workers and stale `.part` files."""
    folders = sweep_scratch(scratch_root(settings), job_scratch_prefix())
    parts = 0
    if isinstance(blobs, LocalBlobStore):  # S3 has no partial objects to sweep
        parts = blobs.sweep_parts((time.time() if now is None else now) - PART_STALE_S)
    if folders or parts:
        log.warning("swept %d scratch folders and %d .part files of dead runs", folders, parts)


def retention_loop(
    app: App, blobs: BlobStore, stop: threading.Event, clock: Callable[[], datetime] = utcnow
) -> None:
    """Enforce input retention now and every `RETENTION_EVERY_S` until `stop` is set."""
    while True:
        try:
            removed = remove_expired_inputs(app, blobs, clock())
            if removed:
                log.info("retention removed %d uploaded pictures", removed)
        except Exception:  # storage or database down: the next pass tries again
            log.exception("input retention failed")
        if stop.wait(RETENTION_EVERY_S):
            return

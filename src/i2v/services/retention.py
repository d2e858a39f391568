"""Input retention: remove uploaded pictures once every job that used them ended long ago."""

from __future__ import annotations

from datetime import datetime, timedelta

from i2v.bootstrap import App
from i2v.db import jobs as repo
from i2v.storage.base import BlobStore


def remove_expired_inputs(app: App, blobs: BlobStore, now: datetime) -> int:
    """Remove the inputs whose jobs all ended `input_retention_days` before `now`; a count.

    A job that is queued or running, or that ended since the cutoff, keeps its picture, and
    so does a live job that may wait on a render a user of that picture started. Jobs whose
    picture went get an `input_removed` event; their results stay.
    """
    cutoff = now - timedelta(days=app.settings.input_retention_days)
    with app.db.session() as session:
        candidates = repo.expired_input_candidates(session, cutoff)
    removed = 0
    for input_key in candidates:
        with app.db.session() as session:
            # Under the input's lock: a submission of the same picture racing this pass
            # either is seen here (and keeps it) or stores it again after this commit.
            repo.lock_input(session, input_key)
            if repo.input_needed(session, input_key, ended_before=cutoff):
                continue
            blobs.delete(input_key)
            repo.mark_input_removed(session, input_key)
        removed += 1
    return removed

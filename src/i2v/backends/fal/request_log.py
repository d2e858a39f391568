"""The request log in the app database: `checkpoint.RequestLog` for workers and the CLI."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from i2v.backends.fal.checkpoint import Checkpoint
from i2v.backends.fal.values import FalRequest
from i2v.config import Settings, resolved_database_url
from i2v.db import fal as repo
from i2v.db.engine import Database, given_or_opened

# Databases this process has migrated. A log (and its backend) is built per job, and alembic's
# upgrade is not thread-safe (it keeps its context in module globals: jobs starting together
# failed with KeyError), so each database is upgraded once, under a lock.
_MIGRATED: set[str] = set()
_MIGRATING = threading.Lock()


def _migrate_once(db: Database, url: str) -> None:
    from i2v.db.migrate import upgrade  # alembic loads only for a library caller's database

    with _MIGRATING:
        if url not in _MIGRATED:
            upgrade(db)
            _MIGRATED.add(url)


class DbRequestLog:
    """The log in the app database; opened per call when none is given (as FleetTargets)."""

    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        self._settings, self._given = settings, db
        self._migrated = db is not None  # a given database is the app's, already migrated

    @contextmanager
    def _database(self) -> Iterator[Database]:
        url = resolved_database_url(self._settings)
        with given_or_opened(self._given, url) as db:
            if not self._migrated:  # a library caller on a fresh data directory
                _migrate_once(db, url)
                self._migrated = True
            yield db

    def get(self, run_id: str) -> Checkpoint | None:
        with self._database() as db, db.session() as session:
            row = repo.request_row(session, run_id)
            if row is None:
                return None
            request = None
            if row.request_id and row.status_url and row.response_url and row.cancel_url:
                request = FalRequest(
                    row.endpoint, row.request_id, row.status_url, row.response_url, row.cancel_url
                )
            return Checkpoint(row.endpoint, request, row.attempts)

    def intent(self, run_id: str, endpoint: str) -> int:
        with self._database() as db, db.session() as session:
            return repo.write_intent(session, run_id, endpoint)

    def submitted(self, run_id: str, request: FalRequest) -> None:
        with self._database() as db, db.session() as session:
            repo.write_submitted(
                session,
                run_id,
                request.request_id,
                request.status_url,
                request.response_url,
                request.cancel_url,
            )

    def forget(self, run_id: str) -> None:
        with self._database() as db, db.session() as session:
            repo.forget_request(session, run_id)

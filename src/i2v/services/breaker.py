"""Circuit breakers: a backend that keeps failing is skipped by routing for a while.

`I2V_BREAKER_FAILURES` retryable failures in a row open a backend's breaker for
`I2V_BREAKER_OPEN_S`; then it is half-open: the next job may try it, a success closes it and
a failure opens it again at once. The state is in the database, so every API process and
worker sees the same one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from i2v.db import health as repo
from i2v.db.engine import Database
from i2v.db.tables import utcnow

if TYPE_CHECKING:
    from i2v.bootstrap import App  # DBOS: loaded only by those that open the app

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class BreakerState:
    backend: str
    failures: int
    open_until: datetime | None
    last_error: str | None

    def is_open(self, now: datetime) -> bool:
        return self.open_until is not None and self.open_until > now


class Breakers:
    def __init__(
        self, db: Database, *, threshold: int, open_s: float, clock: Clock = utcnow
    ) -> None:
        self._db, self._threshold, self._open_s, self._clock = db, threshold, open_s, clock

    def states(self) -> dict[str, BreakerState]:
        with self._db.session() as session:
            return {
                name: BreakerState(name, row.failures, row.opened_until, row.last_error)
                for name, row in repo.health_rows(session).items()
            }

    def tripped(self) -> dict[str, BreakerState]:
        """The backends whose breaker is open now."""
        now = self._clock()
        return {name: s for name, s in self.states().items() if s.is_open(now)}

    def failed(self, backend: str, error: str) -> None:
        now = self._clock()
        # Half-open (opened before, time served): one failure opens it again.
        with self._db.session() as session:
            row = repo.record_failure(
                session,
                backend,
                error,
                now,
                self._threshold,
                now + timedelta(seconds=self._open_s),
            )
            if row.opened_until is not None and row.failures > self._threshold:
                row.opened_until = now + timedelta(seconds=self._open_s)

    def succeeded(self, backend: str) -> None:
        with self._db.session() as session:
            repo.record_success(session, backend, self._clock())


def breakers_of(app: App) -> Breakers:
    """The deployment's breakers, on its database and settings."""
    settings = app.settings
    return Breakers(app.db, threshold=settings.breaker_failures, open_s=settings.breaker_open_s)

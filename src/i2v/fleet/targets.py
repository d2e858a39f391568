"""FleetTargets: the ComfyUI backend's servers, acquired from (and given back to) the fleet."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal

from i2v.backends.comfyui.manifest import Workflow
from i2v.config import Settings, resolved_database_url
from i2v.db import fleet as repo
from i2v.db.engine import Database, open_database
from i2v.fleet.manager import Lease
from i2v.fleet.setup import needs_of, open_fleet


class FleetTargets:
    """Each run acquires an instance (reused if idle, else launched) and releases it after.

    Runs on a worker thread (a workflow step), so each call drives the async manager on
    its own event loop.
    """

    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        self._settings, self._given = settings, db
        self._opened: Database | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> FleetTargets:
        return cls(settings)

    @property
    def _db(self) -> Database:
        """The given database, or one opened on first use (a backend built only to `check`
        a spec never touches it)."""
        if self._given is not None:
            return self._given
        if self._opened is None:
            self._opened = open_database(resolved_database_url(self._settings), pool_size=1)
        return self._opened

    def urls(self) -> Sequence[str]:
        with self._db.session() as session:
            return [row.endpoint for row in repo.open_rows(session) if row.endpoint]

    def acquire(self, workflow: Workflow, run_id: str, exclude: Sequence[str]) -> str | None:
        async def go() -> Lease:
            async with open_fleet(self._settings, self._db) as fleet:
                return await fleet.acquire(needs_of(workflow), run_id=run_id, exclude=exclude)

        return asyncio.run(go()).endpoint

    def release(self, url: str, run_id: str) -> Decimal:
        """End the run's lease, also one a crashed worker took before this step was retried."""

        async def go() -> Decimal:
            async with open_fleet(self._settings, self._db) as fleet:
                return fleet.release_run(run_id)

        return asyncio.run(go())

"""FleetTargets: the ComfyUI backend's servers, acquired from (and given back to) the fleet."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AbstractContextManager
from decimal import Decimal

from i2v.backends.comfyui.manifest import Workflow
from i2v.config import Settings, resolved_database_url
from i2v.db import fleet as repo
from i2v.db.engine import Database, given_or_opened
from i2v.fleet.manager import Lease
from i2v.fleet.setup import needs_of, open_fleet, open_ledger


class FleetTargets:
    """Each run acquires an instance (reused if idle, else launched) and releases it after.

    Runs on a worker thread (a workflow step), so each call drives the async manager on
    its own event loop. Without a database given, each call opens one and disposes of it,
    so a backend built per job holds no connections between calls.
    """

    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        self._settings, self._given = settings, db

    def _database(self) -> AbstractContextManager[Database]:
        return given_or_opened(self._given, resolved_database_url(self._settings))

    def urls(self) -> Sequence[str]:
        with self._database() as db, db.session() as session:
            return [row.endpoint for row in repo.open_rows(session) if row.endpoint]

    def acquire(
        self, workflow: Workflow, run_id: str, exclude: Sequence[str], *, more_memory: bool
    ) -> str | None:
        # Out of memory: twice the configured VRAM, on a new instance.
        vram = 2 * self._settings.fleet_min_vram_gb if more_memory else None

        async def go(db: Database) -> Lease:
            async with open_fleet(self._settings, db) as fleet:
                return await fleet.acquire(
                    needs_of(workflow), run_id=run_id, exclude=exclude, min_vram_gb=vram
                )

        with self._database() as db:
            return asyncio.run(go(db)).endpoint

    def release(self, url: str, run_id: str) -> Decimal:
        """End the run's lease, also one a crashed worker took before this step was retried.

        Needs only the database: a provider that is down (or a key removed) cannot leave
        the instance busy.
        """

        async def go(db: Database) -> Decimal:
            async with open_ledger(self._settings, db) as ledger:
                return ledger.release_run(run_id)

        with self._database() as db:
            return asyncio.run(go(db))

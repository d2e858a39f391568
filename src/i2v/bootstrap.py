"""The one start-up path shared by the CLI, the API and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass

from i2v.config import Settings, resolved_database_url
from i2v.db.engine import Database, open_database
from i2v.db.migrate import upgrade


@dataclass(frozen=True, slots=True)
class App:
    settings: Settings
    db: Database

    def close(self) -> None:
        self.db.dispose()


def open_app(settings: Settings, *, migrate: bool = True) -> App:
    """Open the database (bringing its schema up to date unless told not to)."""
    db = open_database(resolved_database_url(settings))
    if migrate:
        upgrade(db)
    return App(settings=settings, db=db)

"""Open the database named by the settings: engines, sessions, and SQLite's pragmas."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from i2v.db.feed import JobFeed
from i2v.errors import ConfigError

SQLITE_BUSY_TIMEOUT_MS = 10_000


@dataclass(frozen=True, slots=True)
class Database:
    engine: Engine
    sessions: sessionmaker[Session]
    feed: JobFeed = field(default_factory=JobFeed)

    def __post_init__(self) -> None:
        self.feed.attach(self.sessions)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self.sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while a worker writes; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def open_database(url: str, pool_size: int = 5) -> Database:
    """`pool_size` connections are kept open, and as many again opened under bursts."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"I2V_DATABASE_URL is not a database URL: {exc}") from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3, not psycopg2
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(
            parsed,
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=pool_size,
        )
    return Database(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


@contextmanager
def given_or_opened(given: Database | None, url: str) -> Iterator[Database]:
    """The caller's database, or one opened for this call and disposed of after it: for
    objects built per job (a backend's checkpoints, fleet leases) that must hold no
    connection between calls when the caller has no database to lend them."""
    if given is not None:
        yield given
        return
    db = open_database(url, pool_size=1)
    try:
        yield db
    finally:
        db.dispose()

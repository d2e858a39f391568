"""The one start-up path shared by the CLI, the API and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field

from dbos import DBOS

from i2v.config import (
    Settings,
    engine_database_url,
    resolved_database_url,
    resolved_storage_url,
)
from i2v.db.engine import Database, open_database
from i2v.db.migrate import upgrade
from i2v.media.gate import DecodeGate
from i2v.storage.base import BlobStore
from i2v.storage.registry import build_blob_store


@dataclass(frozen=True, slots=True)
class App:
    settings: Settings
    db: Database
    # One per process: every image decode in it (uploads, renders) shares the pixel budget.
    decode_gate: DecodeGate = field(init=False)

    def __post_init__(self) -> None:
        budget = DecodeGate(self.settings.decode_budget_mp * 1_000_000)
        object.__setattr__(self, "decode_gate", budget)  # frozen: set once, here

    def close(self) -> None:
        self.db.dispose()


API_THREADS = 40  # anyio's default thread limit, which runs the API's blocking calls


def pool_size(settings: Settings) -> int:
    """Enough connections that running jobs and API requests never queue for one."""
    return settings.worker_concurrency + API_THREADS // 4


def open_app(settings: Settings, *, migrate: bool = True) -> App:
    """Open the database (bringing its schema up to date unless told not to)."""
    db = open_database(resolved_database_url(settings), pool_size=pool_size(settings))
    if migrate:
        upgrade(db)
        DBOS.migrate(engine_database_url(settings))  # the durable engine's own tables
    return App(settings=settings, db=db)


def open_blobs(settings: Settings) -> BlobStore:
    """The configured blob store: the local disk under the data directory by default."""
    secret = settings.s3_secret_access_key
    return build_blob_store(
        resolved_storage_url(settings),
        s3_endpoint_url=settings.s3_endpoint_url,
        s3_region=settings.s3_region,
        s3_access_key_id=settings.s3_access_key_id,
        s3_secret_access_key=secret.get_secret_value() if secret else None,
        s3_addressing_style=settings.s3_addressing_style,
        s3_multipart_threshold_mb=settings.s3_multipart_threshold_mb,
    )

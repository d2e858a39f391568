"""The SQLAlchemy 2 tables: users, API keys, dashboard sessions and invites, jobs, events,
artifacts, executors and the fleet."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonType = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    mature_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Mature content is an admin's grant: who gave it and when (kept when it is revoked).
    mature_granted_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    mature_granted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Hosted spend allowed per UTC day; None: the deployment's I2V_USER_DAILY_BUDGET_USD.
    daily_budget_usd: Mapped[Decimal | None] = mapped_column(Numeric(14, 6), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # public, part of the token
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the secret part
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class WebSession(Base):
    """A dashboard sign-in. The cookie holds a random token; only its SHA-256 is stored here."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_secret: Mapped[str] = mapped_column(String(64))  # the session's forms are signed with it
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class WebInvite(Base):
    """A one-time sign-in link (`i2v users invite NAME`); only the token's SHA-256 is stored."""

    __tablename__ = "web_invites"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[str] = mapped_column(String(64))  # e.g. cli:<login>
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("owner_id", "idempotency_key"),
        Index("ix_jobs_owner_created", "owner_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    spec: Mapped[dict[str, Any]] = mapped_column(JsonType)
    state: Mapped[str] = mapped_column(String(16), index=True)
    backend: Mapped[str] = mapped_column(String(32))  # asked for, then where it really ran
    model: Mapped[str | None] = mapped_column(String(64), nullable=True)
    stage: Mapped[str | None] = mapped_column(String(32), nullable=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(14, 6), default=Decimal(0))
    # The quote at submission; hosted estimates count against the owner's daily budget.
    cost_estimate_usd: Mapped[Decimal | None] = mapped_column(Numeric(14, 6), nullable=True)
    hosted: Mapped[bool] = mapped_column(Boolean, default=False)  # its estimate is hosted spend
    rating: Mapped[str | None] = mapped_column(String(8), nullable=True)  # the policy's, so far
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    request_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cache_key: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    webhook_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)


class PolicyAudit(Base):
    """Every content-policy decision, kept when its job is deleted (no foreign keys)."""

    __tablename__ = "policy_audit"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    owner_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    stage: Mapped[str] = mapped_column(String(16))  # submission | output
    decision: Mapped[str] = mapped_column(String(8))  # allow | refuse
    rating: Mapped[str] = mapped_column(String(8))
    requested: Mapped[str] = mapped_column(String(8))  # the job's own rating field
    category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    rules: Mapped[list[str]] = mapped_column(JsonType)  # rule ids, never the matched words
    scores: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)  # classifier, nsfw, rating
    backends: Mapped[list[str]] = mapped_column(JsonType)  # the route it was decided for
    policy_version: Mapped[str] = mapped_column(String(32))


class JobEvent(Base):
    __tablename__ = "job_events"

    # A global sequence: Server-Sent Events resume from it with Last-Event-ID.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Artifact(Base):
    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("job_id", "kind"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # video | cover
    storage_key: Mapped[str] = mapped_column(String(512))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Executor(Base):
    """A live engine process; its heartbeat is its lease on the work it holds."""

    __tablename__ = "executors"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class FleetInstance(Base):
    """A rented GPU, recorded before the launch call (intent-first) so a crash cannot orphan it.

    The label (`i2v:<deployment>:<id>`) is written here first and given to the provider, so
    reconcile can match what the provider has with what this table knows.
    """

    __tablename__ = "fleet_instances"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    instance_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    label: Mapped[str] = mapped_column(String(128), unique=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    offer_id: Mapped[str] = mapped_column(String(64))
    gpu_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    usd_per_hour: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    endpoint: Mapped[str | None] = mapped_column(String(512), nullable=True)
    workflow: Mapped[str | None] = mapped_column(String(64), nullable=True)
    busy: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    launched_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ready_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    terminated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The provider (or its ComfyUI) last showed it alive: a vanished one is booked to here.
    seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class FleetLease(Base):
    """One run's use of one instance; unique per run, so a retried run is never billed twice."""

    __tablename__ = "fleet_leases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    instance: Mapped[str] = mapped_column(
        ForeignKey("fleet_instances.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[str] = mapped_column(String(128), unique=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    usd: Mapped[Decimal | None] = mapped_column(Numeric(14, 6), nullable=True)


class FleetWaiter(Base):
    """A run queued for a fleet instance: first come, first served across every worker.

    `seen_at` is renewed on each poll, so a waiter whose worker died stops holding its place.
    """

    __tablename__ = "fleet_waiters"

    run_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    workflow: Mapped[str] = mapped_column(String(64), index=True)
    since: Mapped[datetime] = mapped_column(UtcDateTime)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class FalRequest(Base):
    """One render's request on fal: the intent is written before the submit, the id after.

    Keyed by the render's run id, so a step retried after a crash follows the request it
    already paid for instead of submitting again (see `backends/fal/backend.py`).
    """

    __tablename__ = "fal_requests"

    run_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(255))
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    status_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    response_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    cancel_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    intent_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # submits sent for this run


class FalDelivery(Base):
    """A verified webhook from fal, once per request id (fal retries deliveries)."""

    __tablename__ = "fal_deliveries"

    request_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # OK | ERROR
    payload: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class BackendHealth(Base):
    """A backend's circuit breaker, shared by every process on the database."""

    __tablename__ = "backend_health"

    backend: Mapped[str] = mapped_column(String(32), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive retryable ones
    opened_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

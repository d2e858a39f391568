"""Hosted models: a job's model and cost estimate, users' daily budgets, fal requests and
webhook deliveries, and the backends' circuit breakers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("users") as table:
        table.add_column(sa.Column("daily_budget_usd", sa.Numeric(14, 6), nullable=True))
    with op.batch_alter_table("jobs") as table:
        table.add_column(sa.Column("model", sa.String(64), nullable=True))
        table.add_column(sa.Column("cost_estimate_usd", sa.Numeric(14, 6), nullable=True))
        table.add_column(
            sa.Column("hosted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "fal_requests",
        sa.Column("run_id", sa.String(160), nullable=False),
        sa.Column("endpoint", sa.String(255), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("status_url", sa.String(2048), nullable=True),
        sa.Column("response_url", sa.String(2048), nullable=True),
        sa.Column("cancel_url", sa.String(2048), nullable=True),
        sa.Column("intent_at", TIMESTAMP, nullable=False),
        sa.Column("submitted_at", TIMESTAMP, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_fal_requests")),
    )
    op.create_index(op.f("ix_fal_requests_request_id"), "fal_requests", ["request_id"])
    op.create_table(
        "fal_deliveries",
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payload", JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_fal_deliveries")),
    )
    op.create_table(
        "backend_health",
        sa.Column("backend", sa.String(32), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("opened_until", TIMESTAMP, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("backend", name=op.f("pk_backend_health")),
    )


def downgrade() -> None:
    op.drop_table("backend_health")
    op.drop_table("fal_deliveries")
    op.drop_table("fal_requests")
    with op.batch_alter_table("jobs") as table:
        table.drop_column("hosted")
        table.drop_column("cost_estimate_usd")
        table.drop_column("model")
    with op.batch_alter_table("users") as table:
        table.drop_column("daily_budget_usd")

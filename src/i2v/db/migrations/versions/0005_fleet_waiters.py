"""Runs waiting for a fleet instance, served first come, first served across workers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fleet_waiters",
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("workflow", sa.String(64), nullable=False),
        sa.Column("since", TIMESTAMP, nullable=False),
        sa.Column("seen_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_fleet_waiters")),
    )
    op.create_index(op.f("ix_fleet_waiters_workflow"), "fleet_waiters", ["workflow"])


def downgrade() -> None:
    op.drop_table("fleet_waiters")

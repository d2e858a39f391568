"""The GPU fleet: rented instances (recorded intent-first) and each run's lease on one.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fleet_instances",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("instance_id", sa.String(64), nullable=True),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("offer_id", sa.String(64), nullable=False),
        sa.Column("gpu_name", sa.String(64), nullable=True),
        sa.Column("usd_per_hour", sa.Numeric(10, 4), nullable=False),
        sa.Column("endpoint", sa.String(512), nullable=True),
        sa.Column("workflow", sa.String(64), nullable=True),
        sa.Column("busy", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("launched_at", TIMESTAMP, nullable=True),
        sa.Column("ready_at", TIMESTAMP, nullable=True),
        sa.Column("last_used_at", TIMESTAMP, nullable=True),
        sa.Column("terminated_at", TIMESTAMP, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_instances")),
        sa.UniqueConstraint("label", name=op.f("uq_fleet_instances_label")),
    )
    op.create_index(op.f("ix_fleet_instances_instance_id"), "fleet_instances", ["instance_id"])
    op.create_index(op.f("ix_fleet_instances_state"), "fleet_instances", ["state"])
    op.create_table(
        "fleet_leases",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("instance", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("ended_at", TIMESTAMP, nullable=True),
        sa.Column("usd", sa.Numeric(14, 6), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance"],
            ["fleet_instances.id"],
            name=op.f("fk_fleet_leases_instance_fleet_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_leases")),
        sa.UniqueConstraint("run_id", name=op.f("uq_fleet_leases_run_id")),
    )
    op.create_index(op.f("ix_fleet_leases_instance"), "fleet_leases", ["instance"])


def downgrade() -> None:
    op.drop_table("fleet_leases")
    op.drop_table("fleet_instances")

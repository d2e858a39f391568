"""Content policy: who granted a user mature content and when, each job's rating, and the
policy audit.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("users") as table:
        table.add_column(sa.Column("mature_granted_by", sa.String(64), nullable=True))
        table.add_column(sa.Column("mature_granted_at", TIMESTAMP, nullable=True))
    with op.batch_alter_table("jobs") as table:
        table.add_column(sa.Column("rating", sa.String(8), nullable=True))
    op.create_table(
        "policy_audit",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("owner_id", sa.String(32), nullable=True),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("rating", sa.String(8), nullable=False),
        sa.Column("requested", sa.String(8), nullable=False),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("rules", JSON, nullable=False),
        sa.Column("scores", JSON, nullable=False),
        sa.Column("backends", JSON, nullable=False),
        sa.Column("policy_version", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_audit")),
    )
    op.create_index(op.f("ix_policy_audit_created_at"), "policy_audit", ["created_at"])
    op.create_index(op.f("ix_policy_audit_job_id"), "policy_audit", ["job_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_policy_audit_job_id"), table_name="policy_audit")
    op.drop_index(op.f("ix_policy_audit_created_at"), table_name="policy_audit")
    op.drop_table("policy_audit")
    with op.batch_alter_table("jobs") as table:
        table.drop_column("rating")
    with op.batch_alter_table("users") as table:
        table.drop_column("mature_granted_at")
        table.drop_column("mature_granted_by")

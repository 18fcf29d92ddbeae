"""Initial tables: reports, rate limit, weekly aggregates.

Revision ID: 0001
Revises:
Create Date: 2025-05-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_reports",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("submission_id", sa.String(36), nullable=False),
        sa.Column("installation_id", sa.String(36), nullable=False),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.UniqueConstraint("submission_id", name="uq_usage_reports_submission_id"),
    )
    op.create_index("ix_usage_reports_installation_week", "usage_reports", ["installation_id", "week"])
    op.create_index("ix_usage_reports_received_at", "usage_reports", ["received_at"])
    op.create_table(
        "usage_installation_rate",
        sa.Column("installation_id", sa.String(36), primary_key=True),
        sa.Column("last_accepted", sa.Float, nullable=False),
    )
    op.create_table(
        "usage_aggregates",
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("key", sa.String(130), nullable=False),
        sa.Column("shard", sa.SmallInteger, nullable=False),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.Column("installations", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("week", "metric", "key", "shard", name="pk_usage_aggregates"),
    )


def downgrade() -> None:
    op.drop_table("usage_aggregates")
    op.drop_table("usage_installation_rate")
    op.drop_index("ix_usage_reports_received_at", table_name="usage_reports")
    op.drop_index("ix_usage_reports_installation_week", table_name="usage_reports")
    op.drop_table("usage_reports")

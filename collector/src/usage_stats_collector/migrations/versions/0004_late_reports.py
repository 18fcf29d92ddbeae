"""Late reports: the index on a report's week also holds when it was received.

``/v1/stats`` counts, per published week, the stored reports received after the week was
published. With ``(week, received_at)`` that count reads only the late rows of each week; the index
on ``week`` alone is its prefix and goes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_usage_reports_week_received_at", "usage_reports", ["week", "received_at"])
    op.drop_index("ix_usage_reports_week", table_name="usage_reports")


def downgrade() -> None:
    op.create_index("ix_usage_reports_week", "usage_reports", ["week"])
    op.drop_index("ix_usage_reports_week_received_at", table_name="usage_reports")

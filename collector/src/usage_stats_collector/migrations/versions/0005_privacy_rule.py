"""The privacy rule of each published week, and the ledgers of differentially private ones.

- ``usage_published_weeks`` records the rule a week was published under (``privacy``: every week
  published before is ``k-anonymity``); ``k_anonymity`` is only set for those. A week published
  under differential privacy records what it spent (``rho``, and ``delta``, its thresholds' δ), its
  ledger (``ledger``, an id in ``usage_privacy_ledgers``) and, once released, its noisy count of
  late reports (``late_reports``).
- ``usage_privacy_ledgers`` holds each distinct ledger once (most weeks share one).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_privacy_ledgers",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("ledger", sa.Text, nullable=False),
    )
    with op.batch_alter_table("usage_published_weeks") as batch:
        batch.alter_column("k_anonymity", existing_type=sa.Integer, nullable=True)
        batch.add_column(sa.Column("privacy", sa.String(16), nullable=False, server_default="k-anonymity"))
        batch.add_column(sa.Column("rho", sa.Float, nullable=True))
        batch.add_column(sa.Column("delta", sa.Float, nullable=True))
        batch.add_column(sa.Column("ledger", sa.String(16), nullable=True))
        batch.add_column(sa.Column("late_reports", sa.Integer, nullable=True))


def downgrade() -> None:
    published = sa.table("usage_published_weeks", sa.column("k_anonymity"))
    # A week published under differential privacy keeps its snapshot (deleting it would let an
    # older collector publish the week again, exactly); the older schema needs a k: 0.
    op.execute(published.update().where(published.c.k_anonymity.is_(None)).values(k_anonymity=0))
    with op.batch_alter_table("usage_published_weeks") as batch:
        batch.drop_column("late_reports")
        batch.drop_column("ledger")
        batch.drop_column("delta")
        batch.drop_column("rho")
        batch.drop_column("privacy")
        batch.alter_column("k_anonymity", existing_type=sa.Integer, nullable=False)
    op.drop_table("usage_privacy_ledgers")

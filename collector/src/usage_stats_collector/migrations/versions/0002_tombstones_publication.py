"""Tombstones of deleted installations, fixed weekly publication, new-installation limit.

- ``usage_installation_rate`` gets ``deleted_at`` (a tombstone: the installation was deleted, its
  reports are refused) and ``previous_accepted`` (the value ``last_accepted`` had when the row was
  last claimed, which tells a report whether its snapshot of earlier reports is current).
- ``usage_published_weeks`` holds each week's published statistics, fixed once written.
- ``usage_new_installations`` counts installations seen for the first time per week (and shard).
- ``usage_reports`` gets an index on ``week`` (publication reads one week's reports).
- A new aggregate metric, ``nonempty`` (installations that reported more than their versions), is
  computed for the reports still stored.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SHARDS = 16


def _new_contributions(report: dict[str, Any]) -> dict[tuple[str, str], int]:
    """The contributions of the metrics this revision adds (as ``aggregates.contributions`` had them)."""
    out: dict[tuple[str, str], int] = {}
    # A section the user did not share is absent from the report.
    fleet = report.get("printer_fleet", {"printers": 0, "types": {}})
    if (
        int(fleet["printers"]) > 0
        or any(int(v) > 0 for v in fleet["types"].values())
        or any(any(int(v) > 0 for v in states.values()) for states in report.get("features", {}).values())
        or any(int(v) > 0 for section in report.get("jobs", {}).values() for v in section.values())
        or any(int(v) > 0 for v in report.get("events", {}).values())
        or any(int(v) > 0 for types in report.get("errors", {}).values() for v in types.values())
    ):
        out[("nonempty", "")] = 1
    return out


def _backfill(connection: sa.Connection) -> None:
    reports = sa.table("usage_reports", sa.column("installation_id"), sa.column("week"), sa.column("payload"))
    per_installation: dict[tuple[str, str], dict[tuple[str, str], int]] = {}
    for installation, week, payload in connection.execute(
        sa.select(reports.c.installation_id, reports.c.week, reports.c.payload)
    ):
        summed = per_installation.setdefault((installation, week), {})
        for cell_key, value in _new_contributions(json.loads(payload)).items():
            summed[cell_key] = summed.get(cell_key, 0) + value
    cells: dict[tuple[str, str, str, int], list[int]] = {}
    for (installation, week), summed in per_installation.items():
        shard = zlib.crc32(installation.encode("ascii")) % _SHARDS
        for (metric, key), value in summed.items():
            cell = cells.setdefault((week, metric, key, shard), [0, 0])
            cell[0] += value
            cell[1] += 1
    if cells:
        aggregates = sa.table(
            "usage_aggregates",
            sa.column("week"),
            sa.column("metric"),
            sa.column("key"),
            sa.column("shard"),
            sa.column("total"),
            sa.column("installations"),
        )
        connection.execute(
            aggregates.insert(),
            [
                {"week": w, "metric": m, "key": k, "shard": s, "total": t, "installations": n}
                for (w, m, k, s), (t, n) in sorted(cells.items())
            ],
        )


def upgrade() -> None:
    with op.batch_alter_table("usage_installation_rate") as batch:
        batch.add_column(sa.Column("deleted_at", sa.Float, nullable=True))
        batch.add_column(sa.Column("previous_accepted", sa.Float, nullable=True))
    op.create_index("ix_usage_installation_rate_deleted_at", "usage_installation_rate", ["deleted_at"])
    op.create_index("ix_usage_reports_week", "usage_reports", ["week"])
    op.create_table(
        "usage_published_weeks",
        sa.Column("week", sa.String(8), primary_key=True),
        sa.Column("published_at", sa.Float, nullable=False),
        sa.Column("k_anonymity", sa.Integer, nullable=False),
        # The week's public statistics as JSON; NULL when the week was withheld (fewer than k).
        sa.Column("stats", sa.Text, nullable=True),
    )
    op.create_table(
        "usage_new_installations",
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("shard", sa.SmallInteger, nullable=False),
        sa.Column("installations", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("week", "shard", name="pk_usage_new_installations"),
    )
    _backfill(op.get_bind())


def downgrade() -> None:
    aggregates = sa.table("usage_aggregates", sa.column("metric"))
    op.execute(aggregates.delete().where(aggregates.c.metric == "nonempty"))
    op.drop_table("usage_new_installations")
    op.drop_table("usage_published_weeks")
    op.drop_index("ix_usage_reports_week", table_name="usage_reports")
    op.drop_index("ix_usage_installation_rate_deleted_at", table_name="usage_installation_rate")
    with op.batch_alter_table("usage_installation_rate") as batch:
        batch.drop_column("previous_accepted")
        batch.drop_column("deleted_at")

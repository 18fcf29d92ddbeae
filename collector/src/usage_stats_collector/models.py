"""Database tables (SQLAlchemy Core). Migrations in ``migrations/`` create exactly these."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# One row per accepted report. No IP address, user agent or other request metadata is stored.
reports = Table(
    "usage_reports",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("submission_id", String(36), nullable=False),
    Column("installation_id", String(36), nullable=False),
    Column("week", String(8), nullable=False),
    Column("period_start", Date, nullable=False),
    # Seconds since the epoch (UTC) when the report was committed.
    Column("received_at", Float, nullable=False),
    Column("payload", Text, nullable=False),
    UniqueConstraint("submission_id", name="uq_usage_reports_submission_id"),
    Index("ix_usage_reports_installation_week", "installation_id", "week"),
    Index("ix_usage_reports_received_at", "received_at"),
    # Publication reads one week's reports; /v1/stats counts those received after publication.
    Index("ix_usage_reports_week_received_at", "week", "received_at"),
)

# One row per installation that reported within the hour or was deleted, shared by every collector
# process through the database. A report claims the row (``last_accepted``, the hourly limit) and a
# deletion marks it (``deleted_at``, a tombstone kept as long as reports are retained): both lock
# the same row, so a report and a deletion of one installation serialise. ``previous_accepted`` is
# the ``last_accepted`` the row had when a report last claimed it.
installation_rate = Table(
    "usage_installation_rate",
    metadata,
    Column("installation_id", String(36), primary_key=True),
    Column("last_accepted", Float, nullable=False),
    Column("deleted_at", Float, nullable=True),
    Column("previous_accepted", Float, nullable=True),
    Index("ix_usage_installation_rate_deleted_at", "deleted_at"),
)

# Aggregates per ISO week, metric, key and shard: the sum of the values and the number of
# distinct installations that contributed.
aggregates = Table(
    "usage_aggregates",
    metadata,
    Column("week", String(8), nullable=False),
    Column("metric", String(32), nullable=False),
    Column("key", String(130), nullable=False),
    Column("shard", SmallInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("installations", Integer, nullable=False),
    PrimaryKeyConstraint("week", "metric", "key", "shard", name="pk_usage_aggregates"),
)

# The public statistics of each week, written once when the week is published and never changed
# (but for ``late_reports`` of a differentially private week: set once, a week later).
published_weeks = Table(
    "usage_published_weeks",
    metadata,
    Column("week", String(8), primary_key=True),
    Column("published_at", Float, nullable=False),
    # The rule the week was published under: "k-anonymity" (with its k) or "dp".
    Column("privacy", String(16), nullable=False, server_default="k-anonymity"),
    Column("k_anonymity", Integer, nullable=True),
    # The week's statistics as JSON; NULL when the week was withheld (fewer than k installations).
    Column("stats", Text, nullable=True),
    # dp: what the week spent (zCDP rho, and the δ of its thresholds) and its ledger.
    Column("rho", Float, nullable=True),
    Column("delta", Float, nullable=True),
    Column("ledger", String(16), nullable=True),
    # dp: the noisy count of installations that reported the week late, released once.
    Column("late_reports", Integer, nullable=True),
)

# The ledgers of differentially private weeks (mechanism, budget, caps, noise), each stored once.
privacy_ledgers = Table(
    "usage_privacy_ledgers",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("ledger", Text, nullable=False),
)

# Installations seen for the first time, per ISO week of receipt and shard (the optional limit of
# new installations per week).
new_installations = Table(
    "usage_new_installations",
    metadata,
    Column("week", String(8), nullable=False),
    Column("shard", SmallInteger, nullable=False),
    Column("installations", Integer, nullable=False),
    PrimaryKeyConstraint("week", "shard", name="pk_usage_new_installations"),
)

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
)

# When each installation last had a report accepted: the hourly rate limit, shared by every
# collector process through the database.
installation_rate = Table(
    "usage_installation_rate",
    metadata,
    Column("installation_id", String(36), primary_key=True),
    Column("last_accepted", Float, nullable=False),
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

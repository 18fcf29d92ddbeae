"""Storage of reports and aggregates on SQLite (aiosqlite, sqlite3 for reports) or PostgreSQL (asyncpg).

Every piece of shared state lives in the database, so several collector processes can serve one
PostgreSQL database: deduplication is a unique constraint on ``submission_id``, the hourly limit an
upsert on a per-installation row, and aggregates are upserts that add to per-week counters. A
report, its rate-limit row and its aggregate contributions are written in one transaction.

How a report is written differs by backend, for speed (``statements.py``): on PostgreSQL one
statement does all of it; on SQLite the reports that arrive together are written by one thread in
one transaction, each in its own savepoint (``sqlite_writer.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    bindparam,
    delete,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .aggregates import Contributions, contributions, iso_week, shard_of
from .models import aggregates, installation_rate, reports
from .sqlite_writer import SqliteWriter, set_sqlite_pragmas
from .statements import PostgresStatements, SqliteStatements

RATE_LIMIT_SECONDS = 3600
_MIGRATION_LOCK_ID = 0x7573_6167  # "usag": serialises migrations of processes starting together


class Outcome(StrEnum):
    """What happened to a submitted report."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The outcome of a submission; ``retry_after`` is set when rate limited."""

    outcome: Outcome
    retry_after: int | None = None


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A validated report prepared for storage."""

    submission_id: str
    installation_id: str
    period_start: dt.date
    received_at: float
    payload: str
    contributions: Contributions

    @property
    def week(self) -> str:
        """ISO week of the period start."""
        return iso_week(self.period_start)

    @classmethod
    def from_report(cls, report: Mapping[str, Any], received_at: float) -> StoredReport:
        """Prepare a report that passed schema validation."""
        return cls(
            submission_id=report["submission_id"],
            installation_id=report["installation_id"],
            period_start=dt.date.fromisoformat(report["period"]["start"]),
            received_at=received_at,
            payload=json.dumps(report, separators=(",", ":"), sort_keys=True),
            contributions=contributions(report),
        )


def normalize_url(url: str) -> URL:
    """Map ``sqlite:///file`` and ``postgresql://...`` to their async drivers."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in {"postgresql", "postgres"}:
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(f"unsupported database {backend!r}: use sqlite:///path or postgresql://...")


class Storage:
    """Async access to the collector database.

    Every engine hides bound parameters (``hide_parameters``): an error's message, and so the log,
    never shows ids or payloads.
    """

    def __init__(self, url: str, *, schema: str | None = None, pool_size: int = 20) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.schema = schema
        if self.is_sqlite:
            if schema is not None:
                raise ValueError("a schema can only be chosen on PostgreSQL")
            self.engine: AsyncEngine = create_async_engine(
                self.url, pool_size=pool_size, max_overflow=0, hide_parameters=True
            )
            event.listen(self.engine.sync_engine, "connect", set_sqlite_pragmas)
        else:
            connect_args: dict[str, Any] = {}
            if schema is not None:
                connect_args["server_settings"] = {"search_path": schema}
            self.engine = create_async_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=10,
                connect_args=connect_args,
                hide_parameters=True,
            )
        self._statements: SqliteStatements | PostgresStatements = (
            SqliteStatements.build() if self.is_sqlite else PostgresStatements.build()
        )
        # SQLite allows one writer at a time; queueing writers (report batches, deletions, purges)
        # here instead of in SQLite's busy handler keeps latency even. It is not needed for
        # correctness, which the database keeps.
        self._sqlite_lock = asyncio.Lock()
        self._sqlite = SqliteWriter(self.url, self._sqlite_lock) if self.is_sqlite else None

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        if self.is_sqlite:
            async with self._sqlite_lock, self.engine.connect() as conn:
                yield conn
        else:
            async with self.engine.connect() as conn:
                yield conn

    async def close(self) -> None:
        """Finish queued writes and close all connections."""
        if self._sqlite is not None:
            await self._sqlite.close()
        await self.engine.dispose()

    async def migrate(self) -> None:
        """Bring the database to the newest schema (Alembic)."""
        async with self.engine.begin() as conn:
            if not self.is_sqlite:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
                if self.schema is not None:
                    quoted = conn.dialect.identifier_preparer.quote_identifier(self.schema)
                    await conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
            await conn.run_sync(_upgrade)

    async def ping(self) -> None:
        """Raise when the database cannot be reached."""
        async with self.engine.connect() as conn:
            await conn.execute(select(1))

    async def submit_report(self, report: Mapping[str, Any], *, now: float | None = None) -> SubmitResult:
        """Store a validated report with its aggregate contributions, atomically.

        A known ``submission_id`` changes nothing (DUPLICATE); a second report of an installation
        within an hour is refused (RATE_LIMITED). Returns only after the commit.
        """
        received_at = time.time() if now is None else now
        item = StoredReport.from_report(report, received_at)
        params: dict[str, Any] = {
            "b_submission_id": item.submission_id,
            "b_installation_id": item.installation_id,
            "b_week": item.week,
            "b_period_start": item.period_start,
            "b_payload": item.payload,
            "b_now": received_at,
            "b_cutoff": received_at - RATE_LIMIT_SECONDS,
        }
        statements = self._statements
        if isinstance(statements, SqliteStatements):
            assert self._sqlite is not None
            result: SubmitResult = await self._sqlite.run(
                lambda conn: _submit_sqlite(conn, statements, item, params)
            )
            return result
        async with self.engine.connect() as conn:
            result = await _submit_postgresql(conn, statements, item, params)
            if result.outcome is Outcome.ACCEPTED:
                await conn.commit()
            else:
                await conn.rollback()
        return result

    async def _add_aggregates(self, conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Add rows to the aggregate counters; rows must be sorted (a stable lock order)."""
        await conn.execute(self._statements.add_rows, list(rows))

    async def delete_installation(self, installation_id: str) -> int:
        """Delete every report of an installation and remove its aggregate contributions.

        Idempotent; returns how many reports were deleted.
        """
        shard = shard_of(installation_id)
        async with self._writing() as conn:
            # Same lock order as submissions: the installation's rate row first.
            await conn.execute(
                delete(installation_rate).where(installation_rate.c.installation_id == installation_id)
            )
            totals: dict[tuple[str, str, str], int] = {}
            present: dict[str, set[tuple[str, str]]] = {}
            result = await conn.execute(
                select(reports.c.week, reports.c.payload).where(reports.c.installation_id == installation_id)
            )
            for week, payload in result:
                keys = present.setdefault(week, set())
                for (metric, key), value in contributions(json.loads(payload)).items():
                    keys.add((metric, key))
                    totals[(week, metric, key)] = totals.get((week, metric, key), 0) + value
            if totals:
                subtract = (
                    update(aggregates)
                    .where(
                        aggregates.c.week == bindparam("b_week"),
                        aggregates.c.metric == bindparam("b_metric"),
                        aggregates.c.key == bindparam("b_key"),
                        aggregates.c.shard == shard,
                    )
                    .values(
                        total=aggregates.c.total - bindparam("b_total"),
                        installations=aggregates.c.installations - bindparam("b_installations"),
                    )
                )
                await conn.execute(
                    subtract,
                    [
                        {
                            "b_week": week,
                            "b_metric": metric,
                            "b_key": key,
                            "b_total": value,
                            "b_installations": 1 if (metric, key) in present[week] else 0,
                        }
                        for (week, metric, key), value in sorted(totals.items())
                    ],
                )
                await conn.execute(
                    delete(aggregates).where(
                        aggregates.c.week.in_(sorted(present)),
                        aggregates.c.shard == shard,
                        aggregates.c.installations <= 0,
                    )
                )
            deleted = (
                await conn.execute(delete(reports).where(reports.c.installation_id == installation_id))
            ).rowcount
            await conn.commit()
        return int(deleted)

    async def aggregate_rows(self) -> list[tuple[str, str, str, int, int]]:
        """Aggregates summed over shards: ``(week, metric, key, total, installations)``."""
        stmt = select(
            aggregates.c.week,
            aggregates.c.metric,
            aggregates.c.key,
            func.sum(aggregates.c.total),
            func.sum(aggregates.c.installations),
        ).group_by(aggregates.c.week, aggregates.c.metric, aggregates.c.key)
        async with self.engine.connect() as conn:
            result = await conn.execute(stmt)
            return [(w, m, k, int(t), int(i)) for w, m, k, t, i in result]

    async def export_installation(self, installation_id: str) -> list[dict[str, Any]]:
        """Every stored report of an installation, oldest first (admin export)."""
        stmt = (
            select(reports.c.week, reports.c.received_at, reports.c.payload)
            .where(reports.c.installation_id == installation_id)
            .order_by(reports.c.received_at, reports.c.id)
        )
        async with self.engine.connect() as conn:
            result = await conn.execute(stmt)
            return [
                {
                    "week": week,
                    "received_at": dt.datetime.fromtimestamp(received, dt.UTC).isoformat(),
                    "report": json.loads(payload),
                }
                for week, received, payload in result
            ]

    async def purge(self, max_age_days: float, *, now: float | None = None) -> int:
        """Delete reports received more than ``max_age_days`` ago, and expired rate-limit rows.

        Aggregates are kept: they hold no installation id.
        """
        now = time.time() if now is None else now
        async with self._writing() as conn:
            purged = (
                await conn.execute(delete(reports).where(reports.c.received_at < now - max_age_days * 86400))
            ).rowcount
            await conn.execute(
                delete(installation_rate).where(installation_rate.c.last_accepted <= now - RATE_LIMIT_SECONDS)
            )
            await conn.commit()
        return int(purged)

    async def count_reports(self) -> int:
        """How many reports are stored."""
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(reports))).scalar_one())

    async def bulk_load(self, items: Sequence[StoredReport]) -> None:
        """Insert many reports and their aggregates in one transaction (seeding and imports).

        Meant for loading into an empty database or into weeks the installations have not reported
        yet: each (installation, week) pair may appear at most once, and must not be stored already,
        because every report counts its installation once for each key.
        """
        pairs = {(item.installation_id, item.week) for item in items}
        if len(pairs) != len(items):
            raise ValueError("bulk_load takes at most one report per installation and week")
        summed: dict[tuple[str, str, str, int], list[int]] = {}
        for item in items:
            week, shard = item.week, shard_of(item.installation_id)
            for (metric, key), value in item.contributions.items():
                cell = summed.setdefault((week, metric, key, shard), [0, 0])
                cell[0] += value
                cell[1] += 1
        rows = [
            {"week": w, "metric": m, "key": k, "shard": s, "total": t, "installations": n}
            for (w, m, k, s), (t, n) in sorted(summed.items())
        ]
        report_rows = [
            {
                "submission_id": item.submission_id,
                "installation_id": item.installation_id,
                "week": item.week,
                "period_start": item.period_start,
                "received_at": item.received_at,
                "payload": item.payload,
            }
            for item in items
        ]
        async with self._writing() as conn:
            await conn.execute(reports.insert(), report_rows)
            await self._add_aggregates(conn, rows)
            await conn.commit()


def _rate_limited(last_accepted: float, params: Mapping[str, Any]) -> SubmitResult:
    """Refuse a report: the installation may report again an hour after its last accepted one."""
    wait = max(1, math.ceil(last_accepted + RATE_LIMIT_SECONDS - params["b_now"]))
    return SubmitResult(Outcome.RATE_LIMITED, retry_after=wait)


async def _submit_postgresql(
    conn: AsyncConnection,
    statements: PostgresStatements,
    item: StoredReport,
    params: dict[str, Any],
) -> SubmitResult:
    """One statement stores the report, claims the hour and, usually, adds the contributions."""
    keys = sorted(item.contributions)
    params |= {
        "b_shard": shard_of(item.installation_id),
        "b_metrics": [metric for metric, _ in keys],
        "b_keys": [key for _, key in keys],
        "b_totals": [item.contributions[key] for key in keys],
        "b_installations": [1] * len(keys),
    }
    report_id, claimed, earlier = (await conn.execute(statements.submit, params)).one()
    if report_id is None:
        return SubmitResult(Outcome.DUPLICATE)
    if not claimed:
        last = (await conn.execute(statements.last_accepted, params)).scalar_one()
        return _rate_limited(last, params)
    if earlier:
        # A second report of the week: count the installation once per key.
        seen = _seen(earlier)
        params["b_installations"] = [0 if key in seen else 1 for key in keys]
        await conn.execute(statements.add, params)
    return SubmitResult(Outcome.ACCEPTED)


def _submit_sqlite(
    conn: Connection, statements: SqliteStatements, item: StoredReport, params: dict[str, Any]
) -> tuple[bool, SubmitResult]:
    """The same steps as on PostgreSQL, one statement each, in the SQLite writer thread.

    Returns whether to keep what was written, and the outcome.
    """
    report_id = conn.execute(statements.insert_report, params).scalar()
    if report_id is None:
        return False, SubmitResult(Outcome.DUPLICATE)
    if conn.execute(statements.claim_hour, params).first() is None:
        last = conn.execute(statements.last_accepted, params).scalar_one()
        return False, _rate_limited(last, params)
    earlier = conn.execute(statements.earlier, params | {"b_id": report_id}).scalars()
    seen = _seen(earlier)
    shard = shard_of(item.installation_id)
    rows = [
        {
            "week": item.week,
            "metric": metric,
            "key": key,
            "shard": shard,
            "total": value,
            "installations": 0 if (metric, key) in seen else 1,
        }
        for (metric, key), value in sorted(item.contributions.items())
    ]
    conn.execute(statements.add_rows, rows)
    return True, SubmitResult(Outcome.ACCEPTED)


def _seen(payloads: Iterable[str]) -> set[tuple[str, str]]:
    """The keys that earlier reports of the week already contributed."""
    seen: set[tuple[str, str]] = set()
    for payload in payloads:
        seen.update(contributions(json.loads(payload)))
    return seen


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")

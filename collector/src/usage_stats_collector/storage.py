"""Storage of reports and aggregates on SQLite (aiosqlite, sqlite3 for reports) or PostgreSQL (asyncpg).

Every piece of shared state lives in the database, so several collector processes can serve one
PostgreSQL database: deduplication is a unique constraint on ``submission_id``, the hourly limit an
upsert on a per-installation row, and aggregates are upserts that add to per-week counters. A
report, its rate-limit row and its aggregate contributions are written in one transaction. A
report and a deletion of the same installation serialise on the installation's rate row (the
deletion writes a tombstone into it), so aggregates always equal what the stored reports give.

How a report is written differs by backend, for speed (``submission.py``): on PostgreSQL one call
of a function (migration 0003) takes every step and is committed by the server, on a pool of plain
asyncpg connections; on SQLite the reports that arrive together are written by one thread in one
transaction, each in its own savepoint (``sqlite_writer.py``). Everything else goes through
SQLAlchemy.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    bindparam,
    case,
    delete,
    distinct,
    event,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .aggregates import SHARDS, contributions, iso_week, shard_of
from .models import (
    aggregates,
    installation_rate,
    new_installations,
    privacy_ledgers,
    published_weeks,
    reports,
)
from .sqlite_writer import SqliteWriter, set_sqlite_pragmas
from .statements import PostgresStatements, SqliteStatements
from .submission import (
    RATE_LIMIT_SECONDS,
    Outcome,
    StoredReport,
    SubmitResult,
    submit_postgresql,
    submit_sqlite,
)

__all__ = ["Outcome", "Publication", "Storage", "StoredReport", "SubmitResult", "normalize_url"]
_MIGRATION_LOCK_ID = 0x7573_6167  # "usag": serialises migrations of processes starting together
DP = "dp"  # the privacy rule of a differentially private week (``publication_dp.DP``)


class Publication(NamedTuple):
    """One published week as ``/v1/stats`` serves it."""

    week: str
    stats: str | None  # JSON; None: withheld
    late: int | None  # reports (k-anonymity) or installations (dp, noisy) of the week that came late
    privacy: str  # the rule it was published under
    ledger: str | None  # dp: the id of its ledger


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

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        pool_size: int = 20,
        max_new_installations_per_week: int = 0,
    ) -> None:
        self.url = normalize_url(url)
        # 0 = no limit; else new installations accepted per ISO week of receipt, per shard an
        # equal share (rounded up), so that concurrent writers do not queue on one counter.
        self.new_installations_cap = (
            -(-max_new_installations_per_week // SHARDS) if max_new_installations_per_week > 0 else 0
        )
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
            connect_args: dict[str, Any] = {"server_settings": self._server_settings(schema)}
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
        self._pool_size = pool_size
        self._intake: asyncpg.Pool | None = None  # PostgreSQL: opened on the first report
        self._intake_lock = asyncio.Lock()

    @staticmethod
    def _server_settings(schema: str | None) -> dict[str, str]:
        """PostgreSQL session settings of every connection.

        No JIT compilation: the collector's queries are short, and compiling took longer than
        running them (``/v1/stats`` at a million reports: 55 ms of JIT for 0.3 ms of work, because
        the planner overestimates the late-report counts).
        """
        settings = {"jit": "off"}
        if schema is not None:
            settings["search_path"] = schema
        return settings

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
        if self._intake is not None:
            await self._intake.close()
            self._intake = None
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
        within an hour is refused (RATE_LIMITED), a report of a deleted installation too (DELETED),
        and a new installation's first report when the week's limit of new installations is
        reached (TOO_MANY_NEW). Returns only after the commit.
        """
        item, params = self.prepare(report, now)
        statements = self._statements
        if isinstance(statements, SqliteStatements):
            assert self._sqlite is not None
            result: SubmitResult = await self._sqlite.run(
                lambda conn: submit_sqlite(conn, statements, item, params)
            )
            return result
        pool = self._intake or await self._open_intake()
        async with pool.acquire() as conn:
            return await submit_postgresql(conn, statements, item, params)

    async def _open_intake(self) -> asyncpg.Pool:
        """The asyncpg pool of the intake path, with the engine's connection settings."""
        async with self._intake_lock:
            if self._intake is None:
                _, options = self.engine.dialect.create_connect_args(self.url)
                for unused in (
                    "async_fallback",
                    "prepared_statement_cache_size",
                    "prepared_statement_name_func",
                ):
                    options.pop(unused, None)
                options["server_settings"] = self._server_settings(self.schema)
                self._intake = await asyncpg.create_pool(
                    min_size=0, max_size=self._pool_size, reset=_session_unchanged, **options
                )
            return self._intake

    def prepare(self, report: Mapping[str, Any], now: float | None) -> tuple[StoredReport, dict[str, Any]]:
        """A report and the bind parameters of its submission."""
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
            "b_shard": shard_of(item.installation_id),
            "b_cap": self.new_installations_cap,
            "b_receive_week": iso_week(dt.datetime.fromtimestamp(received_at, dt.UTC).date()),
        }
        return item, params

    async def _add_aggregates(self, conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Add rows to the aggregate counters; rows must be sorted (a stable lock order)."""
        await conn.execute(self._statements.add_rows, list(rows))

    async def delete_installation(self, installation_id: str, *, now: float | None = None) -> int:
        """Delete every report of an installation, remove its aggregate contributions, and keep a
        tombstone so that its reports are refused from now on (as long as reports are retained).

        Idempotent; returns how many reports were deleted. The tombstone is written first: it locks
        the installation's row, which every accepted report locks too, so a report of the
        installation either committed before (and is deleted and subtracted here) or waits and is
        then refused. The reports are deleted by one statement that returns them, and exactly
        those are subtracted.
        """
        async with self._writing() as conn:
            deleted = await self.delete_in(conn, installation_id, now)
            await conn.commit()
        return deleted

    async def delete_in(self, conn: AsyncConnection, installation_id: str, now: float | None = None) -> int:
        """The deletion's statements, in the caller's transaction."""
        params = {"b_installation_id": installation_id, "b_now": time.time() if now is None else now}
        shard = shard_of(installation_id)
        await conn.execute(self._statements.tombstone, params)
        deleted = (
            await conn.execute(
                delete(reports)
                .where(reports.c.installation_id == installation_id)
                .returning(reports.c.week, reports.c.payload)
            )
        ).all()
        totals: dict[tuple[str, str, str], int] = {}
        for week, payload in deleted:
            for (metric, key), value in contributions(json.loads(payload)).items():
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
                    installations=aggregates.c.installations - 1,
                )
            )
            await conn.execute(
                subtract,
                [
                    {"b_week": week, "b_metric": metric, "b_key": key, "b_total": value}
                    for (week, metric, key), value in sorted(totals.items())
                ],
            )
            await conn.execute(
                delete(aggregates).where(
                    aggregates.c.week.in_(sorted({week for week, _, _ in totals})),
                    aggregates.c.shard == shard,
                    aggregates.c.installations <= 0,
                )
            )
        return len(deleted)

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

    async def week_aggregates(self, week: str) -> list[tuple[str, str, int, int]]:
        """One week's aggregates summed over shards: ``(metric, key, total, installations)``."""
        stmt = (
            select(
                aggregates.c.metric,
                aggregates.c.key,
                func.sum(aggregates.c.total),
                func.sum(aggregates.c.installations),
            )
            .where(aggregates.c.week == week)
            .group_by(aggregates.c.metric, aggregates.c.key)
        )
        async with self.engine.connect() as conn:
            return [(m, k, int(t), int(i)) for m, k, t, i in await conn.execute(stmt)]

    async def count_week_reports(self, week: str) -> int:
        """How many reports of the week are stored (an index range count)."""
        stmt = select(func.count()).select_from(reports).where(reports.c.week == week)
        async with self.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def week_reports(self, week: str, batch: int) -> AsyncIterator[list[tuple[str, str]]]:
        """The week's stored reports as ``(installation_id, payload)``, ordered by installation."""
        stmt = (
            select(reports.c.installation_id, reports.c.payload)
            .where(reports.c.week == week)
            .order_by(reports.c.installation_id)
        )
        async with self.engine.connect() as conn:
            result = await conn.stream(stmt.execution_options(yield_per=batch))
            async for rows in result.partitions(batch):
                yield [(installation, payload) for installation, payload in rows]

    async def published_week_names(self, weeks: Sequence[str]) -> set[str]:
        """Which of these weeks are published (or withheld) already."""
        stmt = select(published_weeks.c.week).where(published_weeks.c.week.in_(list(weeks)))
        async with self.engine.connect() as conn:
            return set((await conn.execute(stmt)).scalars())

    async def store_publication(
        self,
        week: str,
        k: int | None,
        stats: str | None,
        now: float,
        *,
        privacy: str = "k-anonymity",
        spent: tuple[float, float] | None = None,
        ledger: tuple[str, str] | None = None,
    ) -> bool:
        """Write a week's publication unless one exists (it is never changed); True if written.

        ``privacy`` is the rule it was published under; a differentially private week also has
        what it ``spent`` (rho, and its thresholds' δ) and its ``ledger`` (id, JSON text), which is
        stored once for every week that has it.
        """
        insert = sqlite_insert if self.is_sqlite else postgresql_insert
        rho, delta = spent if spent is not None else (None, None)
        stmt = (
            insert(published_weeks)
            .values(
                week=week,
                published_at=now,
                privacy=privacy,
                k_anonymity=k,
                stats=stats,
                rho=rho,
                delta=delta,
                ledger=ledger[0] if ledger else None,
            )
            .on_conflict_do_nothing(index_elements=[published_weeks.c.week])
        )
        async with self._writing() as conn:
            if ledger is not None:
                await conn.execute(
                    insert(privacy_ledgers)
                    .values(id=ledger[0], ledger=ledger[1])
                    .on_conflict_do_nothing(index_elements=[privacy_ledgers.c.id])
                )
            written = (await conn.execute(stmt)).rowcount
            await conn.commit()
        return bool(written)

    async def publications(self, limit: int) -> list[Publication]:
        """The newest ``limit`` published weeks, newest first.

        ``late`` of a k-anonymous week counts the week's stored reports received after it was
        published (an index range scan of ``(week, received_at)``: only the late rows are read); a
        differentially private week has its noisy count, once released (else None).
        """
        late = (
            select(func.count())
            .where(reports.c.week == published_weeks.c.week)
            .where(reports.c.received_at > published_weeks.c.published_at)
            .scalar_subquery()
        )
        counted = case((published_weeks.c.privacy == DP, published_weeks.c.late_reports), else_=late)
        stmt = (
            select(
                published_weeks.c.week,
                published_weeks.c.stats,
                counted,
                published_weeks.c.privacy,
                published_weeks.c.ledger,
            )
            .order_by(published_weeks.c.week.desc())
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [
                Publication(week, stats, None if count is None else int(count), privacy, ledger)
                for week, stats, count, privacy, ledger in await conn.execute(stmt)
            ]

    async def ledgers(self, ids: Sequence[str]) -> dict[str, str]:
        """The ledgers of these ids, as JSON text."""
        if not ids:
            return {}
        stmt = select(privacy_ledgers.c.id, privacy_ledgers.c.ledger).where(
            privacy_ledgers.c.id.in_(list(ids))
        )
        async with self.engine.connect() as conn:
            return {str(ledger_id): str(text) for ledger_id, text in await conn.execute(stmt)}

    async def dp_budget(self) -> tuple[int, float, float]:
        """Every week ever published under differential privacy: how many, and the sums of their
        rho and of their thresholds' δ (what one installation spent at most in all of them)."""
        stmt = select(
            func.count(),
            func.coalesce(func.sum(published_weeks.c.rho), 0.0),
            func.coalesce(func.sum(published_weeks.c.delta), 0.0),
        ).where(published_weeks.c.privacy == DP)
        async with self.engine.connect() as conn:
            count, rho, delta = (await conn.execute(stmt)).one()
        return int(count), float(rho), float(delta)

    async def first_dp_publication(self) -> float | None:
        """When the first week was published under differential privacy (None: never)."""
        stmt = select(func.min(published_weeks.c.published_at)).where(published_weeks.c.privacy == DP)
        async with self.engine.connect() as conn:
            first = (await conn.execute(stmt)).scalar_one()
        return None if first is None else float(first)

    async def late_releases_due(self, published_before: float) -> list[tuple[str, float, str | None]]:
        """Differentially private weeks published before then whose late count is not released
        yet: ``(week, published_at, ledger id)``."""
        stmt = (
            select(published_weeks.c.week, published_weeks.c.published_at, published_weeks.c.ledger)
            .where(published_weeks.c.privacy == DP)
            .where(published_weeks.c.late_reports.is_(None))
            .where(published_weeks.c.published_at <= published_before)
            .order_by(published_weeks.c.week)
        )
        async with self.engine.connect() as conn:
            return [(week, float(at), ledger) for week, at, ledger in await conn.execute(stmt)]

    async def late_installations(self, week: str, published_at: float) -> int:
        """How many installations have a stored report of the week received after its publication."""
        stmt = (
            select(func.count(distinct(reports.c.installation_id)))
            .where(reports.c.week == week)
            .where(reports.c.received_at > published_at)
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def store_late_reports(self, week: str, count: int) -> bool:
        """Set a differentially private week's late count, unless it is set (it is never changed)."""
        stmt = (
            update(published_weeks)
            .where(published_weeks.c.week == week)
            .where(published_weeks.c.privacy == DP)
            .where(published_weeks.c.late_reports.is_(None))
            .values(late_reports=count)
        )
        async with self._writing() as conn:
            written = (await conn.execute(stmt)).rowcount
            await conn.commit()
        return bool(written)

    async def publication_state(self) -> tuple[int, str | None]:
        """How many weeks are published (or withheld), and the newest of them.

        Publications are only ever added, never changed or removed, so this pair changes exactly
        when a week is published: the key of what is computed from the snapshots.
        """
        stmt = select(func.count(), func.max(published_weeks.c.week)).select_from(published_weeks)
        async with self.engine.connect() as conn:
            count, newest = (await conn.execute(stmt)).one()
        return int(count), newest

    async def published_stats(self, limit: int) -> list[tuple[str, str]]:
        """The newest ``limit`` published (not withheld) weeks, newest first: ``(week, stats JSON)``."""
        stmt = (
            select(published_weeks.c.week, published_weeks.c.stats)
            .where(published_weeks.c.stats.is_not(None))
            .order_by(published_weeks.c.week.desc())
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [(week, stats) for week, stats in await conn.execute(stmt)]

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
        """Delete reports received more than ``max_age_days`` ago, expired rate-limit rows,
        tombstones as old as the purged reports, and old counts of new installations.

        Aggregates and published weeks are kept: they hold no installation id.
        """
        now = time.time() if now is None else now
        cutoff = now - max_age_days * 86400
        async with self._writing() as conn:
            purged = (await conn.execute(delete(reports).where(reports.c.received_at < cutoff))).rowcount
            await conn.execute(
                delete(installation_rate).where(
                    or_(
                        installation_rate.c.deleted_at.is_(None)
                        & (installation_rate.c.last_accepted <= now - RATE_LIMIT_SECONDS),
                        installation_rate.c.deleted_at < cutoff,
                    )
                )
            )
            last_week = iso_week(dt.datetime.fromtimestamp(now - 14 * 86400, dt.UTC).date())
            await conn.execute(delete(new_installations).where(new_installations.c.week < last_week))
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


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def _session_unchanged(_conn: asyncpg.Connection) -> None:
    """The intake changes no session state (settings, locks, listeners): a connection goes back to
    the pool without the reset query that asyncpg runs by default (a round trip per report). An
    open transaction is still rolled back by the pool."""

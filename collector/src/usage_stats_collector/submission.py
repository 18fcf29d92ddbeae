"""One report's way into the database: what it becomes (:class:`StoredReport`), the steps that store
it on each backend, and what came of it (:class:`SubmitResult`).

Both backends take the same steps in one transaction: store the report unless its ``submission_id``
is known, claim the installation's hour (which locks its row and fails for a deleted installation),
count a new installation against the week's limit when one is set, and add the report's
contributions, counting the installation once per key and week. On SQLite the writer thread runs
them as one statement each (``sqlite3``, ``sqlite_writer.py``); on PostgreSQL one statement does
them all, usually (asyncpg, ``statements.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import asyncpg

from .aggregates import Contributions, contributions, iso_week, shard_of
from .statements import PostgresStatements, SqliteStatements

RATE_LIMIT_SECONDS = 3600


class Outcome(StrEnum):
    """What happened to a submitted report."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    RATE_LIMITED = "rate_limited"
    DELETED = "deleted"
    TOO_MANY_NEW = "too_many_new_installations"


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The outcome of a submission; ``retry_after`` is set when rate limited (either limit)."""

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


def _refused(state: Iterable[Any], params: Mapping[str, Any]) -> SubmitResult:
    """Why a report did not claim the installation's row: deleted, or reported within the hour."""
    last_accepted, deleted_at = state
    if deleted_at is not None:
        return SubmitResult(Outcome.DELETED)
    wait = max(1, math.ceil(last_accepted + RATE_LIMIT_SECONDS - params["b_now"]))
    return SubmitResult(Outcome.RATE_LIMITED, retry_after=wait)


def _too_many_new(params: Mapping[str, Any]) -> SubmitResult:
    """Refuse a new installation until the next ISO week (of receipt) begins."""
    received = dt.datetime.fromtimestamp(params["b_now"], dt.UTC)
    monday = received.date() + dt.timedelta(days=7 - received.weekday())
    next_week = dt.datetime.combine(monday, dt.time(), dt.UTC).timestamp()
    return SubmitResult(Outcome.TOO_MANY_NEW, retry_after=max(1, math.ceil(next_week - params["b_now"])))


def aggregate_tuples(
    item: StoredReport, seen: set[tuple[str, str]]
) -> list[tuple[str, str, str, int, int, int]]:
    """The aggregate rows of a report in ``AGGREGATE_COLUMNS`` order, sorted (a stable lock order);
    keys in ``seen`` add no installation."""
    week, shard = item.week, shard_of(item.installation_id)
    return [
        (week, metric, key, shard, value, 0 if (metric, key) in seen else 1)
        for (metric, key), value in sorted(item.contributions.items())
    ]


async def submit_postgresql(
    conn: asyncpg.Connection,
    statements: PostgresStatements,
    item: StoredReport,
    params: dict[str, Any],
) -> SubmitResult:
    """Store a report with one call of ``usage_submit_report``, which commits it when called outside a
    transaction; an installation's second report of the week takes a transaction of its own.
    """
    _add_arrays(item, params)
    outcome, last_accepted, deleted_at = await statements.call.fetchrow(conn, params)
    if outcome == "refused":
        return _refused((last_accepted, deleted_at), params)
    if outcome == "too_many_new":
        return _too_many_new(params)
    if outcome != "earlier":
        return SubmitResult(Outcome(outcome))  # accepted or duplicate
    if conn.is_in_transaction():  # the caller's transaction keeps or rolls back what it writes
        return await submit_postgresql_in(conn, statements, item, params)
    try:
        async with conn.transaction():
            result = await submit_postgresql_in(conn, statements, item, params)
            if result.outcome is not Outcome.ACCEPTED:
                raise _RollBackError(result)
    except _RollBackError as refused:
        return refused.result
    return result


async def submit_postgresql_in(
    conn: asyncpg.Connection,
    statements: PostgresStatements,
    item: StoredReport,
    params: dict[str, Any],
) -> SubmitResult:
    """One statement stores the report, claims the hour and, usually, adds the contributions.

    Runs in the caller's transaction, which must keep only an ACCEPTED report.
    """
    keys = _add_arrays(item, params)
    report_id, claimed, current, earlier = await statements.submit.fetchrow(conn, params)
    if report_id is None:
        return SubmitResult(Outcome.DUPLICATE)
    params["b_id"] = report_id
    if not claimed:
        return _refused(await statements.last_accepted.fetchrow(conn, params), params)
    if (
        params["b_cap"]
        and not await statements.known.fetchval(conn, params)
        and await statements.count_new.fetchrow(conn, params) is None
    ):
        return _too_many_new(params)
    if not current:
        # Another transaction changed the installation's row after this statement's snapshot was
        # taken: read the earlier reports again, now that the row is locked.
        earlier = [payload for (payload,) in await statements.earlier.fetch(conn, params)]
    if earlier or not current:
        # A second report of the week: count the installation once per key.
        seen = _seen(earlier)
        params["b_installations"] = [0 if key in seen else 1 for key in keys]
        await statements.add.execute(conn, params)
    return SubmitResult(Outcome.ACCEPTED)


def _add_arrays(item: StoredReport, params: dict[str, Any]) -> list[tuple[str, str]]:
    """Add the report's contributions to ``params`` as arrays, sorted (a stable lock order)."""
    keys = sorted(item.contributions)
    params |= {
        "b_metrics": [metric for metric, _ in keys],
        "b_keys": [key for _, key in keys],
        "b_totals": [item.contributions[key] for key in keys],
        "b_installations": [1] * len(keys),
    }
    return keys


class _RollBackError(Exception):
    """Leaves a submission's transaction, rolling it back, with the outcome of a refused report."""

    def __init__(self, result: SubmitResult) -> None:
        super().__init__(result.outcome)
        self.result = result


def submit_sqlite(
    conn: sqlite3.Connection, statements: SqliteStatements, item: StoredReport, params: dict[str, Any]
) -> tuple[bool, SubmitResult]:
    """The same steps as on PostgreSQL, one statement each, in the SQLite writer thread.

    Returns whether to keep what was written, and the outcome.
    """
    params["b_period_start"] = item.period_start.isoformat()  # as SQLAlchemy stores a date
    inserted = conn.execute(statements.insert_report, params).fetchall()
    if not inserted:
        return False, SubmitResult(Outcome.DUPLICATE)
    params["b_id"] = inserted[0][0]
    if not conn.execute(statements.claim_hour, params).fetchall():
        return False, _refused(conn.execute(statements.last_accepted, params).fetchone(), params)
    if (
        params["b_cap"]
        and not conn.execute(statements.known, params).fetchone()[0]
        and not conn.execute(statements.count_new, params).fetchall()
    ):
        return False, _too_many_new(params)
    seen = _seen(payload for (payload,) in conn.execute(statements.earlier, params))
    conn.executemany(statements.add_tuples, aggregate_tuples(item, seen))
    return True, SubmitResult(Outcome.ACCEPTED)


def _seen(payloads: Iterable[str]) -> set[tuple[str, str]]:
    """The keys that earlier reports of the week already contributed."""
    seen: set[tuple[str, str]] = set()
    for payload in payloads:
        seen.update(contributions(json.loads(payload)))
    return seen

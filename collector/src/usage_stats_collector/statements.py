"""The statements of the intake path, built once per database dialect with SQLAlchemy Core.

On SQLite a report takes one statement per step: store it, claim the installation's hour, read the
installation's earlier reports of the week, add its contributions (``executemany``). The writer
thread runs them through the ``sqlite3`` module, as SQL rendered here once, without a hand-off
between steps (``sqlite_writer.py``).

On PostgreSQL the steps are one call of the function ``usage_submit_report`` (migration 0003),
made outside a transaction, so that the server commits it before it answers and no row lock waits
for a round trip to the collector. An installation's second report of a week takes the same steps
in one statement in a transaction (:data:`PostgresStatements.submit`): data-modifying CTEs store the
report, claim the hour only when the report is new (which locks the installation's row and fails
for a deleted installation) and read the earlier reports of the week; the caller reads them again
if something of the installation committed after the statement's snapshot, and adds the
contributions, counting the installation once per key. A round trip and a statement execution cost
more than the database work on this path, so one call instead of four statements (and arrays
instead of one parameter set per key) is what lets one process keep up with many clients.

On SQLite all steps run in a savepoint of the writer's transaction, which rolls back a duplicate
or rate-limited report; PostgreSQL's function undoes its own writes when it refuses a report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Dialect,
    Float,
    Insert,
    Integer,
    Select,
    SmallInteger,
    String,
    TextClause,
    bindparam,
    exists,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from .models import aggregates, installation_rate, new_installations, reports

_AGGREGATE_KEY = [aggregates.c.week, aggregates.c.metric, aggregates.c.key, aggregates.c.shard]
AGGREGATE_COLUMNS = ["week", "metric", "key", "shard", "total", "installations"]


def _insert_report(insert: Any) -> Insert:
    """Store a report unless its ``submission_id`` is known; returns the new row's id."""
    statement: Insert = (
        insert(reports)
        .values(
            submission_id=bindparam("b_submission_id", type_=String),
            installation_id=bindparam("b_installation_id", type_=String),
            week=bindparam("b_week", type_=String),
            period_start=bindparam("b_period_start"),
            received_at=bindparam("b_now", type_=Float),
            payload=bindparam("b_payload"),
        )
        .on_conflict_do_nothing(index_elements=[reports.c.submission_id])
        .returning(reports.c.id)
    )
    return statement


def _claim_hour(insert: Any, source: Select[Any] | None = None) -> Insert:
    """Insert or renew the installation's rate row, unless it was renewed within the hour or the
    installation was deleted (a tombstone). Returns the ``last_accepted`` the row had before.

    The row stays locked until the transaction ends; on PostgreSQL the ``WHERE`` of ``ON CONFLICT DO
    UPDATE`` sees the newest committed version of the row, also one committed after the statement
    began (a deletion this report waited for).
    """
    rate = insert(installation_rate)
    if source is None:
        rate = rate.values(installation_id=bindparam("b_installation_id"), last_accepted=bindparam("b_now"))
    else:
        rate = rate.from_select(["installation_id", "last_accepted"], source)
    claim: Insert = rate.on_conflict_do_update(
        index_elements=[installation_rate.c.installation_id],
        set_={
            "last_accepted": rate.excluded.last_accepted,
            "previous_accepted": installation_rate.c.last_accepted,
        },
        where=(installation_rate.c.last_accepted <= bindparam("b_cutoff", type_=Float))
        & installation_rate.c.deleted_at.is_(None),
    ).returning(installation_rate.c.previous_accepted)
    return claim


def _tombstone(insert: Any) -> Insert:
    """Mark an installation deleted (creating its row if needed), which locks its row."""
    mark = insert(installation_rate).values(
        installation_id=bindparam("b_installation_id", type_=String),
        last_accepted=bindparam("b_now", type_=Float),
        deleted_at=bindparam("b_now", type_=Float),
    )
    tombstone: Insert = mark.on_conflict_do_update(
        index_elements=[installation_rate.c.installation_id],
        set_={"deleted_at": mark.excluded.deleted_at},
    )
    return tombstone


def _count_new_installation(insert: Any) -> Insert:
    """Count a new installation in its week and shard, unless the shard's share is used up."""
    count = insert(new_installations).values(
        week=bindparam("b_receive_week", type_=String),
        shard=bindparam("b_shard", type_=SmallInteger),
        installations=literal_column("1"),
    )
    counted: Insert = count.on_conflict_do_update(
        index_elements=[new_installations.c.week, new_installations.c.shard],
        set_={"installations": new_installations.c.installations + literal_column("1")},
        where=new_installations.c.installations < bindparam("b_cap", type_=Integer),
    ).returning(new_installations.c.installations)
    return counted


def _add_up(add: Any) -> Insert:
    """Turn an insert into the aggregates into an upsert that adds to existing counters."""
    upsert: Insert = add.on_conflict_do_update(
        index_elements=_AGGREGATE_KEY,
        set_={
            "total": aggregates.c.total + add.excluded.total,
            "installations": aggregates.c.installations + add.excluded.installations,
        },
    )
    return upsert


def _rate_of() -> Select[Any]:
    return select(installation_rate.c.last_accepted, installation_rate.c.deleted_at).where(
        installation_rate.c.installation_id == bindparam("b_installation_id")
    )


def _earlier() -> Select[Any]:
    """The installation's other reports of the week."""
    return select(reports.c.payload).where(
        reports.c.installation_id == bindparam("b_installation_id"),
        reports.c.week == bindparam("b_week"),
        reports.c.id != bindparam("b_id"),
    )


def _known() -> Select[Any]:
    """Whether the installation has another stored report (it is not new)."""
    return select(
        exists().where(
            reports.c.installation_id == bindparam("b_installation_id"),
            reports.c.id != bindparam("b_id"),
        )
    )


@dataclass(frozen=True, slots=True)
class SqliteStatements:
    """One statement per step of a submission, as SQL for the ``sqlite3`` module of the writer thread
    (named parameters; ``add_tuples`` takes rows in :data:`AGGREGATE_COLUMNS` order, for
    ``executemany``); ``add_rows`` and ``tombstone`` are for an SQLAlchemy connection.
    """

    insert_report: str
    claim_hour: str
    earlier: str
    add_tuples: str
    last_accepted: str
    known: str
    count_new: str
    add_rows: TextClause
    tombstone: TextClause

    @classmethod
    def build(cls) -> SqliteStatements:
        dialect = sqlite.dialect(paramstyle="named")
        add_up = _add_up(sqlite.insert(aggregates))
        return cls(
            insert_report=rendered(_insert_report(sqlite.insert), dialect),
            claim_hour=rendered(_claim_hour(sqlite.insert), dialect),
            earlier=rendered(_earlier(), dialect),
            add_tuples=rendered(add_up, sqlite.dialect(paramstyle="qmark"), AGGREGATE_COLUMNS),
            last_accepted=rendered(_rate_of(), dialect),
            known=rendered(_known(), dialect),
            count_new=rendered(_count_new_installation(sqlite.insert), dialect),
            add_rows=cacheable(add_up, dialect),
            tombstone=cacheable(_tombstone(sqlite.insert), dialect),
        )


def _contribution_rows() -> Select[Any]:
    """The aggregate rows of one report, from arrays in the order given (a stable lock order)."""
    rows = (
        func.unnest(
            bindparam("b_metrics", type_=postgresql.ARRAY(String)),
            bindparam("b_keys", type_=postgresql.ARRAY(String)),
            bindparam("b_totals", type_=postgresql.ARRAY(BigInteger)),
            bindparam("b_installations", type_=postgresql.ARRAY(Integer)),
        )
        .table_valued("metric", "key", "total", "installations", with_ordinality="position")
        .render_derived()
    )
    return select(
        bindparam("b_week", type_=String),
        rows.c.metric,
        rows.c.key,
        bindparam("b_shard", type_=SmallInteger),
        rows.c.total,
        rows.c.installations,
    ).order_by(rows.c.position)


# The parameters of the function ``usage_submit_report`` (migration 0003) and their types.
_CALL = (
    ("b_submission_id", "text"),
    ("b_installation_id", "text"),
    ("b_week", "text"),
    ("b_period_start", "date"),
    ("b_now", "double precision"),
    ("b_payload", "text"),
    ("b_cutoff", "double precision"),
    ("b_shard", "smallint"),
    ("b_cap", "integer"),
    ("b_receive_week", "text"),
    ("b_metrics", "text[]"),
    ("b_keys", "text[]"),
    ("b_totals", "bigint[]"),
)


@dataclass(frozen=True, slots=True)
class PostgresStatements:
    """The whole submission in one call, and in one statement within a transaction.

    ``call`` runs the function ``usage_submit_report`` (migration 0003), which takes every step
    and answers ``(outcome, last_accepted, deleted_at)``; for an installation's second report of a
    week (outcome ``earlier``) the caller runs ``submit`` and its follow-ups in a transaction.

    ``submit`` returns one row ``(report_id, claimed, current, earlier)``: ``report_id`` is
    None for a duplicate; ``claimed`` is false when the installation reported within the hour or
    was deleted; ``current`` is true when the statement's snapshot already held the installation's
    row as it was when the report locked it, so nothing of the installation committed in between
    and ``earlier`` (the payloads of the installation's earlier reports of the week, read from that
    snapshot) is complete. The
    contributions were added only when the report was claimed, ``current`` and ``earlier`` empty;
    otherwise the caller reads the earlier reports again (a new statement, so a new snapshot,
    taken after the lock) and adds them with ``add`` (installations counted once per key), or rolls
    back. ``add_rows`` adds many rows of any weeks and shards (``executemany``, for bulk loads).
    """

    call: Positional
    submit: Positional
    add: Positional
    last_accepted: Positional
    earlier: Positional
    known: Positional
    count_new: Positional
    add_rows: TextClause
    tombstone: TextClause

    @classmethod
    def build(cls) -> PostgresStatements:
        dialect = postgresql.dialect(paramstyle="named")  # type: ignore[no-untyped-call]
        inserted = _insert_report(postgresql.insert).cte("inserted")
        # The hour is claimed only for a new report: a duplicate touches nothing.
        claimed = _claim_hour(
            postgresql.insert,
            select(bindparam("b_installation_id", type_=String), bindparam("b_now", type_=Float)).select_from(
                inserted
            ),
        ).cte("claimed")
        # The installation's row in the statement's snapshot, before the claim locked it.
        before = select(installation_rate.c.last_accepted).where(
            installation_rate.c.installation_id == bindparam("b_installation_id")
        )
        current = select(claimed.c.previous_accepted).where(
            claimed.c.previous_accepted.is_not_distinct_from(before.scalar_subquery())
        )
        # The statement's snapshot: earlier reports, without the one inserted above.
        earlier = (
            select(reports.c.payload)
            .where(
                reports.c.installation_id == bindparam("b_installation_id"),
                reports.c.week == bindparam("b_week"),
            )
            .cte("earlier")
        )
        rows = _contribution_rows()
        first_of_week = rows.where(exists(current), ~exists(select(earlier.c.payload)))
        added = _add_up(postgresql.insert(aggregates).from_select(AGGREGATE_COLUMNS, first_of_week)).cte(
            "added"
        )
        submit = select(
            select(inserted.c.id).scalar_subquery().label("report_id"),
            exists(select(claimed.c.previous_accepted)).label("claimed"),
            exists(current).label("current"),
            func.array(select(earlier.c.payload).scalar_subquery()).label("earlier"),
        ).add_cte(added)
        add = _add_up(postgresql.insert(aggregates).from_select(AGGREGATE_COLUMNS, rows))
        return cls(
            call=Positional(
                "SELECT o_outcome, o_last_accepted, o_deleted_at FROM usage_submit_report("
                + ", ".join(f"${number}::{type_}" for number, (_, type_) in enumerate(_CALL, start=1))
                + ")",
                tuple(name for name, _ in _CALL),
            ),
            submit=Positional.of(submit),
            add=Positional.of(add),
            last_accepted=Positional.of(_rate_of()),
            earlier=Positional.of(_earlier()),
            known=Positional.of(_known()),
            count_new=Positional.of(_count_new_installation(postgresql.insert)),
            add_rows=cacheable(_add_up(postgresql.insert(aggregates)), dialect),
            tombstone=cacheable(_tombstone(postgresql.insert), dialect),
        )


@dataclass(frozen=True, slots=True)
class Positional:
    """A statement rendered for asyncpg, run on its connections directly (the intake path).

    The SQL has numbered parameters with casts (``$1::VARCHAR``), as SQLAlchemy's asyncpg dialect
    renders them; ``names`` are the parameters' names in the order of their numbers. asyncpg
    prepares each statement once per connection and keeps it.
    """

    sql: str
    names: tuple[str, ...]

    @classmethod
    def of(cls, statement: Any) -> Positional:
        compiled = statement.compile(dialect=asyncpg_dialect.dialect())  # type: ignore[no-untyped-call]
        return cls(str(compiled), tuple(compiled.positiontup or ()))

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """The values of the parameters, in order."""
        return [params[name] for name in self.names]

    async def fetchrow(self, conn: Any, params: Mapping[str, Any]) -> Any:
        rows = await conn.fetch(self.sql, *self.args(params))
        return rows[0] if rows else None

    async def fetchval(self, conn: Any, params: Mapping[str, Any]) -> Any:
        return await conn.fetchval(self.sql, *self.args(params))

    async def fetch(self, conn: Any, params: Mapping[str, Any]) -> list[Any]:
        rows: list[Any] = await conn.fetch(self.sql, *self.args(params))
        return rows

    async def execute(self, conn: Any, params: Mapping[str, Any]) -> None:
        await conn.execute(self.sql, *self.args(params))


def cacheable(statement: Any, dialect: Dialect) -> TextClause:
    """Render a dialect-specific statement once into an equivalent text construct.

    SQLAlchemy 2.0 does not cache the compiled form of the PostgreSQL/SQLite ``Insert`` constructs
    (``inherit_cache = False``), so each execution would compile them again, which costs more than
    the database work on the hot path. The SQL is still generated by SQLAlchemy from the Core
    statement; the text construct keeps the bind parameter types and is cached normally.
    """
    compiled = statement.compile(dialect=dialect)
    binds: list[BindParameter[Any]] = [
        bindparam(name, type_=param.type) for name, param in compiled.binds.items()
    ]
    # A PostgreSQL cast (``:name::TYPE[]``) would not be read as a parameter by text(): escape it.
    return text(str(compiled).replace("::", r"\:\:")).bindparams(*binds)


def rendered(statement: Any, dialect: Dialect, positions: list[str] | None = None) -> str:
    """A statement's SQL for a DB-API driver; with ``positions``, check its positional parameters."""
    compiled = statement.compile(dialect=dialect)
    if positions is not None and list(compiled.positiontup or ()) != positions:
        raise ValueError(f"parameters in the order {compiled.positiontup}, not {positions}")
    return str(compiled)

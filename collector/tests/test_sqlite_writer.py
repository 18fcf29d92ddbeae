"""The SQLite group-commit writer: batches, savepoints and failures, on a real SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from usage_stats_collector.sqlite_writer import MAX_BATCH, SqliteWriter, TransactionLostError


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "writer.db"
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE numbers (value INTEGER NOT NULL)")
        connection.commit()
    return path


@pytest.fixture
async def writer(database: Path) -> AsyncIterator[SqliteWriter]:
    sqlite_writer = SqliteWriter(make_url(f"sqlite+aiosqlite:///{database}"), asyncio.Lock())
    yield sqlite_writer
    await sqlite_writer.close()


def stored(database: Path) -> list[int]:
    with contextlib.closing(sqlite3.connect(database)) as connection:
        return [value for (value,) in connection.execute("SELECT value FROM numbers ORDER BY value")]


def insert(value: int, *, keep: bool = True) -> Callable[[sqlite3.Connection], tuple[bool, Any]]:
    def work(conn: sqlite3.Connection) -> tuple[bool, Any]:
        conn.execute("INSERT INTO numbers (value) VALUES (:value)", {"value": value})
        return keep, f"wrote {value}"

    return work


def insert_then_fail(conn: sqlite3.Connection) -> tuple[bool, Any]:
    conn.execute("INSERT INTO numbers (value) VALUES (3)")
    raise ValueError("bad work")


async def test_each_piece_of_a_batch_is_kept_or_rolled_back_alone(
    writer: SqliteWriter, database: Path
) -> None:
    results = await asyncio.gather(
        writer.run(insert(1)),
        writer.run(insert(2, keep=False)),
        writer.run(insert_then_fail),
        writer.run(insert(4)),
        return_exceptions=True,
    )
    assert results[:2] == ["wrote 1", "wrote 2"]
    assert isinstance(results[2], ValueError)
    assert results[3] == "wrote 4"
    assert stored(database) == [1, 4]


async def test_more_work_than_a_batch_is_written_in_several(writer: SqliteWriter, database: Path) -> None:
    count = 2 * MAX_BATCH + 5
    results = await asyncio.gather(*(writer.run(insert(value)) for value in range(count)))
    assert results == [f"wrote {value}" for value in range(count)]
    assert stored(database) == list(range(count))


async def test_a_failed_transaction_fails_every_piece_and_keeps_nothing(
    writer: SqliteWriter, database: Path
) -> None:
    def break_transaction(conn: sqlite3.Connection) -> tuple[bool, Any]:
        conn.execute("ROLLBACK")  # the commit of the batch will fail
        return True, None

    results = await asyncio.gather(
        writer.run(insert(1)), writer.run(break_transaction), return_exceptions=True
    )
    assert all(isinstance(result, TransactionLostError) for result in results)
    assert stored(database) == []
    # The writer goes on with the next batch.
    assert await writer.run(insert(5)) == "wrote 5"
    assert stored(database) == [5]


async def test_work_of_a_caller_that_went_away_is_still_committed(
    writer: SqliteWriter, database: Path
) -> None:
    task = asyncio.create_task(writer.run(insert(7)))
    await asyncio.sleep(0)  # queued, and the writer has started
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await writer.close()
    assert stored(database) == [7]

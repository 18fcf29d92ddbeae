"""SQLite writes with group commit: one thread writes the work that arrives together in one transaction.

SQLite lets one connection write at a time, so reports queue for the write lock whatever the code
does. Taking them one statement at a time through an async driver makes every statement wait for a
thread hand-off and a turn of the busy event loop while the lock is held. Here the queued pieces of
work go to one thread in one hand-off and run in one transaction (``BEGIN IMMEDIATE``), each in its
own savepoint, so that a piece that keeps nothing (a duplicate or rate-limited report) or fails is
rolled back alone. Callers get their result only after the commit.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL

MAX_BATCH = 64

# Work for the writer thread: returns whether to keep what it wrote, and its result.
Work = Callable[[Connection], tuple[bool, Any]]


def set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL journal, normal syncing and a generous busy timeout on every SQLite connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _connect(dbapi_connection: Any, record: Any) -> None:
    # Leave BEGIN to SQLAlchemy (below) instead of the sqlite3 module, so savepoints work.
    dbapi_connection.isolation_level = None
    set_sqlite_pragmas(dbapi_connection, record)


def _begin(conn: Connection) -> None:
    # Take the write lock at the start: reads of the transaction then see what it will change.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class SqliteWriter:
    """Runs writes in batches on one thread with its own (synchronous) connection."""

    def __init__(self, url: URL, lock: asyncio.Lock) -> None:
        self._engine: Engine = create_engine(
            url.set(drivername="sqlite+pysqlite"), pool_size=1, max_overflow=0, hide_parameters=True
        )
        event.listen(self._engine, "connect", _connect)
        event.listen(self._engine, "begin", _begin)
        self._lock = lock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="usage-stats-sqlite")
        self._pending: list[tuple[Work, asyncio.Future[Any]]] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def run(self, work: Work) -> Any:
        """Queue work; return its result once the transaction that ran it is committed."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((work, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="usage-stats-sqlite-writer")
        return await future

    async def close(self) -> None:
        """Finish the queued work, then close the connection and the thread."""
        if self._task is not None:
            await self._task
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._engine.dispose)
        self._executor.shutdown()

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                async with self._lock:
                    results = await loop.run_in_executor(self._executor, _write, self._engine, batch)
            except Exception as err:  # the transaction failed: nothing of the batch is stored
                results = [err] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # the caller went away; what it wrote is stored all the same
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)


def _write(engine: Engine, batch: list[tuple[Work, asyncio.Future[Any]]]) -> list[Any]:
    """Run a batch in one transaction (in the writer thread); an exception is the result of its work."""
    results: list[Any] = []
    with engine.connect() as conn, conn.begin():
        sqlite = conn.connection.driver_connection
        assert isinstance(sqlite, sqlite3.Connection)
        for work, _ in batch:
            try:
                with conn.begin_nested() as savepoint:
                    keep, result = work(conn)
                    if not keep:
                        savepoint.rollback()
            except Exception as err:  # this work alone fails; its savepoint is rolled back
                result = err
            if not sqlite.in_transaction:
                # Some errors make SQLite roll back the whole transaction, and a commit would then
                # silently do nothing: fail the batch rather than report work as stored.
                raise TransactionLostError("SQLite rolled back the transaction of a batch") from (
                    result if isinstance(result, Exception) else None
                )
            results.append(result)
    return results


class TransactionLostError(Exception):
    """The transaction of a batch ended before its commit: nothing of the batch is stored."""

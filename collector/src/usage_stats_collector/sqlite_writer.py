"""SQLite writes with group commit: one thread writes the work that arrives together in one transaction.

SQLite lets one connection write at a time, so reports queue for the write lock whatever the code
does. Taking them one statement at a time through an async driver makes every statement wait for a
thread hand-off and a turn of the busy event loop while the lock is held. Here the queued pieces of
work go to one thread in one hand-off and run in one transaction (``BEGIN IMMEDIATE``), each in its
own savepoint, so that a piece that keeps nothing (a duplicate or rate-limited report) or fails is
rolled back alone. Callers get their result only after the commit.

The thread uses the ``sqlite3`` module directly, with statements rendered once by SQLAlchemy
(``statements.py``): on this path the per-statement bookkeeping of an engine cost more than
SQLite's own work, and the writer thread holds the interpreter lock while it runs Python.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import URL

MAX_BATCH = 64

# Work for the writer thread: returns whether to keep what it wrote, and its result.
Work = Callable[[sqlite3.Connection], tuple[bool, Any]]


def set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL journal, normal syncing and a generous busy timeout on every SQLite connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class SqliteWriter:
    """Runs writes in batches on one thread with its own ``sqlite3`` connection."""

    def __init__(self, url: URL, lock: asyncio.Lock) -> None:
        if not url.database or url.database == ":memory:":
            raise ValueError("the SQLite writer needs a database file")
        self._database = url.database
        self._connection: sqlite3.Connection | None = None  # opened in the writer thread
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
        await asyncio.get_running_loop().run_in_executor(self._executor, self._disconnect)
        self._executor.shutdown()

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                async with self._lock:
                    results = await loop.run_in_executor(self._executor, self._write, batch)
            except Exception as err:  # the transaction failed: nothing of the batch is stored
                results = [err] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # the caller went away; what it wrote is stored all the same
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            # Autocommit mode: the transaction and its savepoints are the writer's own statements.
            connection = sqlite3.connect(self._database, isolation_level=None, check_same_thread=False)
            set_sqlite_pragmas(connection, None)
            self._connection = connection
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _write(self, batch: list[tuple[Work, asyncio.Future[Any]]]) -> list[Any]:
        """Run a batch in one transaction (in the writer thread); an exception is the result of its work."""
        connection = self._connect()
        results: list[Any] = []
        # Take the write lock at the start: reads of the transaction then see what it will change.
        connection.execute("BEGIN IMMEDIATE")
        try:
            for work, _ in batch:
                connection.execute("SAVEPOINT work")
                try:
                    keep, result = work(connection)
                except Exception as err:  # this work alone fails; its savepoint is rolled back
                    keep, result = False, err
                if not connection.in_transaction:
                    # Some errors make SQLite roll back the whole transaction, and a commit would
                    # then silently do nothing: fail the batch rather than report work as stored.
                    raise TransactionLostError("SQLite rolled back the transaction of a batch") from (
                        result if isinstance(result, Exception) else None
                    )
                if not keep:
                    connection.execute("ROLLBACK TO work")
                connection.execute("RELEASE work")
                results.append(result)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return results


class TransactionLostError(Exception):
    """The transaction of a batch ended before its commit: nothing of the batch is stored."""

"""Faults under load: kill -9 of the collector process, and a PostgreSQL restart.

Clients post reports and deletions and retry, like the integration, until they get an answer:
after the collector is killed (and started again on a new port) and after PostgreSQL is
restarted. At the end every acknowledged report is stored exactly once (unless its installation
was deleted), no deleted installation keeps a report, and the aggregates equal a recomputation
from the stored reports.

The PostgreSQL restart uses a private server (``initdb`` into a temporary directory, on a free
port), never the shared one; the test is skipped when the server binaries are missing, and fails
instead when ``CI=true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from collector_testlib import aggregates_of_stored_reports, current_period, make_report, new_id
from usage_stats_collector.aggregates import iso_week
from usage_stats_collector.models import reports as reports_table
from usage_stats_collector.process import CollectorProcess
from usage_stats_collector.storage import Storage

CLIENTS = 16
INSTALLATIONS = 240
DELETED_EVERY = 5  # every fifth installation asks for deletion after its report


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class _Server:
    """A private PostgreSQL server in a temporary directory."""

    bindir: Path
    base: Path
    port: int
    as_user: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.base / "data"), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c max_connections=60"
        self._ctl("-o", options, "-l", str(self.base / "server.log"), "-w", "start")

    def restart(self) -> None:
        """Stop the server at once (like a crash: recovery on start) and start it again."""
        self._ctl("-m", "immediate", "-w", "stop")
        self.start()

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("-m", "immediate", "-w", "stop")


def _postgres_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture
def private_postgres() -> Iterator[_Server]:
    """A PostgreSQL server of our own, started for this test and removed after it."""
    bindir = _postgres_binaries()
    if bindir is None:
        reason = "PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) are not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true requires them", pytrace=False)
        pytest.skip(reason)
    base = Path(tempfile.mkdtemp(prefix="usage-stats-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the postgres user
        shutil.chown(base, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    server = _Server(bindir, base, _free_port(), as_user)
    try:
        subprocess.run(
            [*as_user, str(bindir / "initdb"), "-D", str(base / "data"), "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


class _Collector:
    """The collector process, which the test kills and starts again (on a new port)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.process = self._start()

    def _start(self) -> CollectorProcess:
        process = CollectorProcess(self.database, "--k-anonymity", "1", "--publish-interval", "0")
        process.start()
        return process

    @property
    def url(self) -> str:
        return self.process.url

    def kill_and_restart(self) -> None:
        assert self.process.process is not None
        self.process.process.kill()  # SIGKILL: no cleanup of any kind
        self.process.stop()
        self.process = self._start()

    def stop(self) -> None:
        self.process.stop()


@dataclass
class _Load:
    acknowledged: dict[str, dict[str, Any]] = field(default_factory=dict)  # submission id -> report
    deleted: set[str] = field(default_factory=set)  # installations whose deletion was answered
    refused_as_deleted: int = 0
    errors: int = 0


async def _send(
    session: aiohttp.ClientSession, target: _Collector, path: str, body: dict[str, Any], load: _Load
) -> int:
    """POST until the collector answers other than 5xx (connection errors and 5xx are retried)."""
    for _ in range(600):
        try:
            async with session.post(f"{target.url}{path}", json=body) as response:
                await response.read()
                if response.status < 500:
                    return response.status
        except (aiohttp.ClientError, TimeoutError):
            pass
        load.errors += 1
        await asyncio.sleep(0.1)
    raise AssertionError(f"no answer for {path}")


async def _run_load(target: _Collector, faults: list[tuple[int, Callable[[], None]]]) -> _Load:
    load = _Load()
    progress = asyncio.Condition()
    work: asyncio.Queue[str] = asyncio.Queue()
    for _ in range(INSTALLATIONS):
        work.put_nowait(new_id())
    period = current_period()

    async def client(session: aiohttp.ClientSession) -> None:
        while not work.empty():
            installation = work.get_nowait()
            index = INSTALLATIONS - work.qsize()
            report = make_report(installation, period=period)
            status = await _send(session, target, "/v1/reports", report, load)
            assert status in {200, 201}, status
            load.acknowledged[report["submission_id"]] = report
            async with progress:
                progress.notify_all()
            if index % DELETED_EVERY == 0:
                deletion = {"schema_version": 1, "request_id": new_id(), "installation_id": installation}
                assert await _send(session, target, "/v1/deletion", deletion, load) == 200
                load.deleted.add(installation)
                # A late retry of the delivered report is refused and not stored again.
                if await _send(session, target, "/v1/reports", report, load) == 410:
                    load.refused_as_deleted += 1

    async def inject() -> None:
        for threshold, fault in faults:
            async with progress:
                await progress.wait_for(lambda: len(load.acknowledged) >= threshold)  # noqa: B023
            await asyncio.to_thread(fault)

    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(inject(), *(client(session) for _ in range(CLIENTS)))
    return load


async def _check(database: str, load: _Load) -> None:
    storage = Storage(database, pool_size=2)
    try:
        async with storage.engine.connect() as conn:
            rows = await conn.execute(
                select(reports_table.c.submission_id, reports_table.c.installation_id, func.count()).group_by(
                    reports_table.c.submission_id, reports_table.c.installation_id
                )
            )
            stored = {submission: (installation, count) for submission, installation, count in rows}
        for submission, report in load.acknowledged.items():
            if report["installation_id"] in load.deleted:
                assert submission not in stored
            else:
                assert stored.get(submission) == (report["installation_id"], 1)
        assert len(stored) == len(load.acknowledged) - len(load.deleted)
        assert load.refused_as_deleted == len(load.deleted)
        aggregates = {(w, m, k): (t, i) for w, m, k, t, i in await storage.aggregate_rows() if t or i}
        assert aggregates == await aggregates_of_stored_reports(storage)
        week = iso_week(dt.date.fromisoformat(current_period()["start"]))
        assert aggregates[(week, "active", "")][1] == len(stored)
    finally:
        await storage.close()


async def test_kill_9_under_load_on_sqlite(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'collector.db'}"
    target = await asyncio.to_thread(_Collector, database)
    try:
        load = await _run_load(target, [(60, target.kill_and_restart), (150, target.kill_and_restart)])
    finally:
        await asyncio.to_thread(target.stop)
    assert load.errors > 0  # the faults were felt
    await _check(database, load)


async def test_kill_9_and_postgres_restart_under_load(private_postgres: _Server) -> None:
    database = private_postgres.url
    target = await asyncio.to_thread(_Collector, database)
    try:
        load = await _run_load(
            target,
            [
                (50, target.kill_and_restart),
                (110, private_postgres.restart),
                (170, target.kill_and_restart),
            ],
        )
    finally:
        await asyncio.to_thread(target.stop)
    assert load.errors > 0
    await _check(database, load)

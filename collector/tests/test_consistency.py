"""A deletion racing reports of the same installation, the tombstone, and aggregates that always
equal a recomputation from the stored reports, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from collector_testlib import aggregates_of_stored_reports, fixed_clock, make_report, new_id
from usage_stats_collector.app import Settings, create_app
from usage_stats_collector.statements import PostgresStatements
from usage_stats_collector.storage import Outcome, Storage, SubmitResult
from usage_stats_collector.submission import submit_postgresql, submit_postgresql_in

PAIRS = 60


async def _assert_consistent(storage: Storage) -> None:
    stored = {(w, m, k): (t, i) for w, m, k, t, i in await storage.aggregate_rows() if i or t}
    assert stored == await aggregates_of_stored_reports(storage)


async def _race(storages: list[Storage], installations: list[str], now: float) -> list[Any]:
    """A report and a deletion of each installation at the same instant, on two 'processes'."""
    work: list[Awaitable[Any]] = []
    for index, installation in enumerate(installations):
        report, deleter = storages[index % 2], storages[(index + 1) % 2]
        work.append(report.submit_report(make_report(installation), now=now))
        work.append(deleter.delete_installation(installation))
    return await asyncio.gather(*work)


async def test_deletion_racing_the_first_report(make_storage: Callable[[], Awaitable[Storage]]) -> None:
    storages = [await make_storage(), await make_storage()]
    installations = [new_id() for _ in range(PAIRS)]
    results = await _race(storages, installations, time.time())
    outcomes = {result.outcome for result in results[::2]}
    assert outcomes <= {Outcome.ACCEPTED, Outcome.DELETED}
    # Whatever the order, a deleted installation keeps nothing.
    assert await storages[0].count_reports() == 0
    await _assert_consistent(storages[0])
    assert await storages[0].aggregate_rows() == []


async def test_deletion_racing_a_second_report_of_the_week(
    make_storage: Callable[[], Awaitable[Storage]],
) -> None:
    storages = [await make_storage(), await make_storage()]
    now = time.time()
    bystanders = [make_report() for _ in range(3)]
    for report in bystanders:
        await storages[0].submit_report(report, now=now - 7200)
    installations = [new_id() for _ in range(PAIRS)]
    for installation in installations:
        earlier = make_report(installation, events={"ha_start": 1, "custom_x": 2})
        assert (await storages[0].submit_report(earlier, now=now - 7200)).outcome is Outcome.ACCEPTED
    await _race(storages, installations, now)
    assert await storages[0].count_reports() == len(bystanders)
    await _assert_consistent(storages[0])
    active = {(w, m, k): (t, i) for w, m, k, t, i in await storages[0].aggregate_rows()}
    assert active[("2025-W18", "active", "")] == (3, 3)


async def test_reports_of_one_installation_in_parallel_count_it_once(
    make_storage: Callable[[], Awaitable[Storage]],
) -> None:
    storages = [await make_storage(), await make_storage()]
    now = time.time()
    installations = [new_id() for _ in range(PAIRS)]
    for installation in installations:
        await storages[0].submit_report(make_report(installation), now=now - 7200)
    # Two second reports of each installation at once: one wins the hour, and the installation
    # stays counted once per key.
    await asyncio.gather(
        *(
            storages[index % 2].submit_report(make_report(installation), now=now)
            for installation in installations
            for index in range(2)
        )
    )
    await _assert_consistent(storages[0])
    active = {(w, m, k): (t, i) for w, m, k, t, i in await storages[0].aggregate_rows()}
    assert active[("2025-W18", "active", "")] == (2 * PAIRS, PAIRS)


async def test_deleted_installation_is_refused_and_never_stored(storage: Storage) -> None:
    settings = Settings(
        privacy="k-anonymity", k_anonymity=1, purge_interval=0, publish_interval=0, clock=fixed_clock
    )
    async with TestClient(TestServer(create_app(storage, settings))) as client:
        report = make_report()
        installation = report["installation_id"]
        assert (await client.post("/v1/reports", json=report)).status == 201
        deletion = {"schema_version": 1, "request_id": new_id(), "installation_id": installation}
        assert (await client.post("/v1/deletion", json=deletion)).status == 200
        # A late retry of the delivered report, and a new report of the deleted installation.
        for body in (report, make_report(installation)):
            response = await client.post("/v1/reports", json=body)
            assert response.status == 410
            assert await response.json() == {"error": "installation deleted"}
        assert await storage.count_reports() == 0
        assert await storage.aggregate_rows() == []
        # Deleting again is fine, and the installation stays refused.
        assert (await client.post("/v1/deletion", json=dict(deletion, request_id=new_id()))).status == 200
        assert (await client.post("/v1/reports", json=make_report(installation))).status == 410
        # Another installation is not affected.
        assert (await client.post("/v1/reports", json=make_report())).status == 201


async def test_tombstones_last_as_long_as_reports_are_retained(storage: Storage) -> None:
    now = time.time()
    gone, recent = new_id(), new_id()
    await storage.delete_installation(gone, now=now - 11 * 86400)
    await storage.delete_installation(recent, now=now - 9 * 86400)
    await storage.purge(10, now=now)
    # The old tombstone is purged with the reports of its time; the recent one stays.
    assert (await storage.submit_report(make_report(recent), now=now)).outcome is Outcome.DELETED
    assert (await storage.submit_report(make_report(gone), now=now)).outcome is Outcome.ACCEPTED


async def _wait_until_blocked_by(storage: Storage, pid: int) -> None:
    """Wait (bounded) until another backend waits for a lock held by the backend ``pid``."""
    query = text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")
    async with storage.engine.connect() as conn:
        for _ in range(1000):
            if (await conn.execute(query, {"pid": pid})).scalar_one():
                return
            await conn.rollback()
            await asyncio.sleep(0.01)
    raise AssertionError("nothing waited for the lock")


async def _driver(conn: AsyncConnection) -> Any:
    """The asyncpg connection under an SQLAlchemy connection (in the transaction it began)."""
    return (await conn.get_raw_connection()).driver_connection


@contextlib.asynccontextmanager
async def _open_transaction(storage: Storage) -> AsyncIterator[tuple[AsyncConnection, int]]:
    if storage.is_sqlite:
        pytest.skip("SQLite runs one writer at a time: no statement waits for another's lock")
    async with storage.engine.connect() as conn:
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        yield conn, pid


async def _submit_in_a_transaction(storage: Storage, report: dict[str, Any], now: float) -> SubmitResult:
    """The transactional way of a second report of the week, in a transaction of its own."""
    async with storage.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))  # begins the transaction
        item, params = storage.prepare(report, now)
        assert isinstance(storage._statements, PostgresStatements)
        result = await submit_postgresql_in(await _driver(conn), storage._statements, item, params)
        await conn.commit()
    return result


@pytest.mark.parametrize("way", ["call", "transaction"])
async def test_report_committed_while_a_second_report_waits(
    make_storage: Callable[[], Awaitable[Storage]], way: str
) -> None:
    """A second report of the week whose snapshot predates a report committed before it got the
    lock (the two an hour apart by their clocks) still counts the installation once per key: by the
    function's call, and by the transactional way, which reads the earlier reports again."""
    first, second = await make_storage(), await make_storage()
    now = time.time()
    installation = new_id()
    await first.submit_report(make_report(installation, events={"ha_start": 1}), now=now - 7200)
    async with _open_transaction(first) as (conn, pid):
        item, params = first.prepare(make_report(installation, events={"custom_a": 1}), now)
        assert isinstance(first._statements, PostgresStatements)
        outcome = await submit_postgresql(await _driver(conn), first._statements, item, params)
        assert outcome.outcome is Outcome.ACCEPTED
        later = make_report(installation, events={"custom_a": 2})
        waiting = asyncio.create_task(
            second.submit_report(later, now=now + 3600)
            if way == "call"
            else _submit_in_a_transaction(second, later, now + 3600)
        )
        await _wait_until_blocked_by(second, pid)
        await conn.commit()
    assert (await waiting).outcome is Outcome.ACCEPTED
    await _assert_consistent(first)
    totals = {(w, m, k): (t, i) for w, m, k, t, i in await first.aggregate_rows()}
    assert totals[("2025-W18", "events", "custom_a")] == (3, 1)
    assert totals[("2025-W18", "active", "")] == (3, 1)


async def test_report_waiting_for_a_deletion_is_refused(
    make_storage: Callable[[], Awaitable[Storage]],
) -> None:
    deleting, reporting = await make_storage(), await make_storage()
    installation = new_id()
    await reporting.submit_report(make_report(installation), now=time.time() - 7200)
    async with _open_transaction(deleting) as (conn, pid):
        assert await deleting.delete_in(conn, installation) == 1
        waiting = asyncio.create_task(reporting.submit_report(make_report(installation)))
        await _wait_until_blocked_by(reporting, pid)
        await conn.commit()
    assert (await waiting).outcome is Outcome.DELETED
    assert await reporting.count_reports() == 0
    assert await reporting.aggregate_rows() == []


async def test_deletion_waiting_for_a_report_deletes_and_subtracts_it(
    make_storage: Callable[[], Awaitable[Storage]],
) -> None:
    reporting, deleting = await make_storage(), await make_storage()
    installation = new_id()
    async with _open_transaction(reporting) as (conn, pid):
        item, params = reporting.prepare(make_report(installation), time.time())
        assert isinstance(reporting._statements, PostgresStatements)
        assert (
            await submit_postgresql(await _driver(conn), reporting._statements, item, params)
        ).outcome is Outcome.ACCEPTED
        waiting = asyncio.create_task(deleting.delete_installation(installation))
        await _wait_until_blocked_by(deleting, pid)
        await conn.commit()
    assert await waiting == 1
    assert await deleting.count_reports() == 0
    assert await deleting.aggregate_rows() == []

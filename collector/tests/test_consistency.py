"""A deletion racing reports of the same installation, the tombstone, and aggregates that always
equal a recomputation from the stored reports, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from collector_testlib import aggregates_of_stored_reports, make_report, new_id
from usage_stats_collector.app import Settings, create_app
from usage_stats_collector.storage import Outcome, Storage

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
    settings = Settings(k_anonymity=1, purge_interval=0)
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

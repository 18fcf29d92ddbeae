"""POST /v1/reports and /v1/deletion on both backends."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from collector_testlib import fixed_clock, make_report, new_id, revision_0
from usage_stats_collector.app import Settings, create_app
from usage_stats_collector.publication import publish_due
from usage_stats_collector.storage import Outcome, Storage

Client = TestClient[Any, Any]


async def _totals(storage: Storage) -> dict[tuple[str, str, str], tuple[int, int]]:
    return {(w, m, k): (t, i) for w, m, k, t, i in await storage.aggregate_rows()}


async def test_valid_report_is_stored(client: Client, storage: Storage) -> None:
    report = make_report()
    response = await client.post("/v1/reports", json=report)
    assert response.status == 201
    assert await response.json() == {"status": "accepted"}
    exported = await storage.export_installation(report["installation_id"])
    assert [item["report"] for item in exported] == [report]
    assert exported[0]["week"] == "2025-W18"
    totals = await _totals(storage)
    assert totals[("2025-W18", "active", "")] == (1, 1)
    assert totals[("2025-W18", "printer_type", "bambu_x1c")] == (1, 1)
    assert totals[("2025-W18", "error_type", "bambu:TimeoutError")] == (2, 1)
    # A zero value is no contribution.
    assert ("2025-W18", "feature.on", "bambu.notify") not in totals
    assert totals[("2025-W18", "feature", "bambu.notify")] == (7, 1)
    assert totals[("2025-W18", "jobs.interrupted", "prusa_mk4")] == (1, 1)


async def test_report_of_minor_revision_0_is_accepted(client: Client, storage: Storage) -> None:
    """Reports sent before minor revision 1 (no schema_minor, no interrupted jobs) still count."""
    report = revision_0(make_report())
    response = await client.post("/v1/reports", json=report)
    assert response.status == 201
    totals = await _totals(storage)
    assert totals[("2025-W18", "jobs.started", "prusa_mk4")] == (2, 1)
    assert not [key for key in totals if key[1] == "jobs.interrupted"]


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda r: r.update(extra=1), "Additional properties"),
        (lambda r: r["installation"].update(hostname="x"), "$.installation"),
        (lambda r: r["printer_fleet"].update(printers="2"), "$.printer_fleet.printers"),
        (lambda r: r["printer_fleet"].update(printers=-1), "$.printer_fleet.printers"),
        (lambda r: r.update(submission_id="not-a-uuid"), "$.submission_id"),
        (lambda r: r["period"].update(start="2025-02-30"), "$.period.start"),
        (lambda r: r["events"].update({"bad key!": 1}), "$.events"),
        (lambda r: r.update(schema_version=2), "$.schema_version"),
        (lambda r: r.update(schema_minor=3), "$.schema_minor"),
        (lambda r: r["jobs"].update(vanished={}), "$.jobs"),
        (lambda r: r.pop("installation"), "installation"),
        (lambda r: r["jobs"]["duration"].update(forever=1), "$.jobs.duration"),
    ],
)
async def test_schema_errors_are_400(client: Client, storage: Storage, mutate: Any, fragment: str) -> None:
    report = make_report()
    mutate(report)
    response = await client.post("/v1/reports", json=report)
    assert response.status == 400
    reason = (await response.json())["error"]
    assert fragment in reason
    assert len(reason) < 250
    assert await storage.count_reports() == 0


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe", b"[1, 2]", b"null"])
async def test_malformed_bodies_are_400(client: Client, body: bytes) -> None:
    response = await client.post("/v1/reports", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert "error" in await response.json()


async def test_oversized_body_is_413(client: Client, storage: Storage) -> None:
    report = make_report()
    body = json.dumps(report) + " " * (16 * 1024)
    response = await client.post("/v1/reports", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b" " * 1024

    # Without a Content-Length (chunked), the read limit stops it.
    response = await client.post("/v1/reports", data=chunks(), headers={"Content-Type": "application/json"})
    assert response.status == 413
    assert await storage.count_reports() == 0


async def test_duplicate_submission_is_200_and_changes_nothing(client: Client, storage: Storage) -> None:
    report = make_report()
    assert (await client.post("/v1/reports", json=report)).status == 201
    before = await _totals(storage)
    changed = dict(report, events={"ha_start": 99})
    response = await client.post("/v1/reports", json=changed)
    assert response.status == 200
    assert await response.json() == {"status": "duplicate"}
    assert await _totals(storage) == before
    assert await storage.count_reports() == 1
    exported = await storage.export_installation(report["installation_id"])
    assert exported[0]["report"]["events"] == report["events"]


async def test_second_report_within_an_hour_is_429(client: Client, storage: Storage) -> None:
    installation = new_id()
    assert (await client.post("/v1/reports", json=make_report(installation))).status == 201
    response = await client.post("/v1/reports", json=make_report(installation))
    assert response.status == 429
    retry_after = int(response.headers["Retry-After"])
    assert 3590 <= retry_after <= 3600
    assert await storage.count_reports() == 1
    # Another installation is not affected.
    assert (await client.post("/v1/reports", json=make_report())).status == 201


async def test_rate_limit_window_and_same_week_distinct_counts(storage: Storage) -> None:
    installation = new_id()
    now = time.time()
    first = make_report(installation)
    assert (await storage.submit_report(first, now=now)).outcome is Outcome.ACCEPTED
    limited = await storage.submit_report(make_report(installation), now=now + 3000)
    assert limited.outcome is Outcome.RATE_LIMITED
    assert limited.retry_after == 600
    # An hour later a second report for the same week is accepted, but the installation is
    # counted once per key.
    second = make_report(installation, printer_fleet={"printers": 1, "types": {"voron": 1}})
    assert (await storage.submit_report(second, now=now + 3600)).outcome is Outcome.ACCEPTED
    totals = await _totals(storage)
    assert totals[("2025-W18", "active", "")] == (2, 1)
    assert totals[("2025-W18", "events", "ha_start")] == (2, 1)
    assert totals[("2025-W18", "printer_type", "voron")] == (1, 1)
    assert totals[("2025-W18", "printers", "")] == (3, 1)


async def test_second_report_of_the_week_after_the_rate_row_was_purged(storage: Storage) -> None:
    installation = new_id()
    now = time.time()
    assert (await storage.submit_report(make_report(installation), now=now)).outcome is Outcome.ACCEPTED
    await storage.purge(30, now=now + 4000)  # the hour is over: the rate row goes, the report stays
    second = make_report(installation, printer_fleet={"printers": 1, "types": {"voron": 1}})
    assert (await storage.submit_report(second, now=now + 4000)).outcome is Outcome.ACCEPTED
    assert await storage.count_reports() == 2
    totals = await _totals(storage)
    assert totals[("2025-W18", "active", "")] == (2, 1)
    assert totals[("2025-W18", "printer_type", "voron")] == (1, 1)
    # The hour is claimed again.
    third = await storage.submit_report(make_report(installation), now=now + 4001)
    assert third.outcome is Outcome.RATE_LIMITED


async def test_deletion_removes_reports_and_contributions(client: Client, storage: Storage) -> None:
    keep = make_report(events={"ha_start": 1})
    assert (await client.post("/v1/reports", json=keep)).status == 201
    baseline = await _totals(storage)

    gone = new_id()
    now = time.time()
    await storage.submit_report(make_report(gone, events={"ha_start": 5, "custom_x": 1}), now=now - 7200)
    await storage.submit_report(make_report(gone), now=now - 3600)
    await storage.submit_report(
        make_report(gone, period={"start": "2025-05-05", "end": "2025-05-11", "days": 7}), now=now
    )
    assert await storage.count_reports() == 4
    assert await _totals(storage) != baseline

    request = {"schema_version": 1, "request_id": new_id(), "installation_id": gone}
    response = await client.post("/v1/deletion", json=request)
    assert response.status == 200
    assert await response.json() == {"status": "deleted", "reports_deleted": 3}
    assert await storage.export_installation(gone) == []
    assert await _totals(storage) == baseline
    # Idempotent.
    response = await client.post("/v1/deletion", json=dict(request, request_id=new_id()))
    assert response.status == 200
    assert (await response.json())["reports_deleted"] == 0
    assert await _totals(storage) == baseline
    # The installation id is gone for good: its reports are refused (a new id is a new start).
    assert (await client.post("/v1/reports", json=make_report(gone))).status == 410
    assert (await client.post("/v1/reports", json=make_report())).status == 201


async def test_deletion_validates(client: Client) -> None:
    response = await client.post("/v1/deletion", json={"schema_version": 1, "installation_id": new_id()})
    assert response.status == 400
    assert "request_id" in (await response.json())["error"]


async def test_parallel_posts_of_one_submission_store_it_once(
    make_storage: Callable[[], Awaitable[Storage]],
) -> None:
    # Two app instances on one database, like two processes behind a load balancer.
    storages = [await make_storage(), await make_storage()]
    settings = Settings(privacy="k-anonymity", k_anonymity=1, purge_interval=0, clock=fixed_clock)
    clients = [TestClient(TestServer(create_app(s, settings))) for s in storages]
    for test_client in clients:
        await test_client.start_server()
    try:
        report = make_report()
        responses = await asyncio.gather(
            *(clients[i % 2].post("/v1/reports", json=report) for i in range(24))
        )
        statuses = sorted(response.status for response in responses)
        assert statuses == [200] * 23 + [201]
        assert await storages[0].count_reports() == 1
        totals = await _totals(storages[0])
        assert totals[("2025-W18", "active", "")] == (1, 1)

        # Distinct submissions of one installation: exactly one wins the hour.
        installation = new_id()
        responses = await asyncio.gather(
            *(clients[i % 2].post("/v1/reports", json=make_report(installation)) for i in range(16))
        )
        statuses = sorted(response.status for response in responses)
        assert statuses == [201] + [429] * 15

        # Many installations at once: all accepted, aggregates consistent.
        reports = [make_report() for _ in range(40)]
        responses = await asyncio.gather(
            *(clients[i % 2].post("/v1/reports", json=r) for i, r in enumerate(reports))
        )
        assert {response.status for response in responses} == {201}
        totals = await _totals(storages[1])
        assert totals[("2025-W18", "active", "")] == (42, 42)
        assert totals[("2025-W18", "printer_type", "bambu_x1c")] == (42, 42)
    finally:
        for test_client in clients:
            await test_client.close()


async def test_sections_left_out_are_counted_per_section(client: Client, storage: Storage) -> None:
    """A report may leave sections out; installations are counted per section they share."""
    full = make_report()
    jobs_only = make_report()
    for section in ("printer_fleet", "features", "events", "errors"):
        del jobs_only[section]
    for report in (full, jobs_only):
        response = await client.post("/v1/reports", json=report)
        assert response.status == 201, await response.text()
    totals = await _totals(storage)
    week = "2025-W18"
    assert totals[(week, "active", "")] == (2, 2)
    assert totals[(week, "section", "jobs")] == (2, 2)
    assert totals[(week, "section", "printer_fleet")] == (1, 1)
    assert totals[(week, "section", "errors")] == (1, 1)
    # What the jobs-only installation left out contributes nothing.
    assert totals[(week, "printers", "")][1] == 1

    due = dt.datetime(2025, 5, 8, tzinfo=dt.UTC).timestamp()
    assert await publish_due(storage, privacy="k-anonymity", k=1, now=due) == [week]
    stats = await (await client.get("/v1/stats")).json()
    assert stats["weeks"][0]["sections"] == {
        "printer_fleet": 1,
        "features": 1,
        "jobs": 2,
        "events": 1,
        "errors": 1,
    }

    # Deleting the jobs-only installation takes its section count back out.
    request = {"schema_version": 1, "request_id": new_id(), "installation_id": jobs_only["installation_id"]}
    response = await client.post("/v1/deletion", json=request)
    assert response.status == 200
    totals = await _totals(storage)
    assert totals[(week, "section", "jobs")] == (1, 1)

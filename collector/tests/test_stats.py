"""Public statistics, the page, admin endpoints and retention."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from collector_testlib import fixed_clock, make_report, new_id
from usage_stats_collector.app import Settings, create_app
from usage_stats_collector.publication import publish_due
from usage_stats_collector.storage import Storage, StoredReport

Client = TestClient[Any, Any]
TOKEN = "s3cret-token"


async def _client(storage: Storage, **settings: Any) -> Client:
    test_client: Client = TestClient(
        TestServer(
            create_app(
                storage, Settings(privacy="k-anonymity", purge_interval=0, clock=fixed_clock, **settings)
            )
        )
    )
    await test_client.start_server()
    return test_client


async def test_stats_page_renders(storage: Storage) -> None:
    test_client = await _client(storage, k_anonymity=2)
    try:
        empty = await test_client.get("/")
        assert empty.status == 200
        assert "No week has enough installations" in await empty.text()
        for start in ("2025-04-28", "2025-05-05"):
            for _ in range(2):
                await storage.submit_report(make_report(period={"start": start, "end": start, "days": 1}))
        await publish_due(
            storage,
            privacy="k-anonymity",
            k=2,
            now=dt.datetime(2025, 5, 20, tzinfo=dt.UTC).timestamp(),
            retention_days=60,
        )
        response = await test_client.get("/")
        assert response.status == 200
        assert response.content_type == "text/html"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        html = await response.text()
        assert "<svg" in html
        assert "Week 2025-W19" in html
        assert "bambu_x1c" in html
        assert "Feature adoption" in html
        assert "TimeoutError" in html
        assert "interrupted" in html  # the outcome of minor revision 1
        stats = await (await test_client.get("/v1/stats")).json()
        assert stats["weeks"][0]["jobs"]["interrupted"] == {"prusa_mk4": {"total": 2, "installations": 2}}
        assert "http://" not in html  # no external assets
        assert "https://" not in html
        older = await (await test_client.get("/", params={"week": "2025-W18"})).text()
        assert "Week 2025-W18" in older
        assert (await test_client.get("/healthz")).status == 200
    finally:
        await test_client.close()


async def test_admin_disabled_without_token(storage: Storage) -> None:
    test_client = await _client(storage, admin_token=None)
    try:
        for method, path in (("GET", f"/v1/admin/installations/{new_id()}"), ("POST", "/v1/admin/purge")):
            response = await test_client.request(method, path, headers={"Authorization": "Bearer anything"})
            assert response.status == 404
    finally:
        await test_client.close()


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer", f"bearer  {TOKEN[:-1]}"]
)
async def test_admin_rejects_bad_tokens(client: Client, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = await client.get(f"/v1/admin/installations/{new_id()}", headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert (await client.post("/v1/admin/purge", headers=headers)).status == 401


async def test_admin_export(client: Client) -> None:
    report = make_report()
    await client.post("/v1/reports", json=report)
    response = await client.get(
        f"/v1/admin/installations/{report['installation_id']}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status == 200
    body = await response.json()
    assert body["installation_id"] == report["installation_id"]
    assert [item["report"] for item in body["reports"]] == [report]
    assert body["reports"][0]["received_at"].endswith("+00:00")


async def test_retention_purge_keeps_aggregates(client: Client, storage: Storage) -> None:
    old, recent = make_report(), make_report()
    await storage.submit_report(old, now=time.time() - 401 * 86400)
    await storage.submit_report(recent)
    aggregates = await storage.aggregate_rows()
    response = await client.post("/v1/admin/purge", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 200
    assert await response.json() == {"purged": 1, "retention_days": 400}
    assert await storage.export_installation(old["installation_id"]) == []
    assert len(await storage.export_installation(recent["installation_id"])) == 1
    assert await storage.aggregate_rows() == aggregates
    # Deleting a purged installation later finds nothing to subtract: its reports are gone.
    response = await client.post(
        "/v1/deletion",
        json={"schema_version": 1, "request_id": new_id(), "installation_id": old["installation_id"]},
    )
    assert (await response.json())["reports_deleted"] == 0
    assert await storage.aggregate_rows() == aggregates


async def test_periodic_purge_runs_in_the_server(storage: Storage) -> None:
    old = make_report()
    await storage.submit_report(old, now=time.time() - 20 * 86400)
    app = create_app(storage, Settings(retention_days=10, purge_interval=0.05))
    async with TestClient(TestServer(app)):
        for _ in range(100):
            if await storage.count_reports() == 0:
                break
            await asyncio.sleep(0.02)
    assert await storage.count_reports() == 0


async def test_unexpected_errors_are_500_without_details(
    client: Client, storage: Storage, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("database exploded")

    monkeypatch.setattr(storage, "submit_report", broken)
    response = await client.post("/v1/reports", json=make_report())
    assert response.status == 500
    assert await response.json() == {"error": "internal error"}
    assert "Unexpected error handling POST /v1/reports" in caplog.text
    assert "127.0.0.1" not in caplog.text


async def test_bulk_load_matches_online_aggregates(make_storage: Any) -> None:
    online, bulk = await make_storage(), await make_storage()
    if online.is_sqlite:  # same database file: use a second one
        bulk = Storage(online.url.set(database=str(online.url.database) + "-bulk").render_as_string(False))
        await bulk.migrate()
    reports = [make_report() for _ in range(30)]
    reports += [make_report(period={"start": "2025-05-05", "end": "2025-05-11", "days": 7}) for _ in range(5)]
    for report in reports:
        await online.submit_report(report)
    if not online.is_sqlite:
        # Both share one schema on PostgreSQL: compare against what the online path wrote, then reload.
        expected = sorted(await online.aggregate_rows())
        for report in reports:
            await online.delete_installation(report["installation_id"])
        assert await online.aggregate_rows() == []
    else:
        expected = sorted(await online.aggregate_rows())
    await bulk.bulk_load([StoredReport.from_report(r, time.time()) for r in reports])
    assert sorted(await bulk.aggregate_rows()) == expected
    assert await bulk.count_reports() == len(reports)
    same_pair = make_report(reports[0]["installation_id"])
    with pytest.raises(ValueError, match="at most one report per installation and week"):
        await bulk.bulk_load([StoredReport.from_report(same_pair, 0), StoredReport.from_report(same_pair, 1)])
    if online.is_sqlite:
        await bulk.close()

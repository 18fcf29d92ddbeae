"""Every response carries the security headers; disabled admin paths look like unknown paths."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from collector_testlib import fixed_clock, make_report, new_id, open_client
from usage_stats_collector.app import Settings, create_app
from usage_stats_collector.storage import Storage

Client = TestClient[Any, Any]

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _assert_secure(response: Any) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.status, name)
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers.get("Server", "usage-stats-collector") == "usage-stats-collector"


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/", {}, 200),
        ("GET", "/v1/stats", {}, 200),
        ("GET", "/healthz", {}, 200),
        ("GET", "/openapi.json", {}, 200),
        ("GET", "/nope", {}, 404),
        ("GET", "/v1/reports", {}, 405),
        ("DELETE", "/v1/stats", {}, 405),
        ("GET", "/v1/admin/installations/x", {}, 401),
        ("POST", "/v1/admin/purge", {"Authorization": "Bearer wrong"}, 401),
        ("POST", "/v1/reports", {"Content-Type": "application/json"}, 400),
        ("POST", "/v1/reports", {"Content-Type": "text/plain"}, 415),
        ("POST", "/v1/reports", {"Content-Type": "application/json", "Content-Length": "999999"}, 413),
    ],
)
async def test_security_headers_on_every_response(
    client: Client, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    response = await client.request(method, path, headers=headers, data=b"" if method == "POST" else None)
    assert response.status == status
    _assert_secure(response)
    if status >= 400:
        body = await response.json()
        assert set(body) == {"error"}
        assert 0 < len(body["error"]) <= 200


async def test_page_forbids_framing_and_referrers(client: Client) -> None:
    response = await client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_no_server_version(client: Client) -> None:
    for path in ("/", "/nope"):
        response = await client.get(path)
        assert "aiohttp" not in response.headers.get("Server", "").lower()
        assert "python" not in response.headers.get("Server", "").lower()


async def test_disabled_admin_paths_answer_like_unknown_paths(storage: Storage) -> None:
    app = create_app(storage, Settings(admin_token=None, purge_interval=0, clock=fixed_clock))
    test_client = await open_client(app)
    try:
        unknown = await test_client.get("/v1/admin/nothing-here", headers={"Authorization": "Bearer x"})
        expected = (unknown.status, await unknown.read(), unknown.headers["Content-Type"])
        assert expected[0] == 404
        for method, path in (("GET", f"/v1/admin/installations/{new_id()}"), ("POST", "/v1/admin/purge")):
            for headers in ({}, {"Authorization": "Bearer anything"}):
                response = await test_client.request(method, path, headers=headers)
                assert (response.status, await response.read(), response.headers["Content-Type"]) == expected
                _assert_secure(response)
    finally:
        await test_client.close()


async def test_database_errors_log_no_sql_parameters(
    client: Client, storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing statement's parameters (ids, the payload) never reach the log."""
    async with storage.engine.begin() as conn:
        await conn.execute(text("DROP TABLE usage_aggregates"))
    report = make_report()
    with caplog.at_level(logging.DEBUG):
        response = await client.post("/v1/reports", json=report)
    assert response.status == 500
    assert "Unexpected error" in caplog.text
    for secret in (report["installation_id"], report["submission_id"], "bambu_x1c"):
        assert secret not in caplog.text

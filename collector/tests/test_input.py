"""Malformed and hostile input: always a 4xx with a short reason, never a 500 (both backends)."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from collector_testlib import TODAY, make_report, new_id
from test_otlp import otlp_json
from usage_stats_collector.storage import Storage

Client = TestClient[Any, Any]
JSON = {"Content-Type": "application/json"}


async def _post(client: Client, path: str, body: bytes | str, headers: dict[str, str] | None = None) -> Any:
    response = await client.post(path, data=body, headers=JSON if headers is None else headers)
    return response.status, await response.json()


def _short(reason: Any) -> bool:
    return isinstance(reason, str) and 0 < len(reason) <= 200


async def test_a_4301_digit_integer_is_400(client: Client, storage: Storage) -> None:
    report = json.dumps(make_report()).replace('"printers": 2', '"printers": ' + "9" * 4301)
    status, body = await _post(client, "/v1/reports", report)
    assert status == 400
    assert _short(body["error"])
    assert await storage.count_reports() == 0


async def test_a_name_ending_in_a_newline_is_400(client: Client, storage: Storage) -> None:
    """Python's re lets a pattern's "$" match before a final newline; the schema's names may not."""
    report = make_report()
    report["installation"]["country_code"] = "DE\n"
    status, body = await _post(client, "/v1/reports", json.dumps(report))
    assert status == 400
    assert body["error"].startswith("$.installation.country_code: ")
    assert _short(body["error"])
    assert await storage.count_reports() == 0


@pytest.mark.parametrize("number", ["2.0", "1e9", "-0", "1E2", "NaN", "Infinity", "12345678901234567890123"])
async def test_integers_are_integers(client: Client, storage: Storage, number: str) -> None:
    report = json.dumps(make_report()).replace('"printers": 2', f'"printers": {number}')
    status, body = await _post(client, "/v1/reports", report)
    assert status == 400, number
    assert _short(body["error"])
    assert await storage.count_reports() == 0


async def test_deep_nesting_is_400(client: Client) -> None:
    status, body = await _post(client, "/v1/reports", "[" * 8000 + "]" * 8000)
    assert status == 400
    assert _short(body["error"])


@pytest.mark.parametrize(
    "name",
    [["usage_stats.printers"], {"a": 1}, 7, None, "x" * 5000],
    ids=["list", "object", "int", "null", "long"],
)
async def test_otlp_metric_name_of_the_wrong_type_is_400(client: Client, name: Any) -> None:
    body = otlp_json(make_report())
    body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["name"] = name
    status, answer = await _post(client, "/v1/metrics", json.dumps(body))
    assert status == 400
    assert _short(answer["error"])


@pytest.mark.parametrize("value", ["--1", "²", "١٢", " 1", "1 ", "+1", "", "-"])
async def test_otlp_as_int_that_is_no_integer_is_400(client: Client, value: str) -> None:
    body = otlp_json(make_report())
    body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["gauge"]["dataPoints"][0]["asInt"] = value
    status, answer = await _post(client, "/v1/metrics", json.dumps(body))
    assert status == 400
    assert _short(answer["error"])


async def _raw_request(client: Client, request: bytes) -> bytes:
    """Send bytes as they are (headers a client library would refuse) and read the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


async def test_authorization_with_raw_non_ascii_bytes_is_401(client: Client) -> None:
    answer = await _raw_request(
        client,
        b"GET /v1/admin/installations/" + new_id().encode() + b" HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer \xff\xfe\xc3(\xe2\x82\r\nConnection: close\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "identity", "zstd"])
@pytest.mark.parametrize("path", ["/v1/reports", "/v1/metrics", "/v1/deletion"])
async def test_any_content_encoding_is_415(
    client: Client, storage: Storage, path: str, encoding: str
) -> None:
    body = json.dumps(make_report()).encode()
    if encoding == "gzip":
        body = gzip.compress(body)
    status, answer = await _post(client, path, body, {**JSON, "Content-Encoding": encoding})
    assert status == 415
    assert "Content-Encoding" in answer["error"]
    assert await storage.count_reports() == 0


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=utf-16",
        "application/json; charset=latin-1",
        "application/jsonx",
    ],
)
@pytest.mark.parametrize("path", ["/v1/reports", "/v1/metrics", "/v1/deletion"])
async def test_only_json_is_accepted(
    client: Client, storage: Storage, path: str, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = await client.post(path, data=json.dumps(make_report()).encode(), headers=headers)
    assert response.status == 415
    assert _short((await response.json())["error"])
    assert await storage.count_reports() == 0


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON; charset=UTF-8"]
)
async def test_json_with_utf8_charset_is_accepted(client: Client, content_type: str) -> None:
    response = await client.post(
        "/v1/reports", data=json.dumps(make_report()).encode(), headers={"Content-Type": content_type}
    )
    assert response.status == 201


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "utf-8-sig"])
async def test_bodies_not_in_utf8_are_400(client: Client, storage: Storage, encoding: str) -> None:
    status, answer = await _post(client, "/v1/reports", json.dumps(make_report()).encode(encoding))
    assert status == 400
    assert _short(answer["error"])
    assert await storage.count_reports() == 0


async def test_a_body_of_exactly_16_kib_is_accepted(client: Client, storage: Storage) -> None:
    text = json.dumps(make_report())
    body = text[:-1] + " " * (16 * 1024 - len(text)) + "}"
    assert len(body.encode()) == 16 * 1024
    status, answer = await _post(client, "/v1/reports", body)
    assert (status, answer) == (201, {"status": "accepted"})
    status, answer = await _post(client, "/v1/reports", body[:-1] + " }")
    assert status == 413
    assert await storage.count_reports() == 1


def _period(start: dt.date, end: dt.date, days: int | None = None) -> dict[str, Any]:
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "days": (end - start).days + 1 if days is None else days,
    }


DAY = dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("period", "fragment"),
    [
        (_period(TODAY - DAY, TODAY - 2 * DAY, days=1), "before its start"),
        (_period(TODAY - 7 * DAY, TODAY - DAY, days=6), "days"),
        (_period(TODAY - 7 * DAY, TODAY - DAY, days=8), "days"),
        (_period(TODAY - 8 * DAY, TODAY - DAY), "7 days"),
        (_period(TODAY - 300 * DAY, TODAY - DAY), "7 days"),
        (_period(TODAY + 3 * DAY, TODAY + 3 * DAY), "future"),
        (_period(dt.date(9999, 12, 25), dt.date(9999, 12, 31)), "future"),
        (_period(TODAY - 407 * DAY, TODAY - 401 * DAY), "retention"),
        (_period(dt.date(1, 1, 1), dt.date(1, 1, 7)), "retention"),
    ],
)
async def test_inconsistent_or_stale_periods_are_400(
    client: Client, storage: Storage, period: dict[str, Any], fragment: str
) -> None:
    """The settings fixture receives on TODAY with the default retention of 400 days."""
    response = await client.post("/v1/reports", json=make_report(period=period))
    assert response.status == 400
    reason = (await response.json())["error"]
    assert fragment in reason
    assert reason.startswith("$.period")
    assert _short(reason)
    otlp = await client.post("/v1/metrics", json=otlp_json(make_report(period=period)))
    assert otlp.status == 400
    assert fragment in (await otlp.json())["error"]
    assert await storage.count_reports() == 0


@pytest.mark.parametrize(
    "period",
    [
        _period(TODAY + 2 * DAY, TODAY + 2 * DAY),
        _period(TODAY - 4 * DAY, TODAY + 2 * DAY),
        _period(TODAY - 406 * DAY, TODAY - 400 * DAY),
        _period(TODAY, TODAY),
    ],
)
async def test_periods_at_the_limits_are_accepted(client: Client, period: dict[str, Any]) -> None:
    response = await client.post("/v1/reports", json=make_report(period=period))
    assert response.status == 201, await response.text()


@pytest.mark.parametrize(
    ("where", "escape"),
    [
        ("a printer type", '"prusa\\ud800"'),
        ("an error type", '"Timeout\\udfffError"'),
        ("a low surrogate first", '"\\udc00\\ud800"'),
    ],
)
async def test_a_lone_surrogate_is_400(client: Client, storage: Storage, where: str, escape: str) -> None:
    """A JSON `\\ud800` escape decodes to a lone surrogate, which no UTF-8 store can hold."""
    report = make_report(
        printer_fleet={"printers": 1, "types": {"PLACEHOLDER": 1}},
        errors={"prusalink": {"PLACEHOLDER_ERROR": 1}},
    )
    body = json.dumps(report)
    if "printer" in where:
        body = body.replace('"PLACEHOLDER"', escape)
    else:
        body = body.replace('"PLACEHOLDER_ERROR"', escape).replace('"PLACEHOLDER"', '"prusa"')
    status, answer = await _post(client, "/v1/reports", body)
    assert status == 400, answer
    assert _short(answer["error"])
    assert await storage.count_reports() == 0


async def test_a_surrogate_pair_is_a_character(client: Client, storage: Storage) -> None:
    """A pair of surrogate escapes is one character: refused by the schema's names, as 400."""
    body = json.dumps(make_report(printer_fleet={"printers": 1, "types": {"X": 1}}))
    status, answer = await _post(client, "/v1/reports", body.replace('"X"', '"\\ud83d\\ude00"'))
    assert status == 400, answer
    assert "surrogate" not in answer["error"]


@pytest.mark.parametrize(
    ("models", "firmware", "version"),
    [
        ({"garage.local": 1}, {}, "1.0.0"),  # a host name as a model
        ({"X1C": 1}, {}, "1.0.0"),  # not reduced to a label: maybe as typed
        ({"john@example.org": 1}, {}, "1.0.0"),
        ({"my printer": 1}, {}, "1.0.0"),
        ({"a" * 33: 1}, {}, "1.0.0"),
        ({}, {"01.08.02.00": 1}, "1.0.0"),  # firmware not reduced to major.minor
        ({}, {"v1.8": 1}, "1.0.0"),
        ({}, {}, "1.0 beta"),  # a version with a space
        ({}, {}, "../1.0"),
    ],
)
async def test_typed_looking_breakdowns_are_400(
    client: Client, storage: Storage, models: dict[str, int], firmware: dict[str, int], version: str
) -> None:
    """Models, firmware and versions of revision 2 are labels, never free text: a 400."""
    report = make_report(
        schema_minor=2,
        printer_fleet={
            "printers": 1,
            "types": {"bambu_lab": 1},
            "integrations": {"bambu_lab": {"type": "bambu_lab", "version": version, "printers": 1}},
            "models": {"bambu_lab": models},
            "firmware": {"bambu_lab": firmware},
        },
    )
    status, answer = await _post(client, "/v1/reports", json.dumps(report))
    assert status == 400, answer
    assert _short(answer["error"])
    assert await storage.count_reports() == 0


async def test_labelled_breakdowns_are_accepted(client: Client, storage: Storage) -> None:
    """The same breakdowns as the integration sends them are stored."""
    report = make_report(
        schema_minor=2,
        printer_fleet={
            "printers": 1,
            "types": {"dremel": 1},
            "integrations": {"dremel_3d_printer": {"type": "dremel", "version": "2025.4.4", "printers": 1}},
            "models": {"dremel": {"3d45": 1}},
            "firmware": {"dremel": {"3.0": 1}},
        },
    )
    status, answer = await _post(client, "/v1/reports", json.dumps(report))
    assert status == 201, answer
    assert await storage.count_reports() == 1

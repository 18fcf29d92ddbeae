"""Insight pages for integration authors: 52 published weeks, on both backends.

Correctness only: their speed (every page and document under 50 ms) is measured by
``benchmarks/insights_bench.py``, which prints its figures.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient

from collector_testlib import open_client
from insight_data import FIRST_MONDAY, RARE, WEEKS, K, active, seed_published_weeks
from usage_stats_collector.aggregates import iso_week
from usage_stats_collector.app import Settings, create_app
from usage_stats_collector.insights import ENDINGS
from usage_stats_collector.openapi import openapi_document
from usage_stats_collector.storage import Storage

Client = TestClient[Any, Any]


def _ints(node: Any) -> list[int]:
    """Every integer in a JSON document (rates and shares are floats)."""
    if isinstance(node, bool):
        return []
    if isinstance(node, int):
        return [node]
    if isinstance(node, dict):
        return [number for value in node.values() for number in _ints(value)]
    if isinstance(node, list):
        return [number for value in node for number in _ints(value)]
    return []


def _valid(document: Any, component: str) -> None:
    components = openapi_document()["components"]
    jsonschema.validate(document, {"$ref": f"#/components/schemas/{component}", "components": components})


async def _get(client: Client, path: str, status: int = 200) -> str:
    response = await client.get(path)
    assert response.status == status, (path, await response.text())
    return await response.text()


async def test_insights_of_52_published_weeks(storage: Storage) -> None:
    await seed_published_weeks(storage)
    client = await open_client(
        create_app(
            storage, Settings(privacy="k-anonymity", k_anonymity=K, purge_interval=0, publish_interval=0)
        )
    )
    try:
        index_text = await _get(client, "/v1/integrations")
        document_text = await _get(client, "/v1/integrations/bambu")
        page = await _get(client, "/integrations/bambu")
        main = await _get(client, "/")
        others = [
            await _get(client, path) for path in ("/v1/integrations/prusalink", "/integrations/prusalink")
        ]
    finally:
        await client.close()
    index, doc = json.loads(index_text), json.loads(document_text)
    _valid(index, "IntegrationIndex")
    _valid(doc, "IntegrationInsights")
    assert len(doc["weeks"]) == WEEKS
    assert doc["weeks"][0] == iso_week(FIRST_MONDAY) == "2024-W19"
    assert [entry["domain"] for entry in index["integrations"]] == ["bambu", "prusalink"]
    assert index["integrations"][0]["installations"] == [active(week) for week in range(WEEKS)]

    # Installations per week, and the adoption of each version (newest first; 0.9.0 is below k).
    assert doc["printer_type"] == "bambu_x1c"
    assert doc["installations"] == [active(week) for week in range(WEEKS)]
    assert doc["printers"] == doc["installations"]
    versions = {row["version"]: row for row in doc["versions"]}
    assert list(versions) == ["2.0.0", "1.1.0", "1.0.0"]
    assert versions["2.0.0"]["installations"][:40] == [None] * 40
    assert versions["2.0.0"]["installations"][40:] == [active(week) // 2 for week in range(40, WEEKS)]
    assert versions["1.0.0"]["installations"][20:] == [None] * (WEEKS - 20)
    assert versions["1.0.0"]["installations"][:20] == [active(week) - 1 for week in range(20)]
    assert versions["1.0.0"]["share"][0] == round(100 * 11 / 12, 1)

    # Models and firmware of the newest week: the rare ones are folded and left out (one installation).
    assert doc["models"]["week"] == doc["weeks"][-1]
    assert [row["model"] for row in doc["models"]["rows"]] == ["a1", "x1c", "p1s"]  # a tie of six: by name
    assert round(sum(row["share"] for row in doc["models"]["rows"])) == 100
    assert [row["firmware"] for row in doc["firmware"]["rows"]] == ["1.9"]

    # Job outcomes per started job: the type overall first, then each model.
    overall, *models = doc["job_outcomes"]
    assert overall["model"] is None
    assert overall["started"] == 3 * sum(active(week) for week in range(WEEKS))
    assert overall["rates"]["completed"] == pytest.approx(66.7)
    assert overall["rates"]["interrupted"] is None  # never published
    assert {row["model"] for row in models} == {"x1c", "p1s", "a1"}
    for row in doc["job_outcomes"]:
        assert set(row["rates"]) == set(ENDINGS)

    # Errors per 100 installations: AuthError new in 2.0.0, ConnectionError tripled, TimeoutError even.
    errors = doc["errors"]
    assert (errors["newest"], errors["previous"]) == ("2.0.0", "1.1.0")
    assert errors["versions"] == ["2.0.0", "1.1.0", "1.0.0"]
    rows = {row["error_type"]: row for row in errors["rows"]}
    assert set(rows) == {"AuthError", "ConnectionError", "TimeoutError"}
    assert rows["AuthError"]["mark"] == "new"
    assert rows["AuthError"]["per_100"] == {"2.0.0": 200.0, "1.1.0": None, "1.0.0": None}
    assert rows["ConnectionError"]["mark"] == "grew"
    assert rows["ConnectionError"]["per_100"] == {"2.0.0": 300.0, "1.1.0": 100.0, "1.0.0": 100.0}
    assert rows["TimeoutError"]["mark"] is None

    # No number below k, and nothing of the one installation with rare values, anywhere.
    for text in (index_text, document_text, page, main, *others):
        for secret in RARE:
            assert secret not in text, secret
    assert min(_ints(doc)) >= K
    assert min(_ints(index)) >= K
    for html in (page, main, others[1]):
        cells = re.findall(r'<td class="n">([^<]*)</td>', html)
        assert cells
        assert all(cell == "\u2013" or int(cell.replace(",", "")) >= K for cell in cells), cells

    # The page: no script, charts as SVG, each with a table; the main page links to it.
    assert "<script" not in page
    assert page.count("<svg") == 6
    assert page.count("<table") >= page.count("<svg")
    assert "new in the newest version" in page
    assert "more than doubled in the newest version" in page
    assert '<a href="/integrations/bambu">bambu</a>' in main
    assert '<a href="/integrations/prusalink">prusalink</a>' in main
    assert "Week totals as a table" in main


async def _client(storage: Storage, k: int = K) -> Client:
    return await open_client(
        create_app(
            storage, Settings(privacy="k-anonymity", k_anonymity=k, purge_interval=0, publish_interval=0)
        )
    )


async def test_integrations_without_published_weeks_are_404(storage: Storage) -> None:
    client = await _client(storage)
    try:
        assert json.loads(await _get(client, "/v1/integrations")) == {
            "privacy": None,
            "k_anonymity": None,
            "weeks": [],
            "integrations": [],
        }
        for path in ("/integrations/bambu", "/v1/integrations/bambu", "/v1/integrations/Not-A-Domain"):
            response = await client.get(path)
            assert response.status == 404
            reason = (await response.json())["error"]
            assert (
                reason
                == f"no published statistics for this integration (it needs {K} installations in a week)"
            )
        assert "Printer integrations" not in await _get(client, "/")
    finally:
        await client.close()

"""The insight page's HTML and SVG: everything escaped, empty parts said, long lists summed; the
insights cached per state of the publications."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from collector_testlib import make_report, open_client, revision_2, week_period
from usage_stats_collector import svg
from usage_stats_collector.app import Settings, create_app
from usage_stats_collector.insight_page import integrations_card, render_integration
from usage_stats_collector.insights import InsightCache, Insights
from usage_stats_collector.publication import publish_due
from usage_stats_collector.storage import Storage
from usage_stats_collector.versions import newest_first, version_key

HOSTILE = '<script>alert("x")</script>&'


def _document(**changes: Any) -> dict[str, Any]:
    weeks = ["2025-W01", "2025-W02"]
    document: dict[str, Any] = {
        "domain": HOSTILE,
        "k_anonymity": 5,
        "printer_type": HOSTILE,
        "weeks": weeks,
        "installations": [None, 7],
        "printers": [None, 9],
        "versions": [{"version": HOSTILE, "installations": [None, 7], "share": [None, 100.0]}],
        "models": {
            "week": HOSTILE,
            "rows": [{"model": HOSTILE, "installations": 7, "printers": 9, "share": 100.0}],
        },
        "firmware": {"week": None, "rows": []},
        "job_outcomes": [
            {
                "model": None,
                "started": 20,
                "rates": {"completed": 50.0, "failed": None, "cancelled": 5.0, "interrupted": None},
            },
            {
                "model": HOSTILE,
                "started": 20,
                "rates": {"completed": 50.0, "failed": None, "cancelled": 5.0, "interrupted": None},
            },
        ],
        "errors": {
            "newest": HOSTILE,
            "previous": None,
            "versions": [HOSTILE],
            "rows": [{"error_type": HOSTILE, "per_100": {HOSTILE: 12.5}, "mark": None}],
        },
    }
    return document | changes


def test_everything_is_escaped() -> None:
    page = render_integration(_document())
    assert "<script" not in page
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in page
    index = {"weeks": ["2025-W01"], "integrations": [{"domain": HOSTILE, "installations": [7]}]}
    card = integrations_card(index)
    assert "<script" not in card
    assert HOSTILE not in card


def test_empty_parts_say_so_and_long_lists_are_summed() -> None:
    empty = render_integration(
        _document(
            versions=[],
            models={"week": None, "rows": []},
            job_outcomes=[],
            errors={"newest": None, "previous": None, "versions": [], "rows": []},
        )
    )
    assert "No version published." in empty
    assert "Not published for this printer type." in empty
    assert "No jobs published for this printer type." in empty
    assert "No errors published for this integration." in empty
    versions = [
        {"version": f"1.{index}.0", "installations": [None, 5 + index], "share": [None, 10.0]}
        for index in range(12, 0, -1)
    ]
    page = render_integration(_document(versions=versions))
    assert "older and rare versions" in page
    # The four oldest versions (1.4.0 to 1.1.0) are summed in their own column: 9 + 8 + 7 + 6.
    assert '<td class="n">30</td></tr>' in page
    assert integrations_card({"weeks": [], "integrations": []}) == ""


def test_sparkline_leaves_gaps() -> None:
    line = svg.sparkline([1, None, 3, 4, None], "gaps")
    assert line.count("<polyline") == 1  # only 3, 4 are a line; 1 alone is none
    assert "<circle" in line
    assert "<polyline" not in svg.sparkline([None, None], "nothing")
    assert svg.color(99) == svg.PALETTE[-1]


def test_versions_sort_newest_first() -> None:
    versions = ["1.9.0", "1.10.0", "1.10.0b1", "1.10.0.1", "2024.12.1", "2025.1.0", "1.10", "abc"]
    assert newest_first(versions) == [
        "2025.1.0",
        "2024.12.1",
        "1.10.0.1",
        "1.10.0",
        "1.10.0b1",
        "1.10",
        "1.9.0",
        "abc",
    ]
    assert version_key("1.0.0") > version_key("1.0.0rc1")


async def test_insights_are_computed_once_per_state_of_the_publications(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[int] = []
    original = storage.published_stats

    async def counted(limit: int) -> list[tuple[str, str]]:
        loads.append(limit)
        return await original(limit)

    monkeypatch.setattr(storage, "published_stats", counted)
    client = await open_client(
        create_app(
            storage, Settings(privacy="k-anonymity", k_anonymity=2, purge_interval=0, publish_interval=0)
        )
    )
    try:
        for monday in (dt.date(2025, 4, 21), dt.date(2025, 4, 28)):
            for _ in range(2):
                report = revision_2(make_report(period=week_period(monday)))
                await storage.submit_report(report, now=dt.datetime(2025, 5, 5, tzinfo=dt.UTC).timestamp())
        await publish_due(
            storage, privacy="k-anonymity", k=2, now=dt.datetime(2025, 5, 1, tzinfo=dt.UTC).timestamp()
        )
        first = json.loads(await (await client.get("/v1/integrations/bambu")).text())
        assert first["weeks"] == ["2025-W17"]
        assert (await client.get("/integrations/bambu")).status == 200
        assert (await client.get("/v1/integrations")).status == 200
        assert (await client.get("/")).status == 200
        assert loads == [52, 52]  # at the start (nothing published), then once for all of them
        await publish_due(
            storage, privacy="k-anonymity", k=2, now=dt.datetime(2025, 5, 8, tzinfo=dt.UTC).timestamp()
        )
        second = json.loads(await (await client.get("/v1/integrations/bambu")).text())
        assert second["weeks"] == ["2025-W17", "2025-W18"]
        assert second["installations"] == [2, 2]
        assert loads == [52, 52, 52]
    finally:
        await client.close()


async def test_the_cache_is_shared_by_concurrent_requests(storage: Storage) -> None:
    cache = InsightCache()
    first = await cache.get(storage)
    assert isinstance(first, Insights)
    assert first.index() == {"privacy": None, "k_anonymity": None, "weeks": [], "integrations": []}
    assert await cache.get(storage) is first


def test_weeks_published_before_revision_2_are_gaps() -> None:
    """A week published before the breakdowns existed has none of them: missing, never zero."""
    old = {"week": "2025-W01", "k_anonymity": 5, "jobs": {"started": {}}, "errors": {}}
    new = {
        "week": "2025-W02",
        "k_anonymity": 5,
        "integrations": {"octoprint": {"total": 9, "installations": 6, "types": {}, "versions": {}}},
        "errors": {"octoprint": {"total": 5, "installations": 5, "types": {}}},
    }
    insights = Insights((2, "2025-W02"), [old, new])
    assert insights.integration("bambu") is None
    document = insights.integration("octoprint")
    assert document is not None
    assert document["installations"] == [None, 6]
    assert document["printer_type"] is None  # no type published with k installations
    assert document["models"] == {"week": None, "rows": []}
    assert document["job_outcomes"] == []
    assert document["errors"]["rows"] == []
    assert "Printer type unknown" in render_integration(document)


def test_new_means_no_earlier_version_published_it() -> None:
    """A type withheld for the previous version but published for an older one is not new; the
    folded rest of the types comes last and is never marked."""

    def cell(total: int, **extra: Any) -> dict[str, Any]:
        return {"total": total, "installations": 10} | extra

    week = {
        "week": "2025-W02",
        "k_anonymity": 5,
        "integrations": {
            "bambu": cell(30, types={}, versions={v: cell(10) for v in ("2.0.0", "1.1.0", "1.0.0")})
        },
        "errors": {
            "bambu": cell(
                70,
                types={},
                versions={
                    "2.0.0": cell(
                        60, types={"TimeoutError": cell(5), "AuthError": cell(5), "other": cell(50)}
                    ),
                    "1.1.0": cell(5, types={}),
                    "1.0.0": cell(8, types={"TimeoutError": cell(5), "other": cell(3)}),
                },
            )
        },
    }
    document = Insights((1, "2025-W02"), [week]).integration("bambu")
    assert document is not None
    rows = [(row["error_type"], row["mark"]) for row in document["errors"]["rows"]]
    assert rows == [("AuthError", "new"), ("TimeoutError", None), ("other", None)]
    assert document["errors"]["rows"][-1]["per_100"] == {"2.0.0": 500.0, "1.1.0": None, "1.0.0": 30.0}


async def test_the_insights_are_computed_at_startup(
    storage: Storage, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Before the first request; a database that does not answer then is only a warning."""
    loads: list[int] = []
    original = storage.published_stats

    async def counted(limit: int) -> list[tuple[str, str]]:
        loads.append(limit)
        return await original(limit)

    monkeypatch.setattr(storage, "published_stats", counted)
    client = await open_client(
        create_app(
            storage, Settings(privacy="k-anonymity", k_anonymity=2, purge_interval=0, publish_interval=0)
        )
    )
    await client.close()
    assert loads == [52]

    async def broken() -> None:
        raise OSError("database unavailable")

    monkeypatch.setattr(storage, "publication_state", broken)
    client = await open_client(
        create_app(
            storage, Settings(privacy="k-anonymity", k_anonymity=2, purge_interval=0, publish_interval=0)
        )
    )
    try:
        assert (await client.get("/healthz")).status == 200
        assert "Insights: the published weeks could not be read" in caplog.text
        assert (await client.get("/v1/integrations")).status == 500
    finally:
        await client.close()

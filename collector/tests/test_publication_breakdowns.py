"""Publication of minor revision 2's breakdowns: integrations and versions, models, firmware, jobs by
model, errors by integration version; under k, folded into `other` only for k installations, bounded."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from collector_testlib import assert_k_everywhere, make_report, revision_2, week_period
from usage_stats_collector.publication import MAX_NESTED, publish_due
from usage_stats_collector.storage import Outcome, Storage, StoredReport

RECEIVED = dt.datetime(2025, 5, 5, 9, tzinfo=dt.UTC).timestamp()
DUE = dt.datetime(2025, 5, 8, tzinfo=dt.UTC).timestamp()


async def _week(storage: Storage, reports: list[dict[str, Any]], k: int) -> tuple[str, dict[str, Any]]:
    for report in reports:
        assert (await storage.submit_report(report, now=RECEIVED)).outcome is Outcome.ACCEPTED
    assert await publish_due(storage, privacy="k-anonymity", k=k, now=DUE) == ["2025-W18"]
    ((_, text),) = await storage.published_stats(1)
    return text, json.loads(text)


def _rare(version: str, model: str, **changes: Any) -> dict[str, Any]:
    """An installation with a version and a model of its own (one installation each)."""
    report = revision_2(make_report())
    fleet = report["printer_fleet"]
    fleet["integrations"]["bambu"]["version"] = version
    fleet["models"]["bambu_x1c"] = {model: 1}
    fleet["firmware"]["bambu_x1c"] = {"1.9": 1}
    report["jobs"]["by_model"] = {f"bambu_x1c.{model}": {"started": 4, "failed": 4}}
    for key, value in changes.items():
        report[key] = value
    return report


async def test_breakdowns_are_published_under_k(storage: Storage) -> None:
    common = [revision_2(make_report()) for _ in range(3)]
    rare = [
        _rare("2.2.0", "h2d", errors={"bambu": {"RareError": 5}}),
        _rare("2.0.0", "p1s"),
        _rare("2.1.0", "a1"),
    ]
    rare[0]["printer_fleet"]["integrations"]["rare_domain"] = {
        "type": "bambu_x1c",
        "version": "1.0.0",
        "printers": 1,
    }
    text, week = await _week(storage, common + rare, k=3)
    assert week["integrations"] == {
        "bambu": {
            "total": 6,
            "installations": 6,
            "types": {"bambu_x1c": {"total": 6, "installations": 6}},
            # 2.2.0 and 2.0.0 have one installation each: their "other" (two) is left out.
            "versions": {"2.1.0": {"total": 4, "installations": 4}},
        },
        "prusalink": {
            "total": 6,
            "installations": 6,
            "types": {"prusa_mk4": {"total": 6, "installations": 6}},
            "versions": {"2025.4.4": {"total": 6, "installations": 6}},
        },
    }
    # Three rare models of one installation each: their "other" has three, so it is published.
    assert week["printer_models"]["bambu_x1c"] == {
        "x1c": {"total": 3, "installations": 3},
        "other": {"total": 3, "installations": 3},
    }
    assert list(week["printer_firmware"]["bambu_x1c"]) == ["1.9", "1.8"]  # newest first
    assert week["printer_models"]["prusa_mk4"] == {"mk4s": {"total": 6, "installations": 6}}
    by_model = week["jobs"]["by_model"]
    assert by_model["started"] == {
        "bambu_x1c.x1c": {"total": 9, "installations": 3},
        "prusa_mk4.mk4s": {"total": 6, "installations": 3},
        "other": {"total": 12, "installations": 3},
    }
    assert by_model["failed"]["other"] == {"total": 12, "installations": 3}
    assert "bambu_x1c.x1c" not in by_model["failed"]
    # bambu's errors by its version: the 2.2.0 installation's error is in no published version.
    assert week["errors"]["bambu"]["versions"] == {
        "2.1.0": {"total": 8, "installations": 4, "types": {"TimeoutError": {"total": 8, "installations": 4}}}
    }
    assert week["errors"]["custom"]["versions"] == {}
    for secret in ("rare_domain", "h2d", "p1s", '"a1"', "2.2.0", "2.0.0", "RareError"):
        assert secret not in text, secret
    assert_k_everywhere(week, 3)


async def test_versions_are_bounded_newest_first(storage: Storage) -> None:
    """Versions beyond the newest MAX_NESTED of an integration are folded, in the publication and in
    errors by version."""
    count = MAX_NESTED + 5
    items = []
    for index in range(count):
        report = revision_2(make_report(period=week_period(dt.date(2025, 4, 28))))
        report["printer_fleet"]["integrations"]["bambu"]["version"] = f"1.{index}.0"
        items.append(StoredReport.from_report(report, RECEIVED))
    await storage.bulk_load(items)
    assert await publish_due(storage, privacy="k-anonymity", k=1, now=DUE) == ["2025-W18"]
    ((_, text),) = await storage.published_stats(1)
    week = json.loads(text)
    versions = week["integrations"]["bambu"]["versions"]
    assert list(versions) == [f"1.{index}.0" for index in range(count - 1, 4, -1)] + ["other"]
    assert versions["other"] == {"total": 5, "installations": 5}
    errors = week["errors"]["bambu"]["versions"]
    assert list(errors)[:MAX_NESTED] == list(versions)[:MAX_NESTED]
    assert errors["other"] == {"total": 10, "installations": 5}

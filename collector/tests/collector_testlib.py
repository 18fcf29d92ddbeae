"""Report builders shared by the collector tests."""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
import uuid
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from usage_stats_collector.server import handler_options

# The receive date of the app under test (the settings fixture's clock): BASE_REPORT's week has
# just ended, so its period is recent.
TODAY = dt.date(2025, 5, 5)


def fixed_clock() -> dt.datetime:
    """The clock of the app under test: noon UTC on TODAY."""
    return dt.datetime.combine(TODAY, dt.time(12), dt.UTC)


def new_id() -> str:
    """A random UUID4 in the form the schema accepts."""
    return str(uuid.uuid4())


BASE_REPORT: dict[str, Any] = {
    "schema_version": 1,
    "schema_minor": 1,
    "submission_id": "",
    "installation_id": "",
    "period": {"start": "2025-04-28", "end": "2025-05-04", "days": 7},
    "installation": {
        "integration_version": "1.2.0",
        "ha_version": "2025.4.4",
        "python_version": "3.13.0",
        "installation_type": "Home Assistant OS",
        "country_code": "DE",
    },
    "printer_fleet": {"printers": 2, "types": {"bambu_x1c": 1, "prusa_mk4": 1}},
    "features": {"bambu.camera": {"on": 7, "off": 0}, "bambu.notify": {"on": 0, "off": 7}},
    "jobs": {
        "started": {"bambu_x1c": 3, "prusa_mk4": 2},
        "completed": {"bambu_x1c": 2},
        "failed": {"prusa_mk4": 1},
        "cancelled": {"bambu_x1c": 1},
        "interrupted": {"prusa_mk4": 1},
        "duration": {"1h_2h": 2, "lt_30m": 1},
    },
    "events": {"ha_start": 1, "printer_offline": 2},
    "errors": {"bambu": {"TimeoutError": 2}, "custom": {"printer_error": 1}},
}


def revision_0(report: dict[str, Any]) -> dict[str, Any]:
    """The same report as sent before minor revision 1: no schema_minor, no interrupted jobs."""
    old = copy.deepcopy(report)
    del old["schema_minor"]
    del old["jobs"]["interrupted"]
    return old


# What minor revision 2 adds to BASE_REPORT's fleet and jobs (report version 3).
REVISION_2_FLEET: dict[str, Any] = {
    "integrations": {
        "bambu": {"type": "bambu_x1c", "version": "2.1.0", "printers": 1},
        "prusalink": {"type": "prusa_mk4", "version": "2025.4.4", "printers": 1},
    },
    "models": {"bambu_x1c": {"x1c": 1}, "prusa_mk4": {"mk4s": 1}},
    "firmware": {"bambu_x1c": {"1.8": 1}, "prusa_mk4": {"6.2": 1}},
}
REVISION_2_BY_MODEL: dict[str, Any] = {
    "bambu_x1c.x1c": {"started": 3, "completed": 2, "cancelled": 1},
    "prusa_mk4.mk4s": {"started": 2, "failed": 1, "interrupted": 1},
}


def revision_2(report: dict[str, Any]) -> dict[str, Any]:
    """The same report as sent from minor revision 2: integrations, models, firmware, jobs by model."""
    new = copy.deepcopy(report)
    new["schema_minor"] = 2
    if "printer_fleet" in new:
        new["printer_fleet"].update(copy.deepcopy(REVISION_2_FLEET))
    if "jobs" in new:
        new["jobs"]["by_model"] = copy.deepcopy(REVISION_2_BY_MODEL)
    return new


def make_report(installation_id: str | None = None, **changes: Any) -> dict[str, Any]:
    """A valid report with fresh ids; keyword arguments replace top-level sections."""
    report = copy.deepcopy(BASE_REPORT)
    report["submission_id"] = new_id()
    report["installation_id"] = installation_id or new_id()
    report.update(copy.deepcopy(changes))
    return report


async def aggregates_of_stored_reports(storage: Any) -> dict[tuple[str, str, str], tuple[int, int]]:
    """What the aggregates must be: recomputed from the stored reports (week, metric, key) -> (total, n)."""
    from sqlalchemy import select

    from usage_stats_collector.aggregates import contributions
    from usage_stats_collector.models import reports

    per_installation: dict[tuple[str, str], dict[tuple[str, str], int]] = {}
    async with storage.engine.connect() as conn:
        rows = await conn.execute(select(reports.c.installation_id, reports.c.week, reports.c.payload))
        for installation, week, payload in rows:
            summed = per_installation.setdefault((installation, week), {})
            for key, value in contributions(json.loads(payload)).items():
                summed[key] = summed.get(key, 0) + value
    expected: dict[tuple[str, str, str], tuple[int, int]] = {}
    for (_, week), summed in per_installation.items():
        for (metric, key), value in summed.items():
            total, count = expected.get((week, metric, key), (0, 0))
            expected[(week, metric, key)] = (total + value, count + 1)
    return expected


def week_period(monday: dt.date) -> dict[str, Any]:
    """The period of a whole ISO week starting on ``monday``."""
    return {"start": monday.isoformat(), "end": (monday + dt.timedelta(days=6)).isoformat(), "days": 7}


def current_period(now: float | None = None) -> dict[str, Any]:
    """The period from this week's Monday to today (UTC): a report the collector takes today."""
    today = dt.datetime.fromtimestamp(time.time() if now is None else now, dt.UTC).date()
    monday = today - dt.timedelta(days=today.weekday())
    return {"start": monday.isoformat(), "end": today.isoformat(), "days": today.weekday() + 1}


def recent_report(installation_id: str | None = None) -> dict[str, Any]:
    """A valid report of the ISO week that ended before today (for real processes, real clock)."""
    today = dt.datetime.now(dt.UTC).date()
    start = today - dt.timedelta(days=today.isoweekday() + 6)
    end = start + dt.timedelta(days=6)
    return make_report(installation_id, period={"start": str(start), "end": str(end), "days": 7})


async def open_client(app: web.Application) -> TestClient[Any, Any]:
    """A started test client of ``app``, served with the options of the real server."""
    server = TestServer(app)
    await server.start_server(**handler_options())
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    return client


def assert_k_everywhere(node: Any, k: int) -> None:
    """Every count of installations in the document is at least k; every total has one."""
    if isinstance(node, dict):
        if "total" in node:
            assert node["installations"] >= k, node
        for key in ("installations", "installations_on"):
            if isinstance(node.get(key), int):
                assert node[key] >= k, node
        for count in node.get("sections", {}).values():
            assert count is None or count >= k, node
        if "installations_on" in node:
            assert (node["on"] is None) == (node["installations_on"] is None), node
        for value in node.values():
            assert_k_everywhere(value, k)

"""Report builders shared by the collector tests."""

from __future__ import annotations

import copy
import datetime as dt
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


def make_report(installation_id: str | None = None, **changes: Any) -> dict[str, Any]:
    """A valid report with fresh ids; keyword arguments replace top-level sections."""
    report = copy.deepcopy(BASE_REPORT)
    report["submission_id"] = new_id()
    report["installation_id"] = installation_id or new_id()
    report.update(copy.deepcopy(changes))
    return report


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

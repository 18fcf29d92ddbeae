"""The panel's comparison: local printers beside the collector's published week.

A real HTTP server on 127.0.0.1 publishes `/v1/stats`; the comparison is asked for
over the real websocket API.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import timedelta
import logging
from pathlib import Path
import sys
from typing import Any

from aiohttp import web
from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.usage_stats.catalogue import (
    JOBS,
    PRINTER_INTEGRATIONS,
    PRINTER_MODELS,
    PRINTERS_BY_TYPE,
)
from custom_components.usage_stats.comparison import community, newer_widespread
from custom_components.usage_stats.coordinator import UsageStatsCoordinator
from custom_components.usage_stats.published import newest_week
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

WEEK = {
    "week": "2026-W44",
    "installations": 40,
    "printer_types": {"bambu_lab": {"total": 30, "installations": 20}},
    "jobs": {
        "started": {"bambu_lab": {"total": 200, "installations": 18}},
        "completed": {"bambu_lab": {"total": 160, "installations": 18}},
        "failed": {"bambu_lab": {"total": 20, "installations": 9}},
    },
    "integrations": {
        "bambu_lab": {
            "installations": 20,
            "versions": {
                "2.1.0": {"total": 12, "installations": 12},
                "2.0.5": {"total": 8, "installations": 8},
            },
        }
    },
    "printer_firmware": {
        "bambu_lab": {
            "1.8": {"total": 10, "installations": 8},
            "1.9": {"total": 15, "installations": 10},
            "other": {"total": 5, "installations": 5},
        }
    },
    "printer_models": {"bambu_lab": {"x1c": {"total": 24, "installations": 16}}},
}


@dataclass
class Collector:
    """A real server publishing a document at /v1/stats, counting the requests."""

    document: Any = field(default_factory=lambda: {"weeks": [WEEK]})
    status: int = 200
    requests: list[web.Request] = field(default_factory=list)
    url: str = ""

    async def stats(self, request: web.Request) -> web.Response:
        """Answer with the document (or the status set)."""
        self.requests.append(request)
        if self.status != 200:
            return web.Response(status=self.status)
        return web.json_response(self.document)


@pytest.fixture
async def collector(socket_enabled: None) -> AsyncGenerator[Collector]:
    """Start the publishing server on an ephemeral port of 127.0.0.1."""
    collector = Collector()
    app = web.Application()
    app.router.add_get("/v1/stats", collector.stats)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    collector.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield collector
    await runner.cleanup()


@pytest.fixture
def options(collector: Collector) -> dict[str, Any]:
    """Share with the publishing server."""
    return {"consent": "share", "endpoint": collector.url, "retention_days": 90}


@pytest.fixture
async def coordinator(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
) -> UsageStatsCoordinator:
    """The loaded entry's coordinator, set up at the time the test starts.

    (Not the shared fixture that moves time back to the grant: the websocket's
    access token, issued now, would not be valid yet.)
    """
    coordinator: UsageStatsCoordinator = init_integration.runtime_data
    return coordinator


def record_bambu(coordinator: UsageStatsCoordinator) -> None:
    """A Bambu Lab X1C on firmware 1.8 with ten jobs: eight completed, one failed."""
    coordinator.record_snapshot(PRINTERS_BY_TYPE, {("bambu_lab",): 1})
    coordinator.record_snapshot(
        PRINTER_INTEGRATIONS, {("bambu_lab", "bambu_lab", "2.1.0"): 1}
    )
    coordinator.record_snapshot(PRINTER_MODELS, {("bambu_lab", "x1c", "1.8"): 1})
    coordinator.record(JOBS, "started", "bambu_lab", amount=10)
    coordinator.record(JOBS, "completed", "bambu_lab", amount=8)
    coordinator.record(JOBS, "failed", "bambu_lab", amount=1)


async def ask(hass: HomeAssistant, hass_ws_client: WebSocketGenerator) -> Any:
    """Return the answer of `usage_stats/comparison` on a new connection."""
    return await ask_on(await hass_ws_client(hass))


async def ask_on(client: Any) -> Any:
    """Return the answer of `usage_stats/comparison` on a connection."""
    await client.send_json_auto_id({"type": "usage_stats/comparison"})
    response = await client.receive_json()
    assert response["success"], response
    return response["result"]


async def test_comparison_beside_the_published_week(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    coordinator: UsageStatsCoordinator,
    collector: Collector,
) -> None:
    """Local rates beside the community's; the fetch names nothing of this installation."""
    record_bambu(coordinator)
    result = await ask(hass, hass_ws_client)
    assert result["status"] == "ok"
    assert result["week"] == "2026-W44"
    assert result["installations"] == 40
    assert result["fetched_at"] == dt_util.utcnow().isoformat()
    [printer] = result["printers"]
    assert printer["integration"] == "bambu_lab"
    assert printer["local"] == {
        "started": 10,
        "completed": 8,
        "failed": 1,
        "cancelled": 0,
        "interrupted": 0,
        "completion_rate": 0.8,
        "failure_rate": 0.1,
        "integration_version": "2.1.0",
        "model": "x1c",
        "firmware": "1.8",
    }
    assert printer["community"] == {
        "installations": 20,
        "completion_rate": 0.8,
        "failure_rate": 0.1,
        "version_installations": 12,
        "firmware_share": pytest.approx(10 / 30),
        "newer_firmware": "1.9",
        "model_share": 1.0,
    }
    [request] = collector.requests
    assert request.query_string == ""
    assert request.headers["User-Agent"] == "HomeAssistant-usage_stats"
    sent = " ".join([request.path_qs, *request.headers.values()])
    assert coordinator.installation_id is not None
    assert coordinator.installation_id not in sent
    assert "bambu" not in sent
    assert "Cookie" not in request.headers


async def test_fetched_once_a_day(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    coordinator: UsageStatsCoordinator,
    collector: Collector,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The document is kept for a day; then fetched again, whole."""
    record_bambu(coordinator)
    # One connection: its access token would expire over a day.
    client = await hass_ws_client(hass)
    await ask_on(client)
    freezer.tick(timedelta(hours=23))
    await ask_on(client)
    assert len(collector.requests) == 1
    freezer.tick(timedelta(hours=2))
    result = await ask_on(client)
    assert len(collector.requests) == 2
    assert result["fetched_at"] == dt_util.utcnow().isoformat()


@pytest.mark.parametrize("options", [{"consent": "local", "retention_days": 90}])
async def test_nothing_is_fetched_below_share(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    coordinator: UsageStatsCoordinator,
    collector: Collector,
) -> None:
    """At `local` the endpoint is never asked: the local numbers only."""
    record_bambu(coordinator)
    result = await ask(hass, hass_ws_client)
    assert result["status"] == "not_shared"
    assert result["printers"][0]["local"]["completion_rate"] == 0.8
    assert result["printers"][0]["community"] is None
    assert collector.requests == []


async def test_offline_collector_is_a_message_and_is_not_asked_again_at_once(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    coordinator: UsageStatsCoordinator,
    collector: Collector,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failing collector: `unavailable`, nothing logged above DEBUG, retried later."""
    record_bambu(coordinator)
    collector.status = 503
    client = await hass_ws_client(hass)
    result = await ask_on(client)
    assert result["status"] == "unavailable"
    assert result["fetched_at"] is None
    assert result["printers"][0]["local"]["started"] == 10
    await ask_on(client)
    assert len(collector.requests) == 1
    freezer.tick(timedelta(minutes=16))
    collector.status = 200
    assert (await ask_on(client))["status"] == "ok"
    assert not [
        record
        for record in caplog.records
        if record.name.startswith("custom_components.usage_stats")
        and record.levelno > logging.DEBUG
    ]


@pytest.mark.parametrize(
    ("document", "status"),
    [
        ({"weeks": []}, "no_data"),
        ({"weeks": [{"week": "2026-W44", "printer_types": {}}]}, "no_data"),
        ({"weeks": "nonsense"}, "no_data"),
        ([1, 2, 3], "no_data"),
    ],
)
async def test_a_collector_without_the_data(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    coordinator: UsageStatsCoordinator,
    collector: Collector,
    document: Any,
    status: str,
) -> None:
    """No published week for these printers: `no_data`, no community numbers."""
    record_bambu(coordinator)
    collector.document = document
    result = await ask(hass, hass_ws_client)
    assert result["status"] == status
    assert result["printers"][0]["community"] is None


async def test_not_json_is_unavailable(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    coordinator: UsageStatsCoordinator,
    collector: Collector,
) -> None:
    """A body that is not JSON is treated as a failed fetch."""
    record_bambu(coordinator)
    collector.document = None

    async def not_json(request: web.Request) -> web.Response:
        collector.requests.append(request)
        return web.Response(text="<html>", content_type="text/html")

    collector.stats = not_json  # type: ignore[method-assign]
    assert (await ask(hass, hass_ws_client))["status"] == "unavailable"


def test_withheld_numbers_stay_none() -> None:
    """A number the collector withheld (null, or absent) is None, never a guess."""
    week = {
        "week": "2026-W44",
        "printer_types": {"bambu_lab": {"total": 30, "installations": None}},
        "jobs": {"started": {"bambu_lab": {"total": 0, "installations": 3}}},
    }
    printer = {
        "printer_type": "bambu_lab",
        "integration": "bambu_lab",
        "version": "2.1.0",
        "firmware": "1.8",
        "model": None,
    }
    assert community(week, printer) == {
        "installations": None,
        "completion_rate": None,
        "failure_rate": None,
        "version_installations": None,
        "firmware_share": None,
        "newer_firmware": None,
        "model_share": None,
    }


def test_newer_widespread_firmware() -> None:
    """Only a newer firmware that at least a fifth of the printers run."""
    shares = {"1.8": 0.5, "1.9": 0.1, "1.10": 0.25, "other": 0.15}
    assert newer_widespread("1.8", shares) == "1.10"
    assert newer_widespread("1.10", shares) is None
    assert newer_widespread(None, shares) is None
    assert newer_widespread("beta", shares) is None


def test_newest_week() -> None:
    """The newest week by its name; malformed weeks are skipped."""
    assert newest_week({"weeks": [{"week": "2026-W02"}, {"week": "2026-W10"}, 3]}) == {
        "week": "2026-W10"
    }
    assert newest_week({"weeks": [{"no": "week"}]}) is None


@pytest.mark.parametrize(
    "options",
    [{"consent": "share", "endpoint": "http://127.0.0.1:9", "retention_days": 90}],
)
async def test_unreachable_collector(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    coordinator: UsageStatsCoordinator,
) -> None:
    """Nothing listens at the endpoint: `unavailable`, the local numbers still shown."""
    record_bambu(coordinator)
    result = await ask(hass, hass_ws_client)
    assert result["status"] == "unavailable"
    assert result["printers"][0]["local"]["completed"] == 8


def test_reads_a_week_as_the_collector_publishes_it() -> None:
    """The reference collector's own publication of a report: every number is found.

    Guards the names both sides share: the comparison reads the published week the
    collector's `WeekPlan` renders from the contributions of a real report body.
    """
    sys.path.insert(
        0, str(Path(__file__).resolve().parent.parent / "collector" / "src")
    )
    from usage_stats_collector.aggregates import contributions
    from usage_stats_collector.publication import WeekPlan

    report = {
        "installation": {
            "integration_version": "0.1.0",
            "ha_version": "2025.4.4",
            "python_version": "3.13.0",
            "installation_type": "Home Assistant OS",
        },
        "printer_fleet": {
            "printers": 1,
            "types": {"bambu_lab": 1},
            "integrations": {
                "bambu_lab": {"type": "bambu_lab", "version": "2.1.0", "printers": 1}
            },
            "models": {"bambu_lab": {"x1c": 1}},
            "firmware": {"bambu_lab": {"1.8": 1}},
        },
        "jobs": {
            "started": {"bambu_lab": 4},
            "completed": {"bambu_lab": 3},
            "failed": {"bambu_lab": 1},
            "cancelled": {},
            "duration": {},
        },
    }
    rows = [
        (metric, key, value, 1)
        for (metric, key), value in contributions(report).items()
    ]
    plan = WeekPlan.build("2026-W44", rows, 1)
    assert plan is not None
    week = plan.render({}, 0)
    printer = {
        "printer_type": "bambu_lab",
        "integration": "bambu_lab",
        "version": "2.1.0",
        "firmware": "1.8",
        "model": "x1c",
    }
    assert community(week, printer) == {
        "installations": 1,
        "completion_rate": 0.75,
        "failure_rate": 0.25,
        "version_installations": 1,
        "firmware_share": 1.0,
        "newer_firmware": None,
        "model_share": 1.0,
    }

"""Sections you choose: a section left out is recorded but never previewed or sent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.usage_stats.const import CONF_FORMAT, CONF_SECTIONS, DOMAIN
from custom_components.usage_stats.coordinator import UsageStatsCoordinator
from homeassistant.core import HomeAssistant

from .helpers import (
    Answer,
    Receiver,
    advance,
    assert_valid_report,
    parse_otlp,
    record_week,
    share_with,
)

SECTIONS = ("printer_fleet", "features", "jobs", "events", "errors")


@pytest.fixture
def report_format() -> str:
    """Return the wire format; a test overrides it."""
    return "json"


@pytest.fixture
def options(receiver: Receiver, report_format: str) -> dict[str, Any]:
    """Share jobs and errors only."""
    return {
        **share_with(receiver),
        CONF_FORMAT: report_format,
        CONF_SECTIONS: ["jobs", "errors"],
    }


async def _preview(hass: HomeAssistant) -> dict[str, Any]:
    result: dict[str, Any] = await hass.services.async_call(
        DOMAIN, "preview", {}, blocking=True, return_response=True
    )
    return result


async def test_left_out_sections_are_never_sent(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Recorded locally, absent from the preview, the payload and what the receiver got."""
    record_week(coordinator, freezer)
    freezer.move_to("2026-11-09T01:00:00+00:00")
    preview = (await _preview(hass))["payload"]
    assert_valid_report(preview)
    assert {key for key in preview if key in SECTIONS} == {"jobs", "errors"}

    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    sent = receiver.bodies()
    assert len(sent) == 1
    assert_valid_report(sent[0])
    assert {key for key in sent[0] if key in SECTIONS} == {"jobs", "errors"}
    assert sent[0]["jobs"]["completed"] == {"prusa": 7}
    assert sent[0]["submission_id"] == preview["submission_id"]
    # Recording is unaffected.
    days = coordinator.stored["days"]
    assert sum(day.get("events", {}).get("ha_start", 0) for day in days.values()) == 7
    assert any("printers" in day for day in days.values())


@pytest.mark.parametrize("report_format", ["otlp"])
async def test_left_out_sections_are_not_in_otlp(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The OTLP form leaves the metrics of unshared sections out entirely."""
    record_week(coordinator, freezer)
    freezer.move_to("2026-11-09T01:00:00+00:00")
    preview = (await _preview(hass))["payload"]
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    (request,) = receiver.requests
    assert request.path == "/v1/metrics"
    parsed = parse_otlp(request.body)
    names = [m.name for m in parsed.resource_metrics[0].scope_metrics[0].metrics]
    assert names == [
        "usage_stats.jobs",
        "usage_stats.jobs.duration",
        "usage_stats.jobs.by_model",
        "usage_stats.errors",
    ]
    assert request.json() == preview


async def test_a_waiting_report_loses_a_section_no_longer_shared(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Choosing fewer sections takes them out of reports still waiting in the outbox."""
    receiver.answers = [Answer(503)]
    record_week(coordinator, freezer)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    assert "jobs" in receiver.bodies()[0]

    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={**mock_config_entry.options, CONF_SECTIONS: ["errors"]},
    )
    await hass.async_block_till_done()
    await advance(hass, freezer, timedelta(hours=3))
    sent = receiver.bodies()
    assert len(sent) == 2
    assert sent[1]["submission_id"] == sent[0]["submission_id"]
    assert {key for key in sent[1] if key in SECTIONS} == {"errors"}
    assert_valid_report(sent[1])

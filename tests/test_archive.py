"""The archive: the last 12 accepted reports, exactly as sent, kept locally."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.usage_stats.catalogue import EVENTS
from custom_components.usage_stats.const import (
    CONF_FORMAT,
    DOMAIN,
    STORAGE_KEY,
    STORAGE_MINOR_VERSION,
)
from custom_components.usage_stats.coordinator import UsageStatsCoordinator
from custom_components.usage_stats.outbox import ARCHIVE_LENGTH
from homeassistant.core import HomeAssistant

from .helpers import Answer, Receiver, advance, share_with


@pytest.fixture
def report_format() -> str:
    """Return the wire format; a test overrides it."""
    return "json"


@pytest.fixture
def options(receiver: Receiver, report_format: str) -> dict[str, Any]:
    """Share with the receiver."""
    return {**share_with(receiver), CONF_FORMAT: report_format}


async def _weeks(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    freezer: FrozenDateTimeFactory,
    weeks: int,
) -> None:
    """Record something each week and let each Monday's run send it."""
    for _ in range(weeks):
        coordinator.record(EVENTS, "ha_start")
        # Monday 06:00:30 UTC comes next, after the weekly time.
        now = freezer.time_to_freeze  # type: ignore[attr-defined]
        days = (7 - now.weekday()) % 7 or 7
        monday = (now + timedelta(days=days)).replace(hour=6, minute=0, second=30)
        await advance(hass, freezer, monday)
        freezer.tick(timedelta(hours=2))


async def test_archive_holds_exactly_the_accepted_bodies(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """Only accepted reports, byte for byte as received, the last 12, with their dates."""
    # The third weekly report is refused: it is not archived.
    receiver.answers = [Answer(200), Answer(200), Answer(422)]
    await _weeks(hass, coordinator, freezer, 15)
    received = receiver.bodies()
    assert len(received) == 15
    accepted = received[:2] + received[3:]
    archive = coordinator.submission.state["archive"]
    assert len(archive) == ARCHIVE_LENGTH == 12
    assert [entry["body"] for entry in archive] == accepted[-12:]
    for entry, body in zip(archive, accepted[-12:], strict=True):
        assert entry["id"] == body["submission_id"]
        assert entry["period_start"] == body["period"]["start"]
        assert entry["period_end"] == body["period"]["end"]
        assert entry["format"] == "json"
        # Accepted at the weekly run, the Monday after the reported week.
        monday = date.fromisoformat(body["period"]["end"]) + timedelta(days=1)
        assert entry["accepted_at"] == f"{monday}T06:00:30+00:00"
    # Kept in the store.
    await coordinator.async_save_now()
    assert hass_storage[STORAGE_KEY]["data"]["submission"]["archive"] == archive

    # In the export and the history, and gone after a delete.
    export = await hass.services.async_call(
        DOMAIN, "export", {}, blocking=True, return_response=True
    )
    assert export["archive"] == archive
    assert "archive" not in export["submission"]
    history = coordinator.submission.history()
    reports = [entry for entry in history if entry["kind"] == "report"]
    assert reports[0]["body"] == accepted[-1]
    assert [entry.get("body") for entry in reports[:12]] == accepted[-12:][::-1]
    assert "body" not in reports[-1]
    assert [e["outcome"] for e in reports].count("rejected") == 1

    await hass.services.async_call(DOMAIN, "delete", {}, blocking=True)
    assert coordinator.submission.state["archive"] == []
    await coordinator.async_save_now()
    assert hass_storage[STORAGE_KEY]["data"]["submission"]["archive"] == []


@pytest.mark.parametrize("report_format", ["otlp"])
async def test_archive_keeps_the_otlp_body_as_sent(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
) -> None:
    """With OTLP the archive holds the OpenTelemetry body that went out."""
    await _weeks(hass, coordinator, freezer, 2)
    sent = receiver.bodies("/v1/metrics")
    assert len(sent) == 2
    archive = coordinator.submission.state["archive"]
    assert [entry["body"] for entry in archive] == sent
    assert {entry["format"] for entry in archive} == {"otlp"}


STORE_1_3: dict[str, Any] = {
    "version": 1,
    "minor_version": 3,
    "key": STORAGE_KEY,
    "data": {
        "consent": {
            "level": "share",
            "changed_at": "2026-10-05T08:00:00+00:00",
            "share_granted_at": "2026-10-05T08:00:00+00:00",
        },
        "installation_id": "9b2f6c1e-7d4a-4e3b-a1c2-d3e4f5a6b7c8",
        "days": {"keys": ["events|ha_start"], "counts": {"2026-10-05": "0,2"}},
        "submission": {
            "outbox": [],
            "history": [],
            "schedule": {"weekday": 0, "second": 21600},
            "next_run": "2026-10-12T06:00:00+00:00",
            "last_success": "2026-10-05T09:00:00+00:00",
            "last_request": "2026-10-05T09:00:00+00:00",
            "submitted_through": "2026-10-04",
            "next_submission_id": None,
            "baseline": None,
            "sent_to": ["https://stats.example.org"],
            "rejected_status": None,
        },
    },
}


@pytest.mark.parametrize(
    "options",
    [
        {
            "consent": "share",
            "endpoint": "https://stats.example.org",
            "retention_days": 90,
        }
    ],
)
async def test_store_1_3_gains_an_empty_archive(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """A 1.3 file keeps everything, gains an empty archive and its accepted report version."""
    freezer.move_to("2026-10-06T12:00:00+00:00")
    hass_storage[STORAGE_KEY] = STORE_1_3
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    coordinator: UsageStatsCoordinator = mock_config_entry.runtime_data
    state = coordinator.submission.state
    assert state["archive"] == []
    assert state["sent_to"] == ["https://stats.example.org"]
    assert state["last_success"] == "2026-10-05T09:00:00+00:00"
    await coordinator.async_save_now()
    written = hass_storage[STORAGE_KEY]
    assert (written["version"], written["minor_version"]) == (1, STORAGE_MINOR_VERSION)
    assert written["data"]["submission"]["archive"] == []
    # Sharing before report versions existed: version 1 was accepted.
    assert written["data"]["consent"]["report_version"] == 1
    assert written["data"]["consent"]["declined_version"] is None

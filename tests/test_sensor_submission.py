"""Tests of the submission sensors."""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.usage_stats.const import CONF_CONSENT
from custom_components.usage_stats.coordinator import UsageStatsCoordinator
from custom_components.usage_stats.sensor import SUBMISSION_SENSORS
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er

from .helpers import Answer, Receiver, advance, record_week, share_with

SENSORS = {
    "last_submission": "sensor.usage_statistics_last_successful_submission",
    "next_submission": "sensor.usage_statistics_next_planned_submission",
    "submission_status": "sensor.usage_statistics_submission_status",
    "reports_waiting": "sensor.usage_statistics_reports_waiting",
}


@pytest.fixture
def options(receiver: Receiver) -> dict[str, Any]:
    """Share with the receiver."""
    return share_with(receiver)


def _states(hass: HomeAssistant) -> dict[str, str]:
    return {key: hass.states.get(entity_id).state for key, entity_id in SENSORS.items()}


async def test_submission_sensors(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """The sensors follow the submission: planned, retrying, delivered."""
    assert set(SENSORS) == {description.key for description in SUBMISSION_SENSORS}
    for key, entity_id in SENSORS.items():
        assert entity_registry.async_get(entity_id) == snapshot(name=f"{key}-entry")
        assert hass.states.get(entity_id) == snapshot(name=f"{key}-state")

    receiver.answers = [Answer(500)]
    record_week(coordinator, freezer)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    states = _states(hass)
    assert states["submission_status"] == "retrying"
    assert states["reports_waiting"] == "1"
    assert states["last_submission"] == "unknown"

    await advance(hass, freezer, "2026-11-09T07:30:00+00:00")
    assert _states(hass) == {
        "last_submission": "2026-11-09T07:30:00+00:00",
        "next_submission": "2026-11-16T06:00:00+00:00",
        "submission_status": "idle",
        "reports_waiting": "0",
    }


@pytest.mark.parametrize("options", [{CONF_CONSENT: "local", "retention_days": 90}])
async def test_submission_sensors_below_share(
    hass: HomeAssistant, init_integration: MockConfigEntry, options: dict[str, Any]
) -> None:
    """Below share nothing is planned."""
    assert _states(hass) == {
        "last_submission": "unknown",
        "next_submission": "unknown",
        "submission_status": "disabled",
        "reports_waiting": "0",
    }

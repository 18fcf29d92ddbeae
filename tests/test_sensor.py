"""Tests for the sensors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er

from .helpers import seed_store, settle


@pytest.mark.usefixtures("printers", "entity_registry_enabled_by_default")
async def test_sensors(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Every sensor of the platform, with a fleet of printers."""
    freezer.move_to("2026-11-23T12:00:00+00:00")
    mock_config_entry.add_to_hass(hass)
    with patch("custom_components.usage_stats.PLATFORMS", [Platform.SENSOR]):
        await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()
    await settle(hass, freezer)
    await snapshot_platform(hass, entity_registry, snapshot, mock_config_entry.entry_id)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_sensor_values_follow_counts(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    printers: dict[str, str],
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """Counts over days: today's events, 7-day errors and jobs, days stored."""
    freezer.move_to("2026-11-23T12:00:00+00:00")
    seed_store(
        hass_storage,
        {
            "2026-11-16": {"errors": {"mqtt/ValueError": 5}},
            "2026-11-17": {
                "errors": {"mqtt/ValueError": 2},
                "jobs": {"completed/prusa": 3, "started/prusa": 4},
            },
        },
    )
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await settle(hass, freezer)
    assert (
        hass.states.get("sensor.usage_statistics_errors_in_the_last_7_days").state
        == "2"
    )
    assert (
        hass.states.get(
            "sensor.usage_statistics_print_jobs_completed_in_the_last_7_days"
        ).state
        == "3"
    )
    assert hass.states.get("sensor.usage_statistics_days_of_data_stored").state == "3"

    hass.states.async_set(printers["prusa_1"], "idle")
    await hass.async_block_till_done()
    hass.states.async_set(printers["prusa_1"], "printing")
    await settle(hass, freezer)
    events = hass.states.get("sensor.usage_statistics_events_recorded_today")
    assert events.state == "1"
    assert events.attributes["state_class"] == "total"
    assert events.attributes["unit_of_measurement"] == "events"

    printers_state = hass.states.get("sensor.usage_statistics_printers")
    assert printers_state.state == "3"
    assert printers_state.attributes["prusa"] == 2
    assert printers_state.attributes["bambu_lab"] == 1

    freezer.tick(timedelta(days=1))
    await settle(hass, freezer)  # Midnight: a new day's snapshots ...
    await settle(hass, freezer)  # ... and the entities are told.
    assert hass.states.get("sensor.usage_statistics_events_recorded_today").state == "0"


async def test_days_stored_disabled_by_default(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """The diagnostic count of stored days is there, but disabled until wanted."""
    entry = entity_registry.async_get("sensor.usage_statistics_days_of_data_stored")
    assert entry is not None
    assert entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert hass.states.get("sensor.usage_statistics_days_of_data_stored") is None

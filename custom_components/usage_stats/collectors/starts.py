"""Home Assistant starts: counted once per start, not when the entry reloads."""

from __future__ import annotations

from homeassistant.const import EVENT_HOMEASSISTANT_STARTED
from homeassistant.core import CoreState, Event, callback

from ..catalogue import EVENT_HA_START, EVENTS
from ..coordinator import UsageStatsCoordinator


def async_setup_start_collector(coordinator: UsageStatsCoordinator) -> None:
    """Count the start of Home Assistant if it is starting now."""
    hass = coordinator.hass
    if hass.state is CoreState.running:
        return

    @callback
    def _started(_event: Event) -> None:
        coordinator.record(EVENTS, EVENT_HA_START)

    coordinator.config_entry.async_on_unload(
        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STARTED, _started)
    )

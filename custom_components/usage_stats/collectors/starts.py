"""Home Assistant starts: counted once per start, not when the entry reloads."""

from __future__ import annotations

from homeassistant.const import EVENT_HOMEASSISTANT_STARTED
from homeassistant.core import CALLBACK_TYPE, CoreState, Event, callback

from ..catalogue import EVENT_HA_START, EVENTS
from ..coordinator import UsageStatsCoordinator


def async_setup_start_collector(coordinator: UsageStatsCoordinator) -> None:
    """Count the start of Home Assistant if it is starting now.

    The one-time listener removes itself when the start event fires; only a
    listener still waiting is removed at unload (removing it twice makes Home
    Assistant log an ERROR).
    """
    hass = coordinator.hass
    if hass.state is CoreState.running:
        return
    unsub: CALLBACK_TYPE | None = None

    @callback
    def _started(_event: Event) -> None:
        nonlocal unsub
        unsub = None
        coordinator.record(EVENTS, EVENT_HA_START)

    @callback
    def _unload() -> None:
        if unsub is not None:
            unsub()

    unsub = hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STARTED, _started)
    coordinator.config_entry.async_on_unload(_unload)

"""Feature flags: how many printer feature entities are on and off, per feature."""

from __future__ import annotations

from collections import Counter

from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, callback
from homeassistant.helpers.event import async_track_state_change_event

from ..catalogue import FEATURES
from ..coordinator import UsageStatsCoordinator
from .directory import PrinterDirectory


class FeatureCollector:
    """Keeps today's on/off counts per feature up to date."""

    def __init__(
        self, coordinator: UsageStatsCoordinator, directory: PrinterDirectory
    ) -> None:
        """Initialize the collector."""
        self.coordinator = coordinator
        self.directory = directory
        self._unsub: CALLBACK_TYPE | None = None
        coordinator.config_entry.async_on_unload(self._async_unsubscribe)

    @callback
    def _async_unsubscribe(self) -> None:
        if self._unsub is not None:
            self._unsub()
            self._unsub = None

    @callback
    def async_directory_changed(self) -> None:
        """Watch the current feature entities and record a snapshot."""
        self._async_unsubscribe()
        if self.directory.features:
            self._unsub = async_track_state_change_event(
                self.coordinator.hass,
                list(self.directory.features),
                self._async_state_changed,
            )
        self._async_record()

    @callback
    def _async_state_changed(self, event: Event[EventStateChangedData]) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        if (old and old.state) != (new and new.state):
            self._async_record()

    @callback
    def _async_record(self) -> None:
        counts: Counter[tuple[str, ...]] = Counter()
        states = self.coordinator.hass.states
        for entity_id, feature in self.directory.features.items():
            state = states.get(entity_id)
            if state is not None and state.state in (STATE_ON, STATE_OFF):
                counts[(feature, state.state)] += 1
        self.coordinator.record_snapshot(FEATURES, dict(counts))

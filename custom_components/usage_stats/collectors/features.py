"""Feature flags: how many printer feature entities are on and off, per feature."""

from __future__ import annotations

from collections import Counter

from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import Event, EventStateChangedData, callback

from ..catalogue import FEATURES
from .directory import EntityWatcher


class FeatureCollector(EntityWatcher):
    """Keeps today's on/off counts per feature up to date."""

    @callback
    def async_directory_changed(self) -> None:
        """Watch the current feature entities and record a snapshot."""
        self._async_watch(self.directory.features)
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

"""Collectors: each watches one part of Home Assistant and records into the counters.

They are started only when consent allows recording; at `disabled` nothing is
attached at all. Every listener ends with the config entry.
"""

from __future__ import annotations

from datetime import datetime

from homeassistant.core import callback
from homeassistant.helpers.event import async_track_utc_time_change

from ..const import ConsentLevel
from ..coordinator import UsageStatsCoordinator
from .directory import PrinterDirectory
from .errors import async_setup_error_collector
from .features import FeatureCollector
from .fleet import FleetCollector
from .jobs import JobCollector
from .starts import async_setup_start_collector


def async_setup_collectors(coordinator: UsageStatsCoordinator) -> None:
    """Start every collector the consent level allows."""
    if not coordinator.level.allows(ConsentLevel.LOCAL):
        return
    directory = PrinterDirectory(coordinator)
    for collector in (
        FleetCollector(coordinator, directory),
        FeatureCollector(coordinator, directory),
        JobCollector(coordinator, directory),
    ):
        directory.subscribe(collector.async_directory_changed)
    async_setup_error_collector(coordinator)
    async_setup_start_collector(coordinator)
    directory.async_start()

    @callback
    def _new_day(_now: datetime) -> None:
        """Drop days past the retention and take the day's first snapshots."""
        coordinator.async_prune()
        directory.async_refresh()

    coordinator.config_entry.async_on_unload(
        async_track_utc_time_change(
            coordinator.hass, _new_day, hour=0, minute=0, second=5
        )
    )

"""Printer fleet: how many printers, of which types. Never a name, model or serial."""

from __future__ import annotations

from collections import Counter

from homeassistant.core import callback

from ..catalogue import PRINTERS, PRINTERS_BY_TYPE
from ..coordinator import UsageStatsCoordinator
from .directory import PrinterDirectory


class FleetCollector:
    """Records today's fleet snapshot whenever the directory changes."""

    def __init__(
        self, coordinator: UsageStatsCoordinator, directory: PrinterDirectory
    ) -> None:
        """Initialize the collector."""
        self.coordinator = coordinator
        self.directory = directory

    @callback
    def async_directory_changed(self) -> None:
        """Record the number of printers and of each type."""
        printers = self.directory.printers
        by_type = Counter(printer.integration.printer_type for printer in printers)
        self.coordinator.record_snapshot(PRINTERS, {(): len(printers)})
        self.coordinator.record_snapshot(
            PRINTERS_BY_TYPE, {(kind,): count for kind, count in by_type.items()}
        )

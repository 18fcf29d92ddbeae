"""Printer fleet: how many printers, of which types, integration versions and models.

Never a name or serial; a model and firmware only where the integration reads them
from the printer itself.
"""

from __future__ import annotations

from collections import Counter

from homeassistant.core import callback

from ..catalogue import PRINTER_INTEGRATIONS, PRINTER_MODELS, PRINTERS, PRINTERS_BY_TYPE
from ..const import UNKNOWN
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
        versions = self.directory.versions
        self.coordinator.record_snapshot(
            PRINTER_INTEGRATIONS,
            dict(
                Counter(
                    (domain, printer.integration.printer_type, versions[domain])
                    for printer in printers
                    if (domain := printer.integration.domain) in versions
                )
            ),
        )
        self.coordinator.record_snapshot(
            PRINTER_MODELS,
            dict(
                Counter(
                    (
                        printer.integration.printer_type,
                        printer.model or UNKNOWN,
                        printer.firmware or UNKNOWN,
                    )
                    for printer in printers
                    if printer.model or printer.firmware
                )
            ),
        )

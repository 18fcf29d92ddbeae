"""Print jobs and connectivity, read from the printers' status entities.

Counts jobs started, completed, failed and cancelled per printer type, the
durations of completed jobs in fixed ranges, printers going offline and coming
back, and printers entering an error state. A job's start time is kept in memory
only, as a monotonic clock reading, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
import time

from homeassistant.core import Event, EventStateChangedData, callback

from ..catalogue import (
    ERRORS,
    EVENT_PRINTER_ERROR,
    EVENT_PRINTER_OFFLINE,
    EVENT_PRINTER_ONLINE,
    EVENTS,
    JOB_DURATION,
    JOBS,
    duration_bucket,
)
from ..coordinator import UsageStatsCoordinator
from ..printers import PrinterIntegration, PrinterState
from .directory import EntityWatcher, PrinterDirectory

ACTIVE = frozenset({PrinterState.PRINTING, PrinterState.PAUSED})
ENDINGS = {
    PrinterState.FINISHED: "completed",
    PrinterState.IDLE: "completed",  # OctoPrint and Dremel go straight back to idle.
    PrinterState.CANCELLED: "cancelled",
    PrinterState.FAILED: "failed",
    PrinterState.ERROR: "failed",
}


@dataclass(slots=True)
class _Tracked:
    integration: PrinterIntegration
    state: PrinterState | None = None
    in_job: bool = False
    job_started: float | None = None  # None: the job began before we watched.


class JobCollector(EntityWatcher):
    """Follows each printer's status entity through its states."""

    def __init__(
        self, coordinator: UsageStatsCoordinator, directory: PrinterDirectory
    ) -> None:
        """Initialize the collector."""
        super().__init__(coordinator, directory)
        self._tracked: dict[str, _Tracked] = {}

    @callback
    def async_directory_changed(self) -> None:
        """Watch the current status entities, keeping what is known of each."""
        states = self.coordinator.hass.states
        tracked: dict[str, _Tracked] = {}
        for printer in self.directory.printers:
            if (entity_id := printer.status_entity_id) is None:
                continue
            if (known := self._tracked.get(entity_id)) is None:
                known = _Tracked(printer.integration)
                if state := states.get(entity_id):
                    known.state = printer.integration.meaning(state.state)
                    known.in_job = known.state in ACTIVE
            tracked[entity_id] = known
        self._tracked = tracked
        self._async_watch(tracked)

    @callback
    def _async_state_changed(self, event: Event[EventStateChangedData]) -> None:
        tracked = self._tracked.get(event.data["entity_id"])
        new_state = event.data["new_state"]
        if tracked is None or new_state is None:
            return
        new = tracked.integration.meaning(new_state.state)
        if new is None or new == tracked.state:
            return
        old, tracked.state = tracked.state, new
        printer_type = tracked.integration.printer_type
        record = self.coordinator.record

        if new is PrinterState.OFFLINE:
            if old is not None:
                record(EVENTS, EVENT_PRINTER_OFFLINE)
            return  # A job survives a short loss of connection.
        if old is PrinterState.OFFLINE:
            record(EVENTS, EVENT_PRINTER_ONLINE)
        if new is PrinterState.ERROR:
            record(ERRORS, printer_type, EVENT_PRINTER_ERROR)

        if new is PrinterState.PRINTING and not tracked.in_job:
            record(JOBS, "started", printer_type)
            tracked.in_job, tracked.job_started = True, time.monotonic()
        elif new in ENDINGS and tracked.in_job:
            # Back to idle straight from a job means it finished; after a loss of
            # connection it says nothing about how the job ended.
            if not (new is PrinterState.IDLE and old is PrinterState.OFFLINE):
                outcome = ENDINGS[new]
                record(JOBS, outcome, printer_type)
                if outcome == "completed" and tracked.job_started is not None:
                    seconds = time.monotonic() - tracked.job_started
                    record(JOB_DURATION, duration_bucket(seconds))
            tracked.in_job, tracked.job_started = False, None

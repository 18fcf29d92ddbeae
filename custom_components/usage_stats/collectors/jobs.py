"""Print jobs and connectivity, read from the printers' status and progress entities.

Every job counted as `started` ends in exactly one outcome, per printer type:

- `completed`: a finished state, or back to idle with the job progress entity at
  or near 100 %;
- `cancelled`: a cancelled state or the integration's cancel event, or back to
  idle straight from the job with the progress below that;
- `failed`: a failed or error state, or the printer's host stopped with a fault
  during the job (Klipper's emergency stop or error);
- `interrupted`: how the job ended cannot be seen: the printer was unreachable
  (or Home Assistant was not running) when it ended and came back idle, or it
  went back to idle and the integration shows no progress, or (an integration
  that shows every end of a job as its own state) went back to idle without one.

A printer that comes back from unreachable in a running state has not shown that
its job goes on until it stays so for `SETTLE_SECONDS`: some integrations write
their last values again when they reconnect, before the fresh ones.
An integration that keeps the end of the last job as its status counts a change
from one end to another as a job that began and ended between two polls.

So `started` = the sum of the outcomes + the jobs still running. The number of
running jobs per printer type is kept in the store (`open_jobs`): a job running
across a restart or a reload is counted once and still gets its outcome; a job
seen already printing when watching starts (and not known as running) counts as
started then. An ending waits `SETTLE_SECONDS` for the other entities of the same
update (progress, cancel event) before it is decided.

Durations are counted for completed jobs whose start was seen, in fixed ranges.
A job's start time is kept in memory only, as a monotonic clock reading, never
stored. Also counted: printers going offline and coming back, and printers
entering an error state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
import time
from typing import Final

from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, callback
from homeassistant.helpers.event import async_call_later

from ..catalogue import (
    ERRORS,
    EVENT_PRINTER_ERROR,
    EVENT_PRINTER_OFFLINE,
    EVENT_PRINTER_ONLINE,
    EVENTS,
    JOB_DURATION,
    JOBS,
    JOBS_BY_MODEL,
    duration_bucket,
)
from ..coordinator import UsageStatsCoordinator
from ..printers import NEAR_COMPLETE, PrinterState
from .directory import EntityWatcher, Printer, PrinterDirectory

SETTLE_SECONDS: Final = 2.0
ACTIVE: Final = frozenset({PrinterState.PRINTING, PrinterState.PAUSED})
ENDINGS: Final = frozenset(
    {
        PrinterState.FINISHED,
        PrinterState.CANCELLED,
        PrinterState.FAILED,
        PrinterState.ERROR,
        PrinterState.IDLE,
    }
)
COMPLETED: Final = "completed"
CANCELLED: Final = "cancelled"
FAILED: Final = "failed"
INTERRUPTED: Final = "interrupted"
STARTED: Final = "started"
# The ends of a job an `ends_kept` integration keeps as its status, and their outcome.
KEPT_ENDS: Final = {
    PrinterState.FINISHED: COMPLETED,
    PrinterState.CANCELLED: CANCELLED,
    PrinterState.FAILED: FAILED,
    PrinterState.ERROR: FAILED,
}


def _percent(state: str | None) -> float | None:
    """Return a progress state as a number, None when it has no value."""
    try:
        return float(state) if state is not None else None
    except ValueError:
        return None


@dataclass(slots=True)
class _Tracked:
    """What is known of one printer while it is watched."""

    printer: Printer
    state: PrinterState | None = None
    # A state other than offline was seen since watching began.
    known: bool = False
    in_job: bool = False
    job_started: float | None = None  # None: the job's start was not seen.
    # The printer was unreachable since the job was last seen running.
    lost: bool = False
    progress: float | None = None  # The last progress of the job, in percent.
    cancel_seen: bool = False
    # The printer's host stopped with a fault during the job.
    fault_seen: bool = False
    # The end of the last job the status keeps (integrations with `ends_kept`).
    shown_end: PrinterState | None = None
    ending: PrinterState | None = None  # An ending waiting to settle.
    unsub_settle: CALLBACK_TYPE | None = None
    # Back from unreachable in a running state: waiting to see the job go on.
    unsub_reconnect: CALLBACK_TYPE | None = None

    @property
    def printer_type(self) -> str:
        return self.printer.integration.printer_type


class JobCollector(EntityWatcher):
    """Follows each printer's status and progress entities through their states."""

    def __init__(
        self, coordinator: UsageStatsCoordinator, directory: PrinterDirectory
    ) -> None:
        """Initialize the collector."""
        super().__init__(coordinator, directory)
        self._tracked: dict[str, _Tracked] = {}  # by status entity id
        self._by_progress: dict[str, _Tracked] = {}
        self._by_host: dict[str, _Tracked] = {}
        self._by_device: dict[str, _Tracked] = {}
        # Jobs counted as running (stored) that no watched printer has claimed yet.
        self._unclaimed: dict[str, int] = dict(coordinator.stored["open_jobs"])
        self._unsub_events: list[CALLBACK_TYPE] = []
        coordinator.config_entry.async_on_unload(self._async_stop)

    @property
    def _open(self) -> dict[str, int]:
        return self.coordinator.stored["open_jobs"]

    @callback
    def async_directory_changed(self) -> None:
        """Watch the current status entities, keeping what is known of each."""
        states = self.coordinator.hass.states
        printers = {
            printer.status_entity_id: printer
            for printer in self.directory.printers
            if printer.status_entity_id is not None
        }
        for entity_id in self._tracked.keys() - printers.keys():
            gone = self._tracked.pop(entity_id)
            self._decide(gone)
            if gone.in_job:  # Still running: the printer may come back (renamed).
                kind = gone.printer_type
                self._unclaimed[kind] = self._unclaimed.get(kind, 0) + 1
        tracked: dict[str, _Tracked] = {}
        for entity_id, printer in printers.items():
            if (known := self._tracked.get(entity_id)) is None:
                known = _Tracked(printer)
                if state := states.get(entity_id):
                    meaning = known.state = printer.integration.meaning(state.state)
                    if meaning is not None and meaning is not PrinterState.OFFLINE:
                        known.known = True
                        self._claim(known, meaning)
            known.printer = printer
            tracked[entity_id] = known
        self._tracked = tracked
        self._by_progress = {
            t.printer.progress_entity_id: t
            for t in tracked.values()
            if t.printer.progress_entity_id is not None
        }
        self._by_host = {
            t.printer.host_entity_id: t
            for t in tracked.values()
            if t.printer.host_entity_id is not None
        }
        self._by_device = {t.printer.device_id: t for t in tracked.values()}
        self._async_watch([*tracked, *self._by_progress, *self._by_host])
        self._listen_cancel_events()

    def _listen_cancel_events(self) -> None:
        for unsub in self._unsub_events:
            unsub()
        self._unsub_events = [
            self.coordinator.hass.bus.async_listen(event_type, self._async_event)
            for event_type in {
                t.printer.integration.cancel_event[0]
                for t in self._tracked.values()
                if t.printer.integration.cancel_event is not None
            }
        ]

    @callback
    def _async_stop(self) -> None:
        """Decide the endings still settling and stop listening (at unload)."""
        for tracked in self._tracked.values():
            self._decide(tracked)
            self._cancel_reconnect(tracked)
        for unsub in self._unsub_events:
            unsub()
        self._unsub_events = []

    @callback
    def _async_event(self, event: Event) -> None:
        """Note a cancel event of a watched printer during its job."""
        tracked = self._by_device.get(event.data.get("device_id", ""))
        if (
            tracked is not None
            and tracked.in_job
            and (cancel := tracked.printer.integration.cancel_event) is not None
            and (event.event_type, event.data.get("type")) == cancel
        ):
            tracked.cancel_seen = True

    @callback
    def _async_state_changed(self, event: Event[EventStateChangedData]) -> None:
        entity_id = event.data["entity_id"]
        if (progress := self._by_progress.get(entity_id)) is not None:
            self._progress_changed(progress, event.data)
        if (host := self._by_host.get(entity_id)) is not None:
            self._host_changed(host, event.data)
        tracked = self._tracked.get(entity_id)
        new_state = event.data["new_state"]
        if tracked is None or new_state is None:
            return
        new = tracked.printer.integration.meaning(new_state.state)
        if new is None or new == tracked.state:
            return
        self._decide(tracked)  # An ending still settling ends before what follows.
        self._cancel_reconnect(tracked)
        old, tracked.state = tracked.state, new
        record = self.coordinator.record

        if new is PrinterState.OFFLINE:
            if tracked.known:
                record(EVENTS, EVENT_PRINTER_OFFLINE)
            tracked.lost = tracked.in_job
            return  # A job survives a loss of connection.
        if old is PrinterState.OFFLINE and tracked.known:
            record(EVENTS, EVENT_PRINTER_ONLINE)
        if new is PrinterState.ERROR:
            record(ERRORS, tracked.printer_type, EVENT_PRINTER_ERROR)
        if not tracked.known:
            tracked.known = True
            self._claim(tracked, new)
        else:
            self._step(tracked, new, start_seen=True)

    def _claim(self, tracked: _Tracked, state: PrinterState) -> None:
        """Take the first known state of a printer, and a job running before, if any.

        A job stored as running continues when the printer is active, and ends
        (how, the state tells) when it is not; its start was not seen.
        """
        kind = tracked.printer_type
        if self._unclaimed.get(kind, 0) > 0 and (state in ACTIVE or state in ENDINGS):
            self._unclaimed[kind] -= 1
            tracked.in_job, tracked.job_started = True, None
            tracked.progress, tracked.cancel_seen = None, False
            tracked.lost = state not in ACTIVE
        self._step(tracked, state, start_seen=False)

    def _step(
        self, tracked: _Tracked, state: PrinterState, *, start_seen: bool
    ) -> None:
        if state in ACTIVE:
            if not tracked.in_job:
                self._start(tracked, start_seen=start_seen)
            elif tracked.lost:
                # Maybe only the last values, written again on reconnecting.
                tracked.unsub_reconnect = async_call_later(
                    self.coordinator.hass,
                    SETTLE_SECONDS,
                    partial(self._reconnected, tracked),
                )
        elif tracked.in_job and state in ENDINGS:
            tracked.ending = state
            tracked.unsub_settle = async_call_later(
                self.coordinator.hass, SETTLE_SECONDS, partial(self._settled, tracked)
            )
        elif (
            start_seen
            and state in KEPT_ENDS
            and state != tracked.shown_end
            and tracked.printer.integration.ends_kept
        ):
            self._short_job(tracked, state)
        if tracked.printer.integration.ends_kept:
            tracked.shown_end = state if state in KEPT_ENDS else None

    def _count(self, tracked: _Tracked, outcome: str) -> bool:
        """Count a job's outcome for its printer type, and its model when known."""
        if not self.coordinator.record(JOBS, outcome, tracked.printer_type):
            return False
        if (model := tracked.printer.model) is not None:
            self.coordinator.record(JOBS_BY_MODEL, outcome, tracked.printer_type, model)
        return True

    def _short_job(self, tracked: _Tracked, end: PrinterState) -> None:
        """Count a job that began and ended between two polls (its length unknown)."""
        if self._count(tracked, STARTED):
            self._count(tracked, KEPT_ENDS[end])

    @callback
    def _reconnected(self, tracked: _Tracked, _now: datetime) -> None:
        """Still running a while after reconnecting: the job goes on."""
        tracked.unsub_reconnect = None
        tracked.lost = False

    @callback
    def _cancel_reconnect(self, tracked: _Tracked) -> None:
        if tracked.unsub_reconnect is not None:
            tracked.unsub_reconnect()
            tracked.unsub_reconnect = None

    def _host_changed(self, tracked: _Tracked, data: EventStateChangedData) -> None:
        """Note the printer's host stopping with a fault (counted as a printer error)."""
        faults = tracked.printer.integration.host_fault_states
        new, old = data["new_state"], data["old_state"]
        if new is None or new.state.lower() not in faults:
            return
        if old is not None and old.state.lower() in faults:
            return
        self.coordinator.record(ERRORS, tracked.printer_type, EVENT_PRINTER_ERROR)
        if tracked.in_job:
            tracked.fault_seen = True

    def _start(self, tracked: _Tracked, *, start_seen: bool) -> None:
        if self._count(tracked, STARTED):
            self._open[tracked.printer_type] = (
                self._open.get(tracked.printer_type, 0) + 1
            )
        tracked.in_job = True
        tracked.job_started = time.monotonic() if start_seen else None
        tracked.progress, tracked.cancel_seen, tracked.lost = None, False, False
        tracked.fault_seen = False

    def _progress_changed(self, tracked: _Tracked, data: EventStateChangedData) -> None:
        new = _percent(data["new_state"].state if data["new_state"] else None)
        if new is None:
            return
        polled = tracked.printer.integration.progress_kept_while_idle
        if tracked.in_job:
            if (
                polled
                and tracked.ending is None
                and tracked.state in ACTIVE
                and tracked.progress is not None
                and tracked.progress >= NEAR_COMPLETE > new
            ):
                # Still printing, but the progress fell from 100 %: the job completed
                # and the next one began between two polls.
                tracked.ending = PrinterState.FINISHED
                self._decide(tracked)
                self._start(tracked, start_seen=True)
            tracked.progress = new
            return
        old = _percent(data["old_state"].state if data["old_state"] else None)
        if (
            polled
            and tracked.state is PrinterState.IDLE
            and old is not None
            and old < NEAR_COMPLETE <= new
            # A job began and ended between two polls: only its end shows.
            and self._count(tracked, STARTED)
        ):
            self._count(tracked, COMPLETED)

    def _current_progress(self, tracked: _Tracked) -> float | None:
        if (entity_id := tracked.printer.progress_entity_id) is None:
            return None
        state = self.coordinator.hass.states.get(entity_id)
        return _percent(state.state if state else None)

    def _outcome(self, tracked: _Tracked, ending: PrinterState) -> str:
        if tracked.cancel_seen:
            return CANCELLED
        if tracked.fault_seen:
            return FAILED
        if ending is PrinterState.FINISHED:
            return COMPLETED
        if ending is PrinterState.CANCELLED:
            return CANCELLED
        if ending is not PrinterState.IDLE:
            return FAILED
        # Back to idle: only the progress tells how the job ended: the last value
        # seen during the job, or (not seen since watching began) the current one.
        progress = tracked.progress
        if progress is None:
            progress = self._current_progress(tracked)
        if progress is not None and progress >= NEAR_COMPLETE:
            return COMPLETED
        if tracked.lost or progress is None or tracked.printer.integration.ends_kept:
            return INTERRUPTED
        return CANCELLED

    @callback
    def _settled(self, tracked: _Tracked, _now: datetime) -> None:
        tracked.unsub_settle = None
        self._decide(tracked)

    @callback
    def _decide(self, tracked: _Tracked) -> None:
        """Record the outcome of a job whose ending was settling."""
        if (ending := tracked.ending) is None:
            return
        if tracked.unsub_settle is not None:
            tracked.unsub_settle()
            tracked.unsub_settle = None
        tracked.ending = None
        outcome = self._outcome(tracked, ending)
        kind = tracked.printer_type
        record = self.coordinator.record
        # Only a job known as running gets an outcome (not one whose start was
        # erased by `usage_stats.delete`).
        if self._open.get(kind, 0) > 0 and self._count(tracked, outcome):
            self._open[kind] -= 1
            if outcome == COMPLETED and tracked.job_started is not None:
                seconds = time.monotonic() - tracked.job_started
                record(JOB_DURATION, duration_bucket(seconds))
        tracked.in_job, tracked.job_started = False, None

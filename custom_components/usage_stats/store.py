"""Persistent local storage of the consent record, the daily counters and submissions.

Version 1.1 held `consent`, `installation_id` and `days`; 1.2 writes the daily
counters compact on disk: each distinct metric and label key once in a key
table, and each day as a string of comma-separated key index and count pairs (in memory they
stay nested dicts); 1.3 adds `submission`; 1.4 adds the `archive` of accepted reports;
1.5 adds the accepted (and declined) report version to the consent record; 1.6 adds
`open_jobs`; 1.7 moves the weekly schedule into the submission window.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any, Literal, TypedDict

from homeassistant import exceptions as ha_exceptions
from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import STORAGE_KEY, STORAGE_MINOR_VERSION, STORAGE_VERSION
from .schedule import SUBMISSION_WINDOW, week_slot


class OutboxEntry(TypedDict):
    """A message waiting for the endpoint to accept it."""

    kind: Literal["report", "deletion"]
    # The report's submission_id or the deletion's request_id: unchanged across retries.
    id: str
    # The JSON body exactly as it is sent (a report in JSON form even for OTLP).
    body: dict[str, Any]
    # Deletion requests go to the endpoint that received the data; reports to the
    # endpoint in force when they are sent (None).
    endpoint: str | None
    queued_at: str
    attempts: int
    next_attempt: str | None
    # True for reports queued by the weekly schedule, False for `usage_stats.submit`.
    weekly: bool


class HistoryEntry(TypedDict):
    """What became of a message (never its content)."""

    kind: Literal["report", "deletion"]
    id: str
    period_start: str | None
    period_end: str | None
    queued_at: str
    finished_at: str
    outcome: Literal["accepted", "rejected", "withdrawn", "expired"]
    status_code: int | None
    attempts: int


class ArchiveEntry(TypedDict):
    """A report the endpoint accepted, exactly as it was sent."""

    id: str
    period_start: str
    period_end: str
    accepted_at: str
    # The wire format the body was sent in ("json" or "otlp").
    format: str
    body: dict[str, Any]


class Baseline(TypedDict):
    """The grant day's counters at the moment `share` was granted; never sent."""

    day: str
    metrics: dict[str, dict[str, int]]


class SubmissionData(TypedDict):
    """The submission state (storage version 1.2)."""

    outbox: list[OutboxEntry]
    history: list[HistoryEntry]
    # {"second": s}: the second of the weekly submission window (from Monday 00:00 UTC),
    # picked once at random (storage 1.7; before, {"weekday", "second"} of the whole week).
    schedule: dict[str, int] | None
    next_run: str | None
    last_success: str | None
    last_request: str | None
    # The last day covered by a report that was queued; the next report starts after it.
    submitted_through: str | None
    # The submission_id the next report will carry, so a preview shows it exactly.
    next_submission_id: str | None
    baseline: Baseline | None
    # Endpoints that may hold reports of the current installation id.
    sent_to: list[str]
    # The status code of the last refused message, until the next success.
    rejected_status: int | None
    # The last accepted reports, oldest first, exactly as sent (storage 1.4).
    archive: list[ArchiveEntry]


class StoredData(TypedDict):
    """What the store file holds (the `data` of version 1)."""

    consent: dict[str, Any]
    installation_id: str | None
    # {"YYYY-MM-DD": {metric: {label: count}}}, UTC days.
    days: dict[str, dict[str, dict[str, int]]]
    submission: SubmissionData
    # Print jobs counted as started that have no outcome yet, per printer type
    # (never a printer, an entity or a time), so a job running across a restart
    # is not counted twice and still gets its outcome.
    open_jobs: dict[str, int]


def empty_submission() -> SubmissionData:
    """Return the submission state of an installation that never submitted."""
    return {
        "outbox": [],
        "history": [],
        "schedule": None,
        "next_run": None,
        "last_success": None,
        "last_request": None,
        "submitted_through": None,
        "next_submission_id": None,
        "baseline": None,
        "sent_to": [],
        "rejected_status": None,
        "archive": [],
    }


# Separates the metric from the label key in the on-disk key table.
KEY_SEPARATOR = "|"


def encode_days(days: dict[str, dict[str, dict[str, int]]]) -> dict[str, Any]:
    """Return the on-disk form of the daily counters."""
    index: dict[str, int] = {}
    counts: dict[str, str] = {}
    for day in sorted(days):
        flat: list[int] = []
        for metric, labels in days[day].items():
            if not labels:  # An empty snapshot: the metric alone, counting 0.
                flat += (index.setdefault(metric, len(index)), 0)
            for label, count in labels.items():
                key = f"{metric}{KEY_SEPARATOR}{label}"
                flat += (index.setdefault(key, len(index)), count)
        # One string a day: Home Assistant writes its store files indented, which
        # would put every number of a list on a line of its own.
        counts[day] = ",".join(map(str, flat))
    return {"keys": list(index), "counts": counts}


def decode_days(encoded: dict[str, Any]) -> dict[str, dict[str, dict[str, int]]]:
    """Return the daily counters from their on-disk form."""
    keys = [key.partition(KEY_SEPARATOR) for key in encoded["keys"]]
    days: dict[str, dict[str, dict[str, int]]] = {}
    for day, text in encoded["counts"].items():
        flat = [int(number) for number in text.split(",")] if text else []
        metrics = days[day] = {}
        for position in range(0, len(flat), 2):
            metric, separator, label = keys[flat[position]]
            labels = metrics.setdefault(metric, {})
            if separator:
                labels[label] = flat[position + 1]
    return days


def snapshot(data: StoredData) -> dict[str, Any]:
    """Return a copy of the stored data in its on-disk form.

    Taken on the event loop: the store serializes it in a worker thread, which
    must never read the live data while the loop changes it.
    """
    return {
        **copy.deepcopy({key: value for key, value in data.items() if key != "days"}),
        "days": encode_days(data["days"]),
    }


def from_disk(data: dict[str, Any]) -> StoredData:
    """Return the stored data from its on-disk form."""
    return {**data, "days": decode_days(data["days"])}  # type: ignore[typeddict-item]


class UnsupportedStorageVersionError(Exception):
    """The store was written by a newer version of the integration."""

    def __init__(self, found_version: int) -> None:
        """Initialize the error with the major version found in the file."""
        super().__init__(
            f"{STORAGE_KEY} was written by storage version {found_version}, "
            f"newer than {STORAGE_VERSION}.{STORAGE_MINOR_VERSION}"
        )


class _NeverRaisedError(Exception):
    """Stands in for an exception class that this Home Assistant release lacks."""


# Since 2026.3 Home Assistant's `Store` refuses a file of a newer major version itself,
# before our migration runs; 2025.4 has no such exception and calls the migration.
HA_UNSUPPORTED_STORAGE_VERSION: type[Exception] = getattr(
    ha_exceptions, "UnsupportedStorageVersionError", _NeverRaisedError
)


def empty_data() -> StoredData:
    """Return the data of a new installation."""
    return {
        "consent": {
            "level": "disabled",
            "changed_at": None,
            "share_granted_at": None,
            "report_version": None,
            "declined_version": None,
        },
        "installation_id": None,
        "days": {},
        "submission": empty_submission(),
        "open_jobs": {},
    }


# Every write is a snapshot taken on the event loop, safe to serialize in a worker thread.
# Home Assistant 2025.4 always serializes there; from 2026.2 only when the store says so.
THREAD_SAFE_DATA: dict[str, Any] = (
    {"serialize_in_event_loop": False}
    if "serialize_in_event_loop" in inspect.signature(Store.__init__).parameters
    else {}
)


class UsageStatsStore(Store[dict[str, Any]]):
    """The integration's store, file `.storage/usage_stats.data`, private to the owner.

    The key starts with the domain, so Home Assistant files a repair for a corrupt
    file under this integration.
    """

    def __init__(self, hass: HomeAssistant) -> None:
        """Initialize the store."""
        super().__init__(
            hass,
            STORAGE_VERSION,
            STORAGE_KEY,
            private=True,
            atomic_writes=True,
            minor_version=STORAGE_MINOR_VERSION,
            **THREAD_SAFE_DATA,
        )

    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: dict[str, Any]
    ) -> dict[str, Any]:
        """Migrate data written by another version of the integration.

        A newer major version is refused (the file is left untouched, so a
        downgrade loses nothing). 1.1 kept the daily counters as nested dicts on
        disk, 1.2 writes them compact; before 1.3 there was no `submission`, before
        1.4 no `archive` (reports accepted before it were not kept). Before 1.5 the
        consent record had no report version: every metric then was of report
        version 1, so an installation sharing then had accepted version 1. Before
        1.6 there were no `open_jobs` (no job known to be running). Before 1.7 the
        schedule was a weekday and a second of that day: it keeps its second, now of the
        submission window, and its next run becomes this week's slot of the window, which
        may have passed; the next look then queues the weeks not yet reported (none when
        they were), so no week is lost or sent twice.
        """
        if old_major_version > STORAGE_VERSION:
            raise UnsupportedStorageVersionError(old_major_version)
        data: dict[str, Any] = {**snapshot(empty_data()), **old_data}
        if old_minor_version < 2:
            data["days"] = encode_days(old_data.get("days", {}))
        data["submission"] = {**empty_submission(), **data["submission"]}
        if old_minor_version < 4:
            data["submission"]["archive"] = []
        if old_minor_version < 5:
            consent = data["consent"] = dict(data["consent"])
            sharing = consent.get("level") == "share"
            consent["report_version"] = 1 if sharing else None
            consent["declined_version"] = None
        if old_minor_version < 7 and (old := data["submission"]["schedule"]):
            schedule = data["submission"]["schedule"] = {
                "second": old["second"] % int(SUBMISSION_WINDOW.total_seconds())
            }
            data["submission"]["next_run"] = week_slot(
                schedule, dt_util.utcnow()
            ).isoformat()
        return data

    async def async_load_data(self) -> StoredData | None:
        """Load the stored data, migrating it when needed.

        A file of a newer major version raises our UnsupportedStorageVersionError on
        every release, whichever of Home Assistant and the migration refuses it.
        """
        try:
            data = await self.async_load()
        except HA_UNSUPPORTED_STORAGE_VERSION as err:
            raise UnsupportedStorageVersionError(
                getattr(err, "found_version", STORAGE_VERSION + 1)
            ) from err
        if data is None:
            return None
        return from_disk(data)

    async def async_save_data(self, data: StoredData) -> None:
        """Write a snapshot of the data now."""
        await self.async_save(snapshot(data))

    def async_save_data_soon(self, data: StoredData) -> None:
        """Write a snapshot of the data as soon as the store can (at stop, at the final write)."""
        saved = snapshot(data)
        self.async_delay_save(lambda: saved, 0)

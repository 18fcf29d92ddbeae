"""The persisted outbox: messages waiting for an endpoint, and their retry rules.

A message (a report or a deletion request) keeps its id and exact body across
retries. At most one request an hour; failed requests are retried with an
exponential backoff (or after the endpoint's Retry-After). What became of each
message is kept in the history (never its content). This module only changes
the stored state; sending is the transport's, deciding when is the submission's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import datetime, timedelta
import secrets
from typing import Any, Final, Literal
import uuid

from homeassistant.util import dt as dt_util

from .catalogue import Section
from .report import SCHEMA_VERSION, only_sections
from .store import ArchiveEntry, HistoryEntry, OutboxEntry, SubmissionData

# Never more than one request an hour; also the first retry delay.
MIN_REQUEST_INTERVAL: Final = timedelta(hours=1)
MAX_BACKOFF: Final = timedelta(days=1)
MAX_RETRY_AFTER: Final = timedelta(days=7)
# Jitter added to a backoff delay: up to this fraction of it.
JITTER: Final = 0.25
HISTORY_LENGTH: Final = 100
# Accepted reports kept, exactly as sent, for the user to read.
ARCHIVE_LENGTH: Final = 12

type Finished = Literal["accepted", "rejected", "withdrawn", "expired"]
# What the endpoint's answer means for a message: done, try again later, or dropped.
type Settled = Literal["accepted", "retry", "rejected"]


def retry_delay(
    attempts: int, retry_after: timedelta | None, *, jitter: float | None = None
) -> timedelta:
    """Return how long to wait after the `attempts`-th failed request.

    Exponential backoff from one hour with up to 25% jitter, at most a day; a
    Retry-After of the endpoint is honoured instead (capped at a week). Never less
    than an hour. `jitter` is the share of the largest jitter to add (0 to 1), drawn
    at random when None.
    """
    if retry_after is not None:
        return max(min(retry_after, MAX_RETRY_AFTER), MIN_REQUEST_INTERVAL)
    backoff: timedelta = min(
        MIN_REQUEST_INTERVAL * 2 ** max(attempts - 1, 0), MAX_BACKOFF
    )
    if jitter is None:
        jitter = secrets.randbelow(1001) / 1000
    return backoff + backoff * JITTER * jitter


def parse(value: str | None) -> datetime | None:
    """Return a stored time, None for none."""
    return dt_util.parse_datetime(value) if value else None


def iso(value: datetime) -> str:
    """Return a time in its stored form."""
    return value.isoformat()


class Outbox:
    """The outbox and history in the submission state (changed in place)."""

    def __init__(self, state: Callable[[], SubmissionData]) -> None:
        """Initialize over the submission state (looked up each time: a load replaces it)."""
        self._state = state

    @property
    def state(self) -> SubmissionData:
        """Return the submission state."""
        return self._state()

    @property
    def entries(self) -> list[OutboxEntry]:
        """Return the waiting messages, oldest first."""
        return self.state["outbox"]

    def reports(self) -> list[OutboxEntry]:
        """Return the waiting reports, oldest first."""
        return [entry for entry in self.entries if entry["kind"] == "report"]

    def weekly_runs_waited(self, now: datetime) -> int:
        """Return how many weekly runs the oldest waiting weekly report has seen; 0: none.

        Weekly runs are a week apart; the weeks a single run queued after Home
        Assistant was off for weeks count once, since none of them failed yet.
        """
        queued = (parse(e["queued_at"]) for e in self.reports() if e["weekly"])
        if (oldest := min((q for q in queued if q is not None), default=None)) is None:
            return 0
        return round((now - oldest) / timedelta(weeks=1)) + 1

    def queue_report(
        self, body: dict[str, Any], now: datetime, *, weekly: bool
    ) -> OutboxEntry:
        """Queue a report body; it goes to the endpoint in force when sent."""
        entry: OutboxEntry = {
            "kind": "report",
            "id": body["submission_id"],
            "body": body,
            "endpoint": None,
            "queued_at": iso(now),
            "attempts": 0,
            "next_attempt": None,
            "weekly": weekly,
        }
        self.entries.append(entry)
        return entry

    def queue_deletions(
        self, installation_id: str, endpoints: Iterable[str], now: datetime
    ) -> int:
        """Queue a deletion request of `installation_id` for each endpoint."""
        queued = 0
        for endpoint in endpoints:
            request_id = str(uuid.uuid4())
            self.entries.append(
                {
                    "kind": "deletion",
                    "id": request_id,
                    "body": {
                        "schema_version": SCHEMA_VERSION,
                        "request_id": request_id,
                        "installation_id": installation_id,
                    },
                    "endpoint": endpoint,
                    "queued_at": iso(now),
                    "attempts": 0,
                    "next_attempt": None,
                    "weekly": False,
                }
            )
            queued += 1
        return queued

    def restrict_reports(self, shared: Collection[Section]) -> None:
        """Take the sections the user no longer shares out of waiting reports."""
        for entry in self.reports():
            entry["body"] = only_sections(entry["body"], shared)

    def drop_reports(self) -> None:
        """Drop every waiting report without a trace (the statistics were deleted)."""
        self.entries[:] = [e for e in self.entries if e["kind"] == "deletion"]

    def withdraw_reports(self, now: datetime) -> None:
        """Take every waiting report out, noting them as withdrawn."""
        for entry in self.reports():
            self.finish(entry, now, "withdrawn", None)

    def expire(self, oldest_day: str, now: datetime) -> bool:
        """Drop reports whose period began before `oldest_day`; True if any."""
        expired = [
            entry
            for entry in self.reports()
            if entry["body"]["period"]["start"] < oldest_day
        ]
        for entry in expired:
            self.finish(entry, now, "expired", None)
        return bool(expired)

    def finish(
        self,
        entry: OutboxEntry,
        now: datetime,
        outcome: Finished,
        status_code: int | None,
    ) -> None:
        """Take a message out of the outbox and note what became of it."""
        if entry in self.entries:
            self.entries.remove(entry)
        period = entry["body"].get("period", {})
        record: HistoryEntry = {
            "kind": entry["kind"],
            "id": entry["id"],
            "period_start": period.get("start"),
            "period_end": period.get("end"),
            "queued_at": entry["queued_at"],
            "finished_at": iso(now),
            "outcome": outcome,
            "status_code": status_code,
            "attempts": entry["attempts"],
        }
        history = self.state["history"]
        history.append(record)
        del history[:-HISTORY_LENGTH]

    def archive(
        self,
        entry: OutboxEntry,
        sent: dict[str, Any],
        report_format: str,
        now: datetime,
    ) -> None:
        """Keep an accepted report exactly as it was sent; the last 12 only."""
        period = entry["body"]["period"]
        record: ArchiveEntry = {
            "id": entry["id"],
            "period_start": period["start"],
            "period_end": period["end"],
            "accepted_at": iso(now),
            "format": report_format,
            "body": sent,
        }
        archive = self.state["archive"]
        archive.append(record)
        del archive[:-ARCHIVE_LENGTH]

    # Retry rules

    def earliest_request(self) -> datetime | None:
        """Return when the next request may go, by the hourly limit."""
        last = parse(self.state["last_request"])
        return last + MIN_REQUEST_INTERVAL if last else None

    def sendable(self, sharing: bool) -> OutboxEntry | None:
        """Return the first message that may be sent; deletions at any consent."""
        for entry in self.entries:
            if entry["kind"] == "deletion" or sharing:
                return entry
        return None

    def due(self, entry: OutboxEntry, now: datetime) -> bool:
        """Return True when `entry` may be sent at `now`.

        A deletion request is the user's right: its first attempt does not wait
        for the hourly limit (its retries do).
        """
        first_deletion = entry["kind"] == "deletion" and not entry["attempts"]
        times = (
            parse(entry["next_attempt"]),
            None if first_deletion else self.earliest_request(),
        )
        return all(t is None or now >= t for t in times)

    def planned(self, entry: OutboxEntry) -> datetime:
        """Return when `entry` is planned to be sent."""
        times = [
            parse(entry["queued_at"]),
            parse(entry["next_attempt"]),
            self.earliest_request(),
        ]
        return max(t for t in times if t is not None)

    def attempt(self, entry: OutboxEntry, now: datetime) -> None:
        """Note a request for `entry` at `now`, before it is made."""
        entry["attempts"] += 1
        self.state["last_request"] = iso(now)

    def settle(
        self,
        entry: OutboxEntry,
        now: datetime,
        outcome: Settled,
        status_code: int | None,
        retry_after: timedelta | None = None,
    ) -> None:
        """Follow the endpoint's answer: done, retried later, or dropped."""
        if outcome == "accepted":
            self.finish(entry, now, "accepted", status_code)
            self.state["last_success"] = iso(now)
            self.state["rejected_status"] = None
        elif outcome == "retry":
            if entry in self.entries:
                delay = retry_delay(entry["attempts"], retry_after)
                entry["next_attempt"] = iso(now + delay)
        else:
            self.finish(entry, now, "rejected", status_code)
            self.state["rejected_status"] = status_code or 0

"""The outbox, the weekly schedule and the retries: how reports leave the machine.

Reports are built from the counters when they are queued, kept with their
`submission_id` in the persisted outbox, and sent one request at a time, at most
one an hour, until the endpoint accepts them. Nothing is sent below `share`,
except deletion requests, which are the user's right.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
import platform
import secrets
from typing import TYPE_CHECKING, Any, Final, Literal
import uuid

from homeassistant.const import __version__ as ha_version
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.system_info import async_get_system_info
from homeassistant.util import dt as dt_util

from .catalogue import METRICS, MetricKind
from .consent import new_installation_id
from .const import (
    CONF_ENDPOINT,
    CONF_FORMAT,
    DEFAULT_FORMAT,
    DOMAIN,
    EVENT_SUBMITTED,
    LOGGER,
    ConsentLevel,
    ReportFormat,
)
from .counters import utc_today
from .otlp import to_otlp
from .report import (
    PLACEHOLDER_ID,
    SCHEMA_VERSION,
    Period,
    build_report,
    period_days,
    serialize,
    week_start,
)
from .store import HistoryEntry, OutboxEntry, SubmissionData
from .transport import (
    DELETION_PATH,
    METRICS_PATH,
    REPORTS_PATH,
    Answer,
    InsecureEndpointError,
    Outcome,
    async_post,
)

if TYPE_CHECKING:
    from .coordinator import UsageStatsCoordinator

# How often the schedule and the outbox are looked at.
TICK_INTERVAL: Final = timedelta(minutes=1)
# Never more than one request an hour; also the first retry delay.
MIN_REQUEST_INTERVAL: Final = timedelta(hours=1)
MAX_BACKOFF: Final = timedelta(days=1)
MAX_RETRY_AFTER: Final = timedelta(days=7)
# Jitter added to a backoff delay: up to this fraction of it.
JITTER: Final = 0.25
HISTORY_LENGTH: Final = 100
# Weekly reports waiting in a row before a repair issue is raised.
UNDELIVERED_WEEKS: Final = 3

ISSUE_REPORT_REJECTED: Final = "report_rejected"
ISSUE_DELETION_REJECTED: Final = "deletion_rejected"
ISSUE_UNDELIVERED: Final = "reports_undelivered"
ISSUES: Final = (ISSUE_REPORT_REJECTED, ISSUE_DELETION_REJECTED, ISSUE_UNDELIVERED)

INSTALLATION_TYPES: Final = frozenset(
    {
        "Home Assistant OS",
        "Home Assistant Container",
        "Home Assistant Supervised",
        "Home Assistant Core",
        "Unsupported Third Party Container",
    }
)

type Status = Literal["disabled", "idle", "pending", "retrying", "failed"]
STATUSES: Final[tuple[Status, ...]] = (
    "disabled",
    "idle",
    "pending",
    "retrying",
    "failed",
)


def retry_delay(attempts: int, retry_after: timedelta | None) -> timedelta:
    """Return how long to wait after the `attempts`-th failed request.

    Exponential backoff from one hour with up to 25% jitter, at most a day; a
    Retry-After of the endpoint is honoured instead (capped at a week). Never less
    than an hour.
    """
    if retry_after is not None:
        return max(min(retry_after, MAX_RETRY_AFTER), MIN_REQUEST_INTERVAL)
    backoff: timedelta = min(
        MIN_REQUEST_INTERVAL * 2 ** max(attempts - 1, 0), MAX_BACKOFF
    )
    jitter = backoff * JITTER * secrets.randbelow(1001) / 1000
    return backoff + jitter


def next_occurrence(schedule: dict[str, int], after: datetime) -> datetime:
    """Return the first moment of the weekly `schedule` later than `after` (UTC)."""
    after = dt_util.as_utc(after)
    midnight = datetime.combine(after.date(), time.min, UTC)
    days = (schedule["weekday"] - after.weekday()) % 7
    candidate = midnight + timedelta(days=days, seconds=schedule["second"])
    if candidate <= after:
        candidate += timedelta(weeks=1)
    return candidate


def _parse(value: str | None) -> datetime | None:
    return dt_util.parse_datetime(value) if value else None


def _iso(value: datetime) -> str:
    return value.isoformat()


class Submission:
    """Owns the submission state in the store: outbox, history and schedule."""

    def __init__(self, hass: HomeAssistant, coordinator: UsageStatsCoordinator) -> None:
        """Initialize; the state itself lives in the coordinator's store."""
        self.hass = hass
        self.coordinator = coordinator
        self.installation_type = "Unknown"
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._tick_failed = False

    @property
    def state(self) -> SubmissionData:
        """Return the submission state (changed in place)."""
        return self.coordinator.stored["submission"]

    @property
    def sharing(self) -> bool:
        """Return True when reports may be sent."""
        return self.coordinator.level is ConsentLevel.SHARE and bool(self.endpoint)

    @property
    def endpoint(self) -> str | None:
        """Return the endpoint the user chose."""
        endpoint: str | None = self.coordinator.config_entry.options.get(CONF_ENDPOINT)
        return endpoint

    @property
    def report_format(self) -> ReportFormat:
        """Return the wire format of reports."""
        return ReportFormat(
            self.coordinator.config_entry.options.get(CONF_FORMAT, DEFAULT_FORMAT)
        )

    async def async_start(self) -> None:
        """Pick the schedule if needed and start looking at it every minute."""
        try:
            info = await async_get_system_info(self.hass)
        except Exception:  # noqa: BLE001 - statistics never break Home Assistant
            info = {}
        if (kind := info.get("installation_type")) in INSTALLATION_TYPES:
            self.installation_type = kind
        if self.state["next_run"] is None:
            self.state["next_run"] = _iso(
                next_occurrence(self._schedule(), dt_util.utcnow())
            )
        self.coordinator.async_schedule_save()
        entry = self.coordinator.config_entry
        entry.async_on_unload(
            async_track_time_interval(
                self.hass, self._tick, TICK_INTERVAL, name=f"{DOMAIN} submission"
            )
        )

    def _schedule(self) -> dict[str, int]:
        """Return this installation's weekly time, picked at random the first time."""
        if (schedule := self.state["schedule"]) is None:
            schedule = self.state["schedule"] = {
                "weekday": secrets.randbelow(7),
                "second": secrets.randbelow(24 * 3600),
            }
        return schedule

    # Consent

    @callback
    def consent_changed(self, level: ConsentLevel) -> None:
        """Follow a new consent level (called by the coordinator when it changes).

        Granting `share` stores the grant day's counters so far as a baseline that
        is never sent; lowering it withdraws every waiting report at once.
        """
        if level is ConsentLevel.SHARE:
            today = self.coordinator.counters.today()
            metrics = self.coordinator.stored["days"].get(today, {})
            self.state["baseline"] = {
                "day": today,
                "metrics": {
                    name: dict(labels)
                    for name, labels in metrics.items()
                    if (metric := METRICS.get(name)) is not None
                    and metric.kind is not MetricKind.SNAPSHOT
                },
            }
            return
        self.state["baseline"] = None
        now = dt_util.utcnow()
        for entry in [e for e in self.state["outbox"] if e["kind"] == "report"]:
            self._finish(entry, now, "withdrawn", None)
        for issue in ISSUES:
            ir.async_delete_issue(self.hass, DOMAIN, issue)

    # Reports

    def installation(self) -> dict[str, str]:
        """Return the report's `installation` section."""
        info = {
            "integration_version": self.coordinator.integration_version,
            "ha_version": ha_version,
            "python_version": platform.python_version(),
            "installation_type": self.installation_type,
        }
        if country := self.hass.config.country:
            info["country_code"] = country
        return info

    def _oldest_kept_day(self) -> date:
        return utc_today() - timedelta(days=self.coordinator.retention_days - 1)

    def pending_first_day(self) -> date | None:
        """Return the first day not yet reported that may be sent, None below share."""
        granted = self.coordinator.consent.share_granted_at
        if granted is None:
            return None
        grant_day = dt_util.as_utc(granted).date()
        baseline = self.state["baseline"]
        # Without a baseline (data from before it existed) the grant day is skipped.
        first = grant_day
        if baseline is None or baseline["day"] != grant_day.isoformat():
            first += timedelta(days=1)
        if through := self.state["submitted_through"]:
            first = max(first, date.fromisoformat(through) + timedelta(days=1))
        return max(first, self._oldest_kept_day())

    def _next_submission_id(self) -> str:
        if (submission_id := self.state["next_submission_id"]) is None:
            submission_id = self.state["next_submission_id"] = str(uuid.uuid4())
            self.coordinator.async_schedule_save()
        return submission_id

    def _build(self, period: Period, installation_id: str) -> dict[str, Any]:
        return build_report(
            period_days(self.coordinator.counters, period, self.state["baseline"]),
            period,
            submission_id=self._next_submission_id(),
            installation_id=installation_id,
            installation=self.installation(),
        )

    def _queue_report(self, last: date, *, weekly: bool) -> OutboxEntry | None:
        """Queue the report of the days not yet reported up to `last`, if any."""
        first = self.pending_first_day()
        installation_id = self.coordinator.installation_id
        if first is None or installation_id is None or first > last:
            return None
        body = self._build(Period(first, last), installation_id)
        entry: OutboxEntry = {
            "kind": "report",
            "id": body["submission_id"],
            "body": body,
            "endpoint": None,
            "queued_at": _iso(dt_util.utcnow()),
            "attempts": 0,
            "next_attempt": None,
            "weekly": weekly,
        }
        self.state["outbox"].append(entry)
        self.state["submitted_through"] = last.isoformat()
        self.state["next_submission_id"] = None
        return entry

    def preview(self) -> dict[str, Any]:
        """Return the endpoint, format and body the next submission would send.

        The oldest waiting report if there is one; otherwise the report of the
        whole days not yet reported (what `usage_stats.submit` would send now).
        Below `share` it is the report of the last seven days including today,
        with placeholder ids, so it can be read before agreeing to share: it shows
        the printers of today, and `partial_day` names today, still in progress.
        """
        body: dict[str, Any] | None = None
        partial_day: str | None = None
        if reports := [e for e in self.state["outbox"] if e["kind"] == "report"]:
            body = reports[0]["body"]
        else:
            today = utc_today()
            yesterday = today - timedelta(days=1)
            if self.coordinator.level is ConsentLevel.SHARE:
                first = self.pending_first_day()
                if first is not None and first <= yesterday:
                    body = self._build(
                        Period(first, yesterday),
                        self.coordinator.installation_id or PLACEHOLDER_ID,
                    )
            else:
                body = self._build(
                    Period(today - timedelta(days=6), today),
                    self.coordinator.installation_id or PLACEHOLDER_ID,
                )
                partial_day = today.isoformat()
        report_format = self.report_format
        if body is not None and report_format is ReportFormat.OTLP:
            body = to_otlp(body)
        path = METRICS_PATH if report_format is ReportFormat.OTLP else REPORTS_PATH
        return {
            "endpoint": f"{self.endpoint}{path}" if self.endpoint else None,
            "format": report_format.value,
            "payload": body,
            # The day still in progress that the payload covers (below `share`).
            "partial_day": partial_day,
        }

    # State shown by the sensors

    @property
    def reports_waiting(self) -> int:
        """Return how many messages wait in the outbox."""
        return len(self.state["outbox"])

    def _weekly_waiting(self) -> int:
        return sum(
            1 for e in self.state["outbox"] if e["kind"] == "report" and e["weekly"]
        )

    @property
    def status(self) -> Status:
        """Return the submission status."""
        outbox = self.state["outbox"]
        if self.coordinator.level is not ConsentLevel.SHARE and not outbox:
            return "disabled"
        if (
            self.state["rejected_status"] is not None
            or self._weekly_waiting() >= UNDELIVERED_WEEKS
        ):
            return "failed"
        if any(entry["attempts"] for entry in outbox):
            return "retrying"
        return "pending" if outbox else "idle"

    @property
    def last_success(self) -> datetime | None:
        """Return when the endpoint last accepted a message."""
        return _parse(self.state["last_success"])

    def _earliest_request(self) -> datetime | None:
        return (
            last + MIN_REQUEST_INTERVAL
            if (last := _parse(self.state["last_request"]))
            else None
        )

    @property
    def next_planned(self) -> datetime | None:
        """Return when the next request is planned, None when nothing will be sent."""
        if (entry := self._sendable()) is not None:
            times = [
                _parse(entry["queued_at"]),
                _parse(entry["next_attempt"]),
                self._earliest_request(),
            ]
            return max(t for t in times if t is not None)
        if self.sharing:
            return _parse(self.state["next_run"])
        return None

    # Sending

    def _sendable(self) -> OutboxEntry | None:
        """Return the first message that may be sent at the current consent level."""
        for entry in self.state["outbox"]:
            if entry["kind"] == "deletion" or self.sharing:
                return entry
        return None

    def _due(self, entry: OutboxEntry, now: datetime) -> bool:
        # A deletion request is the user's right: its first attempt does not wait
        # for the hourly limit (its retries do).
        first_deletion = entry["kind"] == "deletion" and not entry["attempts"]
        times = (
            _parse(entry["next_attempt"]),
            None if first_deletion else self._earliest_request(),
        )
        return all(t is None or now >= t for t in times)

    @callback
    def _tick(self, _now: datetime) -> None:
        """Look at the schedule and the outbox, in a task the entry cancels on unload."""
        if self._task is None or self._task.done():
            self._task = self.coordinator.config_entry.async_create_background_task(
                self.hass, self._async_tick(), f"{DOMAIN} submission"
            )

    async def _async_tick(self) -> None:
        if self._lock.locked():
            return
        try:
            async with self._lock:
                now = dt_util.utcnow()
                changed = self._expire(now)
                next_run = _parse(self.state["next_run"])
                if next_run is not None and now >= next_run:
                    self._weekly_run(now)
                    changed = True
                if changed:
                    await self._async_changed()
                entry = self._sendable()
                if entry is not None and self._due(entry, now):
                    await self._async_send(entry, now)
            self._tick_failed = False
        except Exception:  # noqa: BLE001 - statistics never break Home Assistant
            if not self._tick_failed:
                LOGGER.exception("Submitting usage statistics failed")
            self._tick_failed = True

    def _weekly_run(self, now: datetime) -> None:
        """Queue the completed ISO weeks not yet reported, and plan the next run."""
        self.state["next_run"] = _iso(next_occurrence(self._schedule(), now))
        if not self.sharing:
            return
        last_sunday = week_start(now.date()) - timedelta(days=1)
        self._queue_report(last_sunday, weekly=True)
        if (waiting := self._weekly_waiting()) >= UNDELIVERED_WEEKS:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                ISSUE_UNDELIVERED,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=ISSUE_UNDELIVERED,
                translation_placeholders={"weeks": str(waiting)},
            )

    def _expire(self, now: datetime) -> bool:
        """Drop reports whose period began before the retention; True if any."""
        oldest = self._oldest_kept_day().isoformat()
        expired = [
            entry
            for entry in self.state["outbox"]
            if entry["kind"] == "report" and entry["body"]["period"]["start"] < oldest
        ]
        for entry in expired:
            self._finish(entry, now, "expired", None)
        return bool(expired)

    def _finish(
        self,
        entry: OutboxEntry,
        now: datetime,
        outcome: Literal["accepted", "rejected", "withdrawn", "expired"],
        status_code: int | None,
    ) -> None:
        """Take a message out of the outbox and note what became of it."""
        if entry in self.state["outbox"]:
            self.state["outbox"].remove(entry)
        period = entry["body"].get("period", {})
        record: HistoryEntry = {
            "kind": entry["kind"],
            "id": entry["id"],
            "period_start": period.get("start"),
            "period_end": period.get("end"),
            "queued_at": entry["queued_at"],
            "finished_at": _iso(now),
            "outcome": outcome,
            "status_code": status_code,
            "attempts": entry["attempts"],
        }
        history = self.state["history"]
        history.append(record)
        del history[:-HISTORY_LENGTH]

    async def _async_changed(self) -> None:
        """Write the state now and tell the entities."""
        await self.coordinator.async_save_now()
        self.coordinator.async_update_listeners()

    async def _async_send(self, entry: OutboxEntry, now: datetime) -> Answer:
        """Send one message and handle the answer; the outbox is saved before and after."""
        if entry["kind"] == "report":
            endpoint = self.endpoint or ""
            if self.report_format is ReportFormat.OTLP:
                url, body = f"{endpoint}{METRICS_PATH}", to_otlp(entry["body"])
            else:
                url, body = f"{endpoint}{REPORTS_PATH}", entry["body"]
            # A request that timed out may still have arrived: remember where.
            if endpoint not in self.state["sent_to"]:
                self.state["sent_to"].append(endpoint)
        else:
            url, body = f"{entry['endpoint']}{DELETION_PATH}", entry["body"]
        entry["attempts"] += 1
        self.state["last_request"] = _iso(now)
        await self._async_changed()
        try:
            answer = await async_post(
                self.hass, url, serialize(body), self.coordinator.integration_version
            )
        except InsecureEndpointError:
            answer = Answer(Outcome.REJECTED, error="insecure")
        self._handle(entry, answer, dt_util.utcnow())
        await self._async_changed()
        self.hass.bus.async_fire(
            EVENT_SUBMITTED,
            {
                "kind": entry["kind"],
                "outcome": answer.outcome.value,
                "status_code": answer.status_code,
                "reports_waiting": self.reports_waiting,
            },
        )
        return answer

    def _handle(self, entry: OutboxEntry, answer: Answer, now: datetime) -> None:
        kind = entry["kind"]
        if answer.outcome is Outcome.ACCEPTED:
            self._finish(entry, now, "accepted", answer.status_code)
            self.state["last_success"] = _iso(now)
            self.state["rejected_status"] = None
            for issue in ISSUES:
                ir.async_delete_issue(self.hass, DOMAIN, issue)
            if self._failing:
                LOGGER.info("The usage statistics endpoint accepts %ss again", kind)
            self._failing = False
        elif answer.outcome is Outcome.RETRY:
            if entry in self.state["outbox"]:
                delay = retry_delay(entry["attempts"], answer.retry_after)
                entry["next_attempt"] = _iso(now + delay)
            if not self._failing:
                LOGGER.warning(
                    "The usage statistics endpoint did not take a %s (%s); it is "
                    "kept and retried with backoff",
                    kind,
                    answer.status_code or answer.error,
                )
            self._failing = True
        else:
            self._finish(entry, now, "rejected", answer.status_code)
            status = str(answer.status_code or answer.error)
            self.state["rejected_status"] = answer.status_code or 0
            LOGGER.warning(
                "The usage statistics endpoint refused a %s with %s; it was dropped",
                kind,
                status,
            )
            issue = (
                ISSUE_REPORT_REJECTED if kind == "report" else ISSUE_DELETION_REJECTED
            )
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=issue,
                translation_placeholders={"status": status},
            )

    # Actions

    async def async_submit(self) -> dict[str, Any]:
        """Queue the whole days not yet reported and send the oldest message now."""
        if not self.sharing:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="share_required"
            )
        async with self._lock:
            now = dt_util.utcnow()
            if (earliest := self._earliest_request()) is not None and now < earliest:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="rate_limited",
                    translation_placeholders={"time": _local(earliest)},
                )
            self._expire(now)
            self._queue_report(utc_today() - timedelta(days=1), weekly=False)
            await self._async_changed()
            if (entry := self._sendable()) is None:
                return {"outcome": "nothing_to_send", "reports_waiting": 0}
            answer = await self._async_send(entry, now)
        if answer.outcome is Outcome.ACCEPTED:
            return {
                "outcome": answer.outcome.value,
                "kind": entry["kind"],
                "id": entry["id"],
                "status_code": answer.status_code,
                "reports_waiting": self.reports_waiting,
            }
        if answer.outcome is Outcome.RETRY:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="submission_failed",
                translation_placeholders={
                    "reason": str(answer.status_code or answer.error),
                    "time": _local(_parse(entry["next_attempt"]) or now),
                },
            )
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="submission_rejected",
            translation_placeholders={
                "status": str(answer.status_code or answer.error)
            },
        )

    async def async_delete(self) -> dict[str, Any]:
        """Erase the statistics and the history; ask endpoints to delete theirs."""
        old_id = self.coordinator.installation_id
        now = dt_util.utcnow()
        state = self.state
        self.coordinator.counters.clear()
        # Jobs running now were started in the erased data: their ends are not counted.
        self.coordinator.stored["open_jobs"].clear()
        state["outbox"][:] = [e for e in state["outbox"] if e["kind"] == "deletion"]
        queued = 0
        if old_id is not None:
            for endpoint in state["sent_to"]:
                request_id = str(uuid.uuid4())
                state["outbox"].append(
                    {
                        "kind": "deletion",
                        "id": request_id,
                        "body": {
                            "schema_version": SCHEMA_VERSION,
                            "request_id": request_id,
                            "installation_id": old_id,
                        },
                        "endpoint": endpoint,
                        "queued_at": _iso(now),
                        "attempts": 0,
                        "next_attempt": None,
                        "weekly": False,
                    }
                )
                queued += 1
            self.coordinator.stored["installation_id"] = new_installation_id()
        state["sent_to"] = []
        state["history"] = []
        state["last_success"] = None
        state["rejected_status"] = None
        state["next_submission_id"] = None
        today = utc_today()
        state["submitted_through"] = (today - timedelta(days=1)).isoformat()
        if state["baseline"] is not None:
            state["baseline"] = {"day": today.isoformat(), "metrics": {}}
        for issue in (ISSUE_REPORT_REJECTED, ISSUE_UNDELIVERED):
            ir.async_delete_issue(self.hass, DOMAIN, issue)
        await self._async_changed()
        if queued:
            # Send the deletion request now, not at the next tick of the schedule.
            self._tick(dt_util.utcnow())
        return {"deletion_requests": queued, "reports_waiting": self.reports_waiting}

    def export(self) -> dict[str, Any]:
        """Return everything stored locally."""
        stored = self.coordinator.stored
        submission = {
            key: value
            for key, value in stored["submission"].items()
            if key not in ("outbox", "history")
        }
        return {
            "consent": dict(stored["consent"]),
            "installation_id": stored["installation_id"],
            "days": stored["days"],
            "outbox": stored["submission"]["outbox"],
            "history": stored["submission"]["history"],
            "submission": submission,
            "open_jobs": dict(stored["open_jobs"]),
        }


def _local(when: datetime) -> str:
    """Return a time for a message, in Home Assistant's time zone."""
    return dt_util.as_local(when).strftime("%Y-%m-%d %H:%M")

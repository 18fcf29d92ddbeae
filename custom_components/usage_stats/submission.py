"""The weekly schedule and the actions: when reports are built, queued and sent.

Reports are built from the counters when they are queued (report), kept with
their `submission_id` in the persisted outbox (outbox) and sent one request at a
time (transport) until the endpoint accepts them. Nothing is sent below `share`,
except deletion requests, which are the user's right; consent.py decides which.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from .consent import may_send_reports, new_installation_id, shared_sections
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
from .next_report import NextReport, Owner
from .otlp import to_otlp
from .outbox import Outbox, iso, parse
from .report import PLACEHOLDER_ID, Period, serialize, week_start
from .schedule import new_schedule, next_occurrence
from .store import OutboxEntry, SubmissionData
from .transport import (
    DELETION_PATH,
    METRICS_PATH,
    REPORTS_PATH,
    Answer,
    InsecureEndpointError,
    Outcome,
    async_post,
)

# How often the schedule and the outbox are looked at.
TICK_INTERVAL: Final = timedelta(minutes=1)
# Weekly runs a report waited through before a repair issue is raised.
UNDELIVERED_WEEKS: Final = 3

ISSUE_REPORT_REJECTED: Final = "report_rejected"
ISSUE_DELETION_REJECTED: Final = "deletion_rejected"
ISSUE_UNDELIVERED: Final = "reports_undelivered"
ISSUES: Final = (ISSUE_REPORT_REJECTED, ISSUE_DELETION_REJECTED, ISSUE_UNDELIVERED)

type Status = Literal["disabled", "idle", "pending", "retrying", "failed"]
STATUSES: Final[tuple[Status, ...]] = (
    "disabled",
    "idle",
    "pending",
    "retrying",
    "failed",
)


class Submission:
    """Owns the submission state in the store: outbox, history and schedule."""

    def __init__(self, hass: HomeAssistant, coordinator: Owner) -> None:
        """Initialize; the state itself lives in the coordinator's store."""
        self.hass = hass
        self.coordinator = coordinator
        self.outbox = Outbox(lambda: coordinator.stored["submission"])
        self.next_report = NextReport(hass, coordinator)
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
        return may_send_reports(self.coordinator.consent.level, self.endpoint)

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
        await self.next_report.async_detect_installation_type()
        # Waiting reports never hold a section the user stopped sharing.
        self.outbox.restrict_reports(
            shared_sections(self.coordinator.config_entry.options)
        )
        if self.state["next_run"] is None:
            self.state["next_run"] = iso(
                next_occurrence(self._schedule(), dt_util.utcnow())
            )
        self.coordinator.async_schedule_save()
        entry = self.coordinator.config_entry
        entry.async_on_unload(
            async_track_time_interval(
                self.hass, self._tick, TICK_INTERVAL, name=f"{DOMAIN} submission"
            )
        )
        if any(
            not e["attempts"] for e in self.outbox.entries if e["kind"] == "deletion"
        ):
            # A new deletion request (consent left `share`) goes now, not in a minute.
            self._tick(dt_util.utcnow())

    def _schedule(self) -> dict[str, int]:
        """Return this installation's second of the weekly window, picked the first time."""
        if (schedule := self.state["schedule"]) is None:
            schedule = self.state["schedule"] = new_schedule()
        return schedule

    # Consent

    @callback
    def consent_changed(self, level: ConsentLevel, *, left_share: bool) -> None:
        """Follow a new consent level (called by the coordinator when it changes).

        Granting `share` stores the grant day's counters so far as a baseline that
        is never sent. Lowering it withdraws every waiting report at once and, when
        it leaves `share`, asks every endpoint that received reports of the current
        installation id to delete them and replaces the id, as `usage_stats.delete`
        does for the remote part; the local counters stay.
        """
        if level is ConsentLevel.SHARE:
            self.next_report.take_baseline()
            return
        self.state["baseline"] = None
        now = dt_util.utcnow()
        self.outbox.withdraw_reports(now)
        if left_share:
            self._withdraw_sent(now)
        for issue in ISSUES:
            ir.async_delete_issue(self.hass, DOMAIN, issue)

    def _withdraw_sent(self, now: datetime) -> int:
        """Queue deletion requests for what the current id sent; start a new id."""
        queued = 0
        if (old_id := self.coordinator.installation_id) is not None:
            queued = self.outbox.queue_deletions(old_id, self.state["sent_to"], now)
            self.coordinator.stored["installation_id"] = new_installation_id()
        self.state["sent_to"] = []
        return queued

    # Reports

    def installation(self) -> dict[str, str]:
        """Return the report's `installation` section."""
        return self.next_report.installation()

    def pending_first_day(self) -> date | None:
        """Return the first day not yet reported that may be sent, None below share."""
        return self.next_report.first_day()

    def _queue_reports(self, last: date, *, weekly: bool) -> None:
        """Queue the reports of the days not yet reported up to `last`, one per ISO week.

        A report never spans two ISO weeks: a collector counts it in the week of its
        first day and takes at most seven days (after Home Assistant was off for
        weeks, each week is its own report).
        """
        installation_id = self.coordinator.installation_id
        while installation_id is not None and (period := self._next_period(last)):
            body = self.next_report.build(period, installation_id)
            self.outbox.queue_report(body, dt_util.utcnow(), weekly=weekly)
            self.next_report.taken(period.last)

    def _next_period(self, last: date) -> Period | None:
        """Return the days of the next report up to `last`: within one ISO week."""
        if (first := self.pending_first_day()) is None or first > last:
            return None
        return Period(first, min(last, week_start(first) + timedelta(days=6)))

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
        if reports := self.outbox.reports():
            body = reports[0]["body"]
        else:
            today = utc_today()
            yesterday = today - timedelta(days=1)
            if self.coordinator.consent.level is ConsentLevel.SHARE:
                if period := self._next_period(yesterday):
                    body = self.next_report.build(
                        period, self.coordinator.installation_id or PLACEHOLDER_ID
                    )
            else:
                body = self.next_report.build(
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

    @property
    def status(self) -> Status:
        """Return the submission status."""
        outbox = self.state["outbox"]
        if self.coordinator.consent.level is not ConsentLevel.SHARE and not outbox:
            return "disabled"
        if (
            self.state["rejected_status"] is not None
            or self.outbox.weekly_runs_waited(dt_util.utcnow()) >= UNDELIVERED_WEEKS
        ):
            return "failed"
        if any(entry["attempts"] for entry in outbox):
            return "retrying"
        return "pending" if outbox else "idle"

    @property
    def last_success(self) -> datetime | None:
        """Return when the endpoint last accepted a message."""
        return parse(self.state["last_success"])

    @property
    def next_planned(self) -> datetime | None:
        """Return when the next request is planned, None when nothing will be sent."""
        if (entry := self.outbox.sendable(self.sharing)) is not None:
            return self.outbox.planned(entry)
        if self.sharing:
            return parse(self.state["next_run"])
        return None

    # Sending

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
                next_run = parse(self.state["next_run"])
                if next_run is not None and now >= next_run:
                    self._weekly_run(now)
                    changed = True
                if changed:
                    await self._async_changed()
                entry = self.outbox.sendable(self.sharing)
                if entry is not None and self.outbox.due(entry, now):
                    await self._async_send(entry, now)
            self._tick_failed = False
        except Exception:  # noqa: BLE001 - statistics never break Home Assistant
            if not self._tick_failed:
                LOGGER.exception("Submitting usage statistics failed")
            self._tick_failed = True

    def _weekly_run(self, now: datetime) -> None:
        """Queue the completed ISO weeks not yet reported, and plan the next run."""
        self.state["next_run"] = iso(next_occurrence(self._schedule(), now))
        if not self.sharing:
            return
        last_sunday = week_start(now.date()) - timedelta(days=1)
        self._queue_reports(last_sunday, weekly=True)
        if (waiting := self.outbox.weekly_runs_waited(now)) >= UNDELIVERED_WEEKS:
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
        return self.outbox.expire(self.next_report.oldest_kept_day().isoformat(), now)

    async def _async_changed(self) -> None:
        """Write the state now and tell the entities."""
        await self.coordinator.async_save_now()
        self.coordinator.async_update_listeners()

    async def _async_send(self, entry: OutboxEntry, now: datetime) -> Answer:
        """Send one message and handle the answer; the outbox is saved before and after."""
        report_format = self.report_format
        if entry["kind"] == "report":
            endpoint = self.endpoint or ""
            if report_format is ReportFormat.OTLP:
                url, body = f"{endpoint}{METRICS_PATH}", to_otlp(entry["body"])
            else:
                url, body = f"{endpoint}{REPORTS_PATH}", entry["body"]
            # A request that timed out may still have arrived: remember where.
            if endpoint not in self.state["sent_to"]:
                self.state["sent_to"].append(endpoint)
        else:
            url, body = f"{entry['endpoint']}{DELETION_PATH}", entry["body"]
        self.outbox.attempt(entry, now)
        await self._async_changed()
        try:
            answer = await async_post(
                self.hass, url, serialize(body), self.coordinator.integration_version
            )
        except InsecureEndpointError:
            answer = Answer(Outcome.REJECTED, error="insecure")
        now = dt_util.utcnow()
        self._handle(entry, answer, now)
        if entry["kind"] == "report" and answer.outcome is Outcome.ACCEPTED:
            self.outbox.archive(entry, body, report_format.value, now)
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
        self.outbox.settle(
            entry, now, answer.outcome.value, answer.status_code, answer.retry_after
        )
        if answer.outcome is Outcome.ACCEPTED:
            for issue in ISSUES:
                ir.async_delete_issue(self.hass, DOMAIN, issue)
            if self._failing:
                LOGGER.info("The usage statistics endpoint accepts %ss again", kind)
            self._failing = False
        elif answer.outcome is Outcome.RETRY:
            if not self._failing:
                LOGGER.warning(
                    "The usage statistics endpoint did not take a %s (%s); it is "
                    "kept and retried with backoff",
                    kind,
                    answer.status_code or answer.error,
                )
            self._failing = True
        else:
            status = str(answer.status_code or answer.error)
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
            earliest = self.outbox.earliest_request()
            if earliest is not None and now < earliest:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="rate_limited",
                    translation_placeholders={"time": _local(earliest)},
                )
            self._expire(now)
            self._queue_reports(utc_today() - timedelta(days=1), weekly=False)
            await self._async_changed()
            if (entry := self.outbox.sendable(self.sharing)) is None:
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
                    "time": _local(parse(entry["next_attempt"]) or now),
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
        now = dt_util.utcnow()
        state = self.state
        self.coordinator.counters.clear()
        # Jobs running now were started in the erased data: their ends are not counted.
        self.coordinator.stored["open_jobs"].clear()
        self.outbox.drop_reports()
        queued = self._withdraw_sent(now)
        state["history"] = []
        state["archive"] = []
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

    def history(self) -> list[dict[str, Any]]:
        """Return what became of each message, newest first.

        Accepted reports still in the archive carry the body exactly as sent.
        """
        archived = {entry["id"]: entry for entry in self.state["archive"]}
        return [
            {**record, "body": archived[record["id"]]["body"]}
            if record["kind"] == "report" and record["id"] in archived
            else dict(record)
            for record in reversed(self.state["history"])
        ]

    def export(self) -> dict[str, Any]:
        """Return everything stored locally."""
        stored = self.coordinator.stored
        submission = {
            key: value
            for key, value in stored["submission"].items()
            if key not in ("outbox", "history", "archive")
        }
        return {
            "consent": dict(stored["consent"]),
            "installation_id": stored["installation_id"],
            "days": stored["days"],
            "outbox": stored["submission"]["outbox"],
            "history": stored["submission"]["history"],
            "archive": stored["submission"]["archive"],
            "submission": submission,
            "open_jobs": dict(stored["open_jobs"]),
        }


def _local(when: datetime) -> str:
    """Return a time for a message, in Home Assistant's time zone."""
    return dt_util.as_local(when).strftime("%Y-%m-%d %H:%M")

"""Tests of the weekly submission against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from copy import deepcopy
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.usage_stats.catalogue import (
    ERRORS,
    EVENTS,
    FEATURES,
    JOBS,
    PRINTERS_BY_TYPE,
    Metric,
)
from custom_components.usage_stats.const import (
    CONF_CONSENT,
    CONF_ENDPOINT,
    CONF_FORMAT,
    CONF_RETENTION_DAYS,
    DOMAIN,
    EVENT_SUBMITTED,
    STORAGE_KEY,
)
from custom_components.usage_stats.coordinator import UsageStatsCoordinator
from custom_components.usage_stats.outbox import retry_delay
from custom_components.usage_stats.schedule import (
    SUBMISSION_WINDOW,
    new_schedule,
    next_occurrence,
    week_slot,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .helpers import (
    GRANTED,
    Answer,
    Receiver,
    advance,
    assert_valid_report,
    parse_otlp,
    record_week,
    set_schedule,
    share_with,
)


@pytest.fixture
def options(receiver: Receiver) -> dict[str, Any]:
    """Share with the receiver."""
    return share_with(receiver)


async def test_week_submitted_exactly_once(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The completed week goes out once, at the installation's weekly time."""
    events = async_capture_events(hass, EVENT_SUBMITTED)
    hass.config.country = "DE"
    record_week(coordinator, freezer)
    await advance(hass, freezer, "2026-11-09T05:59:00+00:00")
    assert receiver.requests == []

    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.path == "/v1/reports"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "HomeAssistant-usage_stats/0.1.0"
    report = request.json()
    assert_valid_report(report)
    assert report["period"] == {"start": "2026-11-02", "end": "2026-11-08", "days": 7}
    assert report["installation_id"] == coordinator.installation_id
    assert report["installation"]["country_code"] == "DE"
    assert report["installation"]["integration_version"] == "0.1.0"
    assert report["events"] == {"ha_start": 7}
    assert report["jobs"]["completed"] == {"prusa": 7}
    assert report["printer_fleet"]["printers"] == 7
    assert [e.data for e in events] == [
        {
            "kind": "report",
            "outcome": "accepted",
            "status_code": 200,
            "reports_waiting": 0,
        }
    ]
    submission = coordinator.submission
    assert submission.last_success == dt_util.utcnow()
    assert submission.status == "idle"
    assert submission.state["history"][0]["outcome"] == "accepted"

    # Later runs of the same week send nothing again.
    for _ in range(3):
        await advance(hass, freezer, timedelta(hours=2))
    await advance(hass, freezer, "2026-11-16T05:00:00+00:00")
    assert len(receiver.requests) == 1

    # The next week is the next report.
    await advance(hass, freezer, "2026-11-16T06:01:00+00:00")
    assert len(receiver.requests) == 2
    assert receiver.requests[1].json()["period"]["start"] == "2026-11-09"
    assert receiver.requests[1].json()["submission_id"] != report["submission_id"]


async def test_server_error_then_success_keeps_the_submission_id(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    issue_registry: ir.IssueRegistry,
) -> None:
    """A 500 is retried with backoff; the retry is the same report, same id."""
    stored_ids: list[list[str]] = []
    receiver.on_request = lambda _: stored_ids.append(
        [e["id"] for e in hass_storage[STORAGE_KEY]["data"]["submission"]["outbox"]]
    )
    receiver.answers = [Answer(500)]
    record_week(coordinator, freezer)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    assert len(receiver.requests) == 1
    submission = coordinator.submission
    assert submission.status == "retrying"
    assert submission.reports_waiting == 1
    next_attempt = submission.next_planned
    assert next_attempt is not None
    assert (
        timedelta(hours=1) <= next_attempt - dt_util.utcnow() <= timedelta(hours=1.25)
    )

    # Not before the backoff has passed.
    await advance(hass, freezer, timedelta(minutes=50))
    assert len(receiver.requests) == 1
    await advance(hass, freezer, timedelta(minutes=40))
    assert len(receiver.requests) == 2
    first, second = (r.json() for r in receiver.requests)
    assert first == second
    # The outbox was written, with the submission_id, before each request.
    assert stored_ids == [[first["submission_id"]], [first["submission_id"]]]
    assert submission.reports_waiting == 0
    assert submission.status == "idle"
    assert submission.state["history"][-1]["attempts"] == 2
    assert not issue_registry.issues


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [
        ("7200", timedelta(hours=2)),
        ("Mon, 09 Nov 2026 09:00:30 GMT", timedelta(hours=3)),
        ("soon", None),
        ("Mon, 09 Nov 2026 09:00:30 -0000", None),
    ],
)
async def test_too_many_requests_honours_retry_after(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    retry_after: str,
    wait: timedelta | None,
) -> None:
    """A 429 waits as long as Retry-After asks (in seconds or as a date)."""
    receiver.answers = [Answer(429, {"Retry-After": retry_after})]
    record_week(coordinator, freezer)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    assert coordinator.submission.status == "retrying"
    planned = coordinator.submission.next_planned
    assert planned is not None
    if wait is None:  # Unreadable: the usual backoff.
        wait = timedelta(hours=1.25)
        assert planned - dt_util.utcnow() <= wait
    else:
        assert planned - dt_util.utcnow() == wait
    await advance(hass, freezer, wait - timedelta(minutes=2) - timedelta(minutes=13))
    assert len(receiver.requests) == 1
    await advance(hass, freezer, timedelta(minutes=16))
    assert len(receiver.requests) == 2
    assert coordinator.submission.status == "idle"


async def test_bad_request_is_dropped_with_a_repair_issue(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 400 drops the report, logs once and raises a repair issue until a success."""
    events = async_capture_events(hass, EVENT_SUBMITTED)
    receiver.answers = [Answer(400)]
    record_week(coordinator, freezer)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    submission = coordinator.submission
    assert submission.reports_waiting == 0
    assert submission.status == "failed"
    assert submission.state["history"][-1]["outcome"] == "rejected"
    assert submission.state["history"][-1]["status_code"] == 400
    assert caplog.text.count("refused a report with 400") == 1
    issue = issue_registry.async_get_issue(DOMAIN, "report_rejected")
    assert issue is not None
    assert issue.translation_placeholders == {"status": "400"}
    assert events[0].data["outcome"] == "rejected"

    # Nothing is retried.
    await advance(hass, freezer, timedelta(days=1))
    assert len(receiver.requests) == 1

    # The next week's success clears the issue.
    await advance(hass, freezer, "2026-11-16T06:00:30+00:00")
    assert len(receiver.requests) == 2
    assert receiver.requests[1].json()["period"]["start"] == "2026-11-09"
    assert issue_registry.async_get_issue(DOMAIN, "report_rejected") is None
    assert submission.status == "idle"


async def test_timeout_is_retried(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A request without an answer in 30 s is retried later, with the same report."""
    receiver.answers = [Answer(hang=True)]
    record_week(coordinator, freezer)
    freezer.move_to("2026-11-09T06:00:30+00:00")
    async_fire_time_changed(hass)
    for _ in range(100):
        if receiver.requests:
            break
        await hass.async_block_till_done()
    assert len(receiver.requests) == 1
    assert coordinator.submission.status == "retrying"  # Attempt counted already.
    await advance(hass, freezer, timedelta(seconds=31))
    assert coordinator.submission.reports_waiting == 1
    history = coordinator.submission.state["history"]
    assert history == []
    await advance(hass, freezer, timedelta(hours=1.3))
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body
    assert coordinator.submission.reports_waiting == 0


async def test_connection_refused_is_retried(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An endpoint that cannot be reached is retried; the failure is logged once."""
    record_week(coordinator, freezer)
    freezer.move_to("2026-11-09T06:00:00+00:00")
    # A port nobody listens on (the receiver's own, after it stopped listening).
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={**mock_config_entry.options, CONF_ENDPOINT: "http://127.0.0.1:9"},
    )
    await hass.async_block_till_done()
    coordinator = mock_config_entry.runtime_data
    set_schedule(coordinator, second=6 * 3600 + 60)
    for hours in (0, 1.3, 2.6, 5.3):
        await advance(hass, freezer, timedelta(hours=hours, minutes=2))
    assert coordinator.submission.status == "retrying"
    assert coordinator.submission.state["outbox"][0]["attempts"] >= 2
    assert caplog.text.count("did not take a report (connection)") == 1


async def test_restart_with_a_report_in_the_outbox(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """A report waiting at a restart is sent after it, once, with its id."""
    on_disk: list[dict[str, Any]] = []
    receiver.on_request = lambda _: on_disk.append(deepcopy(hass_storage[STORAGE_KEY]))
    receiver.answers = [Answer(503)]
    record_week(coordinator, freezer)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    sent = receiver.requests[0].json()

    # Home Assistant stops; then it is started again from what was on disk.
    await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert (
        hass_storage[STORAGE_KEY]["data"]["submission"]["outbox"][0]["id"]
        == (sent["submission_id"])
    )
    hass_storage[STORAGE_KEY] = on_disk[0]  # As if it crashed during the request.
    await advance(hass, freezer, timedelta(hours=2))
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    await advance(hass, freezer, timedelta(minutes=2))
    assert len(receiver.requests) == 2
    assert receiver.requests[1].json() == sent
    await advance(hass, freezer, timedelta(hours=3))
    assert len(receiver.requests) == 2
    assert mock_config_entry.runtime_data.submission.reports_waiting == 0


async def test_lowering_consent_while_retrying(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Lowering consent below share empties the outbox and stops sending reports.

    The report that failed may have arrived: the endpoint is asked to delete it.
    """
    receiver.answers = [Answer(500)]
    record_week(coordinator, freezer)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    assert coordinator.submission.reports_waiting == 1

    hass.config_entries.async_update_entry(
        mock_config_entry, options={**mock_config_entry.options, CONF_CONSENT: "local"}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    submission = mock_config_entry.runtime_data.submission
    assert submission.reports_waiting == 0
    assert submission.status == "disabled"
    assert submission.next_planned is None
    assert [(h["kind"], h["outcome"]) for h in submission.state["history"]] == [
        ("report", "withdrawn"),
        ("deletion", "accepted"),
    ]
    for _ in range(3):
        await advance(hass, freezer, timedelta(days=7))
    assert [r.path for r in receiver.requests] == ["/v1/reports", "/v1/deletion"]
    assert submission.preview()["payload"]["installation_id"] == (
        mock_config_entry.runtime_data.installation_id
    )


async def test_dated_consent(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Nothing recorded before share was granted is sent, not even that morning."""
    freezer.move_to("2026-11-01T12:00:00+00:00")
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, options={**mock_config_entry.options, CONF_CONSENT: "local"}
    )
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    coordinator: UsageStatsCoordinator = mock_config_entry.runtime_data
    coordinator.record(EVENTS, "ha_start", amount=10)  # The day before.
    freezer.move_to("2026-11-02T09:00:00+00:00")
    coordinator.record(EVENTS, "ha_start", amount=5)  # The grant day, before it.
    coordinator.record(JOBS, "failed", "prusa")

    freezer.move_to(GRANTED)
    hass.config_entries.async_update_entry(
        mock_config_entry, options={**mock_config_entry.options, CONF_CONSENT: "share"}
    )
    await hass.async_block_till_done()
    coordinator = mock_config_entry.runtime_data
    set_schedule(coordinator, second=0)  # Mondays 00:00.
    coordinator.record(EVENTS, "ha_start")
    coordinator.record(JOBS, "failed", "prusa")
    freezer.move_to("2026-11-06T09:00:00+00:00")
    coordinator.record(EVENTS, "printer_offline")

    await advance(hass, freezer, "2026-11-09T00:00:30+00:00")
    report = receiver.requests[0].json()
    assert report["period"] == {"start": "2026-11-02", "end": "2026-11-08", "days": 7}
    assert report["events"] == {"ha_start": 1, "printer_offline": 1}
    assert report["jobs"]["failed"] == {"prusa": 1}


async def test_grant_day_without_baseline_is_skipped(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Data from before baselines existed starts the day after the grant."""
    coordinator.submission.state["baseline"] = None
    record_week(coordinator, freezer)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    assert receiver.requests[0].json()["period"]["start"] == "2026-11-03"


async def test_three_weeks_undelivered(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Three weekly reports in a row undelivered raise a repair issue until a success."""
    receiver.answers = [Answer(503)] * 200
    record_week(coordinator, freezer)
    for week in range(3):
        await advance(
            hass,
            freezer,
            datetime.fromisoformat("2026-11-09T06:00:30+00:00") + timedelta(weeks=week),
        )
        assert (
            issue_registry.async_get_issue(DOMAIN, "reports_undelivered") is None
            or week == 2
        )
    issue = issue_registry.async_get_issue(DOMAIN, "reports_undelivered")
    assert issue is not None
    assert issue.translation_placeholders == {"weeks": "3"}
    assert coordinator.submission.status == "failed"

    receiver.answers = []
    await advance(hass, freezer, timedelta(days=2))
    assert issue_registry.async_get_issue(DOMAIN, "reports_undelivered") is None
    # One request an hour until all are delivered, oldest first.
    for _ in range(3):
        await advance(hass, freezer, timedelta(minutes=61))
    periods = [b["period"]["start"] for b in receiver.bodies()[-3:]]
    assert periods == ["2026-11-02", "2026-11-09", "2026-11-16"]
    assert coordinator.submission.status == "idle"


async def test_weeks_missed_while_off_are_one_report_each(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Home Assistant was off for three weekly runs: each week is a report, no repair.

    A collector counts a report in the week of its first day and takes at most seven
    days; and nothing failed to be delivered, so nothing is "undelivered".
    """
    record_week(coordinator, freezer)
    receiver.answers = [Answer(503)]  # The network is not back yet.
    # The first look after three missed Mondays (the clock jumped, as after a long stop).
    await advance(hass, freezer, "2026-11-26T09:00:00+00:00")
    assert coordinator.submission.reports_waiting == 3
    assert issue_registry.async_get_issue(DOMAIN, "reports_undelivered") is None
    assert coordinator.submission.status == "retrying"
    for _ in range(3):
        await advance(hass, freezer, timedelta(minutes=91))
    periods = [(b["period"]["start"], b["period"]["days"]) for b in receiver.bodies()]
    assert periods == [("2026-11-02", 7)] * 2 + [("2026-11-09", 7), ("2026-11-16", 7)]
    assert coordinator.submission.status == "idle"


async def test_weeks_older_than_the_retention_are_dropped(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
) -> None:
    """A waiting report whose days are past the retention is dropped unsent."""
    receiver.answers = [Answer(503)] * 100
    record_week(coordinator, freezer)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={**mock_config_entry.options, CONF_RETENTION_DAYS: 7},
    )
    await hass.async_block_till_done()
    coordinator = mock_config_entry.runtime_data
    set_schedule(coordinator, second=6 * 3600)
    await advance(hass, freezer, "2026-11-10T06:00:30+00:00")
    submission = coordinator.submission
    assert submission.reports_waiting == 0
    assert submission.state["history"][-1]["outcome"] == "expired"
    # The next week only holds the days still kept.
    await advance(hass, freezer, "2026-11-23T06:00:30+00:00")
    assert receiver.bodies()[-1]["period"]["start"] == "2026-11-17"


async def test_otlp_format(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
) -> None:
    """With format otlp the same counters go to /v1/metrics as OTLP/HTTP JSON."""
    hass.config_entries.async_update_entry(
        mock_config_entry, options={**mock_config_entry.options, CONF_FORMAT: "otlp"}
    )
    await hass.async_block_till_done()
    coordinator = mock_config_entry.runtime_data
    set_schedule(coordinator, second=6 * 3600)
    record_week(coordinator, freezer)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    request = receiver.requests[0]
    assert request.path == "/v1/metrics"
    parsed = parse_otlp(request.body)
    resource = parsed.resource_metrics[0].resource
    attributes = {a.key: a.value.string_value for a in resource.attributes}
    assert attributes["service.instance.id"] == coordinator.installation_id
    metrics = {m.name: m for m in parsed.resource_metrics[0].scope_metrics[0].metrics}
    assert metrics["usage_stats.events"].sum.data_points[0].as_int == 7


def test_retry_delay() -> None:
    """Backoff doubles from an hour to a day, with jitter; Retry-After wins."""
    assert timedelta(hours=1) <= retry_delay(1, None) <= timedelta(hours=1.25)
    assert timedelta(hours=4) <= retry_delay(3, None) <= timedelta(hours=5)
    assert timedelta(days=1) <= retry_delay(30, None) <= timedelta(days=1.25)
    assert retry_delay(1, timedelta(seconds=5)) == timedelta(hours=1)
    assert retry_delay(1, timedelta(days=30)) == timedelta(days=7)


def test_next_occurrence() -> None:
    """The weekly time is the next one strictly after now, in the Monday window."""
    schedule = {"second": 3600}
    tuesday = datetime.fromisoformat("2026-11-03T10:00:00+00:00")
    assert next_occurrence(schedule, tuesday) == datetime.fromisoformat(
        "2026-11-09T01:00:00+00:00"
    )
    assert next_occurrence(
        schedule, datetime.fromisoformat("2026-11-09T01:00:00+00:00")
    ) == datetime.fromisoformat("2026-11-16T01:00:00+00:00")
    assert next_occurrence(
        schedule, datetime.fromisoformat("2026-11-09T00:59:59+00:00")
    ) == datetime.fromisoformat("2026-11-09T01:00:00+00:00")
    assert week_slot(schedule, tuesday) == datetime.fromisoformat(
        "2026-11-02T01:00:00+00:00"
    )


def test_new_schedule_is_a_second_of_the_window() -> None:
    """A new schedule is a second of the window; the window is a day from Monday."""
    assert timedelta(days=1) == SUBMISSION_WINDOW
    for _ in range(100):
        schedule = new_schedule()
        assert set(schedule) == {"second"}
        assert 0 <= schedule["second"] < SUBMISSION_WINDOW.total_seconds()


async def test_failures_never_break_home_assistant(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An unexpected failure is logged once and swallowed; later runs work again."""
    with patch.object(
        type(coordinator.submission), "_weekly_run", side_effect=RuntimeError("boom")
    ):
        await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
        await advance(hass, freezer, timedelta(minutes=2))
    assert caplog.text.count("Submitting usage statistics failed") == 1
    await advance(hass, freezer, timedelta(minutes=2))
    assert len(receiver.requests) == 1


async def test_insecure_deletion_endpoint_is_refused(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A message is never sent over plain http to another machine."""
    coordinator.submission.state["sent_to"] = ["http://stats.example.org"]
    await coordinator.submission.async_delete()
    await advance(hass, freezer, timedelta(minutes=2))
    assert receiver.requests == []
    issue = issue_registry.async_get_issue(DOMAIN, "deletion_rejected")
    assert issue is not None
    assert issue.translation_placeholders == {"status": "insecure"}
    assert coordinator.submission.status == "failed"


async def test_installation_type_unknown_when_system_info_fails(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, receiver: Receiver
) -> None:
    """Without system information the installation type is Unknown."""
    mock_config_entry.add_to_hass(hass)
    with patch(
        "custom_components.usage_stats.next_report.async_get_system_info",
        side_effect=OSError,
    ):
        assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    installation = mock_config_entry.runtime_data.submission.installation()
    assert installation["installation_type"] == "Unknown"


@pytest.mark.parametrize(
    ("metric", "labels"),
    [
        (ERRORS, ("octoprint", "Error raised at /config/secret.yaml")),
        (ERRORS, ("user@example.org", "TimeoutError")),
        (FEATURES, ("bambu.a1b2c3d4e5f6a7b8", "on")),
        (FEATURES, ("bambu.light", "dim")),
        (EVENTS, ("not_a_declared_event",)),
        (EVENTS, ("custom_192.168.1.5",)),
        (JOBS, ("completed",)),
    ],
)
async def test_refused_labels_never_reach_a_report(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    metric: Metric,
    labels: tuple[str, ...],
) -> None:
    """What the allowlist refuses is not counted, so it can never be sent."""
    freezer.move_to("2026-11-03T12:00:00+00:00")
    assert not coordinator.record(metric, *labels)
    assert coordinator.record_snapshot(FEATURES, {labels: 1}) is True
    coordinator.record(ERRORS, "custom", "printer_error")
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    report = receiver.requests[0].json()
    assert_valid_report(report)
    assert report["errors"] == {"custom": {"printer_error": 1}}
    assert report["features"] == {}
    assert report["events"] == {}


async def test_daily_label_cap_folds_into_other(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Beyond 50 labels a day, counts go to `other` and arrive as `other`."""
    freezer.move_to("2026-11-03T12:00:00+00:00")
    for i in range(55):
        coordinator.record(EVENTS, f"custom_event_{i:02}")
    coordinator.record_snapshot(
        PRINTERS_BY_TYPE, {(f"type_{i:02}",): 1 for i in range(55)}
    )
    for i in range(55):
        coordinator.record(JOBS, "completed", f"type_{i:02}")
    coordinator.record_snapshot(
        FEATURES, {(f"x.feature_{i:02}", "on"): 2 for i in range(55)}
    )
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    report = receiver.requests[0].json()
    assert_valid_report(report)
    assert report["events"]["other"] == 5
    assert len(report["events"]) == 51
    assert report["printer_fleet"]["types"]["other"] == 5
    # The folded label is the long tail; a job's outcome and a feature's state stay.
    assert report["jobs"]["completed"]["other"] == 5
    assert sum(report["jobs"]["completed"].values()) == 55
    assert report["features"]["other"] == {"on": 10, "off": 0}

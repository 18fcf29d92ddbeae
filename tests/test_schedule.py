"""The weekly schedule against the reference collector's publication rule.

The collector publishes the ISO week W once, as a fixed snapshot, from
`publication_time(W, DEFAULT_DELAY_DAYS)`; a report of W that arrives later is
stored but not in the published numbers. These tests run the integration's real
scheduler and outbox backoff against the collector's real rule (its publication
module is standard library only, imported from collector/src), so they fail when
either side changes alone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
import sys
from typing import Any

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.usage_stats.const import STORAGE_KEY, STORAGE_VERSION
from custom_components.usage_stats.coordinator import UsageStatsCoordinator
from custom_components.usage_stats.outbox import retry_delay
from custom_components.usage_stats.report import week_start
from custom_components.usage_stats.schedule import SUBMISSION_WINDOW, next_occurrence
from custom_components.usage_stats.store import empty_data, encode_days, snapshot
from custom_components.usage_stats.submission import TICK_INTERVAL
from homeassistant.core import HomeAssistant

from .helpers import Answer, Receiver, advance, record_week, set_schedule, share_with

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "collector" / "src"))
from usage_stats_collector.aggregates import iso_week
from usage_stats_collector.publication import DEFAULT_DELAY_DAYS, publication_time

# The outage of the collector (or of the installation's network) that a report
# sent on schedule survives, as the READMEs state: it starts when the report is due.
OUTAGE = timedelta(hours=24)
WINDOW_SECONDS = int(SUBMISSION_WINDOW.total_seconds())
# Every quarter of an hour of the window, and its last second.
OFFSETS = [*range(0, WINDOW_SECONDS, 900), WINDOW_SECONDS - 1]
# When an installation plans its next run: every hour of every weekday of a week.
PLANNED_AT = [
    datetime(2026, 11, 2, tzinfo=UTC) + timedelta(hours=hour) for hour in range(7 * 24)
]


@pytest.fixture
def options(receiver: Receiver) -> dict[str, Any]:
    """Share with the receiver."""
    return share_with(receiver)


def deadline(run: datetime) -> datetime:
    """Return when the collector publishes the week that a run at `run` reports.

    A run reports the ISO week before its own (the days through last Sunday).
    """
    reported = week_start(run.date()) - timedelta(days=7)
    return datetime.fromtimestamp(
        publication_time(iso_week(reported), DEFAULT_DELAY_DAYS), UTC
    )


def delivered(run: datetime, outage_ends: datetime, jitter: float) -> datetime:
    """Return when the outbox's attempts first reach a collector down until `outage_ends`.

    The outbox is looked at once a `TICK_INTERVAL`: an attempt goes out at most that
    long after it is due.
    """
    attempt, attempts = run, 1
    while attempt < outage_ends:
        attempt += retry_delay(attempts, None, jitter=jitter) + TICK_INTERVAL
        attempts += 1
    return attempt


@pytest.mark.parametrize("jitter", [0.0, 0.5, 1.0])
def test_every_week_arrives_before_it_is_published(jitter: float) -> None:
    """Every second of the window, planned at every hour of the week: on time.

    On schedule, and after an outage of OUTAGE from the moment the report is due,
    retried with the outbox's backoff at the least, a middle and the most jitter.
    """
    checked = 0
    for second in OFFSETS:
        for planned in PLANNED_AT:
            run = next_occurrence({"second": second}, planned)
            published = deadline(run)
            assert run < published, (second, planned)
            arrived = delivered(run, run + OUTAGE, jitter)
            assert arrived < published, (second, planned, arrived, published)
            checked += 1
    assert checked == len(OFFSETS) * len(PLANNED_AT)


def test_a_collector_publishing_earlier_would_miss_reports() -> None:
    """The check above is not vacuous: with two days of delay, late-window reports miss."""
    run = next_occurrence({"second": WINDOW_SECONDS - 1}, PLANNED_AT[0])
    two_days = datetime.fromtimestamp(
        publication_time(iso_week(week_start(run.date()) - timedelta(days=7)), 2), UTC
    )
    assert delivered(run, run + OUTAGE, 1.0) > two_days


@pytest.mark.parametrize("second", [0, WINDOW_SECONDS // 2, WINDOW_SECONDS - 1])
async def test_a_report_retried_through_a_day_long_outage_is_in_time(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    second: int,
) -> None:
    """The real scheduler and outbox: the collector is down for a day from the run.

    Time goes on in steps of ten minutes (the outbox is looked at every minute, so
    this is later than a real installation, never earlier).
    """
    record_week(coordinator, freezer)
    set_schedule(coordinator, second=second)
    run = datetime(2026, 11, 9, tzinfo=UTC) + timedelta(seconds=second)
    outage_ends = run + OUTAGE
    published = deadline(run)
    receiver.answers = [Answer(503)] * 1000
    await advance(hass, freezer, run - timedelta(minutes=1))
    assert receiver.requests == []

    state = coordinator.submission.state
    now = run
    while not state["history"]:
        assert now < published, "the report was not accepted before publication"
        if now >= outage_ends:
            receiver.answers.clear()
        await advance(hass, freezer, now)
        now += timedelta(minutes=10)
    (entry,) = state["history"]
    assert entry["outcome"] == "accepted"
    assert (entry["period_start"], entry["period_end"]) == ("2026-11-02", "2026-11-08")
    assert datetime.fromisoformat(entry["finished_at"]) < published
    assert entry["attempts"] > 1  # It was retried through the outage.
    assert {body["submission_id"] for body in receiver.bodies()} == {entry["id"]}


def _store_1_6(
    schedule: dict[str, int], next_run: str, submitted_through: str
) -> dict[str, Any]:
    """A sharing installation's store as 1.6 wrote it: a weekday and a second."""
    data: dict[str, Any] = snapshot(empty_data())
    data["consent"] = {
        "level": "share",
        "changed_at": "2026-10-05T08:00:00+00:00",
        "share_granted_at": "2026-10-05T08:00:00+00:00",
        "report_version": 2,
        "declined_version": None,
    }
    data["installation_id"] = "9b2f6c1e-7d4a-4e3b-a1c2-d3e4f5a6b7c8"
    data["days"] = encode_days(
        {
            (date(2026, 11, 2) + timedelta(days=day)).isoformat(): {
                "events": {"ha_start": 1}
            }
            for day in range(9)
        }
    )
    data["submission"].update(
        schedule=schedule,
        next_run=next_run,
        submitted_through=submitted_through,
        sent_to=[],
    )
    return {
        "version": STORAGE_VERSION,
        "minor_version": 6,
        "key": STORAGE_KEY,
        "data": data,
    }


@pytest.mark.parametrize(
    ("old", "next_run", "submitted_through", "sent_now"),
    [
        # Thursdays 10:00: the week of 2 November would have gone out on 12 November,
        # after the new rule's publication; it goes at the first look now.
        ({"weekday": 3, "second": 36000}, "2026-11-12T10:00:00+00:00", "2026-11-01", 1),
        # Mondays 01:00: the week of 2 November went out yesterday; nothing again.
        ({"weekday": 0, "second": 3600}, "2026-11-16T01:00:00+00:00", "2026-11-08", 0),
    ],
    ids=["week-not-yet-sent", "week-already-sent"],
)
async def test_stored_schedules_move_to_the_window(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    receiver: Receiver,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    old: dict[str, int],
    next_run: str,
    submitted_through: str,
    sent_now: int,
) -> None:
    """A 1.6 schedule keeps its second in the window; no week is lost or sent twice."""
    freezer.move_to("2026-11-10T12:00:00+00:00")  # A Tuesday.
    hass_storage[STORAGE_KEY] = _store_1_6(old, next_run, submitted_through)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    coordinator: UsageStatsCoordinator = mock_config_entry.runtime_data
    state = coordinator.submission.state
    assert state["schedule"] == {"second": old["second"]}

    await advance(hass, freezer, timedelta(minutes=1))
    assert len(receiver.bodies()) == sent_now
    if sent_now:
        assert receiver.bodies()[0]["period"]["start"] == "2026-11-02"
    slot = datetime(2026, 11, 16, tzinfo=UTC) + timedelta(seconds=old["second"])
    assert state["next_run"] == slot.isoformat()

    await advance(hass, freezer, slot + timedelta(seconds=30))
    periods = [body["period"]["start"] for body in receiver.bodies()]
    assert periods == ["2026-11-02", "2026-11-09"][1 - sent_now :]

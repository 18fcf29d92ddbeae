"""The weekly schedule: when an installation sends the report of a week.

The report of ISO week W goes out in a window that opens when W ends, Monday 00:00
UTC of W + 1, and lasts SUBMISSION_WINDOW; each installation picks its own second of
the window once, at random, so that a collector sees a flat load over the window.
A collector publishes W after the window and a margin for retries (the reference
collector: from Thursday 00:00 UTC, three days after W ended), so every report sent
on schedule, or retried by the outbox through an outage of a day, is in the numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
import secrets
from typing import Final

from homeassistant.util import dt as dt_util

# How long the submission window lasts, from Monday 00:00 UTC.
SUBMISSION_WINDOW: Final = timedelta(days=1)


def new_schedule() -> dict[str, int]:
    """Return a schedule: a second of the window, picked at random."""
    return {"second": secrets.randbelow(int(SUBMISSION_WINDOW.total_seconds()))}


def week_slot(schedule: dict[str, int], when: datetime) -> datetime:
    """Return the schedule's moment in the ISO week of `when` (UTC), past or not."""
    when = dt_util.as_utc(when)
    monday = datetime.combine(
        when.date() - timedelta(days=when.weekday()), time.min, UTC
    )
    return monday + timedelta(seconds=schedule["second"])


def next_occurrence(schedule: dict[str, int], after: datetime) -> datetime:
    """Return the first moment of the weekly `schedule` later than `after` (UTC)."""
    candidate = week_slot(schedule, after)
    if candidate <= dt_util.as_utc(after):
        candidate += timedelta(weeks=1)
    return candidate

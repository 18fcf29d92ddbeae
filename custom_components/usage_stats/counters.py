"""Daily counters: the only form in which statistics are kept.

`days` maps a UTC date (`YYYY-MM-DD`) to metric name to label key to a number.
Counters add up; snapshots hold the last value of the day. A metric takes at most
`MAX_LABELS` distinct label keys a day; a further new key has its open labels
folded into `other` and keeps those from fixed lists: a job's outcome and a
feature's on/off state survive.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
import time as time_module
from typing import Final

from homeassistant.util import dt as dt_util

from .catalogue import Metric

MAX_LABELS: Final = 50
NO_LABEL: Final = ""

type Days = dict[str, dict[str, dict[str, int]]]


def utc_today() -> date:
    """Return today's date in UTC."""
    return dt_util.utcnow().date()


class DailyCounters:
    """Counters per UTC day over the stored `days` mapping (changed in place)."""

    def __init__(self, days: Days) -> None:
        """Initialize over the stored days."""
        self.days = days
        self._today = ""
        self._today_ends = 0.0

    def today(self) -> str:
        """Return today's key; cheap enough for every recorded event."""
        if time_module.time() >= self._today_ends:
            today = utc_today()
            self._today = today.isoformat()
            midnight = datetime.combine(today + timedelta(days=1), time.min, UTC)
            self._today_ends = midnight.timestamp()
        return self._today

    def _labels(self, metric: Metric, day: str | None) -> dict[str, int]:
        return self.days.setdefault(day or self.today(), {}).setdefault(metric.name, {})

    def add(
        self,
        metric: Metric,
        key: str = NO_LABEL,
        amount: int = 1,
        day: str | None = None,
    ) -> None:
        """Add `amount` to the counter of `key` (an already validated label key)."""
        labels = self._labels(metric, day)
        if key not in labels and len(labels) >= MAX_LABELS:
            key = metric.folded(key)
        labels[key] = labels.get(key, 0) + amount

    def set(
        self, metric: Metric, values: dict[str, int], day: str | None = None
    ) -> None:
        """Replace today's snapshot of `metric` with `values` (validated keys)."""
        labels = self._labels(metric, day)
        labels.clear()
        for key, value in values.items():
            if key in labels or len(labels) < MAX_LABELS:
                labels[key] = value
            else:
                folded = metric.folded(key)
                labels[folded] = labels.get(folded, 0) + value

    def prune(self, keep_days: int) -> bool:
        """Drop days older than `keep_days` days before today; True if any went."""
        oldest = (utc_today() - timedelta(days=keep_days - 1)).isoformat()
        old = [day for day in self.days if day < oldest]
        for day in old:
            del self.days[day]
        return bool(old)

    def clear(self) -> None:
        """Forget every day."""
        self.days.clear()

    def in_range(
        self, first: date, last: date
    ) -> Iterator[tuple[str, dict[str, dict[str, int]]]]:
        """Yield the stored days from `first` to `last`, both included, oldest first."""
        low, high = first.isoformat(), last.isoformat()
        for day in sorted(self.days):
            if low <= day <= high:
                yield day, self.days[day]

    def total(self, metric: Metric, first: date, last: date) -> dict[str, int]:
        """Return the sums per label key of `metric` over a range of days."""
        totals: dict[str, int] = {}
        for _, metrics in self.in_range(first, last):
            for key, value in metrics.get(metric.name, {}).items():
                totals[key] = totals.get(key, 0) + value
        return totals

    def latest(self, metric: Metric) -> dict[str, int]:
        """Return the most recent day's values of a snapshot metric."""
        for day in sorted(self.days, reverse=True):
            if metric.name in self.days[day]:
                return dict(self.days[day][metric.name])
        return {}

#!/usr/bin/env python3
"""The load the weekly schedule puts on a collector: reports per minute of the window.

Draws the schedules of 100,000 installations with the integration's own `new_schedule`
(a second of the Monday window, picked with `secrets`), counts the reports due in each
minute, and prints the mean and the busiest minute over several draws. Every report of a
week arrives in the window (retries aside), so this is the collector's weekly peak.

    .venv/bin/python benchmarks/submission_load.py
    .venv/bin/python benchmarks/submission_load.py --installations 1000000 --draws 3
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
import statistics
import sys

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from custom_components.usage_stats.schedule import SUBMISSION_WINDOW, new_schedule


def busiest_minute(installations: int) -> int:
    """Draw the schedules of `installations` and return the reports of the busiest minute."""
    minutes = Counter(new_schedule()["second"] // 60 for _ in range(installations))
    return max(minutes.values())


def main() -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--installations", type=int, default=100_000)
    parser.add_argument("--draws", type=int, default=10)
    args = parser.parse_args()
    window_minutes = SUBMISSION_WINDOW.total_seconds() / 60
    mean = args.installations / window_minutes
    peaks = [busiest_minute(args.installations) for _ in range(args.draws)]
    print(
        f"{args.installations:,} installations, a window of {window_minutes:,.0f} minutes: "
        f"{mean:,.1f} reports a minute on average ({mean / 60:,.2f} a second); the busiest "
        f"minute of each of {args.draws} draws: median {statistics.median(peaks):,.0f}, "
        f"most {max(peaks):,} ({max(peaks) / 60:,.2f} a second)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

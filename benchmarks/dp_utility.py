#!/usr/bin/env python3
"""What differential privacy costs the collector's numbers: utility of one week's release.

For 100, 1,000 and 10,000 synthetic installations a week (seeded: the same installations on every
run; the noise is OpenDP's, from the OS, so the figures move a little between runs), it releases
the week several times with ``usage_stats_collector.privacy_dp`` at the weekly budget (less the
share of the week's late count, as a publication spends it) and prints:

- the median relative error of the printer-type counts (installations per released type, and
  printers per released type),
- the median relative error of the completion rate (completed / ended jobs), over all jobs and
  per released printer type,
- how many printer types (and keys of all open metrics) are suppressed, i.e. below the noisy
  threshold, and how many installations that leaves out,

and, from the noise scales alone, how many installations a printer type needs before its count is
accurate to ±10 % (95 % interval) and named at all.

The synthetic week: printer types drawn from a Zipf-like popularity over 60 known types, plus a
long tail (3 % of the installations have a type of their own, 10 % one of 300 rare ones); one to
four printers; jobs per printer a week around six, each type with its own completion rate.

    collector/.venv/bin/python benchmarks/dp_utility.py
    collector/.venv/bin/python benchmarks/dp_utility.py --rho 1 --runs 5
"""

from __future__ import annotations

import argparse
from collections import Counter
import datetime as dt
import math
import random
import statistics
from typing import Any
import uuid

from usage_stats_collector.aggregates import contributions
from usage_stats_collector.privacy_dp import (
    DEFAULT_RHO,
    DELTA,
    Kind,
    default_spec,
    plan,
    release_week,
)
from usage_stats_collector.publication_dp import LATE_SHARE

SEED = 20250428
START = dt.date(2025, 4, 28)
TYPES = [f"type_{rank:02d}" for rank in range(60)]
RARE = [f"rare_{rank:03d}" for rank in range(300)]
EVENTS = [
    "ha_start",
    "printer_offline",
    "printer_online",
    "filament_runout",
    "door_open",
]
BUCKETS = ["lt_30m", "30m_1h", "1h_2h", "2h_4h", "4h_8h", "8h_24h", "gt_24h"]
FEATURES = [
    f"{domain}.{key}"
    for domain in ("bambu", "prusa", "octoprint")
    for key in ("camera", "notify", "light")
]


def _type(rng: random.Random, weights: list[float]) -> str:
    draw = rng.random()
    if draw < 0.03:
        return f"own_{rng.getrandbits(40):010x}"  # a type only this installation has
    if draw < 0.13:
        return rng.choice(RARE)
    return rng.choices(TYPES, weights)[0]


def synthetic_week(rng: random.Random, installations: int) -> list[dict[str, Any]]:
    """``installations`` schema-valid reports of one week."""
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(TYPES))]
    completion = {name: 0.7 + 0.25 * rng.random() for name in TYPES + RARE}
    reports = []
    for _ in range(installations):
        printers: Counter[str] = Counter()
        for _ in range(rng.choices([1, 2, 3, 4], [70, 20, 7, 3])[0]):
            printers[_type(rng, weights)] += 1
        started: dict[str, int] = {}
        ended: dict[str, dict[str, int]] = {
            "completed": {},
            "failed": {},
            "cancelled": {},
        }
        durations: Counter[str] = Counter()
        for name, count in printers.items():
            jobs = sum(min(int(rng.expovariate(1 / 6)), 40) for _ in range(count))
            if not jobs:
                continue
            started[name] = jobs
            rate = completion.get(name, 0.85)
            outcomes = Counter(
                rng.choices(
                    ["completed", "failed", "cancelled"],
                    [rate, (1 - rate) * 0.6, (1 - rate) * 0.4],
                    k=jobs,
                )
            )
            for outcome, n in outcomes.items():
                ended[outcome][name] = n
            durations.update(
                rng.choices(
                    BUCKETS, [10, 15, 25, 25, 15, 8, 2], k=outcomes["completed"]
                )
            )
        reports.append(
            {
                "schema_version": 1,
                "submission_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "installation_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "period": {
                    "start": START.isoformat(),
                    "end": (START + dt.timedelta(days=6)).isoformat(),
                    "days": 7,
                },
                "installation": {
                    "integration_version": rng.choices(
                        ["1.0.0", "1.1.0", "1.2.0"], [1, 3, 6]
                    )[0],
                    "ha_version": rng.choice(["2025.3.4", "2025.4.1", "2025.4.4"]),
                    "python_version": "3.13.0",
                    "installation_type": rng.choices(
                        ["Home Assistant OS", "Home Assistant Container"], [4, 1]
                    )[0],
                },
                "printer_fleet": {
                    "printers": sum(printers.values()),
                    "types": dict(printers),
                },
                "features": {
                    f: {"on": rng.randint(0, 7), "off": rng.randint(0, 7)}
                    for f in rng.sample(FEATURES, 3)
                },
                "jobs": {"started": started, **ended, "duration": dict(durations)},
                "events": {e: rng.randint(1, 9) for e in rng.sample(EVENTS, 2)},
                "errors": {},
            }
        )
    return reports


def _relative(noisy: float, true: float) -> float:
    return abs(noisy - true) / true


def _rate(completed: float, ended: float) -> float | None:
    return completed / ended if ended > 0 else None


def run(installations: int, rho: float, runs: int) -> None:
    rng = random.Random(f"{SEED}-{installations}")
    weekly = [contributions(report) for report in synthetic_week(rng, installations)]
    true: dict[tuple[str, str], int] = Counter()
    holders: dict[tuple[str, str], int] = Counter()
    for contribution in weekly:
        for cell, value in contribution.items():
            true[cell] += value
            holders[cell] += 1
    types = {key: n for (metric, key), n in holders.items() if metric == "printer_type"}
    ended_of: dict[str, float] = Counter()
    for (metric, key), value in true.items():
        if metric in (
            "jobs.completed",
            "jobs.failed",
            "jobs.cancelled",
            "jobs.interrupted",
        ):
            ended_of[key] += value
    rate_all = _rate(
        sum(v for (m, _), v in true.items() if m == "jobs.completed"),
        sum(ended_of.values()),
    )
    open_metrics = {
        rule.metric for rule in default_spec().rules if rule.kind is Kind.OPEN
    }
    open_keys = {cell for cell in holders if cell[0] in open_metrics}

    count_errors, printer_errors, type_rate_errors, overall_rate_errors = [], [], [], []
    large_errors: list[float] = []
    suppressed_types, suppressed_installations, suppressed_open = [], [], []
    for _ in range(runs):
        # What a published week spends on its numbers (the rest is its late count's).
        release = release_week(weekly, rho=rho * (1 - LATE_SHARE))
        shown = release.metrics["printer_type"].cells
        for key, cell in shown.items():
            count_errors.append(
                _relative(cell.installations.value, types.get(key, 0) or math.nan)
            )
            if types.get(key, 0) >= 100:
                large_errors.append(_relative(cell.installations.value, types[key]))
            printer_errors.append(
                _relative(cell.total.value, true[("printer_type", key)] or math.nan)
            )
        metrics = release.metrics
        noisy_ended = {
            key: sum(
                metrics[f"jobs.{o}"].cells[key].total.value
                for o in ("completed", "failed", "cancelled", "interrupted")
            )
            for key in shown
        }
        for key in shown:
            truth = _rate(true[("jobs.completed", key)], ended_of.get(key, 0))
            noisy = _rate(
                metrics["jobs.completed"].cells[key].total.value, noisy_ended[key]
            )
            if truth is not None and noisy is not None and ended_of[key] >= 1:
                type_rate_errors.append(_relative(min(noisy, 1.0), truth))
        total_ended = sum(
            metrics[f"jobs.{o}"].total.value
            for o in ("completed", "failed", "cancelled", "interrupted")
        )
        noisy_all = _rate(metrics["jobs.completed"].total.value, total_ended)
        if rate_all is not None and noisy_all is not None:
            overall_rate_errors.append(_relative(min(noisy_all, 1.0), rate_all))
        hidden = [key for key in types if key not in shown]
        suppressed_types.append(len(hidden))
        suppressed_installations.append(
            len(
                {
                    i
                    for i, c in enumerate(weekly)
                    for k in hidden
                    if ("printer_type", k) in c
                }
            )
        )
        released_open = {(m, k) for m in open_metrics for k in metrics[m].cells}
        suppressed_open.append(len(open_keys - released_open))

    def median(values: list[float]) -> str:
        finite = [v for v in values if not math.isnan(v)]
        return f"{100 * statistics.median(finite):6.1f} %" if finite else "     -  "

    print(
        f"{installations:>7,} installations, {len(types)} printer types "
        f"(released {len(types) - statistics.median(suppressed_types):.0f} in the median run)"
    )
    print(
        f"    printer-type installations  median relative error {median(count_errors)}"
    )
    print(f"      ... types of 100+ installations       {median(large_errors)}")
    print(
        f"    printer-type printers       median relative error {median(printer_errors)}"
    )
    print(
        f"    completion rate, all jobs   median relative error {median(overall_rate_errors)}  (true {rate_all:.3f})"
    )
    print(
        f"    completion rate, per type   median relative error {median(type_rate_errors)}"
    )
    print(
        f"    suppressed: {statistics.median(suppressed_types):.0f} of {len(types)} printer types "
        f"({statistics.median(suppressed_installations):.0f} installations), "
        f"{statistics.median(suppressed_open):.0f} of {len(open_keys)} keys of all open metrics"
    )


def needs(rho: float) -> None:
    week_plan = plan(default_spec(), rho * (1 - LATE_SHARE))
    counts = week_plan.part("printer_type/installations")
    totals = week_plan.part("printer_type/totals")
    completed = week_plan.part("jobs.completed/totals")
    assert counts.threshold is not None
    print(
        f"rho {week_plan.spent[0]:.3g} a week on its numbers (of {rho:g}; the rest on its late "
        f"count) = epsilon {week_plan.epsilon:.2f} at delta {DELTA:g}"
    )
    print(
        f"  a printer type is named from a noisy count of {counts.threshold} installations "
        f"(noise sd {counts.scale:.1f}); its count is within ±10 % (95 %) from "
        f"{max(counts.threshold, math.ceil(10 * counts.half_width))} installations, its printers from "
        f"{math.ceil(10 * totals.half_width)} printers, its completed jobs from {math.ceil(10 * completed.half_width)} jobs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rho", type=float, default=DEFAULT_RHO, help="zCDP budget of one week"
    )
    parser.add_argument(
        "--runs", type=int, default=10, help="releases per size (fresh noise each)"
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 1_000, 10_000])
    args = parser.parse_args()
    needs(args.rho)
    for size in args.sizes:
        run(size, args.rho, args.runs)


if __name__ == "__main__":
    main()

"""What a report contributes to the public aggregates, and how aggregates are published.

A report is turned into *contributions*: ``(metric, key) -> value`` with value > 0. The
aggregate tables keep, per ISO week, metric, key and shard, the sum of the values and the
number of distinct installations that contributed. An installation always lands in the same
shard (a hash of its id), so distinct counts add up across shards; shards only exist so that
concurrent writers on PostgreSQL do not queue on the same hot rows.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SHARDS = 16
OTHER = "other"

ACTIVE = "active"
PRINTERS = "printers"
PRINTER_TYPE = "printer_type"
FEATURE = "feature"
FEATURE_ON = "feature.on"
# `interrupted` since minor revision 1 of the report schema (absent from older reports).
JOB_OUTCOMES = ("started", "completed", "failed", "cancelled", "interrupted")
JOBS_DURATION = "jobs.duration"
DURATION_BUCKETS = ("lt_30m", "30m_1h", "1h_2h", "2h_4h", "4h_8h", "8h_24h", "gt_24h")
EVENTS = "events"
ERRORS = "errors"
ERROR_TYPE = "error_type"
INSTALL_FIELDS = ("integration_version", "ha_version", "installation_type")
# The report sections a user may leave out; ``section`` counts who shared each one.
SECTION = "section"
SECTIONS = ("printer_fleet", "features", "jobs", "events", "errors")

Contributions = dict[tuple[str, str], int]


def iso_week(day: dt.date) -> str:
    """Return the ISO week of a date as ``YYYY-Www`` (sorts correctly as text)."""
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def report_week(report: Mapping[str, Any]) -> str:
    """The week a report counts for: the ISO week of its period start."""
    return iso_week(dt.date.fromisoformat(report["period"]["start"]))


def shard_of(installation_id: str) -> int:
    """The aggregate shard of an installation (stable across processes and restarts)."""
    return zlib.crc32(installation_id.encode("ascii")) % SHARDS


def contributions(report: Mapping[str, Any]) -> Contributions:
    """Turn a validated report into its aggregate contributions.

    A section the user did not share is absent: it contributes nothing, and the
    installation is counted under ``section`` only for the sections it shared.
    """
    out: Contributions = {(ACTIVE, ""): 1}

    def add(metric: str, key: str, value: Any) -> None:
        number = int(value)
        if number > 0:
            out[(metric, key)] = out.get((metric, key), 0) + number

    installation = report["installation"]
    for field in INSTALL_FIELDS:
        add(f"install.{field}", str(installation[field]), 1)
    for section in SECTIONS:
        if section in report:
            add(SECTION, section, 1)
    fleet = report.get("printer_fleet", {"printers": 0, "types": {}})
    add(PRINTERS, "", fleet["printers"])
    for type_, count in fleet["types"].items():
        add(PRINTER_TYPE, type_, count)
    for feature, states in report.get("features", {}).items():
        add(FEATURE, feature, int(states["on"]) + int(states["off"]))
        add(FEATURE_ON, feature, states["on"])
    jobs = report.get("jobs", {})
    for outcome in JOB_OUTCOMES:
        for type_, count in jobs.get(outcome, {}).items():
            add(f"jobs.{outcome}", type_, count)
    for bucket, count in jobs.get("duration", {}).items():
        add(JOBS_DURATION, bucket, count)
    for event, count in report.get("events", {}).items():
        add(EVENTS, event, count)
    for component, types in report.get("errors", {}).items():
        for error_type, count in types.items():
            add(ERRORS, component, count)
            add(ERROR_TYPE, f"{component}:{error_type}", count)
    return out


@dataclass(slots=True)
class Cell:
    """One published value: a sum and how many installations contributed (None when folded)."""

    total: int
    installations: int | None

    def as_json(self) -> dict[str, int | None]:
        return {"total": self.total, "installations": self.installations}


def _fold(cells: Mapping[str, Cell], k: int) -> dict[str, Cell]:
    """Keep keys reported by at least k installations; fold the rest (and ``other``) into ``other``."""
    kept: dict[str, Cell] = {}
    other = 0
    for key, cell in sorted(cells.items(), key=lambda item: (-item[1].total, item[0])):
        if key != OTHER and cell.installations is not None and cell.installations >= k:
            kept[key] = cell
        else:
            other += cell.total
    if other:
        kept[OTHER] = Cell(other, None)
    return kept


def _cells(json_cells: Mapping[str, Cell]) -> dict[str, dict[str, int | None]]:
    return {key: cell.as_json() for key, cell in json_cells.items()}


def publish(rows: Iterable[tuple[str, str, str, int, int]], k: int) -> dict[str, Any]:
    """Build the public statistics from aggregate rows ``(week, metric, key, total, installations)``.

    Any key reported by fewer than ``k`` installations is folded into ``other``; a week with fewer
    than ``k`` active installations is not published at all (only counted as suppressed).
    """
    by_week: dict[str, dict[str, dict[str, Cell]]] = {}
    for week, metric, key, total, installations in rows:
        by_week.setdefault(week, {}).setdefault(metric, {})[key] = Cell(int(total), int(installations))

    weeks: list[dict[str, Any]] = []
    suppressed = 0
    for week in sorted(by_week, reverse=True):
        metrics = by_week[week]
        active = metrics.get(ACTIVE, {}).get("")
        if active is None or active.installations is None or active.installations < k:
            suppressed += 1
            continue
        weeks.append(_publish_week(week, active, metrics, k))
    return {"k_anonymity": k, "weeks": weeks, "suppressed_weeks": suppressed}


def _publish_week(week: str, active: Cell, metrics: dict[str, dict[str, Cell]], k: int) -> dict[str, Any]:
    def folded(metric: str) -> dict[str, Cell]:
        return _fold(metrics.get(metric, {}), k)

    printers = metrics.get(PRINTERS, {}).get("")
    features_seen = folded(FEATURE)
    features_on = metrics.get(FEATURE_ON, {})
    features: dict[str, dict[str, int | None]] = {}
    for feature, seen in features_seen.items():
        if feature == OTHER:
            continue
        on = features_on.get(feature, Cell(0, 0))
        features[feature] = {
            "installations": seen.installations,
            "installations_on": on.installations,
            "on": on.total,
            "off": seen.total - on.total,
        }
    if OTHER in features_seen:
        on_other = sum(cell.total for key, cell in features_on.items() if key not in features)
        total_other = features_seen[OTHER].total
        features[OTHER] = {
            "installations": None,
            "installations_on": None,
            "on": on_other,
            "off": total_other - on_other,
        }

    errors: dict[str, dict[str, Any]] = {}
    components = folded(ERRORS)
    error_types: dict[str, dict[str, Cell]] = {}
    for composite, cell in metrics.get(ERROR_TYPE, {}).items():
        component, _, error_type = composite.partition(":")
        error_types.setdefault(component if component in components else OTHER, {})[error_type] = cell
    for component, cell in components.items():
        types = error_types.get(component, {})
        if component == OTHER:
            # A rare component's error types may themselves be identifying: publish only the sum.
            types = {OTHER: Cell(sum(c.total for c in types.values()), None)} if types else {}
        entry: dict[str, Any] = cell.as_json()
        entry["types"] = _cells(_fold(types, k))
        errors[component] = entry

    return {
        "week": week,
        "installations": active.installations,
        "reports": active.total,
        "printers": printers.total if printers else 0,
        "printer_types": _cells(folded(PRINTER_TYPE)),
        "features": features,
        "jobs": {outcome: _cells(folded(f"jobs.{outcome}")) for outcome in JOB_OUTCOMES}
        | {"duration": _cells(folded(JOBS_DURATION))},
        "events": _cells(folded(EVENTS)),
        "errors": errors,
        "installation": {field: _cells(folded(f"install.{field}")) for field in INSTALL_FIELDS},
        # How many installations shared each section: the base of that section's numbers.
        "sections": {section: _section_count(metrics, section) for section in SECTIONS},
    }


def _section_count(metrics: dict[str, dict[str, Cell]], section: str) -> int:
    """Installations that shared `section` this week (reports before sections shared all)."""
    cell = metrics.get(SECTION, {}).get(section)
    return cell.installations or 0 if cell else 0

"""What a report contributes to the public aggregates (``publication.py`` publishes them).

A report is turned into *contributions*: ``(metric, key) -> value`` with value > 0. The
aggregate tables keep, per ISO week, metric, key and shard, the sum of the values and the
number of distinct installations that contributed. An installation always lands in the same
shard (a hash of its id), so distinct counts add up across shards; shards only exist so that
concurrent writers on PostgreSQL do not queue on the same hot rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .schema import report_enum

SHARDS = 16
OTHER = "other"
# The aggregate tables' columns (migration 0001): every metric and key fits them.
MAX_METRIC_LENGTH = 32
MAX_KEY_LENGTH = 130
# Composite keys join their parts with it; no label, version or identifier of the schema holds one.
SEP = ":"

ACTIVE = "active"
PRINTERS = "printers"
PRINTER_TYPE = "printer_type"
FEATURE = "feature"
FEATURE_ON = "feature.on"
NONEMPTY = "nonempty"
# Job outcomes, duration buckets and report sections are defined once, in the report schema's
# $defs (`interrupted` since minor revision 1, absent from older reports).
JOB_OUTCOMES = report_enum("outcome")
JOBS_DURATION = "jobs.duration"
DURATION_BUCKETS = report_enum("duration_bucket")
EVENTS = "events"
ERRORS = "errors"
ERROR_TYPE = "error_type"
INSTALL_FIELDS = ("integration_version", "ha_version", "installation_type")
# The report sections a user may leave out; ``section`` counts who shared each one.
SECTION = "section"
SECTIONS = report_enum("section")
# Since minor revision 2, each with the printers (or jobs, errors) as its total:
INTEGRATION = "integration"  # domain
INTEGRATION_TYPE = "integration.type"  # domain:printer type
INTEGRATION_VERSION = "integration.version"  # domain:version
PRINTER_MODEL = "printer_model"  # printer type:model
PRINTER_FIRMWARE = "printer_firmware"  # printer type:firmware (major.minor)
JOBS_BY_MODEL = "jobs.by_model"  # + ".<outcome>"; key "<type>.<model>" (or "other"), as reported
ERROR_VERSION = "errors.version"  # component:version of that integration in the same report
ERROR_VERSION_TYPE = "error_type.version"  # component:version:error type

Contributions = dict[tuple[str, str], int]
# What every report contributes, empty or not: being there, its versions and its sections.
_DESCRIPTORS = frozenset({ACTIVE, SECTION, *(f"install.{field}" for field in INSTALL_FIELDS)})


@functools.lru_cache(maxsize=1024)  # on the intake path; reports name few distinct days
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


def joined(*parts: str) -> str:
    """A composite aggregate key: its parts joined by :data:`SEP`."""
    return SEP.join(parts)


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
    integrations = fleet.get("integrations", {})
    for domain, entry in integrations.items():
        add(INTEGRATION, domain, entry["printers"])
        add(INTEGRATION_TYPE, joined(domain, entry["type"]), entry["printers"])
        add(INTEGRATION_VERSION, joined(domain, entry["version"]), entry["printers"])
    for metric, section in ((PRINTER_MODEL, "models"), (PRINTER_FIRMWARE, "firmware")):
        for type_, counts in fleet.get(section, {}).items():
            for name, count in counts.items():
                add(metric, joined(type_, name), count)
    for feature, states in report.get("features", {}).items():
        add(FEATURE, feature, int(states["on"]) + int(states["off"]))
        add(FEATURE_ON, feature, states["on"])
    jobs = report.get("jobs", {})
    for outcome in JOB_OUTCOMES:
        for type_, count in jobs.get(outcome, {}).items():
            add(f"jobs.{outcome}", type_, count)
    for bucket, count in jobs.get("duration", {}).items():
        add(JOBS_DURATION, bucket, count)
    for model_key, outcomes in jobs.get("by_model", {}).items():
        for outcome in JOB_OUTCOMES:
            add(f"{JOBS_BY_MODEL}.{outcome}", model_key, outcomes.get(outcome, 0))
    for event, count in report.get("events", {}).items():
        add(EVENTS, event, count)
    for component, types in report.get("errors", {}).items():
        # Errors of a printer integration count for the version of it this report names.
        version = integrations[component]["version"] if component in integrations else None
        for error_type, count in types.items():
            add(ERRORS, component, count)
            add(ERROR_TYPE, joined(component, error_type), count)
            if version is not None:
                add(ERROR_VERSION, joined(component, version), count)
                add(ERROR_VERSION_TYPE, joined(component, version, error_type), count)
    if any(metric not in _DESCRIPTORS for metric, _ in out):
        # The installation reported something beyond being there: it counts towards the k
        # installations a week needs to be published.
        out[(NONEMPTY, "")] = 1
    return out


@dataclass(slots=True)
class Cell:
    """One aggregate value: a sum and how many installations contributed (None when unknown)."""

    total: int
    installations: int | None

    def as_json(self) -> dict[str, int | None]:
        return {"total": self.total, "installations": self.installations}

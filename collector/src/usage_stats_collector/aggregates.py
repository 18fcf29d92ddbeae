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

# What one week publishes at most, whatever the privacy rule: keys per list, error types per
# component (and version), and keys within one parent (versions and printer types of an
# integration, models and firmware versions of a printer type, versions of an error component).
MAX_KEYS = 50
MAX_ERROR_TYPES = 20
MAX_NESTED = 20

Contributions = dict[tuple[str, str], int]
Grouped = dict[str, dict[str, int]]  # the same per metric: {metric: {key: value}}
_INSTALL_METRICS = tuple((field, f"install.{field}") for field in INSTALL_FIELDS)
_JOB_METRICS = tuple((outcome, f"jobs.{outcome}") for outcome in JOB_OUTCOMES)
_JOB_METRICS_BY_MODEL = tuple((outcome, f"{JOBS_BY_MODEL}.{outcome}") for outcome in JOB_OUTCOMES)
_FLEET_BREAKDOWNS = ((PRINTER_MODEL, "models"), (PRINTER_FIRMWARE, "firmware"))
_EMPTY: Mapping[str, int] = {}
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
    return {(metric, key): value for metric, keyed in grouped(report).items() for key, value in keyed.items()}


def grouped(report: Mapping[str, Any]) -> Grouped:
    """The contributions of a report per metric, ``{metric: {key: value}}``, values > 0 (what
    :func:`contributions` flattens; differential privacy clips them metric by metric).

    Written for speed (publication under dp reads every report of a week through it): one
    comprehension per metric; the values are the schema's integers.
    """
    out: Grouped = {ACTIVE: {"": 1}}
    installation = report["installation"]
    for field, metric in _INSTALL_METRICS:
        out[metric] = {str(installation[field]): 1}
    if shared := {section: 1 for section in SECTIONS if section in report}:
        out[SECTION] = shared
    fleet = report.get("printer_fleet")
    integrations: Mapping[str, Any] = {}
    if fleet is not None:
        if fleet["printers"] > 0:
            out[PRINTERS] = {"": fleet["printers"]}
        if keyed := {key: value for key, value in fleet["types"].items() if value > 0}:
            out[PRINTER_TYPE] = keyed
        integrations = fleet.get("integrations", {})
        if integrations:
            _integrations(out, integrations)
        for metric, section in _FLEET_BREAKDOWNS:
            if breakdown := fleet.get(section):
                nested = {
                    f"{type_}{SEP}{name}": count
                    for type_, counts in breakdown.items()
                    for name, count in counts.items()
                    if count > 0
                }
                if nested:
                    out[metric] = nested
    if features := report.get("features"):
        if keyed := {
            name: days for name, states in features.items() if (days := states["on"] + states["off"]) > 0
        }:
            out[FEATURE] = keyed
        if keyed := {name: states["on"] for name, states in features.items() if states["on"] > 0}:
            out[FEATURE_ON] = keyed
    if jobs := report.get("jobs"):
        for outcome, metric in _JOB_METRICS:
            if keyed := {key: value for key, value in jobs.get(outcome, _EMPTY).items() if value > 0}:
                out[metric] = keyed
        if keyed := {key: value for key, value in jobs.get("duration", _EMPTY).items() if value > 0}:
            out[JOBS_DURATION] = keyed
        if by_model := jobs.get("by_model"):
            for outcome, metric in _JOB_METRICS_BY_MODEL:
                per_model = {
                    model: count
                    for model, outcomes in by_model.items()
                    if (count := outcomes.get(outcome, 0)) > 0
                }
                if per_model:
                    out[metric] = per_model
    if (events := report.get("events")) and (
        keyed := {key: value for key, value in events.items() if value > 0}
    ):
        out[EVENTS] = keyed
    if errors := report.get("errors"):
        _errors(out, errors, integrations)
    if not _DESCRIPTORS.issuperset(out):
        # The installation reported something beyond being there: it counts towards the k
        # installations a week needs to be published.
        out[NONEMPTY] = {"": 1}
    return out


def _integrations(out: Grouped, integrations: Mapping[str, Any]) -> None:
    """Printers per integration, per integration and printer type, per integration and version."""
    if keyed := {
        domain: entry["printers"] for domain, entry in integrations.items() if entry["printers"] > 0
    }:
        out[INTEGRATION] = keyed
        out[INTEGRATION_TYPE] = {
            f"{domain}{SEP}{integrations[domain]['type']}": n for domain, n in keyed.items()
        }
        out[INTEGRATION_VERSION] = {
            f"{domain}{SEP}{integrations[domain]['version']}": n for domain, n in keyed.items()
        }


def _errors(out: Grouped, errors: Mapping[str, Mapping[str, Any]], integrations: Mapping[str, Any]) -> None:
    """The errors of a report: per component, per component and type, and (for a printer
    integration of the report) per version of it the report names, and per version and type."""

    def add(metric: str, key: str, number: int) -> None:
        keyed = out.setdefault(metric, {})
        keyed[key] = keyed.get(key, 0) + number

    for component, types in errors.items():
        version = integrations[component]["version"] if component in integrations else None
        for error_type, count in types.items():
            number = int(count)
            if number <= 0:
                continue
            add(ERRORS, component, number)
            add(ERROR_TYPE, joined(component, error_type), number)
            if version is not None:
                add(ERROR_VERSION, joined(component, version), number)
                add(ERROR_VERSION_TYPE, joined(component, version, error_type), number)


@dataclass(slots=True)
class Cell:
    """One aggregate value: a sum and how many installations contributed (None when unknown)."""

    total: int
    installations: int | None

    def as_json(self) -> dict[str, int | None]:
        return {"total": self.total, "installations": self.installations}

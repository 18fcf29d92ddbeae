"""The weekly report: built from the daily counters, in the form of schema version 1.

Only this module turns counters into a report body. The body is a plain JSON object
(`schemas/report-v1.schema.json`): every map holds at most `MAX_KEYS` keys plus
`other`, and the whole body, serialized as it is sent, at most `MAX_REPORT_BYTES`.
Long tails are folded into `other`, harder when the body would be too big.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
import json
import re
from typing import Any, Final

from .catalogue import (
    DURATION_BUCKETS,
    ERRORS,
    EVENT_METADATA,
    EVENTS,
    FEATURES,
    JOB_DURATION,
    JOB_OUTCOME,
    JOB_OUTCOMES,
    JOBS,
    JOBS_BY_MODEL,
    LABEL_SEPARATOR,
    METRICS,
    OTHER,
    PRINTER_INTEGRATIONS,
    PRINTER_MODELS,
    PRINTERS,
    PRINTERS_BY_TYPE,
    MetricKind,
    Section,
    report_version,
    up_to,
)
from .const import UNKNOWN
from .counters import DailyCounters
from .store import Baseline

SCHEMA_VERSION: Final = 1
# The minor revision of schema version 1 each report version needs: report version
# 2 added the job outcome `interrupted`, so it sends `schema_minor: 1`. A report of
# an accepted version 1 is a plain revision 0 report (no `schema_minor`), which a
# receiver that knows only revision 0 accepts. Report version 3 added the printer
# integrations, models and firmware and the jobs per model (revision 2).
SCHEMA_MINORS: Final = {2: 1, 3: 2}
MAX_KEYS: Final = 50
# "At most 10 KB": kept under 10,000 bytes, which satisfies either reading of KB.
MAX_REPORT_BYTES: Final = 10_000
MAX_COUNT: Final = 1_000_000_000
# Keys per map tried in turn until the body fits.
FOLD_LIMITS: Final = (MAX_KEYS, 20, 10, 5, 2, 0)
KEY_RE: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
# Shown instead of ids the preview cannot know yet (no installation id before `share`).
PLACEHOLDER_ID: Final = "00000000-0000-4000-8000-000000000000"

type Days = Mapping[str, Mapping[str, Mapping[str, int]]]


@dataclass(frozen=True, slots=True)
class Period:
    """Whole UTC days from `first` to `last`, both included."""

    first: date
    last: date

    @property
    def days(self) -> int:
        """Return the number of days."""
        return (self.last - self.first).days + 1

    def as_dict(self) -> dict[str, Any]:
        """Return the report's `period`."""
        return {
            "start": self.first.isoformat(),
            "end": self.last.isoformat(),
            "days": self.days,
        }


def serialize(body: Mapping[str, Any]) -> bytes:
    """Return the bytes sent for `body`; the size limit applies to these."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def period_days(
    counters: DailyCounters, period: Period, baseline: Baseline | None
) -> Days:
    """Return the stored days of `period`, less what was counted before the grant.

    Counters of the grant day recorded before `share` was granted are subtracted;
    snapshots (a state of the day, not events) are kept as they are.
    """
    days: dict[str, Mapping[str, Mapping[str, int]]] = dict(
        counters.in_range(period.first, period.last)
    )
    if baseline is None or baseline["day"] not in days:
        return days
    adjusted: dict[str, dict[str, int]] = {}
    for name, labels in days[baseline["day"]].items():
        before = baseline["metrics"].get(name, {})
        metric = METRICS.get(name)
        if metric is None or metric.kind is MetricKind.SNAPSHOT or not before:
            adjusted[name] = dict(labels)
            continue
        adjusted[name] = {
            key: value - before.get(key, 0)
            for key, value in labels.items()
            if value > before.get(key, 0)
        }
    days[baseline["day"]] = adjusted
    return days


def only_sections(
    body: Mapping[str, Any], shared: Collection[Section]
) -> dict[str, Any]:
    """Return `body` without the sections the user does not share."""
    return {
        key: value
        for key, value in body.items()
        if key not in SECTION_KEYS or key in shared
    }


SECTION_KEYS: Final = frozenset(section.value for section in Section)


def build_report(
    days: Days,
    period: Period,
    *,
    submission_id: str,
    installation_id: str,
    installation: Mapping[str, str],
    shared: Collection[Section] = tuple(Section),
    version: int | None = None,
) -> dict[str, Any]:
    """Return the report body for `days` (from `period_days`), within the size limit.

    Only what report `version` (the current one when None) holds is in it, in the
    schema revision of that version. Sections not in `shared` are left out entirely.
    """
    if version is None:
        version = report_version()
    sections = _sections(
        {day: up_to(version, metrics) for day, metrics in days.items()}, version
    )
    minor = schema_minor(version)
    for limit in FOLD_LIMITS:
        body = {
            "schema_version": SCHEMA_VERSION,
            **({"schema_minor": minor} if minor else {}),
            "submission_id": submission_id,
            "installation_id": installation_id,
            "period": period.as_dict(),
            "installation": dict(installation),
            **only_sections(_fold_sections(sections, limit), shared),
        }
        if len(serialize(body)) <= MAX_REPORT_BYTES:
            break
    return body


def schema_minor(version: int) -> int:
    """Return the schema minor revision of a report of `version` (0: not sent)."""
    return max(
        (minor for since, minor in SCHEMA_MINORS.items() if since <= version),
        default=0,
    )


@dataclass(slots=True)
class _Sections:
    printers: int
    types: dict[str, int]
    features: dict[str, dict[str, int]]
    jobs: dict[str, dict[str, int]]
    duration: dict[str, int]
    events: dict[str, int]
    errors: dict[str, dict[str, int]]
    # Report version 3 (None before): see `_Details`.
    details: _Details | None = None


@dataclass(slots=True)
class _Details:
    """Integrations with their type, version and printers; models, firmware, jobs."""

    integrations: dict[str, dict[str, Any]]
    models: dict[str, dict[str, int]]
    firmware: dict[str, dict[str, int]]
    by_model: dict[str, dict[str, int]]


def _details(days: Days) -> _Details:
    """Return what report version 3 added, from the last snapshot and the job sums."""
    integrations: dict[str, dict[str, Any]] = {}
    ranked = sorted(
        _last_snapshot(days, PRINTER_INTEGRATIONS.name).items(),
        key=lambda item: -item[1],
    )
    for key, value in ranked:
        if (labels := _split(key, 3)) is None:
            continue
        domain, printer_type, version = labels
        entry = integrations.setdefault(
            domain, {"type": printer_type, "version": version, "printers": 0}
        )
        entry["printers"] += value
    models: dict[str, dict[str, int]] = {}
    firmware: dict[str, dict[str, int]] = {}
    for key, value in _last_snapshot(days, PRINTER_MODELS.name).items():
        if (labels := _split(key, 3)) is None:
            continue
        printer_type, model, version = labels
        if model != UNKNOWN:
            _add(models.setdefault(printer_type, {}), model, value)
        if version != UNKNOWN:
            _add(firmware.setdefault(printer_type, {}), version, value)
    by_model: dict[str, dict[str, int]] = {}
    for key, value in _sum(days, JOBS_BY_MODEL.name).items():
        if (labels := _split(key, 3)) is None:
            continue
        outcome, printer_type, model = labels
        # A key the daily label cap folded (`<outcome>/other/other`) is `other`.
        name = OTHER if OTHER in (printer_type, model) else f"{printer_type}.{model}"
        counts = by_model.setdefault(name, {})
        counts[outcome] = counts.get(outcome, 0) + value
    return _Details(integrations, models, firmware, by_model)


def _last_snapshot(days: Days, metric_name: str) -> dict[str, int]:
    for day in sorted(days, reverse=True):
        if metric_name in days[day]:
            return dict(days[day][metric_name])
    return {}


def _sum(days: Days, metric_name: str) -> dict[str, int]:
    totals: dict[str, int] = {}
    for metrics in days.values():
        for key, value in metrics.get(metric_name, {}).items():
            totals[key] = totals.get(key, 0) + value
    return totals


def _split(key: str, parts: int) -> list[str] | None:
    """Return the label values of a stored key, None for a folded `other` key."""
    values = key.split(LABEL_SEPARATOR)
    return values if len(values) == parts else None


def _add(counts: dict[str, int], key: str, value: int) -> None:
    if not KEY_RE.fullmatch(key):
        key = OTHER
    counts[key] = counts.get(key, 0) + value


def _sections(days: Days, version: int) -> _Sections:
    """Return the report sections, unfolded.

    The daily label cap folds one label of a key into `other` and keeps the others
    (a job's outcome, a feature's state); a key that cannot be placed anyway is
    left out rather than guessed.
    """
    types: dict[str, int] = {}
    for key, value in _last_snapshot(days, PRINTERS_BY_TYPE.name).items():
        _add(types, key, value)
    printers = sum(_last_snapshot(days, PRINTERS.name).values())

    features: dict[str, dict[str, int]] = {}
    for key, value in _sum(days, FEATURES.name).items():
        if (labels := _split(key, 2)) is not None:
            feature = labels[0] if KEY_RE.fullmatch(labels[0]) else OTHER
            states = features.setdefault(feature, {"on": 0, "off": 0})
            states[labels[1]] = states.get(labels[1], 0) + value

    jobs: dict[str, dict[str, int]] = {
        outcome: {}
        for outcome in JOB_OUTCOMES
        if JOB_OUTCOME.since.get(outcome, JOBS.since) <= version
    }
    for key, value in _sum(days, JOBS.name).items():
        if (labels := _split(key, 2)) is not None and labels[0] in jobs:
            _add(jobs[labels[0]], labels[1], value)
    buckets = {name for name, _ in DURATION_BUCKETS}
    duration = {
        key: value
        for key, value in _sum(days, JOB_DURATION.name).items()
        if key in buckets
    }

    events: dict[str, int] = {}
    for key, value in _sum(days, EVENTS.name).items():
        _add(events, key, value)
    for key, value in _sum(days, EVENT_METADATA.name).items():
        _add(events, key.replace(LABEL_SEPARATOR, "."), value)

    errors: dict[str, dict[str, int]] = {}
    for key, value in _sum(days, ERRORS.name).items():
        component, error_type = _split(key, 2) or [OTHER, OTHER]
        if not KEY_RE.fullmatch(component):
            component = OTHER
        _add(errors.setdefault(component, {}), error_type, value)

    details = _details(days) if PRINTER_INTEGRATIONS.since <= version else None
    return _Sections(printers, types, features, jobs, duration, events, errors, details)


def _fold[V](
    items: Mapping[str, V],
    limit: int,
    weight: Callable[[V], int],
    merge: Callable[[Iterable[V]], V],
) -> dict[str, V]:
    """Keep the `limit` biggest keys; merge the rest, and any `other`, into `other`."""
    ranked = sorted(
        ((key, value) for key, value in items.items() if key != OTHER),
        key=lambda item: (-weight(item[1]), item[0]),
    )
    kept = dict(ranked[:limit])
    rest = [value for _, value in ranked[limit:]]
    if OTHER in items:
        rest.append(items[OTHER])
    if rest:
        kept[OTHER] = merge(rest)
    return kept


def _merge_counts(values: Iterable[int]) -> int:
    return sum(values)


def _merge_maps(maps: Iterable[Mapping[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for counts in maps:
        for key, value in counts.items():
            merged[key] = merged.get(key, 0) + value
    return merged


def _counts(items: Mapping[str, int], limit: int) -> dict[str, int]:
    folded = _fold(items, limit, lambda value: value, _merge_counts)
    return {key: _cap(value) for key, value in folded.items()}


def _merge_integrations(entries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Fold integrations into one `other`, of type and version `other`."""
    return {
        "type": OTHER,
        "version": OTHER,
        "printers": sum(entry["printers"] for entry in entries),
    }


def _nested(maps: Mapping[str, Mapping[str, int]], limit: int) -> dict[str, Any]:
    """Fold a map of counts per printer type: the types, then each one's counts.

    The folded types are one `other` type whose only key is `other`: their models
    (or firmware versions) mean nothing mixed, but none of their printers is lost.
    """
    folded = _fold(maps, limit, lambda counts: sum(counts.values()), _merge_maps)
    return {
        printer_type: (
            {OTHER: _cap(sum(counts.values()))}
            if printer_type == OTHER
            else _counts(counts, limit)
        )
        for printer_type, counts in folded.items()
    }


def _cap(value: int) -> int:
    return max(0, min(value, MAX_COUNT))


def _fold_sections(sections: _Sections, limit: int) -> dict[str, Any]:
    features = _fold(
        sections.features, limit, lambda states: sum(states.values()), _merge_maps
    )
    errors = _fold(
        sections.errors, limit, lambda types: sum(types.values()), _merge_maps
    )
    fleet: dict[str, Any] = {
        "printers": _cap(sections.printers),
        "types": _counts(sections.types, limit),
    }
    jobs: dict[str, Any] = {
        outcome: _counts(types, limit) for outcome, types in sections.jobs.items()
    }
    if (details := sections.details) is not None:
        integrations = _fold(
            details.integrations,
            limit,
            lambda entry: entry["printers"],
            _merge_integrations,
        )
        fleet["integrations"] = {
            domain: entry | {"printers": _cap(entry["printers"])}
            for domain, entry in integrations.items()
        }
        fleet["models"] = _nested(details.models, limit)
        fleet["firmware"] = _nested(details.firmware, limit)
        jobs["by_model"] = {
            key: {outcome: _cap(value) for outcome, value in outcomes.items()}
            for key, outcomes in _fold(
                details.by_model,
                limit,
                lambda outcomes: sum(outcomes.values()),
                _merge_maps,
            ).items()
        }
    return {
        "printer_fleet": fleet,
        "features": {
            feature: {
                "on": _cap(states.get("on", 0)),
                "off": _cap(states.get("off", 0)),
            }
            for feature, states in features.items()
        },
        "jobs": jobs
        | {"duration": {key: _cap(value) for key, value in sections.duration.items()}},
        "events": _counts(sections.events, limit),
        "errors": {
            component: _counts(types, limit) for component, types in errors.items()
        },
    }


def week_start(day: date) -> date:
    """Return the Monday of the ISO week of `day`."""
    return day - timedelta(days=day.weekday())

"""The catalogue: every metric and label the integration may record, and nothing else.

This is the allowlist. Recording refuses a metric or label value that is not
declared here, the README's "What is collected" table is generated from it, and
the weekly report is built from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Final

from .const import ConsentLevel
from .privacy import label_error, safe_class_name

LABEL_SEPARATOR: Final = "/"
OTHER: Final = "other"
# The longest key a report may carry (the wire contract's identifier).
MAX_KEY_LENGTH: Final = 64
CUSTOM_EVENT_PREFIX: Final = "custom_"

DURATION_BUCKETS: Final = (
    ("lt_30m", 30 * 60),
    ("30m_1h", 60 * 60),
    ("1h_2h", 2 * 3600),
    ("2h_4h", 4 * 3600),
    ("4h_8h", 8 * 3600),
    ("8h_24h", 24 * 3600),
    ("gt_24h", None),
)
NUMBER_BUCKETS: Final = (
    ("negative", 0),
    ("lt_1", 1),
    ("from_1_to_10", 10),
    ("from_10_to_100", 100),
    ("from_100_to_1000", 1000),
    ("gte_1000", None),
)


class MetricKind(StrEnum):
    """How a metric is kept."""

    COUNTER = "counter"
    LABELLED_COUNTER = "labelled counter"
    SNAPSHOT = "snapshot"
    BUCKETED = "bucketed measurement"


class Section(StrEnum):
    """Where a metric goes in the weekly report."""

    PRINTER_FLEET = "printer_fleet"
    FEATURES = "features"
    JOBS = "jobs"
    EVENTS = "events"
    ERRORS = "errors"


class LabelKind(StrEnum):
    """How the values of a label are checked."""

    ENUM = "one of a fixed list"
    IDENTIFIER = "short identifier"
    CLASS_NAME = "exception class name"
    FEATURE = "`<integration>.<key>` of two identifiers"
    EVENT = "a built-in or declared event type, or `custom_<identifier>`"


@dataclass(frozen=True, slots=True)
class Label:
    """A label of a metric."""

    name: str
    kind: LabelKind
    values: tuple[str, ...] = ()

    def check(self, value: str) -> bool:
        """Return True when `value` is an allowed value of this label."""
        match self.kind:
            case LabelKind.ENUM:
                return value in self.values
            case LabelKind.IDENTIFIER:
                return label_error(value) is None
            case LabelKind.CLASS_NAME:
                return safe_class_name(value) is not None
            case LabelKind.FEATURE:
                domain, _, key = value.partition(".")
                return (
                    len(value) <= MAX_KEY_LENGTH
                    and label_error(domain) is None
                    and label_error(key) is None
                )
            case LabelKind.EVENT:
                return label_error(value) is None and (
                    value in BUILTIN_EVENTS
                    or value in EVENT_TYPES
                    or value.startswith(CUSTOM_EVENT_PREFIX)
                )


@dataclass(frozen=True, slots=True)
class Metric:
    """A metric of the catalogue."""

    name: str
    kind: MetricKind
    section: Section
    description: str
    labels: tuple[Label, ...] = ()
    min_consent: ConsentLevel = ConsentLevel.LOCAL
    # The report version that introduced the metric: a report holds it only once
    # the user accepted that version (see consent.py).
    since: int = 1

    def label_key(self, *values: str) -> str | None:
        """Return the stored key of these label values, or None if one is refused."""
        return _label_key(self, values)

    def folded(self, key: str) -> str:
        """Return `key` for the long tail: every open label `other`, fixed lists kept.

        A job keeps its outcome and a feature its on/off state; so the folded keys
        of a metric are few (at most the product of its fixed lists).
        """
        values = key.split(LABEL_SEPARATOR)
        if len(values) != len(self.labels):
            return OTHER
        return LABEL_SEPARATOR.join(
            value if label.kind is LabelKind.ENUM else OTHER
            for label, value in zip(self.labels, values, strict=True)
        )


@lru_cache(maxsize=4096)
def _label_key(metric: Metric, values: tuple[str, ...]) -> str | None:
    if len(values) != len(metric.labels):
        return None
    if not all(
        label.check(value) for label, value in zip(metric.labels, values, strict=True)
    ):
        return None
    return LABEL_SEPARATOR.join(values)


@dataclass(frozen=True, slots=True)
class EventType:
    """An event type that `usage_stats.record_event` accepts."""

    name: str
    description: str
    # Metadata key -> allowed values; an empty tuple means a boolean.
    metadata: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


PRINTER_TYPE = Label("printer_type", LabelKind.IDENTIFIER)
JOB_OUTCOMES: Final = ("started", "completed", "failed", "cancelled", "interrupted")

PRINTERS = Metric(
    "printers",
    MetricKind.SNAPSHOT,
    Section.PRINTER_FLEET,
    "Number of 3D printers of the configured printer integrations, per day.",
)
PRINTERS_BY_TYPE = Metric(
    "printers_by_type",
    MetricKind.SNAPSHOT,
    Section.PRINTER_FLEET,
    "Number of printers of each printer type, per day.",
    (PRINTER_TYPE,),
)
FEATURES = Metric(
    "features",
    MetricKind.SNAPSHOT,
    Section.FEATURES,
    "How many printer feature entities were on and off, per feature and day.",
    (
        Label("feature", LabelKind.FEATURE),
        Label("state", LabelKind.ENUM, ("on", "off")),
    ),
)
JOBS = Metric(
    "jobs",
    MetricKind.LABELLED_COUNTER,
    Section.JOBS,
    "Print jobs by outcome, per printer type: every started job ends in exactly one "
    "of completed, failed, cancelled or interrupted (its end could not be seen), so "
    "started = the outcomes + the jobs still running.",
    (Label("outcome", LabelKind.ENUM, JOB_OUTCOMES), PRINTER_TYPE),
)
JOB_DURATION = Metric(
    "job_duration",
    MetricKind.BUCKETED,
    Section.JOBS,
    "Durations of completed print jobs whose start was seen, in fixed ranges.",
    (Label("bucket", LabelKind.ENUM, tuple(name for name, _ in DURATION_BUCKETS)),),
)
EVENTS = Metric(
    "events",
    MetricKind.LABELLED_COUNTER,
    Section.EVENTS,
    "Home Assistant starts, printers going offline and back online, and events "
    "recorded with the `usage_stats.record_event` action.",
    (Label("event", LabelKind.EVENT),),
)
EVENT_METADATA = Metric(
    "event_metadata",
    MetricKind.LABELLED_COUNTER,
    Section.EVENTS,
    "Declared metadata of recorded events: key and value (numbers in ranges).",
    (
        Label("event", LabelKind.EVENT),
        Label("key", LabelKind.IDENTIFIER),
        Label("value", LabelKind.IDENTIFIER),
    ),
)
ERRORS = Metric(
    "errors",
    MetricKind.LABELLED_COUNTER,
    Section.ERRORS,
    "Errors logged by the configured printer integrations and by Usage Statistics "
    "itself, by integration domain and exception class, and printers entering an "
    "error state (`printer_error`, by printer type). Errors of other integrations, "
    "of Home Assistant core and of libraries are not recorded at all.",
    (
        Label("component", LabelKind.IDENTIFIER),
        Label("error_type", LabelKind.CLASS_NAME),
    ),
)

METRICS: Final[Mapping[str, Metric]] = {
    metric.name: metric
    for metric in (
        PRINTERS,
        PRINTERS_BY_TYPE,
        FEATURES,
        JOBS,
        JOB_DURATION,
        EVENTS,
        EVENT_METADATA,
        ERRORS,
    )
}


def report_version() -> int:
    """Return the current report version: the newest version of any metric."""
    return max(metric.since for metric in METRICS.values())


def metrics_up_to(version: int) -> frozenset[str]:
    """Return the names of the metrics a report of `version` may hold."""
    return frozenset(
        name for name, metric in METRICS.items() if metric.since <= version
    )


def metrics_added(accepted: int, version: int) -> list[Metric]:
    """Return the metrics added after report version `accepted`, up to `version`."""
    return [m for m in METRICS.values() if accepted < m.since <= version]


def describe_added(metrics: list[Metric]) -> str:
    """Return a Markdown list of metrics made from the catalogue, in identifiers only.

    One line a metric: its name, its report section and its labels (the same in
    every language; the README's table says what each one counts).
    """
    lines = []
    for metric in metrics:
        labels = ", ".join(f"`{label.name}`" for label in metric.labels) or "-"
        lines.append(f"- `{metric.name}` — `{metric.section}` — {labels}")
    return "\n".join(lines)


# Events recorded by the integration itself.
EVENT_HA_START: Final = "ha_start"
EVENT_PRINTER_OFFLINE: Final = "printer_offline"
EVENT_PRINTER_ONLINE: Final = "printer_online"
EVENT_PRINTER_ERROR: Final = "printer_error"
BUILTIN_EVENTS: Final = frozenset(
    {EVENT_HA_START, EVENT_PRINTER_OFFLINE, EVENT_PRINTER_ONLINE}
)

MATERIALS: Final = ("pla", "petg", "abs", "asa", "tpu", "nylon", "pc", "resin", "other")
MAINTENANCE_TASKS: Final = (
    "nozzle_change",
    "bed_leveling",
    "lubrication",
    "cleaning",
    "belt_tension",
    "firmware_update",
    "other",
)

EVENT_TYPES: Final[Mapping[str, EventType]] = {
    event.name: event
    for event in (
        EventType("filament_change", "A spool was changed.", {"material": MATERIALS}),
        EventType(
            "maintenance", "Printer maintenance was done.", {"task": MAINTENANCE_TASKS}
        ),
        EventType("print_queued", "A print job was queued.", {"from_automation": ()}),
    )
}


def duration_bucket(seconds: float) -> str:
    """Return the duration range of a job that took `seconds`."""
    for name, upper in DURATION_BUCKETS:
        if upper is None or seconds < upper:
            return name
    raise AssertionError  # pragma: no cover - the last bucket has no upper bound


def number_bucket(value: float) -> str:
    """Return the range a metadata number falls into."""
    for name, upper in NUMBER_BUCKETS:
        if upper is None or value < upper:
            return name
    raise AssertionError  # pragma: no cover - the last bucket has no upper bound


def markdown_table() -> str:
    """Return the README's "What is collected" table, made from the catalogue."""
    rows = [
        "| metric | kind | labels | recorded at consent | report section | since report version | description |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for metric in METRICS.values():
        labels = "<br>".join(
            f"`{label.name}`: {label.kind}"
            + (
                f" ({', '.join(f'`{v}`' for v in label.values)})"
                if label.values
                else ""
            )
            for label in metric.labels
        )
        rows.append(
            f"| `{metric.name}` | {metric.kind} | {labels or 'none'} | "
            f"`{metric.min_consent}` | `{metric.section}` | {metric.since} | "
            f"{metric.description} |"
        )
    rows += [
        "",
        "Event types accepted by `usage_stats.record_event` besides `custom_<identifier>`:",
        "",
        "| event type | metadata | description |",
        "| --- | --- | --- |",
    ]
    for event in EVENT_TYPES.values():
        metadata = "<br>".join(
            f"`{key}`: "
            + (", ".join(f"`{v}`" for v in values) if values else "boolean")
            for key, values in event.metadata.items()
        )
        rows.append(f"| `{event.name}` | {metadata or 'none'} | {event.description} |")
    return "\n".join(rows) + "\n"

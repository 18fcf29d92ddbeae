"""The catalogue: every metric and label the integration may record, and nothing else.

This is the allowlist. Recording refuses a metric or label value that is not
declared here, the README's "What is collected" table is generated from it
(catalogue_table.py), and the weekly report is built from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Final

from .const import UNKNOWN, ConsentLevel
from .privacy import (
    firmware_error,
    label_error,
    model_error,
    safe_class_name,
    version_error,
)

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
    VERSION = "a version of an integration's manifest (or Home Assistant's)"
    MODEL = (
        "a printer model as the printer reports it, as a short identifier, or `unknown`"
    )
    FIRMWARE = "a firmware version as the printer reports it, reduced to `major.minor`, or `unknown`"


@dataclass(frozen=True, slots=True)
class Label:
    """A label of a metric."""

    name: str
    kind: LabelKind
    values: tuple[str, ...] = ()
    # Values introduced by a later report version than their metric's: value ->
    # version. A report of an older version leaves these values out.
    since: Mapping[str, int] = field(default_factory=dict, compare=False)

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
            case LabelKind.VERSION:
                return version_error(value) is None
            case LabelKind.MODEL:
                return value == UNKNOWN or model_error(value) is None
            case LabelKind.FIRMWARE:
                return value == UNKNOWN or firmware_error(value) is None


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

    def key_since(self, key: str) -> int:
        """Return the report version that introduced this stored key of the metric."""
        values = key.split(LABEL_SEPARATOR)
        if len(values) != len(self.labels):
            return self.since
        return max(
            (
                label.since.get(value, self.since)
                for label, value in zip(self.labels, values, strict=True)
            ),
            default=self.since,
        )

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
MODEL = Label("model", LabelKind.MODEL)
JOB_OUTCOMES: Final = ("started", "completed", "failed", "cancelled", "interrupted")
JOB_OUTCOME = Label(
    "outcome",
    LabelKind.ENUM,
    JOB_OUTCOMES,
    # Report version 2 added `interrupted` (schema minor revision 1).
    since={"interrupted": 2},
)

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
PRINTER_INTEGRATIONS = Metric(
    "printer_integrations",
    MetricKind.SNAPSHOT,
    Section.PRINTER_FLEET,
    "Number of printers of each configured printer integration, with its printer "
    "type and the version of the integration that is loaded (for an integration "
    "shipped with Home Assistant, the Home Assistant version), per day.",
    (
        Label("integration", LabelKind.IDENTIFIER),
        PRINTER_TYPE,
        Label("version", LabelKind.VERSION),
    ),
    since=3,
)
PRINTER_MODELS = Metric(
    "printer_models",
    MetricKind.SNAPSHOT,
    Section.PRINTER_FLEET,
    "Number of printers of each model and firmware version, per printer type and "
    "day: only what the printer integration reads from the printer itself (the "
    "README's *Printer models and firmware* says which integrations do), never a "
    "name or a value a person typed; `unknown` where the integration does not.",
    (PRINTER_TYPE, MODEL, Label("firmware", LabelKind.FIRMWARE)),
    since=3,
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
    (JOB_OUTCOME, PRINTER_TYPE),
)
JOBS_BY_MODEL = Metric(
    "jobs_by_model",
    MetricKind.LABELLED_COUNTER,
    Section.JOBS,
    "Print jobs by outcome, per printer type and model, for printers whose model "
    "is known (see `printer_models`).",
    (JOB_OUTCOME, PRINTER_TYPE, MODEL),
    since=3,
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
        PRINTER_INTEGRATIONS,
        PRINTER_MODELS,
        FEATURES,
        JOBS,
        JOBS_BY_MODEL,
        JOB_DURATION,
        EVENTS,
        EVENT_METADATA,
        ERRORS,
    )
}


def report_version() -> int:
    """Return the current report version: the newest version of any metric or value."""
    return max(
        max(
            (
                metric.since,
                *(v for label in metric.labels for v in label.since.values()),
            )
        )
        for metric in METRICS.values()
    )


def up_to(
    version: int, metrics: Mapping[str, Mapping[str, int]]
) -> dict[str, dict[str, int]]:
    """Return the counters of a day without what report versions after `version` added.

    A metric of a later version is left out, and so is a key holding a label value
    of a later version (recording keeps them; only the report leaves them out).
    """
    return {
        name: {
            key: value
            for key, value in labels.items()
            if metric.key_since(key) <= version
        }
        for name, labels in metrics.items()
        if (metric := METRICS.get(name)) is not None and metric.since <= version
    }


@dataclass(frozen=True, slots=True)
class Addition:
    """What a report version added: a whole metric, or values of one of its labels."""

    metric: Metric
    label: Label | None = None
    values: tuple[str, ...] = ()


def metrics_added(accepted: int, version: int) -> list[Addition]:
    """Return what report versions after `accepted`, up to `version`, added."""
    added: list[Addition] = []
    for metric in METRICS.values():
        if accepted < metric.since <= version:
            added.append(Addition(metric))
        elif metric.since <= accepted:
            added.extend(
                Addition(metric, label, values)
                for label in metric.labels
                if (
                    values := tuple(
                        value
                        for value, since in label.since.items()
                        if accepted < since <= version
                    )
                )
            )
    return added


def describe_added(added: list[Addition]) -> str:
    """Return a Markdown list of what was added, made from the catalogue, in identifiers.

    A metric: its name, its report section and its labels. New values of a label:
    the metric, the label and the values (for example "`jobs` `outcome`
    `interrupted`", a new job outcome). The same in every language; the README's
    table says what each one counts.
    """
    lines = []
    for item in added:
        metric = item.metric
        if item.label is None:
            labels = ", ".join(f"`{label.name}`" for label in metric.labels) or "-"
            lines.append(f"- `{metric.name}` — `{metric.section}` — {labels}")
        else:
            values = ", ".join(f"`{value}`" for value in item.values)
            lines.append(
                f"- `{metric.name}` — `{metric.section}` — `{item.label.name}` {values}"
            )
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

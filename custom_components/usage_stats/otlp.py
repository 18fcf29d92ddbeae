"""The report as OTLP/HTTP JSON metrics, mapped as `schemas/README.md` describes.

The counters are the report's, unchanged: this only changes their form, for people
who send their statistics to their own OpenTelemetry Collector or Grafana.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from .catalogue import JOB_OUTCOMES, OTHER
from .const import DOMAIN

# OTLP's AggregationTemporality, encoded as an integer as OTLP/HTTP JSON requires.
AGGREGATION_TEMPORALITY_DELTA: Final = 1


def _string(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def _int(key: str, value: int) -> dict[str, Any]:
    return {"key": key, "value": {"intValue": str(value)}}


def _nanos(day: date) -> str:
    return str(int(datetime.combine(day, time.min, UTC).timestamp()) * 1_000_000_000)


def _model_key(key: str) -> tuple[str, str]:
    """Return the printer type and model of a `jobs.by_model` key (`other`: both)."""
    if key == OTHER:
        return OTHER, OTHER
    kind, _, model = key.partition(".")
    return kind, model


def _fleet_details(
    fleet: Mapping[str, Any],
    point: Callable[..., dict[str, Any]],
    gauge: Callable[[str, list[dict[str, Any]]], dict[str, Any]],
) -> list[dict[str, Any]]:
    """Return the printer gauges of revision 2: integrations, models, firmware."""
    return [
        gauge(
            "usage_stats.printers.by_integration",
            [
                point(
                    entry["printers"],
                    integration=domain,
                    type=entry["type"],
                    version=entry["version"],
                )
                for domain, entry in fleet["integrations"].items()
            ],
        ),
        gauge(
            "usage_stats.printers.by_model",
            [
                point(n, type=kind, model=model)
                for kind, models in fleet["models"].items()
                for model, n in models.items()
            ],
        ),
        gauge(
            "usage_stats.printers.by_firmware",
            [
                point(n, type=kind, firmware=firmware)
                for kind, versions in fleet["firmware"].items()
                for firmware, n in versions.items()
            ],
        ),
    ]


def to_otlp(report: Mapping[str, Any]) -> dict[str, Any]:
    """Return the `ExportMetricsServiceRequest` JSON of a report body."""
    period = report["period"]
    installation = report["installation"]
    start = _nanos(date.fromisoformat(period["start"]))
    end = _nanos(date.fromisoformat(period["end"]) + timedelta(days=1))

    attributes = [
        _string("service.name", DOMAIN),
        _string("service.version", installation["integration_version"]),
        _string("service.instance.id", report["installation_id"]),
        _int("usage_stats.schema_version", report["schema_version"]),
        _string("usage_stats.submission_id", report["submission_id"]),
        _string("usage_stats.period.start", period["start"]),
        _string("usage_stats.period.end", period["end"]),
        _int("usage_stats.period.days", period["days"]),
        _string("usage_stats.ha_version", installation["ha_version"]),
        _string("usage_stats.python_version", installation["python_version"]),
        _string("usage_stats.installation_type", installation["installation_type"]),
    ]
    if "schema_minor" in report:  # Reports queued before revision 1 have none.
        attributes.append(_int("usage_stats.schema_minor", report["schema_minor"]))
    if "country_code" in installation:
        attributes.append(
            _string("usage_stats.country_code", installation["country_code"])
        )

    def point(value: int, **labels: str) -> dict[str, Any]:
        return {
            "attributes": [_string(key, label) for key, label in labels.items()],
            "startTimeUnixNano": start,
            "timeUnixNano": end,
            "asInt": str(value),
        }

    def gauge(name: str, points: list[dict[str, Any]]) -> dict[str, Any]:
        return {"name": name, "gauge": {"dataPoints": points}}

    def total(name: str, points: Iterator[dict[str, Any]]) -> dict[str, Any]:
        return {
            "name": name,
            "sum": {
                "dataPoints": list(points),
                "aggregationTemporality": AGGREGATION_TEMPORALITY_DELTA,
                "isMonotonic": True,
            },
        }

    # A section the user does not share is not in the report: its metrics are
    # left out entirely (a shared section's metrics are there even when empty).
    metrics: list[dict[str, Any]] = []
    if (fleet := report.get("printer_fleet")) is not None:
        metrics += [
            gauge("usage_stats.printers", [point(fleet["printers"])]),
            gauge(
                "usage_stats.printers.by_type",
                [point(n, type=kind) for kind, n in fleet["types"].items()],
            ),
        ]
        if "integrations" in fleet:  # Since revision 2 (report version 3).
            metrics += _fleet_details(fleet, point, gauge)
    if (features := report.get("features")) is not None:
        metrics.append(
            total(
                "usage_stats.features",
                (
                    point(n, feature=feature, state=state)
                    for feature, states in features.items()
                    for state, n in states.items()
                ),
            )
        )
    if (jobs := report.get("jobs")) is not None:
        metrics += [
            total(
                "usage_stats.jobs",
                (
                    point(n, outcome=outcome, type=kind)
                    for outcome in JOB_OUTCOMES
                    for kind, n in jobs.get(outcome, {}).items()
                ),
            ),
            total(
                "usage_stats.jobs.duration",
                (point(n, bucket=bucket) for bucket, n in jobs["duration"].items()),
            ),
        ]
        if (by_model := jobs.get("by_model")) is not None:
            metrics.append(
                total(
                    "usage_stats.jobs.by_model",
                    (
                        point(n, outcome=outcome, type=kind, model=model)
                        for key, outcomes in by_model.items()
                        for kind, model in (_model_key(key),)
                        for outcome, n in outcomes.items()
                    ),
                )
            )
    if (events := report.get("events")) is not None:
        metrics.append(
            total(
                "usage_stats.events",
                (point(n, event=event) for event, n in events.items()),
            )
        )
    if (errors := report.get("errors")) is not None:
        metrics.append(
            total(
                "usage_stats.errors",
                (
                    point(n, component=component, error_type=error_type)
                    for component, types in errors.items()
                    for error_type, n in types.items()
                ),
            )
        )
    return {
        "resourceMetrics": [
            {
                "resource": {"attributes": attributes},
                "scopeMetrics": [{"scope": {"name": DOMAIN}, "metrics": metrics}],
            }
        ]
    }

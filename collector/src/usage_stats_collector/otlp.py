"""Turn an OTLP/HTTP JSON ``ExportMetricsServiceRequest`` into the JSON report form.

The mapping is the one in ``schemas/README.md``. The result is validated against the same JSON
Schema as a JSON report; anything the mapping does not know is refused rather than dropped.
"""

from __future__ import annotations

import re
from typing import Any

from .aggregates import JOB_OUTCOMES, OTHER
from .schema import required_jobs_keys

SCOPE = "usage_stats"
_RESOURCE_STRINGS = {
    "service.version": ("installation", "integration_version"),
    "service.instance.id": ("", "installation_id"),
    "usage_stats.submission_id": ("", "submission_id"),
    "usage_stats.period.start": ("period", "start"),
    "usage_stats.period.end": ("period", "end"),
    "usage_stats.ha_version": ("installation", "ha_version"),
    "usage_stats.python_version": ("installation", "python_version"),
    "usage_stats.installation_type": ("installation", "installation_type"),
    "usage_stats.country_code": ("installation", "country_code"),
}
_RESOURCE_INTS = {
    "usage_stats.schema_version": ("", "schema_version"),
    "usage_stats.schema_minor": ("", "schema_minor"),
    "usage_stats.period.days": ("period", "days"),
}
# The outcomes are the schema's ($defs/outcome); every report has those its `jobs` requires
# (`interrupted` came with minor revision 1).
_REQUIRED_OUTCOMES = tuple(outcome for outcome in JOB_OUTCOMES if outcome in required_jobs_keys())
# metric name -> (kind, attribute names)
_METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "usage_stats.printers": ("gauge", ()),
    "usage_stats.printers.by_type": ("gauge", ("type",)),
    "usage_stats.features": ("sum", ("feature", "state")),
    "usage_stats.jobs": ("sum", ("outcome", "type")),
    "usage_stats.jobs.duration": ("sum", ("bucket",)),
    "usage_stats.events": ("sum", ("event",)),
    "usage_stats.errors": ("sum", ("component", "error_type")),
    # Since minor revision 2.
    "usage_stats.printers.by_integration": ("gauge", ("integration", "type", "version")),
    "usage_stats.printers.by_model": ("gauge", ("type", "model")),
    "usage_stats.printers.by_firmware": ("gauge", ("type", "firmware")),
    "usage_stats.jobs.by_model": ("sum", ("outcome", "type", "model")),
}
# The field of its section a metric of minor revision 2 fills: there (maybe empty) when it is.
_FIELD_OF = {
    "usage_stats.printers.by_integration": "integrations",
    "usage_stats.printers.by_model": "models",
    "usage_stats.printers.by_firmware": "firmware",
    "usage_stats.jobs.by_model": "by_model",
}


# An int64 in OTLP JSON is a decimal string: ASCII digits, no sign but a leading "-", no "-0".
_INT64 = re.compile(r"0|-?[1-9][0-9]{0,17}", re.ASCII)


class OtlpError(ValueError):
    """The body is not an OTLP metrics export in the usage_stats mapping."""


def _field(obj: Any, camel: str, snake: str | None = None) -> Any:
    """Read a field by its OTLP JSON (lowerCamelCase) or protobuf (snake_case) name."""
    if not isinstance(obj, dict):
        raise OtlpError(f"expected an object around {camel}")
    if camel in obj:
        return obj[camel]
    return obj.get(snake) if snake else None


def _list(obj: Any, camel: str, snake: str | None = None) -> list[Any]:
    value = _field(obj, camel, snake)
    if value is None:
        return []
    if not isinstance(value, list):
        raise OtlpError(f"{camel} must be a list")
    return value


def _int(value: Any, what: str) -> int:
    # int64 is a string in OTLP JSON; accept a plain JSON integer too.
    if isinstance(value, bool):
        raise OtlpError(f"{what} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT64.fullmatch(value):
        return int(value)
    raise OtlpError(f"{what} must be an integer")


def _attributes(items: list[Any], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key = _field(item, "key")
        value = _field(item, "value")
        if not isinstance(key, str) or not isinstance(value, dict) or len(value) != 1:
            raise OtlpError(f"malformed attribute in {what}")
        if key in out:
            raise OtlpError(f"duplicate attribute {key} in {what}")
        ((kind, raw),) = value.items()
        if kind in {"stringValue", "string_value"}:
            if not isinstance(raw, str):
                raise OtlpError(f"attribute {key} must be a string")
            out[key] = raw
        elif kind in {"intValue", "int_value"}:
            out[key] = _int(raw, f"attribute {key}")
        else:
            raise OtlpError(f"attribute {key} has unsupported type {kind}")
    return out


def _resource(attributes: dict[str, Any], report: dict[str, Any]) -> None:
    if attributes.get("service.name") != SCOPE:
        raise OtlpError("resource attribute service.name must be usage_stats")
    for key, value in attributes.items():
        if key == "service.name" or key.startswith("telemetry.sdk."):
            continue
        if key in _RESOURCE_STRINGS:
            if not isinstance(value, str):
                raise OtlpError(f"resource attribute {key} must be a string")
            section, name = _RESOURCE_STRINGS[key]
        elif key in _RESOURCE_INTS:
            if not isinstance(value, int):
                raise OtlpError(f"resource attribute {key} must be an intValue")
            section, name = _RESOURCE_INTS[key]
        else:
            raise OtlpError(f"unknown resource attribute {key}")
        (report.setdefault(section, {}) if section else report)[name] = value


def _points(metric: dict[str, Any], name: str) -> list[tuple[dict[str, Any], int]]:
    kind, names = _METRICS[name]
    body = _field(metric, kind)
    if not isinstance(body, dict):
        raise OtlpError(f"metric {name} must be a {kind}")
    others = {"gauge", "sum", "histogram", "exponentialHistogram", "summary"} - {kind}
    if any(other in metric for other in others):
        raise OtlpError(f"metric {name} must be a {kind}")
    points: list[tuple[dict[str, Any], int]] = []
    seen: set[tuple[Any, ...]] = set()
    for point in _list(body, "dataPoints", "data_points"):
        attributes = _attributes(_list(point, "attributes"), name)
        if set(attributes) != set(names) or not all(isinstance(v, str) for v in attributes.values()):
            raise OtlpError(f"data points of {name} need string attributes {', '.join(names) or 'none'}")
        identity = tuple(attributes[n] for n in names)
        if identity in seen:
            raise OtlpError(f"duplicate data point in {name}")
        seen.add(identity)
        if _field(point, "asDouble", "as_double") is not None:
            raise OtlpError(f"data points of {name} must be asInt")
        points.append((attributes, _int(_field(point, "asInt", "as_int"), f"value of {name}")))
    return points


def otlp_to_report(body: Any) -> dict[str, Any]:
    """Convert an OTLP JSON metrics export into a report dict (not yet schema-validated)."""
    resource_metrics = _list(body, "resourceMetrics", "resource_metrics")
    if len(resource_metrics) != 1:
        raise OtlpError("expected exactly one resourceMetrics")
    resource = resource_metrics[0]
    scope_metrics = _list(resource, "scopeMetrics", "scope_metrics")
    if len(scope_metrics) != 1:
        raise OtlpError("expected exactly one scopeMetrics")
    scope = _field(scope_metrics[0], "scope") or {}
    if _field(scope, "name") != SCOPE:
        raise OtlpError("scope name must be usage_stats")

    report: dict[str, Any] = {}
    _resource(_attributes(_list(_field(resource, "resource") or {}, "attributes"), "resource"), report)

    names_seen: set[str] = set()
    for metric in _list(scope_metrics[0], "metrics"):
        name = _field(metric, "name")
        if not isinstance(name, str):
            raise OtlpError("metric name must be a string")
        if name not in _METRICS:
            raise OtlpError(f"unknown metric {name[:80]}")
        if name in names_seen:
            raise OtlpError(f"metric {name} appears twice")
        names_seen.add(name)
        # A section is in the report when one of its metrics is in the body (even empty):
        # the sender leaves the metrics of a section the user does not share out entirely.
        section = _SECTION_OF[name]
        if section not in report:
            report[section] = _empty_section(section)
        if name in _FIELD_OF:
            report[section].setdefault(_FIELD_OF[name], {})
        for attributes, value in _points(metric, name):
            _apply(report, name, attributes, value)
    return report


_SECTION_OF = {
    "usage_stats.printers": "printer_fleet",
    "usage_stats.printers.by_type": "printer_fleet",
    "usage_stats.features": "features",
    "usage_stats.jobs": "jobs",
    "usage_stats.jobs.duration": "jobs",
    "usage_stats.events": "events",
    "usage_stats.errors": "errors",
    "usage_stats.printers.by_integration": "printer_fleet",
    "usage_stats.printers.by_model": "printer_fleet",
    "usage_stats.printers.by_firmware": "printer_fleet",
    "usage_stats.jobs.by_model": "jobs",
}


def _empty_section(section: str) -> Any:
    if section == "printer_fleet":
        return {"printers": 0, "types": {}}
    if section == "jobs":
        return {outcome: {} for outcome in _REQUIRED_OUTCOMES} | {"duration": {}}
    return {}


def _apply(report: dict[str, Any], name: str, attributes: dict[str, Any], value: int) -> None:
    if name == "usage_stats.printers":
        report["printer_fleet"]["printers"] = value
    elif name == "usage_stats.printers.by_type":
        report["printer_fleet"]["types"][attributes["type"]] = value
    elif name == "usage_stats.features":
        state = attributes["state"]
        if state not in {"on", "off"}:
            raise OtlpError("feature state must be on or off")
        report["features"].setdefault(attributes["feature"], {"on": 0, "off": 0})[state] = value
    elif name == "usage_stats.jobs":
        report["jobs"].setdefault(_outcome(attributes), {})[attributes["type"]] = value
    elif name in _FIELD_OF:
        _apply_revision_2(report, name, attributes, value)
    elif name == "usage_stats.jobs.duration":
        report["jobs"]["duration"][attributes["bucket"]] = value
    elif name == "usage_stats.events":
        report["events"][attributes["event"]] = value
    else:  # usage_stats.errors
        report["errors"].setdefault(attributes["component"], {})[attributes["error_type"]] = value


def _outcome(attributes: dict[str, Any]) -> str:
    outcome: str = attributes["outcome"]
    if outcome not in JOB_OUTCOMES:
        raise OtlpError(f"unknown job outcome {outcome[:80]}")
    return outcome


def _apply_revision_2(report: dict[str, Any], name: str, attributes: dict[str, Any], value: int) -> None:
    """The metrics of minor revision 2: integrations, models, firmware, and job outcomes per model."""
    if name == "usage_stats.printers.by_integration":
        integrations = report["printer_fleet"]["integrations"]
        domain = attributes["integration"]
        if domain in integrations:
            raise OtlpError(f"integration {domain[:80]} appears twice in {name}")
        integrations[domain] = {
            "type": attributes["type"],
            "version": attributes["version"],
            "printers": value,
        }
    elif name == "usage_stats.jobs.by_model":
        # The folded rest of the models, `other` in the JSON form, is type `other`, model `other`.
        type_, model = attributes["type"], attributes["model"]
        key = OTHER if type_ == model == OTHER else f"{type_}.{model}"
        report["jobs"]["by_model"].setdefault(key, {})[_outcome(attributes)] = value
    else:  # usage_stats.printers.by_model, usage_stats.printers.by_firmware
        label = "model" if name == "usage_stats.printers.by_model" else "firmware"
        report["printer_fleet"][_FIELD_OF[name]].setdefault(attributes["type"], {})[attributes[label]] = value

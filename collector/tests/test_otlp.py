"""POST /v1/metrics: OTLP/HTTP JSON built with the official protobuf classes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from google.protobuf.json_format import MessageToJson
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2

from collector_testlib import make_report, revision_0, revision_2
from usage_stats_collector.otlp import OtlpError, otlp_to_report
from usage_stats_collector.schema import validate_report
from usage_stats_collector.storage import Storage

Client = TestClient[Any, Any]
START_NS = 1745798400 * 10**9  # 2025-04-28 00:00 UTC
END_NS = 1746403200 * 10**9  # 2025-05-05 00:00 UTC


def _attr(key: str, value: str | int) -> common_pb2.KeyValue:
    if isinstance(value, int):
        return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(int_value=value))
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=value))


def _points(values: list[tuple[dict[str, str], int]]) -> list[metrics_pb2.NumberDataPoint]:
    return [
        metrics_pb2.NumberDataPoint(
            attributes=[_attr(k, v) for k, v in attrs.items()],
            start_time_unix_nano=START_NS,
            time_unix_nano=END_NS,
            as_int=value,
        )
        for attrs, value in values
    ]


def _sum(name: str, values: list[tuple[dict[str, str], int]]) -> metrics_pb2.Metric:
    return metrics_pb2.Metric(
        name=name,
        sum=metrics_pb2.Sum(
            data_points=_points(values),
            aggregation_temporality=metrics_pb2.AGGREGATION_TEMPORALITY_DELTA,
            is_monotonic=True,
        ),
    )


def _gauge(name: str, values: list[tuple[dict[str, str], int]]) -> metrics_pb2.Metric:
    return metrics_pb2.Metric(name=name, gauge=metrics_pb2.Gauge(data_points=_points(values)))


def otlp_request(report: dict[str, Any]) -> metrics_service_pb2.ExportMetricsServiceRequest:
    """The OTLP form of a JSON report, as the mapping in schemas/README.md describes."""
    inst = report["installation"]
    resource = [
        _attr("service.name", "usage_stats"),
        _attr("service.version", inst["integration_version"]),
        _attr("service.instance.id", report["installation_id"]),
        _attr("usage_stats.schema_version", 1),
        _attr("usage_stats.submission_id", report["submission_id"]),
        _attr("usage_stats.period.start", report["period"]["start"]),
        _attr("usage_stats.period.end", report["period"]["end"]),
        _attr("usage_stats.period.days", report["period"]["days"]),
        _attr("usage_stats.ha_version", inst["ha_version"]),
        _attr("usage_stats.python_version", inst["python_version"]),
        _attr("usage_stats.installation_type", inst["installation_type"]),
        _attr("telemetry.sdk.language", "python"),
    ]
    if "country_code" in inst:
        resource.append(_attr("usage_stats.country_code", inst["country_code"]))
    if "schema_minor" in report:
        resource.append(_attr("usage_stats.schema_minor", report["schema_minor"]))
    fleet, jobs = report["printer_fleet"], report["jobs"]
    metrics = [
        _gauge("usage_stats.printers", [({}, fleet["printers"])]),
        _gauge("usage_stats.printers.by_type", [({"type": t}, n) for t, n in fleet["types"].items()]),
        _sum(
            "usage_stats.features",
            [
                ({"feature": f, "state": s}, v[s])
                for f, v in report["features"].items()
                for s in ("on", "off")
            ],
        ),
        _sum(
            "usage_stats.jobs",
            [
                ({"outcome": o, "type": t}, n)
                for o, types in jobs.items()
                if o not in {"duration", "by_model"}
                for t, n in types.items()
            ],
        ),
        _sum("usage_stats.jobs.duration", [({"bucket": b}, n) for b, n in jobs["duration"].items()]),
        _sum("usage_stats.events", [({"event": e}, n) for e, n in report["events"].items()]),
        _sum(
            "usage_stats.errors",
            [
                ({"component": c, "error_type": t}, n)
                for c, types in report["errors"].items()
                for t, n in types.items()
            ],
        ),
    ]
    metrics += _revision_2_metrics(report)
    return metrics_service_pb2.ExportMetricsServiceRequest(
        resource_metrics=[
            metrics_pb2.ResourceMetrics(
                resource=resource_pb2.Resource(attributes=resource),
                scope_metrics=[
                    metrics_pb2.ScopeMetrics(
                        scope=common_pb2.InstrumentationScope(name="usage_stats", version="1.2.0"),
                        metrics=metrics,
                    )
                ],
            )
        ]
    )


def _revision_2_metrics(report: dict[str, Any]) -> list[metrics_pb2.Metric]:
    """The metrics of minor revision 2, for the fields the report has."""
    fleet, jobs = report.get("printer_fleet", {}), report.get("jobs", {})
    metrics = []
    if "integrations" in fleet:
        points = [
            ({"integration": domain, "type": entry["type"], "version": entry["version"]}, entry["printers"])
            for domain, entry in fleet["integrations"].items()
        ]
        metrics.append(_gauge("usage_stats.printers.by_integration", points))
    for field, name, label in (("models", "by_model", "model"), ("firmware", "by_firmware", "firmware")):
        if field in fleet:
            points = [
                ({"type": type_, label: key}, n)
                for type_, counts in fleet[field].items()
                for key, n in counts.items()
            ]
            metrics.append(_gauge(f"usage_stats.printers.{name}", points))
    if "by_model" in jobs:
        points = []
        for key, outcomes in jobs["by_model"].items():
            type_, _, model = key.partition(".") if key != "other" else ("other", "", "other")
            points += [({"outcome": o, "type": type_, "model": model}, n) for o, n in outcomes.items()]
        metrics.append(_sum("usage_stats.jobs.by_model", points))
    return metrics


def otlp_json(report: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(MessageToJson(otlp_request(report)))
    return body


def test_conversion_round_trips() -> None:
    report = make_report()
    assert otlp_to_report(otlp_json(report)) == report
    # A report of minor revision 0 (no schema_minor, no interrupted jobs) as well
    old = revision_0(report)
    assert otlp_to_report(otlp_json(old)) == old
    # protobuf field names (snake_case) are accepted as well
    snake = json.loads(MessageToJson(otlp_request(report), preserving_proto_field_name=True))
    assert otlp_to_report(snake) == report


def test_revision_2_round_trips() -> None:
    """The four metrics of minor revision 2 become integrations, models, firmware and jobs by model."""
    report = revision_2(make_report())
    report["jobs"]["by_model"]["other"] = {"started": 4, "completed": 4}
    assert otlp_to_report(otlp_json(report)) == report
    assert validate_report(otlp_to_report(otlp_json(report))) is None
    # Empty metrics of a shared section: the fields are there, empty (a revision 2 sender).
    empty = revision_2(make_report())
    empty["printer_fleet"].update(integrations={}, models={}, firmware={})
    empty["jobs"]["by_model"] = {}
    assert otlp_to_report(otlp_json(empty)) == empty
    # A report of revision 1 has none of the metrics, and gets none of the fields.
    assert "integrations" not in otlp_to_report(otlp_json(make_report()))["printer_fleet"]


async def test_revision_2_otlp_report_is_stored_like_json(client: Client, storage: Storage) -> None:
    report = revision_2(make_report())
    response = await client.post("/v1/metrics", json=otlp_json(report))
    assert response.status == 200
    exported = await storage.export_installation(report["installation_id"])
    assert [item["report"] for item in exported] == [report]


def _revision_2_body(metric: str, points: list[dict[str, Any]]) -> dict[str, Any]:
    body = otlp_json(make_report())
    kind = "sum" if metric == "usage_stats.jobs.by_model" else "gauge"
    _metrics(body).append({"name": metric, kind: {"dataPoints": points}})
    return body


def _point(value: int, **attributes: str) -> dict[str, Any]:
    return {
        "attributes": [{"key": key, "value": {"stringValue": text}} for key, text in attributes.items()],
        "asInt": str(value),
    }


@pytest.mark.parametrize(
    ("metric", "points", "message"),
    [
        (
            "usage_stats.jobs.by_model",
            [_point(1, outcome="vanished", type="bambu_x1c", model="x1c")],
            "unknown job outcome vanished",
        ),
        (
            "usage_stats.printers.by_integration",
            [
                _point(1, integration="bambu", type="bambu_x1c", version="1.0.0"),
                _point(1, integration="bambu", type="bambu_x1c", version="1.1.0"),
            ],
            "integration bambu appears twice",
        ),
        (
            "usage_stats.printers.by_model",
            [_point(1, type="bambu_x1c")],
            "need string attributes type, model",
        ),
        (
            "usage_stats.printers.by_firmware",
            [_point(1, type="bambu_x1c", firmware="1.8", model="x")],
            "need string attributes type, firmware",
        ),
    ],
)
def test_revision_2_conversion_errors(metric: str, points: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(OtlpError, match=message):
        otlp_to_report(_revision_2_body(metric, points))


def test_revision_2_metric_brings_its_section() -> None:
    body = otlp_json(make_report())
    body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"] = [
        {
            "name": "usage_stats.printers.by_firmware",
            "gauge": {"dataPoints": [_point(2, type="prusa_mk4", firmware="6.2")]},
        },
        {"name": "usage_stats.jobs.by_model", "sum": {"dataPoints": []}},
    ]
    report = otlp_to_report(body)
    assert report["printer_fleet"] == {"printers": 0, "types": {}, "firmware": {"prusa_mk4": {"6.2": 2}}}
    assert report["jobs"]["by_model"] == {}


async def test_otlp_report_is_stored_like_json(client: Client, storage: Storage) -> None:
    report = make_report()
    response = await client.post("/v1/metrics", json=otlp_json(report))
    assert response.status == 200
    assert await response.json() == {}
    exported = await storage.export_installation(report["installation_id"])
    assert [item["report"] for item in exported] == [report]
    # Same submission again: 200, nothing changes; JSON form of it is a duplicate too.
    assert (await client.post("/v1/metrics", json=otlp_json(report))).status == 200
    response = await client.post("/v1/reports", json=report)
    assert (response.status, await response.json()) == (200, {"status": "duplicate"})
    assert await storage.count_reports() == 1
    # A new submission of the same installation within the hour is rate limited.
    again = dict(report, submission_id=make_report()["submission_id"])
    response = await client.post("/v1/metrics", json=otlp_json(again))
    assert response.status == 429
    assert int(response.headers["Retry-After"]) > 0


async def test_otlp_schema_violation_is_400(client: Client, storage: Storage) -> None:
    report = make_report()
    report["events"] = {"bad key!": 1}
    response = await client.post("/v1/metrics", json=otlp_json(report))
    assert response.status == 400
    assert "$.events" in (await response.json())["error"]
    assert await storage.count_reports() == 0


async def test_otlp_protobuf_is_415(client: Client) -> None:
    body = otlp_request(make_report()).SerializeToString()
    response = await client.post("/v1/metrics", data=body, headers={"Content-Type": "application/x-protobuf"})
    assert response.status == 415


def _mutated(change: Any) -> dict[str, Any]:
    body = otlp_json(make_report())
    change(body)
    return body


def _resource(body: dict[str, Any]) -> list[dict[str, Any]]:
    attributes: list[dict[str, Any]] = body["resourceMetrics"][0]["resource"]["attributes"]
    return attributes


def _metrics(body: dict[str, Any]) -> list[dict[str, Any]]:
    metrics: list[dict[str, Any]] = body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
    return metrics


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b.update(resourceMetrics=[]), "exactly one resourceMetrics"),
        (lambda b: b.update(resourceMetrics="x"), "must be a list"),
        (lambda b: b["resourceMetrics"][0].update(scopeMetrics=[]), "exactly one scopeMetrics"),
        (lambda b: b["resourceMetrics"][0]["scopeMetrics"][0]["scope"].update(name="x"), "scope name"),
        (
            lambda b: _resource(b).append({"key": "host.name", "value": {"stringValue": "h"}}),
            "unknown resource",
        ),
        (lambda b: _resource(b).append({"key": "k", "value": {"boolValue": True}}), "unsupported type"),
        (lambda b: _resource(b).append({"key": "k"}), "malformed attribute"),
        (lambda b: _resource(b).append(dict(_resource(b)[0])), "duplicate attribute"),
        (
            lambda b: _resource(b).__setitem__(0, {"key": "service.name", "value": {"stringValue": "x"}}),
            "service.name",
        ),
        (
            lambda b: _resource(b).__setitem__(0, {"key": "service.name", "value": {"stringValue": 5}}),
            "must be a string",
        ),
        (
            lambda b: _resource(b).__setitem__(1, {"key": "service.version", "value": {"intValue": "5"}}),
            "must be a string",
        ),
        (
            lambda b: _resource(b).__setitem__(
                3, {"key": "usage_stats.schema_version", "value": {"stringValue": "1"}}
            ),
            "must be an intValue",
        ),
        (
            lambda b: _resource(b).__setitem__(
                3, {"key": "usage_stats.schema_version", "value": {"intValue": "x"}}
            ),
            "must be an integer",
        ),
        (
            lambda b: _resource(b).__setitem__(
                3, {"key": "usage_stats.schema_version", "value": {"intValue": True}}
            ),
            "must be an integer",
        ),
        (lambda b: _metrics(b).append({"name": "cpu", "gauge": {}}), "unknown metric cpu"),
        (lambda b: _metrics(b).append(_metrics(b)[0]), "appears twice"),
        (lambda b: _metrics(b)[0].update(gauge=None, sum={"dataPoints": []}), "must be a gauge"),
        (lambda b: _metrics(b)[0].update(sum={"dataPoints": []}), "must be a gauge"),
        (lambda b: _metrics(b)[0]["gauge"]["dataPoints"][0].update(asDouble=1.5), "must be asInt"),
        (
            lambda b: _metrics(b)[0]["gauge"]["dataPoints"].append(_metrics(b)[0]["gauge"]["dataPoints"][0]),
            "duplicate",
        ),
        (
            lambda b: _metrics(b)[1]["gauge"]["dataPoints"][0].update(attributes=[]),
            "need string attributes type",
        ),
        (
            lambda b: _metrics(b)[0]["gauge"].update(dataPoints=[{"attributes": [], "asInt": 1.5}]),
            "must be an integer",
        ),
        (
            lambda b: _metrics(b)[2]["sum"]["dataPoints"][0]["attributes"][1]["value"].update(
                stringValue="maybe"
            ),
            "on or off",
        ),
        (
            lambda b: _metrics(b)[3]["sum"]["dataPoints"][0]["attributes"][0]["value"].update(
                stringValue="lost"
            ),
            "unknown job outcome",
        ),
        (lambda b: b["resourceMetrics"].__setitem__(0, []), "expected an object"),
    ],
)
def test_conversion_errors(change: Any, message: str) -> None:
    with pytest.raises(OtlpError, match=message):
        otlp_to_report(_mutated(change))


async def test_otlp_errors_are_400(client: Client) -> None:
    response = await client.post("/v1/metrics", json={"resourceMetrics": []})
    assert response.status == 400
    assert "resourceMetrics" in (await response.json())["error"]


def test_a_section_is_there_when_one_of_its_metrics_is() -> None:
    """Metrics left out: their section was not shared; one metric brings its section."""
    body = otlp_json(make_report())
    body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"] = []
    report = otlp_to_report(body)
    assert not {"printer_fleet", "features", "jobs", "events", "errors"} & set(report)
    body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"] = [
        {"name": "usage_stats.jobs.duration", "sum": {"dataPoints": []}},
        {"name": "usage_stats.events", "sum": {"dataPoints": []}},
    ]
    report = otlp_to_report(body)
    assert report["jobs"] == {
        "started": {},
        "completed": {},
        "failed": {},
        "cancelled": {},
        "duration": {},
    }
    assert report["events"] == {}
    assert not {"printer_fleet", "features", "errors"} & set(report)
    # Plain JSON integers are accepted for int64 values as well.
    body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"] = [
        {"name": "usage_stats.printers", "gauge": {"dataPoints": [{"asInt": 3}]}}
    ]
    assert otlp_to_report(body)["printer_fleet"]["printers"] == 3

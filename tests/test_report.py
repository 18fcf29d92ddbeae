"""Tests for building the weekly report and its OTLP form."""

from __future__ import annotations

from datetime import date
import json
from typing import Any

import pytest

from custom_components.usage_stats.catalogue import JOB_OUTCOMES
from custom_components.usage_stats.counters import DailyCounters
from custom_components.usage_stats.otlp import to_otlp
from custom_components.usage_stats.report import (
    MAX_REPORT_BYTES,
    PLACEHOLDER_ID,
    Period,
    build_report,
    period_days,
    serialize,
)

from .helpers import (
    assert_valid_report,
    assert_valid_revision_0_report,
    assert_valid_revision_1_report,
    parse_otlp,
)

SUBMISSION_ID = "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
INSTALLATION_ID = "9b2f6c1e-7d4a-4e3b-a1c2-d3e4f5a6b7c8"
INSTALLATION = {
    "integration_version": "0.1.0",
    "ha_version": "2025.4.4",
    "python_version": "3.13.0",
    "installation_type": "Home Assistant OS",
    "country_code": "DE",
}
WEEK = Period(date(2026, 11, 2), date(2026, 11, 8))

DAYS: dict[str, Any] = {
    "2026-11-01": {"events": {"ha_start": 100}},  # Before the period.
    "2026-11-02": {
        "printers": {"": 2},
        "printers_by_type": {"prusa": 1, "bambu": 1},
        "printer_integrations": {
            "prusalink/prusa/2026.11.0": 1,
            "bambu_lab/bambu/2.1.9": 1,
        },
        "printer_models": {"bambu/x1c/1.8": 1},
        "features": {"bambu.light/on": 1, "bambu.light/off": 0},
        "jobs": {"started/prusa": 3, "completed/prusa": 2, "failed/bambu": 1},
        "jobs_by_model": {"failed/bambu/x1c": 1},
        "job_duration": {"1h_2h": 2},
        "events": {"ha_start": 1, "filament_change": 1},
        "event_metadata": {"filament_change/material/petg": 1},
        "errors": {"octoprint/TimeoutError": 2, "custom/printer_error": 1},
    },
    "2026-11-05": {
        "printers": {"": 5},
        "printers_by_type": {"prusa": 2, "bambu": 3},
        # A day's printer snapshot: an updated integration, a printer's new firmware,
        # two more printers, one of whose model and one of whose firmware are unknown.
        # A bare `other` (no labels left to place it by) is left out.
        "printer_integrations": {
            "prusalink/prusa/2026.11.0": 2,
            "bambu_lab/bambu/2.2.0": 3,
            "other": 1,
        },
        "printer_models": {
            "bambu/x1c/1.9": 1,
            "bambu/unknown/1.8": 1,
            "bambu/p1s/unknown": 1,
            "other": 1,
        },
        "features": {"bambu.light/on": 0, "bambu.light/off": 1},
        "jobs": {"started/prusa": 1, "other": 7},
        # Folded by the daily label cap: the outcome is kept, the model is not.
        "jobs_by_model": {"completed/other/other": 2, "other": 3},
        "events": {"ha_start": 2},
        "errors": {"octoprint/TimeoutError": 1, "other": 4},
    },
    "2026-11-07": {"events": {"printer_offline": 1}},  # No fleet snapshot that day.
    "2026-11-09": {"events": {"ha_start": 100}},  # After the period.
}


def _report(
    days: dict[str, Any], period: Period = WEEK, **kwargs: Any
) -> dict[str, Any]:
    counters = DailyCounters(days)
    return build_report(
        period_days(counters, period, kwargs.pop("baseline", None)),
        period,
        submission_id=SUBMISSION_ID,
        installation_id=INSTALLATION_ID,
        installation=INSTALLATION,
    )


def test_report_sections() -> None:
    """Every section is built from the days of the period only."""
    report = _report(json.loads(json.dumps(DAYS)))
    assert_valid_report(report)
    assert report["period"] == {"start": "2026-11-02", "end": "2026-11-08", "days": 7}
    # The current report version (3) is schema minor revision 2.
    assert (report["schema_version"], report["schema_minor"]) == (1, 2)
    assert report["submission_id"] == SUBMISSION_ID
    assert report["installation"] == INSTALLATION
    # The fleet of the last day that has it: its integrations' versions and its
    # printers' models and firmware too.
    assert report["printer_fleet"] == {
        "printers": 5,
        "types": {"prusa": 2, "bambu": 3},
        "integrations": {
            "prusalink": {"type": "prusa", "version": "2026.11.0", "printers": 2},
            "bambu_lab": {"type": "bambu", "version": "2.2.0", "printers": 3},
        },
        "models": {"bambu": {"x1c": 1, "p1s": 1}},
        "firmware": {"bambu": {"1.9": 1, "1.8": 1}},
    }
    assert report["features"] == {"bambu.light": {"on": 1, "off": 1}}
    # A job folded into a bare `other` has lost its outcome: it is left out. A job
    # per model whose model was folded keeps its outcome under `other`.
    assert report["jobs"] == {
        "started": {"prusa": 4},
        "completed": {"prusa": 2},
        "failed": {"bambu": 1},
        "cancelled": {},
        "interrupted": {},
        "duration": {"1h_2h": 2},
        "by_model": {"bambu.x1c": {"failed": 1}, "other": {"completed": 2}},
    }
    assert report["events"] == {
        "ha_start": 3,
        "filament_change": 1,
        "filament_change.material.petg": 1,
        "printer_offline": 1,
    }
    assert report["errors"] == {
        "octoprint": {"TimeoutError": 3},
        "custom": {"printer_error": 1},
        "other": {"other": 4},
    }


def test_empty_period() -> None:
    """A period without counters is still a complete, valid report."""
    report = _report({}, Period(date(2026, 11, 2), date(2026, 11, 2)))
    assert_valid_report(report)
    assert report["printer_fleet"] == {
        "printers": 0,
        "types": {},
        "integrations": {},
        "models": {},
        "firmware": {},
    }
    assert report["jobs"]["duration"] == {}
    assert report["jobs"]["by_model"] == {}
    assert report["events"] == {}


def test_baseline_is_subtracted() -> None:
    """Counts of the grant day from before the grant are not reported; snapshots are."""
    days = json.loads(json.dumps(DAYS))
    baseline = {
        "day": "2026-11-02",
        "metrics": {
            "events": {"ha_start": 1, "filament_change": 5},
            "jobs": {"started/prusa": 1},
        },
    }
    report = _report(
        days, Period(date(2026, 11, 2), date(2026, 11, 2)), baseline=baseline
    )
    assert report["events"] == {"filament_change.material.petg": 1}
    assert report["jobs"]["started"] == {"prusa": 2}
    assert report["printer_fleet"]["printers"] == 2
    # The stored counters are untouched.
    assert days["2026-11-02"]["events"]["ha_start"] == 1


def test_long_tails_fold_into_other() -> None:
    """A map keeps its 50 biggest keys; the rest and an existing `other` are summed."""
    events = {f"custom_event_{i:02}": i + 1 for i in range(60)}
    events["other"] = 1000
    report = _report({"2026-11-03": {"events": events}})
    assert_valid_report(report)
    assert len(report["events"]) == 51
    assert report["events"]["other"] == 1000 + sum(range(1, 11))
    assert "custom_event_00" not in report["events"]
    assert report["events"]["custom_event_59"] == 60


def test_keys_too_long_for_the_contract_fold_into_other() -> None:
    """Keys longer than the contract's 64 characters go to `other`."""
    feature = f"{'a' * 32}.{'b' * 32}"
    report = _report(
        {
            "2026-11-03": {
                "features": {f"{feature}/on": 2},
                "event_metadata": {f"custom_{'x' * 25}/{'k' * 32}/{'v' * 32}": 3},
                "errors": {f"{'c' * 30}x/SomeError": 1},
            }
        }
    )
    assert_valid_report(report)
    assert report["features"] == {"other": {"on": 2, "off": 0}}
    assert report["events"] == {"other": 3}


def test_huge_fleet_is_capped_at_10_kb() -> None:
    """Whatever is stored, the body stays within 10 KB and no count is lost."""
    day: dict[str, Any] = {
        "printers": {"": 5000},
        "printers_by_type": {f"printer_type_number_{i:03}": i for i in range(51)},
        "features": {
            f"integration_{i:03}.feature_key_{i:03}/{state}": i
            for i in range(51)
            for state in ("on", "off")
        },
        "jobs": {
            f"{outcome}/printer_type_number_{i:03}": i
            for outcome in JOB_OUTCOMES
            for i in range(51)
        },
        "events": {f"custom_event_type_number_{i:03}": i for i in range(51)},
        "errors": {
            f"component_number_{c:03}/SomeRatherLongExceptionClassName{e:03}": 1
            for c in range(51)
            for e in range(51)
        },
    }
    report = _report({"2026-11-03": day})
    assert_valid_report(report)
    assert len(serialize(report)) <= MAX_REPORT_BYTES
    assert report["printer_fleet"]["printers"] == 5000
    assert sum(report["printer_fleet"]["types"].values()) == sum(range(51))
    assert sum(sum(t.values()) for t in report["errors"].values()) == 51 * 51
    assert sum(report["jobs"]["started"].values()) == sum(range(51))
    assert sum(s["on"] + s["off"] for s in report["features"].values()) == 2 * sum(
        range(51)
    )


def test_counts_are_capped_to_the_contract() -> None:
    """A count beyond the contract's maximum is sent as the maximum."""
    report = _report({"2026-11-03": {"events": {"ha_start": 2_000_000_000}}})
    assert_valid_report(report)
    assert report["events"] == {"ha_start": 1_000_000_000}


def test_otlp_mapping() -> None:
    """The OTLP form parses as an ExportMetricsServiceRequest, mapped as documented."""
    report = _report(json.loads(json.dumps(DAYS)))
    request = parse_otlp(to_otlp(report))
    resource = request.resource_metrics[0]
    attributes = {
        a.key: a.value.string_value or a.value.int_value
        for a in resource.resource.attributes
    }
    assert attributes == {
        "service.name": "usage_stats",
        "service.version": "0.1.0",
        "service.instance.id": INSTALLATION_ID,
        "usage_stats.schema_version": 1,
        "usage_stats.schema_minor": 2,
        "usage_stats.submission_id": SUBMISSION_ID,
        "usage_stats.period.start": "2026-11-02",
        "usage_stats.period.end": "2026-11-08",
        "usage_stats.period.days": 7,
        "usage_stats.ha_version": "2025.4.4",
        "usage_stats.python_version": "3.13.0",
        "usage_stats.installation_type": "Home Assistant OS",
        "usage_stats.country_code": "DE",
    }
    scope = resource.scope_metrics[0]
    assert scope.scope.name == "usage_stats"
    metrics = {metric.name: metric for metric in scope.metrics}
    assert list(metrics) == [
        "usage_stats.printers",
        "usage_stats.printers.by_type",
        "usage_stats.printers.by_integration",
        "usage_stats.printers.by_model",
        "usage_stats.printers.by_firmware",
        "usage_stats.features",
        "usage_stats.jobs",
        "usage_stats.jobs.duration",
        "usage_stats.jobs.by_model",
        "usage_stats.events",
        "usage_stats.errors",
    ]
    start = 1_793_577_600 * 10**9  # 2026-11-02T00:00:00Z
    end = start + 7 * 86_400 * 10**9
    for metric in metrics.values():
        points = (metric.gauge if metric.HasField("gauge") else metric.sum).data_points
        for point in points:
            assert (point.start_time_unix_nano, point.time_unix_nano) == (start, end)
        if metric.HasField("sum"):
            assert metric.sum.aggregation_temporality == 1  # DELTA
            assert metric.sum.is_monotonic

    def values(name: str) -> dict[tuple[tuple[str, str], ...], int]:
        metric = metrics[name]
        points = (metric.gauge if metric.HasField("gauge") else metric.sum).data_points
        return {
            tuple((a.key, a.value.string_value) for a in p.attributes): p.as_int
            for p in points
        }

    assert values("usage_stats.printers") == {(): 5}
    assert values("usage_stats.printers.by_type") == {
        (("type", "prusa"),): 2,
        (("type", "bambu"),): 3,
    }
    assert values("usage_stats.features") == {
        (("feature", "bambu.light"), ("state", "on")): 1,
        (("feature", "bambu.light"), ("state", "off")): 1,
    }
    assert values("usage_stats.jobs")[(("outcome", "started"), ("type", "prusa"))] == 4
    assert values("usage_stats.jobs.duration") == {(("bucket", "1h_2h"),): 2}
    assert values("usage_stats.events")[(("event", "ha_start"),)] == 3
    assert (
        values("usage_stats.errors")[
            (("component", "octoprint"), ("error_type", "TimeoutError"))
        ]
        == 3
    )
    # Schema minor revision 2 (report version 3).
    assert values("usage_stats.printers.by_integration") == {
        (("integration", "prusalink"), ("type", "prusa"), ("version", "2026.11.0")): 2,
        (("integration", "bambu_lab"), ("type", "bambu"), ("version", "2.2.0")): 3,
    }
    assert values("usage_stats.printers.by_model") == {
        (("type", "bambu"), ("model", "x1c")): 1,
        (("type", "bambu"), ("model", "p1s")): 1,
    }
    assert values("usage_stats.printers.by_firmware") == {
        (("type", "bambu"), ("firmware", "1.9")): 1,
        (("type", "bambu"), ("firmware", "1.8")): 1,
    }
    # The folded key `other` has both its printer type and its model `other`.
    assert values("usage_stats.jobs.by_model") == {
        (("outcome", "failed"), ("type", "bambu"), ("model", "x1c")): 1,
        (("outcome", "completed"), ("type", "other"), ("model", "other")): 2,
    }


def test_otlp_without_country() -> None:
    """The country attribute is only there when Home Assistant has a country."""
    report = _report({})
    del report["installation"]["country_code"]
    request = parse_otlp(to_otlp(report))
    keys = {a.key for a in request.resource_metrics[0].resource.attributes}
    assert "usage_stats.country_code" not in keys


def test_placeholder_id_matches_the_contract() -> None:
    """The preview's placeholder ids are valid UUIDs of the contract."""
    report = _report({})
    report["installation_id"] = report["submission_id"] = PLACEHOLDER_ID
    assert_valid_report(report)


def test_revision_0_report_stays_valid() -> None:
    """A report queued before minor revision 1 (no `schema_minor`, no `interrupted`).

    It is still valid and maps to OTLP without the revision attribute.
    """
    report = _report(json.loads(json.dumps(DAYS)))
    del report["schema_minor"]
    del report["jobs"]["interrupted"]
    del report["jobs"]["by_model"]
    for key in ("integrations", "models", "firmware"):
        del report["printer_fleet"][key]
    assert_valid_revision_0_report(report)
    resource = parse_otlp(to_otlp(report)).resource_metrics[0].resource
    assert "usage_stats.schema_minor" not in {a.key for a in resource.attributes}
    report["schema_minor"] = 3
    with pytest.raises(AssertionError):
        assert_valid_report(report)


@pytest.mark.parametrize(
    ("version", "minor"), [(1, None), (2, 1), (3, 2)], ids=["v1", "v2", "v3"]
)
def test_each_report_version_is_its_schema_revision(
    version: int, minor: int | None
) -> None:
    """A report of an accepted version holds that version's fields, in its revision.

    Version 1: revision 0, no `interrupted`; version 2: revision 1 with
    `interrupted`; version 3: revision 2 with the integrations, models, firmware
    and jobs per model. A receiver that knows only the revision of the report
    accepts it, and one that knows an older revision refuses a newer report.
    """
    counters = DailyCounters(json.loads(json.dumps(DAYS)))
    report = build_report(
        period_days(counters, WEEK, None),
        WEEK,
        submission_id=SUBMISSION_ID,
        installation_id=INSTALLATION_ID,
        installation=INSTALLATION,
        version=version,
    )
    assert report.get("schema_minor") == minor
    assert ("interrupted" in report["jobs"]) is (version >= 2)
    details = {"integrations", "models", "firmware"} & report["printer_fleet"].keys()
    assert bool(details) is (version >= 3)
    assert ("by_model" in report["jobs"]) is (version >= 3)
    assert_valid_report(report)
    receivers = {
        0: assert_valid_revision_0_report,
        1: assert_valid_revision_1_report,
        2: assert_valid_report,
    }
    receivers[minor or 0](report)
    for older in range(minor or 0):
        with pytest.raises(AssertionError):
            receivers[older](report)
    # The OTLP form has the revision's metrics only.
    resource = parse_otlp(to_otlp(report)).resource_metrics[0]
    names = {metric.name for metric in resource.scope_metrics[0].metrics}
    revision_2 = {
        "usage_stats.printers.by_integration",
        "usage_stats.printers.by_model",
        "usage_stats.printers.by_firmware",
        "usage_stats.jobs.by_model",
    }
    assert (revision_2 <= names) is (version >= 3)
    assert not (revision_2 & names) or version >= 3


def test_many_models_fold_within_10_kb() -> None:
    """Many printer models, firmware versions and integrations stay within 10 KB.

    A week of a big fleet: every day's snapshot holds 50 models of long names, each
    on its own firmware, and 50 integrations; every day counts jobs of 50 other
    models. The body folds the long tails into `other`: valid, at most 10 KB, and
    the jobs per model still add up to the jobs counted.
    """
    days: dict[str, Any] = {}
    for day in range(7):
        models = [f"model_with_a_long_name_{day}{i:02}_x" for i in range(50)]
        days[f"2026-11-0{day + 2}"] = {
            "printers": {"": 50},
            "printers_by_type": {"bambu_lab": 50},
            "printer_integrations": {
                f"integration_number_{i:02}/bambu_lab/2026.{i}.{day}+build{i:04}": 1
                for i in range(50)
            },
            "printer_models": {
                f"bambu_lab/{model}/{i}.{day}": 1 for i, model in enumerate(models)
            },
            "jobs": {"started/bambu_lab": 100, "completed/bambu_lab": 50},
            "jobs_by_model": {
                f"{outcome}/bambu_lab/{model}": count
                for model in models
                for outcome, count in (("started", 2), ("completed", 1))
            },
        }
    report = _report(days)
    assert_valid_report(report)
    assert len(serialize(report)) <= MAX_REPORT_BYTES
    fleet, jobs = report["printer_fleet"], report["jobs"]
    # Folded: fewer keys than stored, and the tail summed into `other`.
    assert len(fleet["models"]["bambu_lab"]) < 50
    assert "other" in fleet["models"]["bambu_lab"]
    assert sum(fleet["models"]["bambu_lab"].values()) == 50
    assert sum(fleet["firmware"]["bambu_lab"].values()) == 50
    assert "other" in jobs["by_model"]
    for outcome, total_jobs in (("started", 700), ("completed", 350)):
        assert sum(o.get(outcome, 0) for o in jobs["by_model"].values()) == total_jobs
        assert sum(jobs[outcome].values()) == total_jobs
    # An integration is kept with its type and version, or folded into `other`
    # (of type and version `other`): no printer is lost.
    assert 0 < len(fleet["integrations"]) < 50
    other = fleet["integrations"].pop("other")
    assert other["type"] == other["version"] == "other"
    for entry in fleet["integrations"].values():
        assert entry["type"] == "bambu_lab"
        assert entry["printers"] == 1
    assert other["printers"] + len(fleet["integrations"]) == 50


def test_many_printer_types_fold_without_losing_printers() -> None:
    """Models and firmware of many printer types: the folded types count in `other`."""
    types = [f"type_{i:02}" for i in range(60)]
    days = {
        "2026-11-02": {
            "printers": {"": 60},
            "printers_by_type": dict.fromkeys(types, 1),
            "printer_models": {f"{kind}/model_{kind}/1.2": 1 for kind in types},
        }
    }
    report = _report(days)
    assert_valid_report(report)
    for block in ("models", "firmware"):
        counts = report["printer_fleet"][block]
        assert "other" in counts
        assert counts["other"] == {"other": sum(counts["other"].values())}
        assert sum(sum(models.values()) for models in counts.values()) == 60

"""What a report contributes: the schema's outcomes, buckets and sections, and revision 2's breakdowns."""

from __future__ import annotations

import time
from typing import Any

from collector_testlib import make_report, revision_2
from usage_stats_collector.aggregates import (
    DURATION_BUCKETS,
    JOB_OUTCOMES,
    MAX_KEY_LENGTH,
    MAX_METRIC_LENGTH,
    SECTIONS,
    contributions,
)
from usage_stats_collector.models import aggregates
from usage_stats_collector.schema import REPORT_SCHEMA, schema_document, validate_report
from usage_stats_collector.storage import Outcome, Storage


def test_outcomes_buckets_and_sections_are_the_schemas() -> None:
    definitions = schema_document(REPORT_SCHEMA)["$defs"]
    assert tuple(definitions["outcome"]["enum"]) == JOB_OUTCOMES
    assert tuple(definitions["duration_bucket"]["enum"]) == DURATION_BUCKETS
    assert tuple(definitions["section"]["enum"]) == SECTIONS


def test_every_outcome_bucket_and_section_of_the_schema_contributes() -> None:
    """A report with every value the schema defines: each one is counted, none is dropped."""
    report = revision_2(make_report())
    report["jobs"] |= {outcome: {"bambu_x1c": index + 1} for index, outcome in enumerate(JOB_OUTCOMES)}
    report["jobs"]["duration"] = {bucket: index + 1 for index, bucket in enumerate(DURATION_BUCKETS)}
    report["jobs"]["by_model"] = {"bambu_x1c.x1c": dict.fromkeys(JOB_OUTCOMES, 2)}
    assert validate_report(report) is None
    contributed = contributions(report)
    for index, outcome in enumerate(JOB_OUTCOMES):
        assert contributed[(f"jobs.{outcome}", "bambu_x1c")] == index + 1
        assert contributed[(f"jobs.by_model.{outcome}", "bambu_x1c.x1c")] == 2
    for index, bucket in enumerate(DURATION_BUCKETS):
        assert contributed[("jobs.duration", bucket)] == index + 1
    for section in SECTIONS:
        assert contributed[("section", section)] == 1


def test_revision_2_contributions() -> None:
    report = revision_2(make_report())
    contributed = contributions(report)
    new = {key: value for key, value in contributed.items() if key not in contributions(make_report())}
    assert new == {
        ("integration", "bambu"): 1,
        ("integration", "prusalink"): 1,
        ("integration.type", "bambu:bambu_x1c"): 1,
        ("integration.type", "prusalink:prusa_mk4"): 1,
        ("integration.version", "bambu:2.1.0"): 1,
        ("integration.version", "prusalink:2025.4.4"): 1,
        ("printer_model", "bambu_x1c:x1c"): 1,
        ("printer_model", "prusa_mk4:mk4s"): 1,
        ("printer_firmware", "bambu_x1c:1.8"): 1,
        ("printer_firmware", "prusa_mk4:6.2"): 1,
        ("jobs.by_model.started", "bambu_x1c.x1c"): 3,
        ("jobs.by_model.completed", "bambu_x1c.x1c"): 2,
        ("jobs.by_model.cancelled", "bambu_x1c.x1c"): 1,
        ("jobs.by_model.started", "prusa_mk4.mk4s"): 2,
        ("jobs.by_model.failed", "prusa_mk4.mk4s"): 1,
        ("jobs.by_model.interrupted", "prusa_mk4.mk4s"): 1,
        # bambu's errors, by the version of bambu this report names; "custom" is no integration.
        ("errors.version", "bambu:2.1.0"): 2,
        ("error_type.version", "bambu:2.1.0:TimeoutError"): 2,
    }


def test_errors_need_the_integration_in_the_same_report() -> None:
    """No printer_fleet shared, or the component not among its integrations: no version."""
    report = revision_2(make_report())
    del report["printer_fleet"]
    assert not [key for key in contributions(report) if key[0] in {"errors.version", "error_type.version"}]
    older = make_report()  # revision 1: nothing of revision 2
    assert not [
        key
        for key in contributions(older)
        if key[0].startswith(("integration", "printer_model", "printer_firmware", "errors.", "jobs.by_model"))
    ]


def _longest_report() -> dict[str, Any]:
    """A report whose every new key is as long as the schema allows."""
    domain, type_ = "d" * 32, "t" * 32
    version, model, error = "9" * 32, "m" * 32, "E" * 64
    report = revision_2(make_report())
    report["printer_fleet"] |= {
        "types": {type_: 1},
        "integrations": {domain: {"type": type_, "version": version, "printers": 1}},
        "models": {type_: {model: 1}},
        "firmware": {type_: {"9999.9999": 1}},
    }
    report["jobs"]["by_model"] = {f"{type_}.{'m' * 32}": {"started": 1}}
    report["errors"] = {domain: {error: 1}}
    assert validate_report(report) is None, validate_report(report)
    return report


def test_keys_fit_the_aggregate_tables() -> None:
    assert aggregates.c.metric.type.length == MAX_METRIC_LENGTH  # type: ignore[attr-defined]
    assert aggregates.c.key.type.length == MAX_KEY_LENGTH  # type: ignore[attr-defined]
    keys = contributions(_longest_report())
    assert max(len(metric) for metric, _ in keys) <= MAX_METRIC_LENGTH
    assert max(len(key) for _, key in keys) == MAX_KEY_LENGTH  # component:version:error type


async def test_the_longest_keys_are_stored(storage: Storage) -> None:
    """PostgreSQL refuses a key longer than its column: the longest report is stored whole."""
    report = _longest_report()
    assert (await storage.submit_report(report, now=time.time())).outcome is Outcome.ACCEPTED
    stored = {(metric, key) for _, metric, key, _, _ in await storage.aggregate_rows()}
    assert set(contributions(report)) == stored
    # And deleted again, exactly.
    await storage.delete_installation(report["installation_id"])
    assert await storage.aggregate_rows() == []


def _reference_contributions(report: dict[str, Any]) -> dict[tuple[str, str], int]:
    """``contributions`` as it was written before ``grouped`` (one ``add`` per value): the
    reference the faster per-metric form must equal."""
    from usage_stats_collector import aggregates as a

    out: dict[tuple[str, str], int] = {(a.ACTIVE, ""): 1}

    def add(metric: str, key: str, value: Any) -> None:
        number = int(value)
        if number > 0:
            out[(metric, key)] = out.get((metric, key), 0) + number

    installation = report["installation"]
    for field in a.INSTALL_FIELDS:
        add(f"install.{field}", str(installation[field]), 1)
    for section in a.SECTIONS:
        if section in report:
            add(a.SECTION, section, 1)
    fleet = report.get("printer_fleet", {"printers": 0, "types": {}})
    add(a.PRINTERS, "", fleet["printers"])
    for type_, count in fleet["types"].items():
        add(a.PRINTER_TYPE, type_, count)
    integrations = fleet.get("integrations", {})
    for domain, entry in integrations.items():
        add(a.INTEGRATION, domain, entry["printers"])
        add(a.INTEGRATION_TYPE, a.joined(domain, entry["type"]), entry["printers"])
        add(a.INTEGRATION_VERSION, a.joined(domain, entry["version"]), entry["printers"])
    for metric, section in ((a.PRINTER_MODEL, "models"), (a.PRINTER_FIRMWARE, "firmware")):
        for type_, counts in fleet.get(section, {}).items():
            for name, count in counts.items():
                add(metric, a.joined(type_, name), count)
    for feature, states in report.get("features", {}).items():
        add(a.FEATURE, feature, int(states["on"]) + int(states["off"]))
        add(a.FEATURE_ON, feature, states["on"])
    jobs = report.get("jobs", {})
    for outcome in a.JOB_OUTCOMES:
        for type_, count in jobs.get(outcome, {}).items():
            add(f"jobs.{outcome}", type_, count)
    for bucket, count in jobs.get("duration", {}).items():
        add(a.JOBS_DURATION, bucket, count)
    for model_key, outcomes in jobs.get("by_model", {}).items():
        for outcome in a.JOB_OUTCOMES:
            add(f"{a.JOBS_BY_MODEL}.{outcome}", model_key, outcomes.get(outcome, 0))
    for event, count in report.get("events", {}).items():
        add(a.EVENTS, event, count)
    for component, types in report.get("errors", {}).items():
        version = integrations[component]["version"] if component in integrations else None
        for error_type, count in types.items():
            add(a.ERRORS, component, count)
            add(a.ERROR_TYPE, a.joined(component, error_type), count)
            if version is not None:
                add(a.ERROR_VERSION, a.joined(component, version), count)
                add(a.ERROR_VERSION_TYPE, a.joined(component, version, error_type), count)
    if any(
        metric not in {a.ACTIVE, a.SECTION, *(f"install.{f}" for f in a.INSTALL_FIELDS)} for metric, _ in out
    ):
        out[(a.NONEMPTY, "")] = 1
    return out


def test_contributions_equal_the_reference_on_many_reports() -> None:
    """Seeded random reports of every revision, with zeros, empty and missing sections: the
    per-metric form (``grouped``) and its flattening give what one ``add`` per value gave."""
    import random

    from usage_stats_collector.aggregates import grouped

    rng = random.Random(20)
    base = make_report()
    for index in range(400):
        report = revision_2(make_report()) if index % 2 else make_report()
        fleet = report["printer_fleet"]
        fleet["types"] = {f"t{n}": rng.randint(0, 3) for n in range(rng.randint(0, 4))}
        report["jobs"]["started"] = {f"t{n}": rng.randint(0, 40) for n in range(rng.randint(0, 3))}
        report["events"] = {f"e{n}": rng.randint(0, 5) for n in range(rng.randint(0, 4))}
        report["errors"] = {
            component: {f"E{n}": rng.randint(0, 3) for n in range(rng.randint(0, 3))}
            for component in rng.sample(["bambu", "prusalink", "custom"], rng.randint(0, 3))
        }
        report["features"] = {"x.cam": {"on": rng.randint(0, 7), "off": rng.randint(0, 7)}}
        for section in ("printer_fleet", "features", "jobs", "events", "errors"):
            if rng.random() < 0.15:
                del report[section]
        if rng.random() < 0.1:
            report = base | {"printer_fleet": {"printers": 0, "types": {}}, "jobs": {}, "events": {}}
            report.pop("errors"), report.pop("features")
        expected = _reference_contributions(report)
        assert contributions(report) == expected
        assert {(m, k): v for m, keyed in grouped(report).items() for k, v in keyed.items()} == expected

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
    version, model, error = "9" * 32, "m" * 64, "E" * 64
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

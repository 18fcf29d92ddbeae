"""The facts the integration and the wire contract share are defined once.

Job outcomes, duration buckets and report sections are `$defs` of the report
schema; the catalogue's lists must be exactly those, in the same order, and the
schema's objects that spell them out must agree with them. This fails when
either side changes alone.
"""

from __future__ import annotations

import json
from typing import Any

from custom_components.usage_stats.catalogue import (
    DURATION_BUCKETS,
    JOB_DURATION,
    JOB_OUTCOME,
    JOB_OUTCOMES,
    Section,
    report_version,
)
from custom_components.usage_stats.report import SCHEMA_MINORS, schema_minor

from .helpers import SCHEMAS

SCHEMA: dict[str, Any] = json.loads(
    (SCHEMAS / "report-v1.schema.json").read_text(encoding="utf-8")
)
DEFS = SCHEMA["$defs"]
BUCKETS = [name for name, _ in DURATION_BUCKETS]


def test_outcomes_are_the_schemas() -> None:
    """`$defs/outcome` is the catalogue's job outcomes, and the label's values."""
    assert DEFS["outcome"]["enum"] == list(JOB_OUTCOMES)
    assert list(JOB_OUTCOME.values) == list(JOB_OUTCOMES)


def test_duration_buckets_are_the_schemas() -> None:
    """`$defs/duration_bucket` is the catalogue's duration buckets."""
    assert DEFS["duration_bucket"]["enum"] == BUCKETS
    (bucket,) = JOB_DURATION.labels
    assert list(bucket.values) == BUCKETS


def test_sections_are_the_schemas() -> None:
    """`$defs/section` is the catalogue's sections, and the report's section keys."""
    assert DEFS["section"]["enum"] == [section.value for section in Section]
    assert [key for key in SCHEMA["properties"] if key in DEFS["section"]["enum"]] == [
        section.value for section in Section
    ]


def test_the_schemas_objects_spell_out_the_same_lists() -> None:
    """`jobs`, `jobs.by_model` and `jobs.duration` list exactly these keys."""
    jobs = SCHEMA["properties"]["jobs"]["properties"]
    assert [key for key in jobs if key not in ("duration", "by_model")] == list(
        JOB_OUTCOMES
    )
    # Every outcome but `interrupted` (schema revision 1) is required.
    assert SCHEMA["properties"]["jobs"]["required"] == [
        *(outcome for outcome in JOB_OUTCOMES if outcome != "interrupted"),
        "duration",
    ]
    assert list(jobs["by_model"]["additionalProperties"]["properties"]) == list(
        JOB_OUTCOMES
    )
    assert list(jobs["duration"]["properties"]) == BUCKETS
    assert jobs["duration"]["propertyNames"] == {"$ref": "#/$defs/duration_bucket"}


def test_the_newest_schema_revision_is_the_current_report_versions() -> None:
    """The schema allows exactly up to the revision the current report version sends."""
    assert SCHEMA["properties"]["schema_minor"]["maximum"] == schema_minor(
        report_version()
    )
    assert max(SCHEMA_MINORS.values()) == schema_minor(report_version())

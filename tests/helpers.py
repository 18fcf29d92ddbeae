"""Helpers of the submission tests: the wire contract and a real receiving server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from jsonschema import Draft202012Validator
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

SCHEMAS = Path(__file__).parent.parent / "schemas"


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(
        schema, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


REPORT_SCHEMA = _validator("report-v1.schema.json")
DELETION_SCHEMA = _validator("deletion-v1.schema.json")


def assert_valid_report(body: dict[str, Any]) -> None:
    """Fail with every schema error of a report body."""
    errors = [error.message for error in REPORT_SCHEMA.iter_errors(body)]
    assert not errors, errors


def assert_valid_deletion(body: dict[str, Any]) -> None:
    """Fail with every schema error of a deletion request."""
    errors = [error.message for error in DELETION_SCHEMA.iter_errors(body)]
    assert not errors, errors


def parse_otlp(body: bytes | dict[str, Any]) -> ExportMetricsServiceRequest:
    """Parse an OTLP/HTTP JSON body the way a collector would."""
    text = body.decode() if isinstance(body, bytes) else json.dumps(body)
    return json_format.Parse(text, ExportMetricsServiceRequest())

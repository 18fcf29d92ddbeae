"""Load the shared wire contract (the JSON Schemas in the repository's ``schemas/``) and validate.

Documents are checked by jsonschema-rs (compiled, about a hundred times faster than interpreting the
schema in Python, which matters on the intake path: 10 µs instead of 1 ms for a typical report, and
ten times faster than fastjsonschema, used before). It never fetches anything (``offline``). Only a
rejected document is validated again by jsonschema, the reference implementation, for a short,
precise reason.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

if TYPE_CHECKING:
    import jsonschema_rs

REPORT_SCHEMA = "report-v1.schema.json"
DELETION_SCHEMA = "deletion-v1.schema.json"

# Where the schema lives in a source checkout: <repo>/schemas next to <repo>/collector.
_REPO_SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def schema_path(name: str) -> Path:
    """Return the path of a schema file.

    A built wheel carries the repository's schemas inside the package (hatchling
    ``force-include``); an editable install reads them from the repository itself.
    """
    packaged = resources.files("usage_stats_collector") / "schemas" / name
    if packaged.is_file():
        return Path(str(packaged))
    repo = _REPO_SCHEMAS / name
    if repo.is_file():
        return repo
    raise FileNotFoundError(f"schema {name} is neither packaged nor in {_REPO_SCHEMAS}")


@cache
def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(schema_path(name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return schema


def schema_document(name: str) -> dict[str, Any]:
    """The JSON Schema ``name`` as in its file (a fresh copy: the compiled validator rewrites the
    references of the one it was given)."""
    document: dict[str, Any] = json.loads(schema_path(name).read_text(encoding="utf-8"))
    return document


def report_enum(name: str) -> tuple[str, ...]:
    """The values of the report schema's ``$defs/<name>`` enum, in the schema's order.

    Job outcomes (``outcome``), duration buckets (``duration_bucket``) and report sections
    (``section``) are defined there once; the collector reads them from the schema.
    """
    return tuple(_schema(REPORT_SCHEMA)["$defs"][name]["enum"])


def required_jobs_keys() -> tuple[str, ...]:
    """The keys every report's ``jobs`` section has (the outcomes of revision 0, ``duration``)."""
    return tuple(_schema(REPORT_SCHEMA)["properties"]["jobs"]["required"])


@cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(_schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER)


def _is_date(value: str) -> bool:
    # The same check as jsonschema's "date" format: a real calendar date in YYYY-MM-DD.
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


@cache
def _compiled(name: str) -> jsonschema_rs.Validator:
    # Imported here: the integration's tests read the collector's aggregation and publication
    # rules (which read the schema's enums through this module) in Home Assistant's environment,
    # where only the reference implementation, jsonschema, is installed.
    import jsonschema_rs

    return jsonschema_rs.validator_for(
        _schema(name), formats={"date": _is_date}, validate_formats=True, offline=True
    )


def _reason(path: str, message: str) -> str:
    if len(message) > 160:
        message = message[:157] + "..."
    return f"{path}: {message}"


def validate(name: str, document: Any) -> str | None:
    """Validate ``document`` against schema ``name``; return a short reason or None when valid."""
    compiled = _compiled(name)
    if compiled.is_valid(document):
        return None
    error = best_match(_validator(name).iter_errors(document))
    if error is not None:
        return _reason(error.json_path, error.message)
    # The reference validator accepts what jsonschema-rs refuses: a pattern's "$" before a final
    # newline (Python's re matches there, ECMA-262 regular expressions do not).
    rejected = next(iter(compiled.iter_errors(document)))
    path = "$" + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in rejected.instance_path
    )
    return _reason(path, rejected.message)


def validate_report(document: Any) -> str | None:
    """Validate a report (JSON form)."""
    return validate(REPORT_SCHEMA, document)


def validate_deletion(document: Any) -> str | None:
    """Validate a deletion request."""
    return validate(DELETION_SCHEMA, document)

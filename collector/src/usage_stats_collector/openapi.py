"""The API description, ``GET /openapi.json`` (OpenAPI 3.1), generated from the JSON Schemas.

The request bodies of ``/v1/reports`` and ``/v1/deletion`` are the wire contract itself
(``schemas/*.schema.json``): their ``$defs`` become components and their references are rewritten
to point there, so the description cannot drift from what the collector validates. Rules the JSON
Schema cannot state (a report's period must be consistent and recent) are in the descriptions.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from . import __version__
from .intake import MAX_BODY_BYTES, MAX_DAYS_AHEAD, MAX_PERIOD_DAYS
from .schema import DELETION_SCHEMA, REPORT_SCHEMA, schema_document

_COMPONENTS = "#/components/schemas/"
_UUID = "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


def _component(name: str, prefix: str, schemas: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema as component ``prefix``: ``$defs`` hoisted to ``<prefix>.<def>``, refs rewritten."""
    schema = schema_document(name)
    for key in ("$schema", "$id"):
        schema.pop(key, None)

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                node = node | {"$ref": f"{_COMPONENTS}{prefix}.{ref.removeprefix('#/$defs/')}"}
            return {key: rewrite(value) for key, value in node.items()}
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    for def_name, definition in schema.pop("$defs", {}).items():
        schemas[f"{prefix}.{def_name}"] = rewrite(definition)
    schemas[prefix] = rewrite(schema)
    return {"$ref": f"{_COMPONENTS}{prefix}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _status(value: str) -> dict[str, Any]:
    return {"type": "object", "required": ["status"], "properties": {"status": {"const": value}}}


def _error(description: str) -> dict[str, Any]:
    return _json({"$ref": f"{_COMPONENTS}Error"}, description)


_BODY_ERRORS = {
    "408": _error("The body did not arrive within the body timeout."),
    "413": _error(f"The body is larger than {MAX_BODY_BYTES} bytes."),
    "415": _error(
        "The body is not application/json in UTF-8, or has a Content-Encoding (compressed bodies "
        "are refused)."
    ),
}
_ADMIN_ERRORS = {
    "401": _error("The bearer token is missing or wrong."),
    "404": _error(
        "Admin endpoints are disabled (no admin token configured): answered like any unknown path."
    ),
}

_PERIOD_RULES = (
    f"Beyond the schema, the period must be consistent (start <= end, `days` equal to its length, "
    f"at most {MAX_PERIOD_DAYS} days) and recent (ending at most {MAX_DAYS_AHEAD} days after the "
    "receive date, and not before the retention period); otherwise 400."
)


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of this collector."""
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "additionalProperties": False,
            "properties": {"error": {"type": "string", "minLength": 1, "maxLength": 200}},
        },
        "Stats": {
            "type": "object",
            "description": (
                "The published weeks, newest first (at most 104): each a k-anonymous snapshot written "
                "once, after the week ended and the publication delay passed, and never changed; "
                "see the collector README."
            ),
            "required": ["k_anonymity", "publication_delay_days", "suppressed_weeks", "weeks"],
            "properties": {
                "k_anonymity": {"type": "integer", "minimum": 1},
                "publication_delay_days": {"type": "number", "minimum": 0},
                "suppressed_weeks": {"type": "integer", "minimum": 0},
                "weeks": {
                    "type": "array",
                    "maxItems": 104,
                    "items": {
                        "type": "object",
                        "required": [
                            "week",
                            "published_at",
                            "k_anonymity",
                            "installations",
                            "reports",
                            "late_reports",
                        ],
                        "properties": {
                            "week": {"type": "string", "pattern": "^[0-9]{4}-W[0-9]{2}$"},
                            "published_at": {"type": "string", "format": "date"},
                            "late_reports": {
                                "type": "integer",
                                "minimum": 0,
                                "description": (
                                    "Reports of the week stored after it was published: in no number "
                                    "of the week (which never changes), counted when read."
                                ),
                            },
                            "k_anonymity": {"type": "integer", "minimum": 1},
                            "installations": {"type": "integer", "minimum": 1},
                            "reports": {"type": "integer", "minimum": 1},
                            "printers": {"type": ["integer", "null"]},
                        },
                    },
                },
            },
        },
    }
    report = _component(REPORT_SCHEMA, "Report", schemas)
    deletion = _component(DELETION_SCHEMA, "Deletion", schemas)
    otlp = {
        "type": "object",
        "description": (
            "An OTLP/HTTP JSON ExportMetricsServiceRequest in the usage_stats mapping "
            "(schemas/README.md); it is converted to a report and validated like one."
        ),
    }
    admin_security: list[dict[str, list[str]]] = [{"adminToken": []}]
    rate_limited = _error(
        "A report of this installation was accepted less than an hour ago, or the week's limit of "
        "new installations (--max-new-installations-per-week) is reached."
    )
    deleted = _error("The installation was deleted: its reports are refused and never stored.")
    rate_limited["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}

    paths: dict[str, Any] = {
        "/": {
            "get": {
                "summary": "The published statistics as an HTML page",
                "parameters": [
                    {"name": "week", "in": "query", "required": False, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "description": "The page.",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Ready when the database answers",
                "responses": {
                    "200": _json(
                        {"type": "object", "properties": {"status": {"const": "ok"}}, "required": ["status"]},
                        "The database answers.",
                    ),
                    "503": _error("The database does not answer."),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This API description",
                "responses": {"200": _json({"type": "object"}, "The OpenAPI 3.1 document.")},
            }
        },
        "/v1/stats": {
            "get": {
                "summary": "The published weekly aggregates",
                "responses": {"200": _json({"$ref": f"{_COMPONENTS}Stats"}, "The aggregates.")},
            }
        },
        "/v1/reports": {
            "post": {
                "summary": "Submit a weekly report",
                "description": _PERIOD_RULES,
                "requestBody": {"required": True, "content": {"application/json": {"schema": report}}},
                "responses": {
                    "201": _json(
                        {
                            "type": "object",
                            "properties": {"status": {"const": "accepted"}},
                            "required": ["status"],
                        },
                        "Stored.",
                    ),
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"status": {"const": "duplicate"}},
                            "required": ["status"],
                        },
                        "This submission_id was stored before; nothing changed.",
                    ),
                    "400": _error("Not a valid report (the reason says where)."),
                    "410": deleted,
                    **_BODY_ERRORS,
                    "429": rate_limited,
                },
            }
        },
        "/v1/metrics": {
            "post": {
                "summary": "Submit a weekly report as OTLP/HTTP JSON",
                "description": _PERIOD_RULES + " Protobuf bodies are refused (415).",
                "requestBody": {"required": True, "content": {"application/json": {"schema": otlp}}},
                "responses": {
                    "200": _json(
                        {"type": "object", "maxProperties": 0},
                        "Stored, or stored before (an ExportMetricsServiceResponse).",
                    ),
                    "400": _error("Not a valid export in the usage_stats mapping, or not a valid report."),
                    "410": deleted,
                    **_BODY_ERRORS,
                    "429": rate_limited,
                },
            }
        },
        "/v1/deletion": {
            "post": {
                "summary": "Delete an installation's reports and their contributions",
                "requestBody": {"required": True, "content": {"application/json": {"schema": deletion}}},
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["status", "reports_deleted"],
                            "properties": {
                                "status": {"const": "deleted"},
                                "reports_deleted": {"type": "integer", "minimum": 0},
                            },
                        },
                        "Deleted (also when nothing was stored).",
                    ),
                    "400": _error("Not a valid deletion request."),
                    **_BODY_ERRORS,
                },
            }
        },
        "/v1/admin/installations/{installation_id}": {
            "get": {
                "summary": "Export the raw reports of one installation (admin)",
                "security": admin_security,
                "parameters": [
                    {
                        "name": "installation_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": _UUID},
                    }
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["installation_id", "reports"],
                            "properties": {
                                "installation_id": {"type": "string"},
                                "reports": {"type": "array", "items": {"type": "object"}},
                            },
                        },
                        "The installation's stored reports.",
                    ),
                    "400": _error("The installation id is not a UUID."),
                    **_ADMIN_ERRORS,
                },
            }
        },
        "/v1/admin/purge": {
            "post": {
                "summary": "Apply the retention period now (admin)",
                "security": admin_security,
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["purged", "retention_days"],
                            "properties": {
                                "purged": {"type": "integer", "minimum": 0},
                                "retention_days": {"type": "number"},
                            },
                        },
                        "The number of reports removed.",
                    ),
                    **_ADMIN_ERRORS,
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Usage Statistics collector",
            "version": __version__,
            "description": (
                "The reference collector of the usage_stats Home Assistant integration: it accepts "
                "pseudonymous weekly reports and publishes k-anonymous aggregates."
            ),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
        },
    }

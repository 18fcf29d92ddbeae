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


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"{_COMPONENTS}{name}"}


def _map(values: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": values}


def _nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


def _published_schemas() -> dict[str, Any]:
    """A published cell, and the parts of a week that minor revision 2 of the report added."""
    typed = {"allOf": [_ref("Cell"), {"type": "object", "properties": {"types": _ref("Cells")}}]}
    return {
        "Cell": {
            "type": "object",
            "description": (
                "A published value: the sum of the installations' values and their number. Under "
                "k-anonymity both are exact, of at least k installations; under differential privacy both "
                "are noisy, with the half-widths of their 95 % intervals in the week's `ci95` under the "
                "list's path (an `other` has its own `ci95`). `installations` is null for a differentially "
                "private `other` (unknown without spending budget)."
            ),
            "required": ["total", "installations"],
            "properties": {
                "total": {"type": "integer", "minimum": 0},
                "installations": {"type": ["integer", "null"], "minimum": 0},
                "ci95": _ref("Interval"),
            },
        },
        "Interval": {
            "type": "object",
            "description": (
                "Differential privacy: the half-width of the 95 % interval of each number of the same name "
                "(the noise only; clipping to the caps only lowers a number); null where the number is."
            ),
            "additionalProperties": _nullable("number"),
        },
        "Cells": _map(_ref("Cell")),
        "IntegrationCell": {
            "allOf": [
                _ref("Cell"),
                {
                    "type": "object",
                    "description": "A printer integration: its printers, and its printer types and versions.",
                    "properties": {"types": _ref("Cells"), "versions": _ref("Cells")},
                },
            ]
        },
        "ErrorComponent": {
            "allOf": [
                _ref("Cell"),
                {
                    "type": "object",
                    "required": ["types"],
                    "properties": {
                        "types": _ref("Cells"),
                        "versions": {
                            **_map(typed),
                            "description": (
                                "Since report revision 2: the component's errors by the version of that "
                                "integration the reporting installation had loaded, newest first."
                            ),
                        },
                    },
                },
            ]
        },
    }


_WEEKS = {"type": "array", "maxItems": 52, "items": {"type": "string", "pattern": "^[0-9]{4}-W[0-9]{2}$"}}
_PRIVACY = {"enum": ["dp", "k-anonymity"]}
_PRIVACY_OF_NEWEST = {
    "enum": ["dp", "k-anonymity", None],
    "description": "The rule the newest of the weeks was published under (null: no week).",
}
_SERIES = {"type": "array", "maxItems": 52, "items": _nullable("integer")}
_RATES = {"type": "array", "maxItems": 52, "items": _nullable("number")}


def _insight_schemas() -> dict[str, Any]:
    """``/v1/integrations`` and ``/v1/integrations/{domain}``."""
    breakdown = {
        "type": "object",
        "required": ["week", "rows"],
        "properties": {"week": _nullable("string"), "rows": {"type": "array", "items": {"type": "object"}}},
    }
    return {
        "IntegrationIndex": {
            "type": "object",
            "description": "The printer integrations of the newest published weeks (oldest week first).",
            "required": ["privacy", "k_anonymity", "weeks", "integrations"],
            "properties": {
                "privacy": _PRIVACY_OF_NEWEST,
                "k_anonymity": _nullable("integer"),
                "weeks": _WEEKS,
                "integrations": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["domain", "printer_type", "installations", "page", "data"],
                        "properties": {
                            "domain": {"type": "string"},
                            "printer_type": _nullable("string"),
                            "installations": _SERIES,
                            "page": {"type": "string"},
                            "data": {"type": "string"},
                        },
                    },
                },
            },
        },
        "IntegrationInsights": {
            "type": "object",
            "description": (
                "One printer integration over the newest published weeks (at most 52, oldest first), "
                "computed only from the published snapshots: a series has null where a week did not "
                "publish the value (fewer than k installations, or below the noisy threshold). Under "
                "differential privacy it is post-processing of the noisy published numbers (no budget "
                "spent); a rate over a noisy zero is null."
            ),
            "required": [
                "domain",
                "privacy",
                "k_anonymity",
                "printer_type",
                "weeks",
                "installations",
                "printers",
                "versions",
                "models",
                "firmware",
                "job_outcomes",
                "errors",
            ],
            "properties": {
                "domain": {"type": "string"},
                "privacy": _PRIVACY_OF_NEWEST,
                "k_anonymity": {"type": ["integer", "null"], "minimum": 1},
                "printer_type": _nullable("string"),
                "weeks": _WEEKS,
                "installations": _SERIES,
                "printers": _SERIES,
                "versions": {
                    "type": "array",
                    "description": "Per version (newest first): installations per week, and share in %.",
                    "items": {
                        "type": "object",
                        "required": ["version", "installations", "share"],
                        "properties": {
                            "version": {"type": "string"},
                            "installations": _SERIES,
                            "share": _RATES,
                        },
                    },
                },
                "models": breakdown,
                "firmware": breakdown,
                "job_outcomes": {
                    "type": "array",
                    "description": "Per started job in %: the type overall (model null), then per model.",
                    "items": {
                        "type": "object",
                        "required": ["model", "started", "rates"],
                        "properties": {
                            "model": _nullable("string"),
                            "started": {"type": "integer", "minimum": 0},
                            "rates": _map(_nullable("number")),
                        },
                    },
                },
                "errors": {
                    "type": "object",
                    "description": (
                        "Errors per 100 installations by error type and version (newest first); mark "
                        "`new` or `grew` (more than doubled) in the newest version against the previous."
                    ),
                    "required": ["newest", "previous", "versions", "rows"],
                    "properties": {
                        "newest": _nullable("string"),
                        "previous": _nullable("string"),
                        "versions": {"type": "array", "items": {"type": "string"}},
                        "rows": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["error_type", "per_100", "mark"],
                                "properties": {
                                    "error_type": {"type": "string"},
                                    "per_100": _map(_nullable("number")),
                                    "mark": {"enum": ["new", "grew", None]},
                                },
                            },
                        },
                    },
                },
            },
        },
    }


def _insight_paths() -> dict[str, Any]:
    domain = {"name": "domain", "in": "path", "required": True, "schema": {"type": "string"}}
    missing = _error(
        "No published week has this integration (it needs at least k installations in a week), or the "
        "domain is not one."
    )
    return {
        "/v1/integrations": {
            "get": {
                "summary": "The printer integrations of the published weeks",
                "responses": {
                    "200": _json(_ref("IntegrationIndex"), "The integrations, most installations first.")
                },
            }
        },
        "/v1/integrations/{domain}": {
            "get": {
                "summary": "Insights for the authors of a printer integration",
                "parameters": [domain],
                "responses": {"200": _json(_ref("IntegrationInsights"), "The insights."), "404": missing},
            }
        },
        "/integrations/{domain}": {
            "get": {
                "summary": "The same insights as an HTML page (charts as inline SVG, each with a table)",
                "parameters": [domain],
                "responses": {
                    "200": {
                        "description": "The page.",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    },
                    "404": missing,
                },
            }
        },
    }


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
                "The published weeks, newest first (at most 104): each a snapshot written once, after "
                "the week ended and the publication delay passed, and never changed, under the privacy "
                "rule it states (`privacy`): differential privacy (noisy numbers with their 95 % "
                "intervals, the week's budget under `dp`, its ledger in `ledgers`) or k-anonymity (exact "
                "numbers of at least k installations). See the collector README."
            ),
            "required": [
                "privacy",
                "k_anonymity",
                "rho",
                "publication_delay_days",
                "suppressed_weeks",
                "budget",
                "ledgers",
                "weeks",
            ],
            "properties": {
                "privacy": {**_PRIVACY, "description": "The rule new weeks are published under."},
                "k_anonymity": {
                    "type": ["integer", "null"],
                    "minimum": 1,
                    "description": "k of new weeks under k-anonymity (null under dp).",
                },
                "rho": {
                    "type": ["number", "null"],
                    "exclusiveMinimum": 0,
                    "description": "dp: the budget of each new week, in zCDP (null otherwise).",
                },
                "publication_delay_days": {"type": "number", "minimum": 0},
                "suppressed_weeks": {"type": "integer", "minimum": 0},
                "budget": _ref("Budget"),
                "ledgers": {
                    **_map(_ref("Ledger")),
                    "description": "The ledgers of the served dp weeks, by the id each names.",
                },
                "weeks": {"type": "array", "maxItems": 104, "items": _ref("Week")},
            },
        },
        "Week": {
            "type": "object",
            "required": [
                "week",
                "published_at",
                "privacy",
                "k_anonymity",
                "installations",
                "reports",
                "late_reports",
            ],
            "properties": {
                "week": {"type": "string", "pattern": "^[0-9]{4}-W[0-9]{2}$"},
                "published_at": {"type": "string", "format": "date"},
                "privacy": {**_PRIVACY, "description": "The rule the week was published under."},
                "dp": {
                    "type": "object",
                    "description": (
                        "Differential privacy: what the week spent (zCDP rho; epsilon at delta, by "
                        "OpenDP's conversion) and the id of its ledger in `ledgers`."
                    ),
                    "required": ["rho", "epsilon", "delta", "ledger"],
                    "properties": {
                        "rho": {"type": "number", "minimum": 0},
                        "epsilon": {"type": "number", "minimum": 0},
                        "delta": {"type": "number", "minimum": 0},
                        "ledger": {"type": "string"},
                    },
                },
                "ci95": {
                    "type": "object",
                    "description": (
                        "Differential privacy: the half-widths of the 95 % intervals of the week's own "
                        "numbers (`installations`, `printers`, `sections`, `late_reports`) and of every "
                        "cell of each list, by the list's path in the week (`printer_types`, "
                        "`jobs.started`, `errors.versions.types`, `features` ...): the noise only."
                    ),
                    "additionalProperties": {"anyOf": [{"type": "number"}, _ref("Interval")]},
                },
                "late_reports": {
                    "type": ["integer", "null"],
                    "minimum": 0,
                    "description": (
                        "k-anonymity: the reports of the week stored after it was published, in no number "
                        "of the week (which never changes), counted when read. Differential privacy: the "
                        "installations with such a report, a noisy count released once, a week after the "
                        "publication (null until then)."
                    ),
                },
                "k_anonymity": {"type": ["integer", "null"], "minimum": 0},
                "installations": {"type": "integer", "minimum": 0},
                "reports": {
                    "type": ["integer", "null"],
                    "minimum": 1,
                    "description": "k-anonymity: the reports of the week (null under dp).",
                },
                "printers": {"type": ["integer", "null"]},
                "integrations": {
                    **_map(_ref("IntegrationCell")),
                    "description": "Since report revision 2: printers per printer integration.",
                },
                "printer_models": {
                    **_map(_ref("Cells")),
                    "description": "Since revision 2: printers per model, per printer type.",
                },
                "printer_firmware": {
                    **_map(_ref("Cells")),
                    "description": "Since revision 2: printers per firmware version, per type.",
                },
                "jobs": {
                    "type": "object",
                    "properties": {
                        "by_model": {
                            **_map(_ref("Cells")),
                            "description": "Since report revision 2: per outcome, jobs per `<type>.<model>`.",
                        }
                    },
                },
                "errors": _map(_ref("ErrorComponent")),
            },
        },
        "Budget": {
            "type": "object",
            "description": (
                "What every week ever published under differential privacy spent together: zCDP composes "
                "by adding, so an installation that reported in all of them lost at most this (one that "
                "reported in fewer, less). epsilon at delta by OpenDP's conversion; delta is 1e-7 plus "
                "the thresholds' delta of every week."
            ),
            "required": ["dp_weeks", "rho", "epsilon", "delta"],
            "properties": {
                "dp_weeks": {"type": "integer", "minimum": 0},
                "rho": {"type": "number", "minimum": 0},
                "epsilon": {"type": "number", "minimum": 0},
                "delta": {"type": "number", "minimum": 0},
            },
        },
        "Ledger": {
            "type": "object",
            "description": (
                "How a differentially private week was released: the mechanism and library, the unit "
                "protected, the budget (rho in zCDP, epsilon at delta), the caps of each metric (keys "
                "per installation, the largest value of one key, its share of the budget) and each "
                "part's sensitivity, noise scale, threshold and 95 % half-width."
            ),
            "required": ["mechanism", "library", "unit", "rho", "epsilon", "delta", "caps", "parts"],
            "properties": {
                "mechanism": {"type": "string"},
                "library": {"type": "string"},
                "unit": {"type": "string"},
                "rho": {"type": "number"},
                "epsilon": {"type": "number"},
                "delta": {"type": "number"},
                "caps": {"type": "object"},
                "parts": {"type": "object"},
            },
        },
        **_published_schemas(),
        **_insight_schemas(),
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
        **_insight_paths(),
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
                "pseudonymous weekly reports and publishes weekly aggregates under differential privacy "
                "(or k-anonymity)."
            ),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
        },
    }

"""Your printers beside the community's: local counters against the published week.

Local numbers are this installation's job counters of the last `LOCAL_DAYS` days and
its newest fleet snapshot; community numbers are read from the newest week the
collector published (`published.py`), which only holds numbers its privacy rule let
through: a number it withheld stays None here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
import re
from typing import Any, Final

from .catalogue import (
    JOB_OUTCOMES,
    JOBS,
    LABEL_SEPARATOR,
    PRINTER_INTEGRATIONS,
    PRINTER_MODELS,
    PRINTERS_BY_TYPE,
)
from .const import UNKNOWN
from .counters import DailyCounters, utc_today
from .published import Published

LOCAL_DAYS: Final = 28
# A newer firmware is "widespread" when at least this share of the type's printers run it.
WIDESPREAD: Final = 0.2
_FIRMWARE: Final = re.compile(r"([0-9]+)\.([0-9]+)")

type Json = dict[str, Any]


def local_printers(counters: DailyCounters) -> list[Json]:
    """Return this installation's printer integrations and job counts, per type."""
    today = utc_today()
    jobs = counters.total(JOBS, today - timedelta(days=LOCAL_DAYS - 1), today)
    integrations: dict[str, Json] = {}
    for key in counters.latest(PRINTER_INTEGRATIONS):
        domain, printer_type, version = key.split(LABEL_SEPARATOR)
        integrations.setdefault(
            printer_type,
            {"integration": domain, "printer_type": printer_type, "version": version},
        )
    for printer_type in counters.latest(PRINTERS_BY_TYPE):
        integrations.setdefault(
            printer_type,
            {"integration": None, "printer_type": printer_type, "version": None},
        )
    models: dict[str, tuple[str | None, str | None]] = {}
    for key, _ in sorted(
        counters.latest(PRINTER_MODELS).items(), key=lambda item: -item[1]
    ):
        printer_type, model_label, firmware_label = key.split(LABEL_SEPARATOR)
        models.setdefault(
            printer_type,
            (
                None if model_label == UNKNOWN else model_label,
                None if firmware_label == UNKNOWN else firmware_label,
            ),
        )
    printers = []
    for printer_type, entry in sorted(integrations.items()):
        counts = {
            outcome: jobs.get(f"{outcome}{LABEL_SEPARATOR}{printer_type}", 0)
            for outcome in JOB_OUTCOMES
        }
        model, firmware = models.get(printer_type, (None, None))
        printers.append(
            entry
            | {
                "jobs": counts,
                "completion_rate": _rate(counts["completed"], counts["started"]),
                "failure_rate": _rate(counts["failed"], counts["started"]),
                "model": model,
                "firmware": firmware,
            }
        )
    return printers


def compare(counters: DailyCounters, published: Published | None) -> Json:
    """Return the panel's comparison: each local printer type beside the community's."""
    printers = local_printers(counters)
    if published is None:
        return _result("unavailable", published, printers)
    week = published.week
    if week is None or not any(
        _cell(week, "printer_types", printer["printer_type"]) for printer in printers
    ):
        return _result("no_data", published, printers)
    return _result("ok", published, printers)


def _result(status: str, published: Published | None, printers: list[Json]) -> Json:
    week = published.week if published is not None and status == "ok" else None
    return {
        "status": status,
        "fetched_at": published.fetched_at.isoformat() if published else None,
        "week": week.get("week") if week else None,
        "installations": week.get("installations") if week else None,
        "printers": [
            {
                "integration": printer["integration"],
                "printer_type": printer["printer_type"],
                "local": {
                    **printer["jobs"],
                    "completion_rate": printer["completion_rate"],
                    "failure_rate": printer["failure_rate"],
                    "integration_version": printer["version"],
                    "model": printer["model"],
                    "firmware": printer["firmware"],
                },
                "community": community(week, printer) if week else None,
            }
            for printer in printers
        ],
    }


def community(week: Mapping[str, Any], printer: Mapping[str, Any]) -> Json:
    """Return the published numbers for one local printer type (None: withheld)."""
    printer_type = printer["printer_type"]
    started = _total(_cell(week, "jobs", "started", printer_type))
    firmware = _shares(week, "printer_firmware", printer_type)
    models = _shares(week, "printer_models", printer_type)
    versions = _nested(week, "integrations", printer["integration"], "versions")
    return {
        "installations": _installations(_cell(week, "printer_types", printer_type)),
        "completion_rate": _rate(
            _total(_cell(week, "jobs", "completed", printer_type)), started
        ),
        "failure_rate": _rate(
            _total(_cell(week, "jobs", "failed", printer_type)), started
        ),
        "version_installations": _installations(
            versions.get(printer["version"]) if printer["version"] else None
        ),
        "firmware_share": firmware.get(printer["firmware"])
        if printer["firmware"]
        else None,
        "newer_firmware": newer_widespread(printer["firmware"], firmware),
        "model_share": models.get(printer["model"]) if printer["model"] else None,
    }


def newer_widespread(mine: str | None, shares: Mapping[str, float]) -> str | None:
    """Return the newest firmware newer than `mine` that is widespread, if any."""
    if mine is None or (current := _firmware(mine)) is None:
        return None
    newer = [
        (version, name)
        for name, share in shares.items()
        if share >= WIDESPREAD
        and (version := _firmware(name)) is not None
        and version > current
    ]
    return max(newer)[1] if newer else None


def _firmware(name: str) -> tuple[int, int] | None:
    match = _FIRMWARE.fullmatch(name)
    return (int(match[1]), int(match[2])) if match else None


def _shares(week: Mapping[str, Any], block: str, printer_type: str) -> dict[str, float]:
    """Return each key's share of the printers in a published block of a type."""
    cells = _nested(week, block, printer_type)
    totals = {key: _total(cell) for key, cell in cells.items()}
    whole = sum(total for total in totals.values() if total is not None)
    return {
        key: total / whole
        for key, total in totals.items()
        if total is not None and whole > 0
    }


def _nested(week: Mapping[str, Any], *path: str | None) -> Mapping[str, Any]:
    node: Any = week
    for key in path:
        if not isinstance(node, Mapping) or key is None:
            return {}
        node = node.get(key)
    return node if isinstance(node, Mapping) else {}


def _cell(week: Mapping[str, Any], *path: str) -> Mapping[str, Any] | None:
    *parents, key = path
    cell = _nested(week, *parents).get(key)
    return cell if isinstance(cell, Mapping) else None


def _total(cell: Mapping[str, Any] | None) -> int | None:
    value = cell.get("total") if cell else None
    return value if isinstance(value, int) else None


def _installations(cell: Mapping[str, Any] | None) -> int | None:
    value = cell.get("installations") if cell else None
    return value if isinstance(value, int) else None


def _rate(part: int | None, whole: int | None) -> float | None:
    if part is None or not whole:
        return None
    return round(part / whole, 4)

"""52 weeks of synthetic reports for the insight pages (seeded: the same data on every run).

Twelve to twenty installations a week report two printer integrations. ``bambu`` moves from 1.0.0
to 1.1.0 (week 20) and, for half of them, to 2.0.0 (week 40), which brings a new error type
(``AuthError``) and triples another (``ConnectionError``). One installation has a version, a model,
a firmware version, an error type and an integration of its own: they are below k in every week
and must appear nowhere.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import uuid
from typing import Any

from collector_testlib import BASE_REPORT, week_period
from usage_stats_collector.aggregates import JOB_OUTCOMES
from usage_stats_collector.publication import publish_due
from usage_stats_collector.storage import Storage, StoredReport

FIRST_MONDAY = dt.date(2024, 5, 6)  # ISO week 2024-W19
WEEKS = 52
K = 3
RARE = ("0.9.0", "h2d", "4242.4242", "RareError", "rare_integration")
MODELS = ("x1c", "p1s", "a1")


def _version(index: int, week: int) -> str:
    if index == 0:
        return "0.9.0"
    if week >= 40 and index % 2:
        return "2.0.0"
    return "1.1.0" if week >= 20 else "1.0.0"


def _report(rng: random.Random, installation: str, index: int, week: int) -> dict[str, Any]:
    monday = FIRST_MONDAY + dt.timedelta(weeks=week)
    version = _version(index, week)
    model = "h2d" if index == 1 else MODELS[index % 3]
    firmware = "4242.4242" if index == 2 else ("1.8" if week < 30 else "1.9")
    report = copy.deepcopy(BASE_REPORT)
    report |= {"schema_minor": 2, "submission_id": str(uuid.UUID(int=rng.getrandbits(128), version=4))}
    report |= {"installation_id": installation, "period": week_period(monday)}
    integrations = {
        "bambu": {"type": "bambu_x1c", "version": version, "printers": 1},
        "prusalink": {"type": "prusa_mk4", "version": "2025.4.4", "printers": 1},
    }
    if index == 0:
        integrations["rare_integration"] = {"type": "bambu_x1c", "version": "1.0.0", "printers": 1}
    report["printer_fleet"] = {
        "printers": 2,
        "types": {"bambu_x1c": 1, "prusa_mk4": 1},
        "integrations": integrations,
        "models": {"bambu_x1c": {model: 1}, "prusa_mk4": {"mk4s": 1}},
        "firmware": {"bambu_x1c": {firmware: 1}, "prusa_mk4": {"6.2": 1}},
    }
    failed = 1 if index % 4 == 0 else 0
    jobs = report["jobs"]
    jobs |= {
        "started": {"bambu_x1c": 3},
        "completed": {"bambu_x1c": 2},
        "failed": {"bambu_x1c": failed} if failed else {},
        "cancelled": {"bambu_x1c": 1 - failed} if not failed else {},
        "interrupted": {},
    }
    outcomes = {name: jobs[name]["bambu_x1c"] for name in JOB_OUTCOMES if jobs[name]}
    jobs["by_model"] = {f"bambu_x1c.{model}": outcomes}
    errors = {"TimeoutError": 1, "ConnectionError": 3 if version == "2.0.0" else 1}
    if version == "2.0.0":
        errors["AuthError"] = 2
    if index == 0:
        errors["RareError"] = 9
    report["errors"] = {"bambu": errors}
    return report


def active(week: int) -> int:
    """How many installations report in a week."""
    return 12 + (week * 7) % 9


def reports(seed: int = 19) -> list[dict[str, Any]]:
    """Every report of the 52 weeks, oldest week first."""
    rng = random.Random(seed)
    installations = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(24)]
    return [
        _report(rng, installations[index], index, week)
        for week in range(WEEKS)
        for index in range(active(week))
    ]


async def seed_published_weeks(storage: Storage) -> list[dict[str, Any]]:
    """Store the 52 weeks of reports and publish them (k = 3) as the publication run does."""
    items = reports()
    last = FIRST_MONDAY + dt.timedelta(weeks=WEEKS - 1)
    now = dt.datetime.combine(last + dt.timedelta(days=10), dt.time(), dt.UTC).timestamp()
    await storage.bulk_load([StoredReport.from_report(report, now - 86400) for report in items])
    published = await publish_due(storage, privacy="k-anonymity", k=K, now=now, retention_days=400)
    assert len(published) == WEEKS
    return items

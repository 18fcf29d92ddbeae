"""Publication under differential privacy (``--privacy dp``): a week released once, by OpenDP.

A week is published when due, like a k-anonymous one, but never withheld, and from the reports
themselves: each installation's contributions are summed over its reports of the week, clipped to
the bounds of :func:`~.privacy_dp.default_spec` and released by :func:`~.privacy_dp.release_clipped` (noise
drawn once, then frozen in the snapshot with the week's ledger). Everything below is
post-processing of that release and costs no budget: the shape of the k-anonymous week (every
number in the same place, so readers of ``/v1/stats`` need no change), each cell's 95 % half-widths
under ``ci95``, the limits of keys per list and per parent applied to the released keys, and
``other``, the released total of a list minus the keys shown (its installations are unknown:
``null``). A key reported as ``other`` (the integration's own folded rest of ``jobs.by_model``) is
counted in ``other``. Nested breakdowns have no ``other``: what a parent's children leave out
cannot be told without spending budget.

The one number that changes after publication, ``late_reports``, is a noisy count too: of the
installations with a report of the week received after the publication, released once,
:data:`LATE_AFTER_DAYS` days after it, with :data:`LATE_SHARE` of the week's budget (it is in the
week's ledger from the start), and never again. Until then it is ``null``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import json
import math
import multiprocessing
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from .aggregates import (
    ERROR_TYPE,
    ERROR_VERSION,
    ERROR_VERSION_TYPE,
    ERRORS,
    EVENTS,
    FEATURE,
    FEATURE_ON,
    INSTALL_FIELDS,
    INTEGRATION,
    INTEGRATION_TYPE,
    INTEGRATION_VERSION,
    JOB_OUTCOMES,
    JOBS_BY_MODEL,
    JOBS_DURATION,
    MAX_ERROR_TYPES,
    MAX_KEYS,
    MAX_NESTED,
    OTHER,
    PRINTER_FIRMWARE,
    PRINTER_MODEL,
    PRINTER_TYPE,
    PRINTERS,
    SECTION,
    SECTIONS,
    SEP,
    Grouped,
    grouped,
    joined,
)
from .privacy_dp import (
    DEFAULT_RHO,
    DELTA,
    ClippedWeek,
    DPCell,
    MetricRelease,
    default_spec,
    ledger,
    plan,
    release_clipped,
)
from .privacy_dp.accounting import count_part, epsilon
from .privacy_dp.rules import Partial
from .versions import version_key

DP = "dp"
K_ANONYMITY = "k-anonymity"
PRIVACY_RULES = (DP, K_ANONYMITY)
# Of the weekly budget, the share of the one late release of ``late_reports``; the rest is the week's.
LATE_SHARE = 0.02
LATE_AFTER_DAYS = 7
# Reports to clip in one publication run from which worker processes do it (at most MAX_WORKERS):
# starting them takes seconds, a week of 20,000 reports about half a second in this process, so
# they pay only for a backlog of weeks or a very large deployment.
PARALLEL_FROM = 200_000
MAX_WORKERS = 4
# Weeks that fell due this long before the first dp publication are not published under dp (a
# week published whenever its first report arrives would tell that one installation reported).
DP_HORIZON_DAYS = 7
Json = dict[str, Any]


def _round(half_width: float) -> float:
    return round(half_width, 1)


def _cell(cell: DPCell) -> Json:
    """A released key, as a k-anonymous cell (the half-widths of a list's cells are the list's)."""
    return {"total": cell.total.value, "installations": cell.installations.value}


def _other(total: int, half_width: float) -> Json:
    return {
        "total": total,
        "installations": None,
        "ci95": {"total": _round(half_width), "installations": None},
    }


def _ordered(cells: Mapping[str, DPCell], *, newest: bool = False) -> list[tuple[str, DPCell]]:
    """Largest totals first (``newest``: newest versions first); a key named ``other`` left out."""
    named = [(key, cell) for key, cell in cells.items() if key != OTHER]
    if newest:
        return sorted(named, key=lambda item: version_key(item[0]), reverse=True)
    return sorted(named, key=lambda item: (-item[1].total.value, item[0]))


def _list(metric: MetricRelease, limit: int = MAX_KEYS) -> Json:
    """A top-level list: its largest keys and ``other`` (the rest of the released total)."""
    ordered = _ordered(metric.cells)
    kept, folded = ordered[:limit], ordered[limit:]
    cells = {key: _cell(cell) for key, cell in kept}
    if metric.other is not None:
        total = metric.total.value - sum(cell.total.value for _, cell in kept)
        if total > 0:
            spread = metric.other.half_width**2 + sum(cell.total.half_width**2 for _, cell in folded)
            cells[OTHER] = _other(total, math.sqrt(spread))
    return cells


def _children(metric: MetricRelease) -> dict[str, dict[str, DPCell]]:
    """The released keys ``<parent>:<child>`` of a nested metric, per parent."""
    children: dict[str, dict[str, DPCell]] = {}
    for composite, cell in metric.cells.items():
        parent, _, child = composite.rpartition(SEP)
        children.setdefault(parent, {})[child] = cell
    return children


class _Nested:
    """The children of one nested metric, each parent's at most a limit (no ``other``)."""

    def __init__(self, metric: MetricRelease, limit: int, *, newest: bool = False) -> None:
        self.children, self.limit, self.newest = _children(metric), limit, newest

    def of(self, parent: str) -> Json:
        ordered = _ordered(self.children.get(parent, {}), newest=self.newest)
        return {key: _cell(cell) for key, cell in ordered[: self.limit]}


@dataclass(frozen=True, slots=True)
class DPWeek:
    """A week published under dp: its statistics, its ledger (JSON text) and the ledger's id, and
    what the week spent (rho, and the thresholds' δ)."""

    stats: Json
    ledger: str
    ledger_id: str
    rho: float
    delta: float

    def stats_json(self) -> str:
        return json.dumps(self.stats, separators=(",", ":"))


@functools.cache
def _ledger(rho: float) -> tuple[str, str]:
    """The ledger of a week published at the weekly budget ``rho`` as JSON text, and its id."""
    released = ledger(plan(default_spec(), rho * (1 - LATE_SHARE)))
    late = count_part(rho * LATE_SHARE)
    spent = released["rho"] + late["rho"]
    whole = released | {
        "rho": spent,
        "rho_budget": rho,
        "epsilon": epsilon(spent, released["thresholds_delta"], DELTA),
        "parts": released["parts"] | {"late_reports": late},
        "late_reports": {
            "released_after_days": LATE_AFTER_DAYS,
            "counts": "installations with a report of the week received after its publication",
        },
    }
    text = json.dumps(whole, separators=(",", ":"), sort_keys=True)
    return text, hashlib.sha256(text.encode()).hexdigest()[:16]


def week_ledger(rho: float) -> Json:
    """The ledger of a week published at the weekly budget ``rho``: the release and the late count."""
    ledger_: Json = json.loads(_ledger(rho)[0])
    return ledger_


def publish_week(week: str, clipped: ClippedWeek, rho: float, published_at: float) -> DPWeek:
    """Release a clipped week (noise drawn now, once) and render its statistics."""
    metrics = release_clipped(clipped, rho=rho * (1 - LATE_SHARE)).metrics
    text, ledger_id = _ledger(rho)
    whole = week_ledger(rho)
    stats = render(week, metrics, published_at, whole, ledger_id)
    return DPWeek(stats, text, ledger_id, float(whole["rho"]), float(whole["thresholds_delta"]))


def _features(metrics: Mapping[str, MetricRelease]) -> Json:
    """Per feature: installations, those with it on, entity-days on and off (off: all days less on)."""
    features: Json = {}
    on = metrics[FEATURE_ON].cells
    for name, seen in _ordered(metrics[FEATURE].cells)[:MAX_KEYS]:
        on_cell = on[name]
        off = max(seen.total.value - on_cell.total.value, 0)
        features[name] = {
            "installations": seen.installations.value,
            "installations_on": min(on_cell.installations.value, seen.installations.value),
            "on": on_cell.total.value,
            "off": off,
        }
    return features


def _errors(metrics: Mapping[str, MetricRelease]) -> Json:
    types = _Nested(metrics[ERROR_TYPE], MAX_ERROR_TYPES)
    versions = _Nested(metrics[ERROR_VERSION], MAX_NESTED, newest=True)
    version_types = _Nested(metrics[ERROR_VERSION_TYPE], MAX_ERROR_TYPES)
    errors: Json = {}
    for component, cell in _list(metrics[ERRORS]).items():
        if component == OTHER:
            errors[OTHER] = cell | {"types": {}}
            continue
        per_version = versions.of(component)
        errors[component] = cell | {
            "types": types.of(component),
            "versions": {
                version: version_cell | {"types": version_types.of(joined(component, version))}
                for version, version_cell in per_version.items()
            },
        }
    return errors


def _integrations(metrics: Mapping[str, MetricRelease]) -> Json:
    types = _Nested(metrics[INTEGRATION_TYPE], MAX_NESTED)
    versions = _Nested(metrics[INTEGRATION_VERSION], MAX_NESTED, newest=True)
    return {
        domain: cell
        if domain == OTHER
        else cell | {"types": types.of(domain), "versions": versions.of(domain)}
        for domain, cell in _list(metrics[INTEGRATION]).items()
    }


def _per_type(metric: MetricRelease, printer_types: Iterable[str], *, newest: bool = False) -> Json:
    nested = _Nested(metric, MAX_NESTED, newest=newest)
    per_type = {type_: nested.of(type_) for type_ in printer_types if type_ != OTHER}
    return {type_: cells for type_, cells in per_type.items() if cells}


def _known(metric: MetricRelease) -> Json:
    """A list of known keys: every key, zeros included, in the schema's order."""
    return {key: _cell(cell) for key, cell in metric.cells.items()}


def _interval(accounts: Mapping[str, Any], metric: str) -> Json:
    """The 95 % half-widths of every cell of a metric's list (the noise of its parts)."""
    parts = accounts["parts"]
    count = parts[f"{metric}/installations"]["half_width"]
    total = parts[f"{metric}/totals"]["half_width"] if default_spec().by_metric[metric].totals else count
    return {"total": _round(total), "installations": _round(count)}


def _intervals(accounts: Mapping[str, Any]) -> Json:
    """The half-widths of the week's numbers: its own, and those of the cells of each list, by the
    list's path in the week (``jobs.started``, ``errors.versions.types``)."""
    parts = accounts["parts"]
    feature, on = _interval(accounts, FEATURE), _interval(accounts, FEATURE_ON)
    lists = {
        "printer_types": PRINTER_TYPE,
        "integrations": INTEGRATION,
        "integrations.types": INTEGRATION_TYPE,
        "integrations.versions": INTEGRATION_VERSION,
        "printer_models": PRINTER_MODEL,
        "printer_firmware": PRINTER_FIRMWARE,
        **{f"jobs.{outcome}": f"jobs.{outcome}" for outcome in JOB_OUTCOMES},
        "jobs.duration": JOBS_DURATION,
        **{f"jobs.by_model.{outcome}": f"{JOBS_BY_MODEL}.{outcome}" for outcome in JOB_OUTCOMES},
        "events": EVENTS,
        "errors": ERRORS,
        "errors.types": ERROR_TYPE,
        "errors.versions": ERROR_VERSION,
        "errors.versions.types": ERROR_VERSION_TYPE,
        **{f"installation.{name}": f"install.{name}" for name in INSTALL_FIELDS},
    }
    return {
        "installations": _round(parts["active/installations"]["half_width"]),
        "printers": _round(parts[f"{PRINTERS}/totals"]["half_width"]),
        "sections": _round(parts[f"{SECTION}/installations"]["half_width"]),
        "late_reports": _round(parts["late_reports"]["half_width"]),
        "features": {
            "installations": feature["installations"],
            "installations_on": on["installations"],
            "on": on["total"],
            "off": _round(math.hypot(feature["total"], on["total"])),
        },
        **{path: _interval(accounts, metric) for path, metric in lists.items()},
    }


def render(
    week: str,
    metrics: Mapping[str, MetricRelease],
    published_at: float,
    accounts: Mapping[str, Any],
    ledger_id: str,
) -> Json:
    """The week's public statistics from its release: the k-anonymous week's shape, with intervals."""
    active = metrics["active"].cells[""].installations
    printers = metrics[PRINTERS].cells[""].total
    sections = metrics[SECTION]
    printer_types = _list(metrics[PRINTER_TYPE])
    return {
        "week": week,
        "published_at": dt.datetime.fromtimestamp(published_at, dt.UTC).date().isoformat(),
        "k_anonymity": None,
        "dp": {
            "rho": accounts["rho"],
            "epsilon": accounts["epsilon"],
            "delta": accounts["delta"],
            "ledger": ledger_id,
        },
        "installations": active.value,
        "reports": None,
        "printers": printers.value,
        "ci95": _intervals(accounts),
        "printer_types": printer_types,
        "integrations": _integrations(metrics),
        "printer_models": _per_type(metrics[PRINTER_MODEL], printer_types),
        "printer_firmware": _per_type(metrics[PRINTER_FIRMWARE], printer_types, newest=True),
        "features": _features(metrics),
        "jobs": {outcome: _list(metrics[f"jobs.{outcome}"]) for outcome in JOB_OUTCOMES}
        | {
            "duration": _known(metrics[JOBS_DURATION]),
            "by_model": {outcome: _list(metrics[f"{JOBS_BY_MODEL}.{outcome}"]) for outcome in JOB_OUTCOMES},
        },
        "events": _list(metrics[EVENTS]),
        "errors": _errors(metrics),
        "installation": {
            name: _known(metrics[f"install.{name}"])
            if name == "installation_type"
            else _list(metrics[f"install.{name}"])
            for name in INSTALL_FIELDS
        },
        "sections": {section: sections.cells[section].installations.value for section in SECTIONS},
    }


class InstallationWeeks:
    """Sums each installation's contributions over its reports of a week, and clips and adds each
    installation's week to a :class:`ClippedWeek` once it has them all.

    Fed the week's reports ordered by installation (``Storage.week_reports``), so it holds one
    installation at a time.
    """

    def __init__(self) -> None:
        self.week = ClippedWeek(default_spec())
        self._installation: str | None = None
        self._summed: Grouped = {}

    def feed(self, rows: Sequence[tuple[str, str]]) -> None:
        """Take ``(installation_id, payload)`` rows (CPU work: run it in a thread)."""
        for installation, payload in rows:
            found = grouped(orjson.loads(payload))
            if installation != self._installation:
                self._add()
                self._installation, self._summed = installation, found
                continue
            for metric, keyed in found.items():  # a second report of the week: summed
                summed = self._summed.setdefault(metric, {})
                for key, value in keyed.items():
                    summed[key] = summed.get(key, 0) + value

    def _add(self) -> None:
        if self._installation is not None:
            self.week.add_grouped(self._summed)

    def finish(self) -> ClippedWeek:
        """The week, with the last installation fed."""
        self._add()
        self._installation, self._summed = None, {}
        return self.week


def clip_rows(rows: Sequence[tuple[str, str]]) -> Partial:
    """Clip and sum the installations of ``rows`` (all reports of each; run by a worker process)."""
    installations = InstallationWeeks()
    installations.feed(rows)
    return installations.finish().partial()


def _cpus() -> int:
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


class Clippers:
    """Worker processes that clip the installations of a publication run's weeks, started when first
    needed and stopped when the run ends.

    Reading, parsing and clipping a week's reports is the publication's work under dp (about 25 µs
    a report); when a run has :data:`PARALLEL_FROM` reports or more to clip it is spread over the
    machine's cores: this process reads the reports and hands whole installations to the workers,
    whose sums add up (each installation is clipped once, by one worker).
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = min(MAX_WORKERS, _cpus()) if workers is None else workers
        self._pool: ProcessPoolExecutor | None = None

    def pool(self) -> ProcessPoolExecutor | None:
        """The workers (None with a single core: clipping stays in this process)."""
        if self._pool is None and self.workers > 1:
            # spawn: a fresh interpreter, not a copy of this process's threads and connections.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context)
        return self._pool

    async def close(self) -> None:
        """Stop the workers (they are started again when needed)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)

    async def disable(self) -> None:
        """Stop the workers for good: clipping stays in this process."""
        self.workers = 1
        await self.close()


class ParallelWeek:
    """Feeds a week's report batches to worker processes, cut at installation boundaries, at most
    two batches a worker in flight, and adds up what they return."""

    def __init__(self, pool: ProcessPoolExecutor, workers: int) -> None:
        self.week = ClippedWeek(default_spec())
        self._pool, self._limit = pool, 2 * workers
        self._pending: list[asyncio.Future[Partial]] = []
        self._carried: list[tuple[str, str]] = []

    async def feed(self, batch: Sequence[tuple[str, str]]) -> None:
        rows = self._carried + list(batch)
        if not rows:
            return
        last = rows[-1][0]
        cut = len(rows)
        while cut > 0 and rows[cut - 1][0] == last:
            cut -= 1
        self._carried = rows[cut:]  # the last installation may go on in the next batch
        if cut:
            await self._submit(rows[:cut])

    async def _submit(self, rows: list[tuple[str, str]]) -> None:
        loop = asyncio.get_running_loop()
        self._pending.append(loop.run_in_executor(self._pool, clip_rows, rows))
        while len(self._pending) > self._limit:
            self.week.merge(await self._pending.pop(0))

    def abandon(self) -> None:
        """Drop what is still pending (after a failure): cancelled, or its failure collected."""
        for pending in self._pending:
            if not pending.cancel():
                pending.exception()
        self._pending = []

    async def finish(self) -> ClippedWeek:
        if self._carried:
            rows, self._carried = self._carried, []
            await self._submit(rows)
        for pending in self._pending:
            self.week.merge(await pending)
        self._pending = []
        return self.week


def weekly_rho(rho: float | None) -> float:
    """The weekly budget (the default when None), checked."""
    value = DEFAULT_RHO if rho is None else rho
    if not (value > 0 and math.isfinite(value)):
        raise ValueError("the weekly budget rho must be a positive number")
    return value

"""Weekly publication: fixed snapshots of closed weeks, under differential privacy or k-anonymity.

A week (ISO week, Monday to Sunday, UTC) is published once, after it has ended and a delay has
passed (by default three days: from the Thursday after the week, 00:00 UTC). The integration sends
the report of a week at each installation's own random second of the Monday after it (UTC), so the
delay leaves a day for that window and two for retries: a report due at the end of the window and
retried by the integration's outbox through an outage of a day still arrives in time. Its statistics
are computed then, under the rule of the run (``publication_dp`` for differential privacy, the
default; below for k-anonymity, from the aggregates) and written to ``usage_published_weeks`` with
that rule; that row never changes again, whatever reports or deletions come later, or whatever rule
publishes later weeks. ``/v1/stats`` and the page serve only these
rows, so reading them before and after one report (or one deletion) shows no difference in them.

A report that arrives after its week was published is stored (and deleted on request) like any
other, but is in no published number: publishing the week again with it would let anyone read it
as the difference of two publications. ``/v1/stats`` counts such late reports per week
(``late_reports``), computed from the stored reports when it is read (under differential privacy:
a noisy count of the installations with one, released once, a week after the publication), so a
maintainer sees when installations miss the publication; it tells how many came late, never what
they hold.

Under k-anonymity every published number comes from at least k installations:

- a week is published only when at least k *non-empty* installations reported in it (ones that
  reported something beyond the installation's versions); otherwise it is withheld for good;
- a key is published when at least k installations reported it, with its total and count;
- ``other`` (the sum of the keys folded away) is published only when at least k installations
  contributed to it, counted exactly from the week's stored reports at publication time;
- ``printers``, the ``sections`` counts and a feature's ``installations_on`` and ``on`` are
  published only when at least k installations contributed to each, ``off`` only when at least k
  installations had the feature off on every day (so at least k have off days); otherwise they
  are ``null``.

The breakdowns of minor revision 2 follow the same rules, each within its parent: versions and
printer types per integration, models and firmware versions per published printer type, job outcomes
per model, and per error component the errors of each version of that integration (as the reporting
installation had it loaded) with their types.

Output is bounded whatever the database holds: at most :data:`MAX_KEYS` keys per list,
:data:`MAX_NESTED` per breakdown within a parent (versions newest first, the rest folded), and
:data:`MAX_ERROR_TYPES` error types per component and version, only weeks within the retention
period are considered for publication, and ``/v1/stats`` serves the newest :data:`MAX_WEEKS` weeks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from .aggregates import (
    ACTIVE,
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
    NONEMPTY,
    OTHER,
    PRINTER_FIRMWARE,
    PRINTER_MODEL,
    PRINTER_TYPE,
    PRINTERS,
    SECTION,
    SECTIONS,
    SEP,
    Cell,
    grouped,
    iso_week,
    joined,
)
from .privacy_dp import DELTA, ClippedWeek
from .privacy_dp.accounting import epsilon, noisy_count
from .publication_dp import (
    DP,
    DP_HORIZON_DAYS,
    K_ANONYMITY,
    LATE_AFTER_DAYS,
    PARALLEL_FROM,
    PRIVACY_RULES,
    Clippers,
    InstallationWeeks,
    ParallelWeek,
    publish_week,
    weekly_rho,
)
from .versions import version_key

if TYPE_CHECKING:
    from .storage import Storage

_LOGGER = logging.getLogger(__name__)
MAX_WEEKS = 104
DEFAULT_DELAY_DAYS = 3.0
_SCAN_BATCH = 2000

_LISTS = (
    PRINTER_TYPE,
    *(f"jobs.{outcome}" for outcome in JOB_OUTCOMES),
    *(f"{JOBS_BY_MODEL}.{outcome}" for outcome in JOB_OUTCOMES),
    JOBS_DURATION,
    EVENTS,
    *(f"install.{name}" for name in INSTALL_FIELDS),
)
Group = tuple[str, str]  # (metric, component): what one ``other`` sums up


def week_start(week: str) -> dt.datetime:
    """Monday 00:00 UTC of an ISO week ``YYYY-Www``."""
    year, number = week.split("-W")
    return dt.datetime.combine(dt.date.fromisocalendar(int(year), int(number), 1), dt.time(), dt.UTC)


def publication_time(week: str, delay_days: float) -> float:
    """When a week may be published: its end (the next Monday 00:00 UTC) plus the delay."""
    return (week_start(week) + dt.timedelta(days=7 + delay_days)).timestamp()


def due_weeks(now: float, delay_days: float, retention_days: float) -> list[str]:
    """Weeks that may be published at ``now``, oldest first, starting within the retention period
    (and within the newest :data:`MAX_WEEKS` weeks, which is all ``/v1/stats`` serves)."""
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    monday = today - dt.timedelta(days=today.weekday())
    oldest = today - dt.timedelta(days=min(retention_days, MAX_WEEKS * 7))
    weeks = []
    while monday >= oldest - dt.timedelta(days=6):
        week = iso_week(monday)
        if publication_time(week, delay_days) <= now:
            weeks.append(week)
        monday -= dt.timedelta(days=7)
    return weeks[::-1]


@dataclass(slots=True)
class _Split:
    """The keys of one list: kept (k installations or more, at most a limit) and folded."""

    kept: dict[str, Cell]
    folded: list[str] = field(default_factory=list)
    folded_total: int = 0


def _split(cells: Mapping[str, Cell], k: int, limit: int, *, newest: bool = False) -> _Split:
    """Keep the largest keys (``newest``: the newest versions) of at least k installations."""
    if newest:
        ordered = sorted(cells.items(), key=lambda item: version_key(item[0]), reverse=True)
    else:
        ordered = sorted(cells.items(), key=lambda item: (-item[1].total, item[0]))
    split = _Split({})
    for key, cell in ordered:
        if key != OTHER and (cell.installations or 0) >= k and len(split.kept) < limit:
            split.kept[key] = cell
        else:
            split.folded.append(key)
            split.folded_total += cell.total
    return split


class WeekPlan:
    """What one week publishes, before the sizes of the ``other`` groups are known."""

    def __init__(self, week: str, metrics: Mapping[str, Mapping[str, Cell]], k: int) -> None:
        self.week, self.metrics, self.k = week, metrics, k
        self.groups: dict[Group, _Split] = {
            (metric, ""): _split(metrics.get(metric, {}), k, MAX_KEYS)
            for metric in (*_LISTS, ERRORS, INTEGRATION)
        }
        components = list(self.groups[(ERRORS, "")].kept)
        self._nest(ERROR_TYPE, components, MAX_ERROR_TYPES)
        self._nest(ERROR_VERSION, components, MAX_NESTED, newest=True)
        self._nest(
            ERROR_VERSION_TYPE,
            [joined(c, v) for c in components for v in self.groups[(ERROR_VERSION, c)].kept],
            MAX_ERROR_TYPES,
        )
        domains = list(self.groups[(INTEGRATION, "")].kept)
        self._nest(INTEGRATION_TYPE, domains, MAX_NESTED)
        self._nest(INTEGRATION_VERSION, domains, MAX_NESTED, newest=True)
        self.printer_types = list(self.groups[(PRINTER_TYPE, "")].kept)
        self._nest(PRINTER_MODEL, self.printer_types, MAX_NESTED)
        self._nest(PRINTER_FIRMWARE, self.printer_types, MAX_NESTED, newest=True)
        self.features = _split(metrics.get(FEATURE, {}), k, MAX_KEYS).kept

    def _nest(self, metric: str, parents: Iterable[str], limit: int, *, newest: bool = False) -> None:
        """Split the keys ``<parent>:<child>`` of a metric within each (published) parent."""
        children: dict[str, dict[str, Cell]] = {}
        for composite, cell in self.metrics.get(metric, {}).items():
            parent, _, child = composite.rpartition(SEP)
            children.setdefault(parent, {})[child] = cell
        for parent in parents:
            self.groups[(metric, parent)] = _split(children.get(parent, {}), self.k, limit, newest=newest)

    @classmethod
    def build(cls, week: str, rows: Iterable[tuple[str, str, int, int]], k: int) -> WeekPlan | None:
        """Plan a week from its aggregate rows ``(metric, key, total, installations)``; None when
        fewer than k non-empty installations reported in it (the week is withheld)."""
        metrics: dict[str, dict[str, Cell]] = {}
        for metric, key, total, installations in rows:
            metrics.setdefault(metric, {})[key] = Cell(int(total), int(installations))
        nonempty = metrics.get(NONEMPTY, {}).get("")
        if nonempty is None or (nonempty.installations or 0) < k:
            return None
        return cls(week, metrics, k)

    def folded_keys(self) -> dict[tuple[str, str], Group]:
        """Every folded aggregate key ``(metric, key)`` and the ``other`` it belongs to."""
        keys: dict[tuple[str, str], Group] = {}
        for group, split in self.groups.items():
            metric, parent = group
            for key in split.folded:
                keys[(metric, joined(parent, key) if parent else key)] = group
        return keys

    def _counted(self, cell: Cell | None) -> Cell | None:
        return cell if cell is not None and (cell.installations or 0) >= self.k else None

    def _installations_on(self, feature: str) -> int:
        cell = self.metrics.get(FEATURE_ON, {}).get(feature)
        return (cell.installations or 0) if cell else 0

    def _on_total(self, feature: str) -> int:
        cell = self.metrics.get(FEATURE_ON, {}).get(feature)
        return cell.total if cell else 0

    def _cells(self, group: Group, others: Mapping[Group, int]) -> dict[str, dict[str, int | None]]:
        split = self.groups[group]
        cells = {key: cell.as_json() for key, cell in split.kept.items()}
        if split.folded_total and others.get(group, 0) >= self.k:
            cells[OTHER] = {"total": split.folded_total, "installations": others[group]}
        return cells

    def _error_versions(self, component: str, others: Mapping[Group, int]) -> dict[str, dict[str, Any]]:
        """A component's errors per version of that integration (newest first), with their types."""
        versions: dict[str, dict[str, Any]] = dict(self._cells((ERROR_VERSION, component), others))
        for version in self.groups[(ERROR_VERSION, component)].kept:
            types = self._cells((ERROR_VERSION_TYPE, joined(component, version)), others)
            versions[version] = versions[version] | {"types": types}
        return versions

    def _integrations(self, others: Mapping[Group, int]) -> dict[str, dict[str, Any]]:
        """Per printer integration: its printers, and its printer types and versions (newest first)."""
        integrations: dict[str, dict[str, Any]] = dict(self._cells((INTEGRATION, ""), others))
        for domain in self.groups[(INTEGRATION, "")].kept:
            integrations[domain] = integrations[domain] | {
                "types": self._cells((INTEGRATION_TYPE, domain), others),
                "versions": self._cells((INTEGRATION_VERSION, domain), others),
            }
        return integrations

    def _per_type(self, metric: str, others: Mapping[Group, int]) -> dict[str, dict[str, Any]]:
        """Models or firmware versions per published printer type (types without any left out)."""
        per_type = {type_: self._cells((metric, type_), others) for type_ in self.printer_types}
        return {type_: cells for type_, cells in per_type.items() if cells}

    def render(self, others: Mapping[Group, int], published_at: float) -> dict[str, Any]:
        """The week's public statistics; ``others`` counts the installations of each ``other``."""
        active = self.metrics[ACTIVE][""]
        printers = self._counted(self.metrics.get(PRINTERS, {}).get(""))
        features: dict[str, dict[str, int | None]] = {}
        for feature, seen in self.features.items():
            on = self._counted(self.metrics.get(FEATURE_ON, {}).get(feature))
            # The installations that had the feature only off all have off days: when they are k
            # or more, the off days come from at least k installations.
            only_off = (seen.installations or 0) - self._installations_on(feature)
            features[feature] = {
                "installations": seen.installations,
                "installations_on": on.installations if on else None,
                "on": on.total if on else None,
                "off": seen.total - self._on_total(feature) if only_off >= self.k else None,
            }
        errors: dict[str, dict[str, Any]] = {}
        for component, cell in self.groups[(ERRORS, "")].kept.items():
            errors[component] = cell.as_json() | {
                "types": self._cells((ERROR_TYPE, component), others),
                # Since minor revision 2: by the version of the integration ``component``.
                "versions": self._error_versions(component, others),
            }
        components = self._cells((ERRORS, ""), others)
        if OTHER in components:
            errors[OTHER] = components[OTHER] | {"types": {}}
        return {
            "week": self.week,
            "published_at": dt.datetime.fromtimestamp(published_at, dt.UTC).date().isoformat(),
            "k_anonymity": self.k,
            "installations": active.installations,
            "reports": active.total,
            "printers": printers.total if printers else None,
            "printer_types": self._cells((PRINTER_TYPE, ""), others),
            "integrations": self._integrations(others),
            "printer_models": self._per_type(PRINTER_MODEL, others),
            "printer_firmware": self._per_type(PRINTER_FIRMWARE, others),
            "features": features,
            "jobs": {outcome: self._cells((f"jobs.{outcome}", ""), others) for outcome in JOB_OUTCOMES}
            | {
                "duration": self._cells((JOBS_DURATION, ""), others),
                "by_model": {
                    outcome: self._cells((f"{JOBS_BY_MODEL}.{outcome}", ""), others)
                    for outcome in JOB_OUTCOMES
                },
            },
            "events": self._cells((EVENTS, ""), others),
            "errors": errors,
            "installation": {name: self._cells((f"install.{name}", ""), others) for name in INSTALL_FIELDS},
            # How many installations shared each section: the base of that section's numbers.
            "sections": {section: self._section_count(section) for section in SECTIONS},
        }

    def _section_count(self, section: str) -> int | None:
        """Installations that shared a section (reports before sections shared all), if k or more."""
        cell = self._counted(self.metrics.get(SECTION, {}).get(section))
        return cell.installations if cell else None


class OtherCounter:
    """Counts, for each ``other``, the distinct installations that reported one of its keys.

    Fed the week's reports ordered by installation, so it holds one installation at a time.
    """

    def __init__(self, folded: Mapping[tuple[str, str], Group]) -> None:
        self._folded: dict[str, dict[str, Group]] = {}
        for (metric, key), group in folded.items():
            self._folded.setdefault(metric, {})[key] = group
        self.counts: dict[Group, int] = {}
        self._installation: str | None = None
        self._groups: set[Group] = set()

    def feed(self, rows: Sequence[tuple[str, str]]) -> None:
        """Take ``(installation_id, payload)`` rows (CPU work: run it in a thread)."""
        folded = self._folded
        for installation, payload in rows:
            if installation != self._installation:
                self.finish()
                self._installation = installation
            for metric, keyed in grouped(orjson.loads(payload)).items():
                groups = folded.get(metric)
                if groups is not None:
                    self._groups.update(groups[key] for key in keyed if key in groups)

    def finish(self) -> dict[Group, int]:
        """Count the last installation fed; returns the counts so far."""
        for group in self._groups:
            self.counts[group] = self.counts.get(group, 0) + 1
        self._groups = set()
        return self.counts


async def publish_due(
    storage: Storage,
    *,
    k: int = 5,
    privacy: str = DP,
    rho: float | None = None,
    delay_days: float = DEFAULT_DELAY_DAYS,
    retention_days: float = 400,
    now: float | None = None,
    dp_since: float | None = None,
) -> list[str]:
    """Publish every due week not published yet under the rule ``privacy`` (``dp`` at the weekly
    budget ``rho``, or ``k-anonymity`` with ``k``); returns the weeks written (withheld ones too).

    A week published before keeps its rule and its numbers, whatever the rule now. Under dp a due
    week is published whether or not it has reports (whether it has would tell about them), from
    the week that fell due :data:`DP_HORIZON_DAYS` before the first dp publication on (or, given
    ``dp_since``, every week that fell due after it: publishing a backlog). Then the late counts of
    dp weeks are released once due (:func:`release_late_reports`).

    Several processes may run this at once: the first row written for a week wins.
    """
    if privacy not in PRIVACY_RULES:
        raise ValueError(f"unknown privacy rule {privacy!r}")
    now = time.time() if now is None else now
    weekly = weekly_rho(rho)
    candidates = due_weeks(now, delay_days, retention_days)
    done = await storage.published_week_names(candidates)
    if privacy == DP:
        first = await storage.first_dp_publication()
        horizon = (now if first is None else first) - DP_HORIZON_DAYS * 86400
        horizon = horizon if dp_since is None else dp_since
        candidates = [week for week in candidates if publication_time(week, delay_days) > horizon]
    written = []
    clippers = Clippers()
    if privacy == DP:
        pending = [week for week in candidates if week not in done]
        if sum([await storage.count_week_reports(week) for week in pending]) < PARALLEL_FROM:
            clippers.workers = 1  # too little work to start processes for
    try:
        for week in candidates:
            if week in done:
                continue
            if privacy == DP:
                if await _publish_dp(storage, week, weekly, now, clippers):
                    written.append(week)
                continue
            if await _publish_k_anonymous(storage, week, k, now):
                written.append(week)
    finally:
        await clippers.close()
    await release_late_reports(storage, now)
    return written


async def _publish_k_anonymous(storage: Storage, week: str, k: int, now: float) -> bool:
    """Publish (or withhold) one week under k-anonymity, from its aggregates."""
    rows = await storage.week_aggregates(week)
    if not rows:
        return False  # nothing reported (yet): nothing to fix
    plan = WeekPlan.build(week, rows, k)
    stats = None
    if plan is not None:
        counter = OtherCounter(plan.folded_keys())
        if plan.folded_keys():
            async for batch in storage.week_reports(week, _SCAN_BATCH):
                await asyncio.to_thread(counter.feed, batch)
        stats = json.dumps(plan.render(counter.finish(), now), separators=(",", ":"))
    return await storage.store_publication(week, k, stats, now, privacy=K_ANONYMITY)


async def _clipped(storage: Storage, week: str, clippers: Clippers) -> ClippedWeek:
    """The week's installations, each summed over its reports and clipped: in this process, or
    for a large week in worker processes."""
    pool = clippers.pool()
    if pool is not None:
        parallel = ParallelWeek(pool, clippers.workers)
        try:
            async for batch in storage.week_reports(week, _SCAN_BATCH):
                await parallel.feed(batch)
            return await parallel.finish()
        except BrokenProcessPool:
            parallel.abandon()
            # A worker could not start or died (a main module that starts work when imported,
            # memory): this process clips the week itself, and every week after it.
            _LOGGER.warning("Publication: worker processes failed; clipping in this process", exc_info=True)
            await clippers.disable()
    installations = InstallationWeeks()
    async for batch in storage.week_reports(week, _SCAN_BATCH):
        await asyncio.to_thread(installations.feed, batch)
    return installations.finish()


async def _publish_dp(storage: Storage, week: str, rho: float, now: float, clippers: Clippers) -> bool:
    """Release one week under differential privacy from its stored reports, and store it."""
    clipped = await _clipped(storage, week, clippers)
    published = await asyncio.to_thread(publish_week, week, clipped, rho, now)
    return await storage.store_publication(
        week,
        None,
        published.stats_json(),
        now,
        privacy=DP,
        spent=(published.rho, published.delta),
        ledger=(published.ledger_id, published.ledger),
    )


async def release_late_reports(storage: Storage, now: float) -> list[str]:
    """Release the late count of each dp week published :data:`LATE_AFTER_DAYS` ago or more, once:
    the installations with a report of the week received after its publication, with the noise
    its ledger states (its budget was in the week's from the start). Returns the weeks."""
    due = await storage.late_releases_due(now - LATE_AFTER_DAYS * 86400)
    ledgers = await storage.ledgers(sorted({ledger for _, _, ledger in due if ledger}))
    released = []
    for week, published_at, ledger in due:
        scale = float(json.loads(ledgers[ledger or ""])["parts"]["late_reports"]["scale"])
        count = await storage.late_installations(week, published_at)
        if await storage.store_late_reports(week, noisy_count(count, scale)):
            released.append(week)
    return released


def _late(count: int | None) -> str:
    return "null" if count is None else str(count)


async def stats_document(
    storage: Storage,
    k: int,
    delay_days: float,
    *,
    privacy: str = DP,
    rho: float | None = None,
) -> str:
    """``/v1/stats``: the newest published weeks as one JSON text, built without parsing them.

    Each week's fixed statistics gain the rule it was published under and its count of late
    reports. The head states the rule new weeks are published under, the budget every dp week
    ever published spent together (zCDP composes by adding: rho is the sum of the weeks'; ε is
    OpenDP's conversion at δ = DELTA plus the thresholds' δ of every week), and the ledgers of the
    served dp weeks.
    """
    published = await storage.publications(MAX_WEEKS)
    weeks = [
        f'{week.stats[:-1]},"privacy":"{week.privacy}","late_reports":{_late(week.late)}}}'
        for week in published
        if week.stats is not None
    ]
    ledgers = await storage.ledgers(sorted({week.ledger for week in published if week.ledger}))
    count, spent, thresholds = await storage.dp_budget()
    delta = DELTA + thresholds if count else 0.0
    head = json.dumps(
        {
            "privacy": privacy,
            "k_anonymity": k if privacy == K_ANONYMITY else None,
            "rho": weekly_rho(rho) if privacy == DP else None,
            "publication_delay_days": delay_days,
            "suppressed_weeks": len(published) - len(weeks),
            "budget": {
                "dp_weeks": count,
                "rho": spent,
                "epsilon": epsilon(spent, thresholds, delta) if count else 0.0,
                "delta": delta,
            },
        },
        separators=(",", ":"),
    )
    listed = ",".join(f'"{ledger_id}":{text}' for ledger_id, text in sorted(ledgers.items()))
    return f'{head[:-1]},"ledgers":{{{listed}}},"weeks":[{",".join(weeks)}]}}'

"""Insights for the authors of printer integrations, computed only from the published weeks.

Everything here is read from the fixed weekly snapshots (``usage_published_weeks``) of the newest
:data:`MAX_INSIGHT_WEEKS` published weeks, never from reports or aggregates: every count shown is a
published count or a sum of them, and rates are ratios of published counts. Under k-anonymity a
published count comes from at least k installations (by that week's k), and a value a week withheld
(fewer than k installations) is missing from that week, never estimated. Under differential privacy
the insights are post-processing of the noisy published numbers: they spend no budget and reveal
nothing the weeks did not (a ratio of noisy counts can pass 100 %, and a rate over a noisy zero is
missing).

Published weeks never change and are only ever added, so the insights are computed once per state
of the publications (:meth:`Storage.publication_state`) and kept by :class:`InsightCache`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .aggregates import JOB_OUTCOMES, OTHER
from .versions import version_key

if TYPE_CHECKING:
    from .storage import Storage

MAX_INSIGHT_WEEKS = 52
# A type of error "grew" when its errors per 100 installations more than doubled from the previous
# version to the newest.
GROWTH = 2.0
# Versions compared in the errors table, newest first.
MAX_ERROR_VERSIONS = 6
STARTED = "started"
ENDINGS = tuple(outcome for outcome in JOB_OUTCOMES if outcome != STARTED)

Week = Mapping[str, Any]
Series = list[int | None]


def _percent(part: float, whole: float) -> float | None:
    """``part`` in % of ``whole``; None without a whole (a noisy count can be 0)."""
    return round(100.0 * part / whole, 1) if whole > 0 else None


def _domain_cells(weeks: Sequence[Week], domain: str) -> list[Mapping[str, Any] | None]:
    """The published cell of an integration in each week (None: not published that week)."""
    return [week.get("integrations", {}).get(domain) for week in weeks]


def _printer_type(cells: Sequence[Mapping[str, Any] | None]) -> str | None:
    """The printer type most installations of the integration have, over the weeks."""
    counts: dict[str, int] = {}
    for cell in cells:
        for type_, type_cell in (cell or {}).get("types", {}).items():
            if type_ != OTHER:
                counts[type_] = counts.get(type_, 0) + int(type_cell["installations"])
    return min(counts, key=lambda type_: (-counts[type_], type_)) if counts else None


def _versions(cells: Sequence[Mapping[str, Any] | None]) -> list[dict[str, Any]]:
    """Installations per week of each version (newest first, folded versions last) and their share."""
    names = {version for cell in cells for version in (cell or {}).get("versions", {})}
    ordered = sorted(names - {OTHER}, key=version_key, reverse=True) + sorted(names & {OTHER})
    rows = []
    for version in ordered:
        installations: Series = []
        share: list[float | None] = []
        for cell in cells:
            version_cell = (cell or {}).get("versions", {}).get(version)
            if cell is None or version_cell is None:
                installations.append(None)
                share.append(None)
            else:
                installations.append(int(version_cell["installations"]))
                share.append(_percent(version_cell["installations"], cell["installations"]))
        rows.append({"version": version, "installations": installations, "share": share})
    return rows


def _newest_breakdown(weeks: Sequence[Week], field: str, type_: str | None, label: str) -> dict[str, Any]:
    """Printers per model (or firmware version) of a printer type in the newest week that has them."""
    for week in reversed(weeks):
        cells = week.get(field, {}).get(type_ or "", {})
        if cells:
            printers = sum(int(cell["total"]) for cell in cells.values())
            ordered = sorted(
                cells.items(), key=lambda item: (item[0] == OTHER, -int(item[1]["total"]), item[0])
            )
            rows = [
                {
                    label: name,
                    "installations": int(cell["installations"]),
                    "printers": int(cell["total"]),
                    "share": _percent(cell["total"], printers),
                }
                for name, cell in ordered
            ]
            return {"week": week["week"], "rows": rows}
    return {"week": None, "rows": []}


def _outcome_rates(
    weeks: Sequence[Week], get: Callable[[Week, str], Mapping[str, Any] | None]
) -> dict[str, Any]:
    """Job outcomes per started job, summed over the weeks that published the started jobs."""
    started = 0
    endings: dict[str, int | None] = dict.fromkeys(ENDINGS)
    for week in weeks:
        cell = get(week, STARTED)
        if cell is None:
            continue
        started += int(cell["total"])
        for outcome in ENDINGS:
            ended = get(week, outcome)
            if ended is not None:
                endings[outcome] = (endings[outcome] or 0) + int(ended["total"])
    rates = {
        outcome: None if ended is None else _percent(ended, started) for outcome, ended in endings.items()
    }
    return {"started": started, "rates": rates}


def _job_outcomes(weeks: Sequence[Week], type_: str | None) -> list[dict[str, Any]]:
    """Outcome rates of the printer type overall (model None), then of each of its models."""
    if type_ is None:
        return []
    rows = []
    overall = _outcome_rates(weeks, lambda week, outcome: week.get("jobs", {}).get(outcome, {}).get(type_))
    if overall["started"]:
        rows.append({"model": None} | overall)
    prefix = f"{type_}."
    models = {
        key.removeprefix(prefix)
        for week in weeks
        for key in week.get("jobs", {}).get("by_model", {}).get(STARTED, {})
        if key.startswith(prefix)
    }
    per_model = []
    for model in models:

        def cell(week: Week, outcome: str, key: str = prefix + model) -> Mapping[str, Any] | None:
            found: Mapping[str, Any] | None = (
                week.get("jobs", {}).get("by_model", {}).get(outcome, {}).get(key)
            )
            return found

        per_model.append({"model": model} | _outcome_rates(weeks, cell))
    per_model.sort(key=lambda row: (-row["started"], row["model"]))
    return rows + per_model


def _errors(weeks: Sequence[Week], domain: str, cells: Sequence[Mapping[str, Any] | None]) -> dict[str, Any]:
    """Errors per 100 installations by error type and version of the integration, newest first.

    The base of a version is the sum of its published installations over the weeks; its errors
    are counted in the same weeks. A type is marked ``new`` when the newest version has it and no
    earlier version has it published, ``grew`` when its rate more than doubled from the previous
    version (both published). The folded rest of the types, ``other``, comes last, never marked.
    """
    installations: dict[str, int] = {}
    errors: dict[str, dict[str, int]] = {}
    for week, cell in zip(weeks, cells, strict=True):
        published = (cell or {}).get("versions", {})
        for version, version_cell in published.items():
            if version != OTHER:
                installations[version] = installations.get(version, 0) + int(version_cell["installations"])
        for version, error_cell in week.get("errors", {}).get(domain, {}).get("versions", {}).items():
            if version in published and version != OTHER:
                counts = errors.setdefault(version, {})
                for error_type, type_cell in error_cell.get("types", {}).items():
                    counts[error_type] = counts.get(error_type, 0) + int(type_cell["total"])
    every = sorted(installations, key=version_key, reverse=True)
    versions = every[:MAX_ERROR_VERSIONS]
    newest, previous = [*versions, None, None][:2]
    types = sorted({error_type for version in versions for error_type in errors.get(version, {})})
    rows = []
    for error_type in types:
        per_100: dict[str, float | None] = {}
        for version in versions:
            count = errors.get(version, {}).get(error_type)
            base = installations[version]
            per_100[version] = None if count is None or base <= 0 else round(100.0 * count / base, 2)
        now, before = per_100.get(newest or ""), per_100.get(previous or "")
        mark = None
        if error_type != OTHER and previous is not None and now is not None:
            if not any(error_type in errors.get(version, {}) for version in every[1:]):
                mark = "new"
            elif before is not None and now > GROWTH * before:
                mark = "grew"
        rows.append({"error_type": error_type, "per_100": per_100, "mark": mark})
    rows.sort(
        key=lambda row: (
            row["error_type"] == OTHER,
            -(row["per_100"].get(newest or "") or 0.0),
            row["error_type"],
        )
    )
    return {"newest": newest, "previous": previous, "versions": versions, "rows": rows}


class Insights:
    """The insights of one state of the publications: the newest published weeks, oldest first."""

    def __init__(self, state: tuple[int, str | None], weeks: Sequence[Week]) -> None:
        self.state = state
        self.weeks = list(weeks)
        self.names = [str(week["week"]) for week in self.weeks]
        newest = self.weeks[-1] if self.weeks else {}
        # The rule of the newest week (dp weeks carry their budget under "dp"; k-anonymous ones a k).
        self.privacy: str | None = ("dp" if "dp" in newest else "k-anonymity") if newest else None
        self.k = None if newest.get("k_anonymity") is None else int(newest["k_anonymity"])
        self.installations: dict[str, Series] = {}
        for week in self.weeks:
            for domain in week.get("integrations", {}):
                if domain != OTHER:
                    self.installations[domain] = []
        for domain, series in self.installations.items():
            series.extend(
                None if cell is None else int(cell["installations"])
                for cell in _domain_cells(self.weeks, domain)
            )
        self._memo: dict[tuple[str, str], Any] = {}

    @classmethod
    def from_rows(cls, state: tuple[int, str | None], rows: Sequence[tuple[str, str]]) -> Insights:
        """From ``Storage.published_stats`` rows (newest first)."""
        return cls(state, [json.loads(stats) for _, stats in reversed(rows)])

    def memo(self, kind: str, domain: str, make: Callable[[], Any]) -> Any:
        """What ``make`` returns, computed once per domain and kind (a document, a page)."""
        key = (kind, domain)
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def domains(self) -> list[str]:
        """The published integrations, most installations in their newest published week first."""

        def newest(domain: str) -> int:
            return next((value for value in reversed(self.installations[domain]) if value is not None), 0)

        return sorted(self.installations, key=lambda domain: (-newest(domain), domain))

    def index(self) -> dict[str, Any]:
        """``/v1/integrations``: the published integrations and their installations per week."""
        return {
            "privacy": self.privacy,
            "k_anonymity": self.k,
            "weeks": self.names,
            "integrations": [
                {
                    "domain": domain,
                    "printer_type": _printer_type(_domain_cells(self.weeks, domain)),
                    "installations": self.installations[domain],
                    "page": f"/integrations/{domain}",
                    "data": f"/v1/integrations/{domain}",
                }
                for domain in self.domains()
            ],
        }

    def integration(self, domain: str) -> dict[str, Any] | None:
        """``/v1/integrations/<domain>``; None when no week published the integration."""
        if domain not in self.installations:
            return None
        cells = _domain_cells(self.weeks, domain)
        type_ = _printer_type(cells)
        return {
            "domain": domain,
            "privacy": self.privacy,
            "k_anonymity": self.k,
            "printer_type": type_,
            "weeks": self.names,
            "installations": self.installations[domain],
            "printers": [None if cell is None else int(cell["total"]) for cell in cells],
            "versions": _versions(cells),
            "models": _newest_breakdown(self.weeks, "printer_models", type_, "model"),
            "firmware": _newest_breakdown(self.weeks, "printer_firmware", type_, "firmware"),
            "job_outcomes": _job_outcomes(self.weeks, type_),
            "errors": _errors(self.weeks, domain, cells),
        }


class InsightCache:
    """The insights of this process, recomputed only when a week has been published since."""

    def __init__(self) -> None:
        self._insights: Insights | None = None
        self._lock = asyncio.Lock()

    async def get(self, storage: Storage) -> Insights:
        """The insights of the current publications (one small query when nothing changed)."""
        state = await storage.publication_state()
        insights = self._insights
        if insights is not None and insights.state == state:
            return insights
        async with self._lock:
            if self._insights is None or self._insights.state != state:
                rows = await storage.published_stats(MAX_INSIGHT_WEEKS)
                self._insights = await asyncio.to_thread(Insights.from_rows, state, rows)
            return self._insights

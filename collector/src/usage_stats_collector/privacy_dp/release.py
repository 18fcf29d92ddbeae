"""A week's differentially private release: the mechanism's draw, post-processed, and its ledger.

Post-processing uses only the noisy numbers, so it costs no budget: counts and totals are
non-negative integers, a key's total is not below its installations (each adds at least one), an
open or dependent metric's total over all keys is not below its visible keys (``other`` is the
difference), and the spec's floors hold (``printers`` not below the printer types' total).
Each number carries the half-width of its 95 % interval, from the noise scale of its part (the
bias of clipping, which only lowers a number, is not in it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import opendp.prelude as dp

from .mechanism import CONFIDENCE, DEFAULT_RHO, DELTA, SELECTION_DELTA, NoisyMetric, Plan, draw, plan
from .rules import ClippedWeek, Contributions, Kind, Rule, Spec, default_spec

_LIBRARY = f"opendp {version('opendp')}"


@dataclass(frozen=True, slots=True)
class Noisy:
    """A released number and the half-width of its 95 % interval (``value ± half_width``)."""

    value: int
    half_width: float

    def as_json(self) -> dict[str, float]:
        """``{"value": v, "ci95": half-width}``."""
        return {"value": self.value, "ci95": round(self.half_width, 1)}


@dataclass(frozen=True, slots=True)
class DPCell:
    """A key's installations and total (the same number when the metric's cap is 1)."""

    installations: Noisy
    total: Noisy


@dataclass(frozen=True, slots=True)
class MetricRelease:
    """One metric of the week: its released keys, their total, and what is not shown."""

    kind: Kind
    cells: dict[str, DPCell]  # known: every key; open: the keys above the threshold; dependent: the parent's
    total: Noisy  # every key together (known: the sum of the cells)
    other: Noisy | None  # open and dependent: the total of the keys not shown


@dataclass(frozen=True, slots=True)
class WeekRelease:
    """The released metrics and the ledger of what they cost."""

    metrics: dict[str, MetricRelease]
    ledger: dict[str, Any]


def _accuracy(scale: float) -> float:
    return float(dp.gaussian_scale_to_accuracy(scale, 1 - CONFIDENCE))


def _metric(week_plan: Plan, rule: Rule, noisy: NoisyMetric) -> MetricRelease:
    counts = week_plan.part(f"{rule.metric}/installations")
    installations = {
        key: Noisy(max(value, 0), counts.half_width) for key, value in noisy.installations.items()
    }
    if noisy.total is None:
        return _known(week_plan, rule, noisy, installations)
    sums = week_plan.part(f"{rule.metric}/totals")  # an open or dependent metric always has one
    floors = {key: float(count.value) for key, count in installations.items()}
    parts = {key: float(noisy.totals[key]) for key in installations} if rule.totals else floors
    part_scale = sums.scale if rule.totals else counts.scale
    parts, total = _consistent(parts, floors, float(noisy.total), part_scale**2, sums.scale**2)
    cells = {
        key: DPCell(
            count, Noisy(max(round(parts[key]), count.value), sums.half_width) if rule.totals else count
        )
        for key, count in installations.items()
    }
    visible = sum(cell.total.value for cell in cells.values())
    released = Noisy(max(round(total), visible), sums.half_width)
    other = Noisy(released.value - visible, _accuracy(math.sqrt(sums.scale**2 + len(cells) * part_scale**2)))
    return MetricRelease(rule.kind, cells, released, other)


def _known(week_plan: Plan, rule: Rule, noisy: NoisyMetric, installations: dict[str, Noisy]) -> MetricRelease:
    """A known metric: every key, zeros included; its total is the sum of the keys."""
    scale = week_plan.part(f"{rule.metric}/installations").scale
    cells = {key: DPCell(count, count) for key, count in installations.items()}
    if rule.totals:
        sums = week_plan.part(f"{rule.metric}/totals")
        scale = sums.scale
        cells = {
            key: DPCell(count, Noisy(max(noisy.totals[key], count.value), sums.half_width))
            for key, count in installations.items()
        }
    if len(cells) == 1:
        return MetricRelease(rule.kind, cells, next(iter(cells.values())).total, None)
    total = sum(cell.total.value for cell in cells.values())
    return MetricRelease(rule.kind, cells, Noisy(total, _accuracy(scale * math.sqrt(len(cells)))), None)


def _consistent(
    parts: dict[str, float],
    floors: dict[str, float],
    total: float,
    part_variance: float,
    total_variance: float,
) -> tuple[dict[str, float], float]:
    """Parts not below their floors and a total not below their sum, least-squares closest to the
    noisy numbers (weighted by their noise variances).

    With a multiplier λ >= 0, each part is max(floor, part - λ·part_variance) and the total is
    total + λ·total_variance; λ is the smallest that makes the parts' sum at most the total
    (bisection: the sum falls and the total rises with λ).
    """

    def at(multiplier: float) -> tuple[dict[str, float], float]:
        moved = {key: max(floors[key], value - multiplier * part_variance) for key, value in parts.items()}
        return moved, total + multiplier * total_variance

    moved, raised = at(0.0)
    if sum(moved.values()) <= raised:
        return moved, raised
    low, high = 0.0, 1.0
    while sum(at(high)[0].values()) > at(high)[1]:
        high *= 2
    for _ in range(60):
        middle = (low + high) / 2
        moved, raised = at(middle)
        low, high = (middle, high) if sum(moved.values()) > raised else (low, middle)
    return at(high)


def _floor(whole: MetricRelease, parts: MetricRelease) -> MetricRelease:
    """The single-key ``whole`` not below its ``parts`` (in installations and in total)."""
    cell = whole.cells[""]
    most = max((part.installations.value for part in parts.cells.values()), default=0)
    installations = Noisy(max(cell.installations.value, most), cell.installations.half_width)
    at_least = max(parts.total.value, installations.value)
    total = Noisy(max(cell.total.value, at_least), cell.total.half_width)
    return MetricRelease(whole.kind, {"": DPCell(installations, total)}, total, None)


def ledger(week_plan: Plan) -> dict[str, Any]:
    """What the week's release costs and how it is bounded: the public ledger's entry of a week."""
    spec = week_plan.spec
    weights = sum(rule.weight for rule in spec.rules)
    return {
        "mechanism": (
            "zero-concentrated differential privacy (OpenDP): discrete Gaussian noise on every "
            "number; keys not known in advance only above a noisy threshold (Gaussian threshold)"
        ),
        "library": _LIBRARY,
        "unit": "one installation's week (added or removed)",
        "rho": week_plan.spent[0],
        "rho_budget": week_plan.rho,
        "epsilon": week_plan.epsilon,
        "delta": DELTA,
        "thresholds_delta": week_plan.spent[1],
        "selection_delta": SELECTION_DELTA,
        "confidence": CONFIDENCE,
        "caps": {
            rule.metric: {
                "kind": str(rule.kind),
                "max_keys": rule.max_keys,
                "cap": rule.cap,
                "budget_share": rule.weight / weights,
                **({"parent": rule.parent} if rule.parent else {}),
            }
            for rule in spec.rules
        },
        "parts": {
            part.name: {
                "rho": part.rho,
                "delta": part.delta,
                "sensitivity": part.sensitivity,
                "scale": part.scale,
                "half_width": part.half_width,
                **({"threshold": part.threshold} if part.threshold is not None else {}),
            }
            for part in week_plan.parts
        },
    }


def release_week(
    installations: Iterable[Contributions], *, spec: Spec | None = None, rho: float = DEFAULT_RHO
) -> WeekRelease:
    """Release one week under differential privacy; ``installations`` gives each installation's
    contributions once (``aggregates.contributions`` of its reports of the week, summed).

    Every call draws new noise: publish a week once and keep what it gave.
    """
    return release_clipped(ClippedWeek(spec or default_spec(), installations), rho=rho)


def release_clipped(week: ClippedWeek, *, rho: float = DEFAULT_RHO) -> WeekRelease:
    """Release a week already clipped and summed (:class:`ClippedWeek`); new noise at every call."""
    week_plan = plan(week.spec, rho)
    noisy = draw(week_plan, week)
    metrics = {rule.metric: _metric(week_plan, rule, noisy[rule.metric]) for rule in week_plan.spec.rules}
    for whole, parts in week_plan.spec.floors:
        metrics[whole] = _floor(metrics[whole], metrics[parts])
    return WeekRelease(metrics, ledger(week_plan))

"""The week's mechanism: OpenDP's measurements, composed and accounted by OpenDP.

The data is a :class:`~.rules.ClippedWeek`; neighbouring weeks differ by one installation's whole
week (added or removed). Each metric of the spec spends its share of the weekly budget rho
(zero-concentrated DP) on at most two *parts*, each one OpenDP measurement:

- ``<metric>/installations``: the installations per key. Known keys: a discrete Gaussian on the
  vector of every key (zeros included), L2 sensitivity √max_keys. Open keys: OpenDP's Gaussian
  threshold (propose-test-release over the keys present), l0 = max_keys, L2 = √max_keys, L∞ = 1,
  with the smallest threshold whose δ is at most :data:`SELECTION_DELTA`: a key that one
  installation alone has is named with at most that probability. Dependent metrics: a discrete
  Gaussian on the keys their parent released, zeros included.
- ``<metric>/totals``: a discrete Gaussian on the vector of the released keys' clipped totals
  (when the cap is above 1) followed by the metric's total over all keys (open and dependent
  metrics, for ``other``). L2 sensitivity √(max_keys·cap² + (max_keys·cap)²), or the parts of it
  that are in the vector.

The noise scale of a part is its sensitivity / √(2rho_part). The parts that depend on which keys
were released run after the selections, in OpenDP's adaptive composition, whose privacy map is
the sum of the parts' (rho, δ). ε is OpenDP's conversion of that composition at :data:`DELTA`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import opendp.prelude as dp

from .rules import ClippedWeek, Kind, Rule, Spec

# OpenDP gates every measurement and combinator this needs behind "contrib" (the discrete Gaussian,
# the Gaussian threshold, adaptive composition, the zCDP to (ε, δ) conversion). "honest-but-curious"
# lets the clipped sums of the week (this package's transformation, whose stability the rules'
# bounds give) be chained to OpenDP's measurements, so that OpenDP composes and accounts the whole
# week as one measurement. The noise is always OpenDP's, drawn from the OS's CSPRNG.
dp.enable_features("contrib", "honest-but-curious")

DEFAULT_RHO = 0.5  # zCDP budget of one week
DELTA = 1e-7  # the δ at which ε is stated (the thresholds' δ within it)
SELECTION_DELTA = 1e-10  # δ of each open metric's threshold
CONFIDENCE = 0.95  # of the published intervals
# Of a rule's budget, the share of its installation counts; the rest goes to its totals.
INSTALLATIONS_SHARE = 0.5
# ... for a rule without totals of its own (cap 1) that still has an ``other`` total (open, dependent).
INSTALLATIONS_SHARE_OTHER_ONLY = 0.8

_DOMAIN = dp.user_domain("usage_stats_collector.ClippedWeek", lambda week: isinstance(week, ClippedWeek))
_METRIC = dp.user_distance("installations added or removed, each with its whole week")
_D_IN = 1  # the unit of privacy: one installation's week
_MEASURE = dp.approximate(dp.zero_concentrated_divergence())
_COUNTS = dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T="i64"))
_VECTOR = dp.vector_domain(dp.atom_domain(T="i64"))

Draw = list[int] | dict[str, int]


def _l2(squares: int) -> float:
    """√squares rounded up (a sensitivity must not be understated by rounding)."""
    return math.nextafter(math.sqrt(squares), math.inf)


@dataclass(frozen=True, slots=True)
class Part:
    """One OpenDP measurement of the week: its name, bound, noise and spending."""

    name: str  # "<metric>/installations" or "<metric>/totals"
    rule: Rule
    sensitivity: float  # L2 distance one installation's week moves the part's vector at most
    scale: float  # standard deviation of the noise
    threshold: int | None  # open keys: the noisy installation count a key must reach
    rho: float  # zCDP spent, by OpenDP's privacy map
    delta: float  # the threshold's δ (0 without a threshold)
    half_width: float  # of the CONFIDENCE interval of one number, by OpenDP's accuracy

    @property
    def second_stage(self) -> bool:
        """Whether the part's keys are known only after the selections."""
        return self.rule.kind is Kind.DEPENDENT or (
            self.rule.kind is Kind.OPEN and self.name.endswith("/totals")
        )


def _vector_measurement(
    sensitivity: float, scale: float, function: Callable[[ClippedWeek], list[int]]
) -> Any:
    transformation = dp.t.make_user_transformation(
        _DOMAIN, _METRIC, _VECTOR, dp.l2_distance(T="f64"), function, lambda d: float(d) * sensitivity
    )
    return dp.c.make_approximate(transformation >> dp.m.then_gaussian(scale))


def _threshold_measurement(rule: Rule, scale: float, threshold: int) -> Any:
    l0, l2 = rule.max_keys, _l2(rule.max_keys)
    transformation = dp.t.make_user_transformation(
        _DOMAIN,
        _METRIC,
        _COUNTS,
        dp.l02inf_distance(dp.absolute_distance(T="f64")),
        lambda week: dict(week.sums[rule.metric].installations),
        lambda d: (int(d) * l0, float(d) * l2, float(d)),
    )
    return transformation >> dp.m.then_gaussian_threshold(scale, threshold)


@cache
def _threshold(rule: Rule, scale: float) -> int:
    """The smallest threshold whose δ is at most SELECTION_DELTA (OpenDP's privacy map)."""

    def small_enough(threshold: float) -> bool:
        return bool(_threshold_measurement(rule, scale, int(threshold)).map(_D_IN)[1] <= SELECTION_DELTA)

    return int(dp.binary_search(small_enough, bounds=(2, 1 << 30), T=int))


def _accuracy(scale: float) -> float:
    return float(dp.discrete_gaussian_scale_to_accuracy(scale, 1 - CONFIDENCE))


def _parts(rule: Rule, rho: float) -> list[Part]:
    """The parts of one rule, given its share rho of the week."""
    has_other = rule.kind is not Kind.KNOWN
    if not rule.totals and not has_other:
        shares = {"installations": 1.0}
    else:
        share = INSTALLATIONS_SHARE if rule.totals else INSTALLATIONS_SHARE_OTHER_ONLY
        shares = {"installations": share, "totals": 1 - share}
    parts = []
    for what, share in shares.items():
        squares = rule.max_keys
        if what == "totals":
            squares = rule.max_keys * rule.cap**2 if rule.totals else 0
            squares += (rule.max_keys * rule.cap) ** 2 if has_other else 0
        sensitivity = _l2(squares)
        scale = sensitivity / math.sqrt(2 * rho * share)
        threshold = None
        if what == "installations" and rule.kind is Kind.OPEN:
            threshold = _threshold(rule, scale)
            spent = _threshold_measurement(rule, scale, threshold).map(_D_IN)
        else:
            spent = _vector_measurement(sensitivity, scale, lambda week: []).map(_D_IN)
        parts.append(
            Part(
                f"{rule.metric}/{what}",
                rule,
                sensitivity,
                scale,
                threshold,
                float(spent[0]),
                float(spent[1]),
                _accuracy(scale),
            )
        )
    return parts


@dataclass(frozen=True, slots=True)
class Plan:
    """The week's parts in the order they run, and OpenDP's composition of them."""

    spec: Spec
    rho: float
    parts: tuple[Part, ...]
    composition: Any  # OpenDP's adaptive composition: called on a ClippedWeek, gives a queryable
    epsilon: float  # at DELTA, by OpenDP's conversion of the composition
    spent: tuple[float, float]  # (rho, δ) of the composition, by OpenDP's privacy map

    def part(self, name: str) -> Part:
        """The part of that name."""
        return next(part for part in self.parts if part.name == name)


@cache
def plan(spec: Spec, rho: float = DEFAULT_RHO) -> Plan:
    """Split ``rho`` over the spec's rules by weight, and each rule's share over its parts."""
    if not rho > 0:
        raise ValueError("the weekly budget must be positive")
    weights = sum(rule.weight for rule in spec.rules)
    parts = [part for rule in spec.rules for part in _parts(rule, rho * rule.weight / weights)]
    parts.sort(key=lambda part: part.second_stage)  # stable: the spec's order within a stage
    composition: Any = dp.c.make_adaptive_composition(
        _DOMAIN, _METRIC, _MEASURE, d_in=_D_IN, d_mids=[(part.rho, part.delta) for part in parts]
    )
    stated: Any = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(composition), DELTA)
    epsilon, _ = stated.map(_D_IN)
    rho_spent, delta_spent = composition.map(_D_IN)
    return Plan(spec, rho, tuple(parts), composition, float(epsilon), (float(rho_spent), float(delta_spent)))


def _keyed(keys: Sequence[str], values: Sequence[int]) -> dict[str, int]:
    return dict(zip(keys, values, strict=True))


@dataclass(slots=True)
class NoisyMetric:
    """One metric's noisy numbers as drawn (before post-processing)."""

    installations: dict[str, int]  # per released key
    totals: dict[str, int]  # per released key (empty when the metric has no totals)
    total: int | None  # every key together (open and dependent metrics)


def draw(week_plan: Plan, week: ClippedWeek) -> dict[str, NoisyMetric]:
    """Run the week's mechanism once: every part's noise drawn now, through OpenDP."""
    queryable = week_plan.composition(week)
    released: dict[str, NoisyMetric] = {}
    for part in week_plan.parts:
        rule, metric = part.rule, part.rule.metric
        if part.threshold is not None:
            selected = queryable(_threshold_measurement(rule, part.scale, part.threshold))
            released[metric] = NoisyMetric(dict(sorted(selected.items())), {}, None)
            continue
        keys = _released_keys(rule, released)
        if part.name.endswith("/installations"):
            counts = _query(queryable, part, keys, totals=False)
            released[metric] = NoisyMetric(_keyed(keys, counts), {}, None)
            continue
        with_totals = keys if rule.totals else []
        other = rule.kind is not Kind.KNOWN
        values = _query(queryable, part, with_totals, totals=True, with_total=other)
        noisy = released[metric]
        noisy.totals = _keyed(with_totals, values[: len(with_totals)])
        noisy.total = values[len(with_totals)] if other else None
    return released


def _released_keys(rule: Rule, released: Mapping[str, NoisyMetric]) -> list[str]:
    if rule.kind is Kind.KNOWN:
        return list(rule.keys)
    return list(released[rule.parent if rule.kind is Kind.DEPENDENT else rule.metric].installations)


def _query(
    queryable: Any, part: Part, keys: Sequence[str], *, totals: bool, with_total: bool = False
) -> list[int]:
    """Ask the week's queryable for a part's vector: the keys' installations or totals, and (with
    ``with_total``) the metric's total over all keys last."""
    metric = part.rule.metric

    def values(week: ClippedWeek) -> list[int]:
        sums = week.sums[metric]
        per_key = sums.totals if totals else sums.installations
        return [per_key.get(key, 0) for key in keys] + ([sums.total] if with_total else [])

    return [int(value) for value in queryable(_vector_measurement(part.sensitivity, part.scale, values))]

"""What one installation may contribute to a week, and the clipping that enforces it.

Each published metric has a :class:`Rule`: whether its keys are known in advance (every one is
released, zeros included), open (a key is named only above a noisy threshold) or dependent (the
keys an open parent metric released, zeros included), how many keys one installation contributes
at most (``max_keys``: its largest values are kept, the rest dropped) and how much it adds to one
key at most (``cap``: a larger value is clipped to it). Clipping never rejects an installation;
it only bounds what it can move, which is what the noise is calibrated to.
"""

from __future__ import annotations

import enum
import functools
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..schema import schema_document

# Tie-breaking only spreads the dropped keys fairly: the bounds hold however ties are broken, so
# it needs no cryptographic randomness (a system-seeded generator, much faster than the OS's).
_TIES = random.Random()  # noqa: S311
# An installation's contributions to a week: (metric, key) -> value, as aggregates.contributions
# gives them.
Contributions = Mapping[tuple[str, str], int]


class Kind(enum.StrEnum):
    """How a metric's keys are released."""

    KNOWN = "known"  # every key of a fixed list, with noise, zeros included
    OPEN = "open"  # a key only when its noisy installation count clears a threshold
    DEPENDENT = "dependent"  # the keys its OPEN parent released, with noise, zeros included


@dataclass(frozen=True, slots=True)
class Rule:
    """The contribution bounds and budget share of one metric."""

    metric: str
    kind: Kind
    max_keys: int  # keys per installation at most (its largest values kept)
    cap: int  # per key and installation at most (larger values clipped); 1: totals = installations
    weight: float  # share of the weekly budget, relative to the other rules of the spec
    keys: tuple[str, ...] = ()  # KNOWN: every key
    parent: str = ""  # DEPENDENT: the OPEN metric whose released keys it follows

    @property
    def totals(self) -> bool:
        """Whether the metric has totals apart from its installation counts (a value above 1)."""
        return self.cap > 1


@dataclass(frozen=True, slots=True)
class Spec:
    """Every released metric's rule, and totals that may not fall below their parts.

    ``floors`` pairs ``(whole, parts)``: the single-key metric ``whole`` counts at least as many
    installations as any key of ``parts``, and its total is not below the total of ``parts`` (the
    caps must keep that true of the clipped data; post-processing then restores it).
    """

    rules: tuple[Rule, ...]
    floors: tuple[tuple[str, str], ...] = ()
    by_metric: dict[str, Rule] = field(init=False, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        by_metric = {rule.metric: rule for rule in self.rules}
        if len(by_metric) != len(self.rules):
            raise ValueError("a metric has two rules")
        for rule in self.rules:
            if rule.max_keys < 1 or rule.cap < 1 or not rule.weight > 0:
                raise ValueError(f"{rule.metric}: max_keys, cap and weight must be positive")
            if rule.kind is Kind.KNOWN and not 0 < rule.max_keys <= len(rule.keys):
                raise ValueError(f"{rule.metric}: a known metric needs its keys (at least max_keys)")
            parent = by_metric.get(rule.parent)
            if rule.kind is Kind.DEPENDENT and (parent is None or parent.kind is not Kind.OPEN):
                raise ValueError(f"{rule.metric}: the parent of a dependent metric is an open one")
        for whole, parts in self.floors:
            if by_metric[whole].keys != ("",) or parts not in by_metric:
                raise ValueError(f"floor {whole} >= {parts}: the whole is a single-key metric")
        object.__setattr__(self, "by_metric", by_metric)


class Sums:
    """One metric's clipped sums over the week's installations.

    With a cap of 1 every kept value is 1: the totals are the installation counts (one dict).
    """

    __slots__ = ("installations", "totals")

    def __init__(self, *, cap: int = 2) -> None:
        self.installations: dict[str, int] = {}  # per key
        self.totals: dict[str, int] = self.installations if cap == 1 else {}  # per key

    @property
    def total(self) -> int:
        """Every key together."""
        return sum(self.totals.values())


def _value(item: tuple[str, int]) -> int:
    return item[1]


def _kept(keyed: Mapping[str, int], max_keys: int, known: frozenset[str] | None) -> dict[str, int]:
    """The keys a metric keeps of one installation: known ones (of a known metric), and of them the
    ``max_keys`` largest values, ties broken at random (shuffled, then a stable sort)."""
    items = [(key, value) for key, value in keyed.items() if known is None or key in known]
    if len(items) > max_keys:
        _TIES.shuffle(items)
        items.sort(key=_value, reverse=True)  # stable: equal values stay in shuffled order
        del items[max_keys:]
    return dict(items)


def group(contribution: Contributions) -> dict[str, dict[str, int]]:
    """Contributions ``{(metric, key): value}`` per metric, ``{metric: {key: value}}``."""
    per_metric: dict[str, dict[str, int]] = {}
    for (metric, key), value in contribution.items():
        if value > 0:
            per_metric.setdefault(metric, {})[key] = int(value)
    return per_metric


# One metric as clipping reads it: max_keys, cap, the known keys (None: any), counts, totals.
_Bound = tuple[int, int, frozenset[str] | None, dict[str, int], dict[str, int]]


class ClippedWeek:
    """A week's contributions, clipped per installation and summed per metric and key.

    The input of the week's mechanism: one installation more or less changes each sum by at most
    what its rule allows (see ``mechanism``). Installations are added one at a time
    (:meth:`add`, or :meth:`add_grouped` with the contributions per metric), so a week is summed
    while its reports are read.
    """

    __slots__ = ("_bounds", "installations", "spec", "sums")

    def __init__(self, spec: Spec, installations: Iterable[Contributions] = ()) -> None:
        self.spec = spec
        self.sums = {rule.metric: Sums(cap=rule.cap) for rule in spec.rules}
        self._bounds: dict[str, _Bound] = {
            rule.metric: (
                rule.max_keys,
                rule.cap,
                frozenset(rule.keys) if rule.kind is Kind.KNOWN else None,
                self.sums[rule.metric].installations,
                self.sums[rule.metric].totals,
            )
            for rule in spec.rules
        }
        self.installations = 0
        for contribution in installations:
            self.add(contribution)

    def add(self, contribution: Contributions) -> None:
        """Add one installation's week (all its contributions, summed over its reports), clipped."""
        self.add_grouped(group(contribution))

    def add_grouped(self, contribution: Mapping[str, Mapping[str, int]]) -> None:
        """:meth:`add` with the contributions per metric (``aggregates.grouped``: positive values)."""
        self.installations += 1
        bounds = self._bounds
        for metric, reported in contribution.items():
            bound = bounds.get(metric)
            if bound is None:
                continue
            max_keys, cap, known, counts, totals = bound
            keyed = reported
            if len(keyed) > max_keys or (known is not None and not known.issuperset(keyed)):
                keyed = _kept(keyed, max_keys, known)
            if cap == 1:  # the totals are the counts
                for key in keyed:
                    counts[key] = counts.get(key, 0) + 1
                continue
            for key, value in keyed.items():
                counts[key] = counts.get(key, 0) + 1
                totals[key] = totals.get(key, 0) + (cap if value > cap else value)

    def partial(self) -> Partial:
        """The sums so far, to be merged into another week of the same spec (:meth:`merge`): a
        worker process clips some installations of a week, the publication adds them up."""
        return self.installations, {
            metric: (sums.installations, None if sums.totals is sums.installations else sums.totals)
            for metric, sums in self.sums.items()
        }

    def merge(self, partial: Partial) -> None:
        """Add the sums of other installations of the week (:meth:`partial`): sums of disjoint
        sets of installations add up, each installation clipped once where it was added."""
        installations, sums = partial
        self.installations += installations
        for metric, (counts, totals) in sums.items():
            mine = self.sums[metric]
            for key, count in counts.items():
                mine.installations[key] = mine.installations.get(key, 0) + count
            if totals is not None:
                for key, total in totals.items():
                    mine.totals[key] = mine.totals.get(key, 0) + total


# What ClippedWeek.partial gives: installations, and per metric its counts and totals (None: the counts).
Partial = tuple[int, dict[str, tuple[dict[str, int], dict[str, int] | None]]]


def clip(spec: Spec, contribution: Contributions) -> dict[tuple[str, str], int]:
    """One installation's contributions within the spec's bounds (what :meth:`ClippedWeek.add` adds).

    Metrics without a rule and keys of a known metric outside its list are dropped; of the rest,
    each metric keeps its ``max_keys`` largest values, each clipped to ``cap``. Ties are broken at
    random: by key, the keys that sort late would lose every tie, in every installation (a type
    of three printers of one each counted 13 % low in the utility benchmark).
    """
    week = ClippedWeek(spec, [contribution])
    return {
        (metric, key): sums.totals[key] for metric, sums in week.sums.items() for key in sums.installations
    }


# Jobs of one printer type (or model, duration bucket) and installation a week: a busy home printer.
JOBS_CAP = 20
# Budget weights of the job outcomes per printer type (the completion rate needs the first two).
JOB_WEIGHTS = {"started": 1.5, "completed": 1.5, "failed": 0.75, "cancelled": 0.75}


def _enum(*path: str) -> tuple[str, ...]:
    """An enum of the report schema (the wire contract), at ``path`` below the document."""
    node = schema_document("report-v1.schema.json")
    for part in path:
        node = node[part]
    return tuple(node["enum"])


@functools.cache  # a Spec is immutable: one for the process
def default_spec() -> Spec:
    """The collector's rules: the metrics of ``aggregates.contributions`` with their caps.

    Job outcomes, duration buckets, sections and installation types come from the report schema.
    Caps are set near what a typical home installation reports in a week (most have one or two
    printers and a few dozen jobs): an installation above them is clipped, so a print farm counts
    like a busy home. Weights favour the headline numbers: printer types, jobs and completion.
    """
    outcomes = _enum("$defs", "outcome")
    installation_types = _enum("properties", "installation", "properties", "installation_type")
    by_model = "jobs.by_model"
    return Spec(
        rules=(
            Rule("active", Kind.KNOWN, 1, 1, 1.0, keys=("",)),
            Rule("section", Kind.KNOWN, 5, 1, 0.25, keys=_enum("$defs", "section")),
            Rule("install.installation_type", Kind.KNOWN, 1, 1, 0.25, keys=installation_types),
            Rule("printers", Kind.KNOWN, 1, 10, 0.5, keys=("",)),
            Rule("jobs.duration", Kind.KNOWN, 7, JOBS_CAP, 0.25, keys=_enum("$defs", "duration_bucket")),
            Rule("printer_type", Kind.OPEN, 3, 5, 4.0),
            *(
                Rule(
                    f"jobs.{outcome}",
                    Kind.DEPENDENT,
                    2,
                    JOBS_CAP,
                    JOB_WEIGHTS.get(outcome, 0.5),
                    parent="printer_type",
                )
                for outcome in outcomes
            ),
            Rule("install.integration_version", Kind.OPEN, 1, 1, 0.5),
            Rule("install.ha_version", Kind.OPEN, 1, 1, 0.25),
            Rule("integration", Kind.OPEN, 2, 5, 0.25),
            Rule("integration.type", Kind.OPEN, 2, 5, 0.25),
            Rule("integration.version", Kind.OPEN, 2, 5, 0.5),
            Rule("printer_model", Kind.OPEN, 2, 5, 0.5),
            Rule("printer_firmware", Kind.OPEN, 2, 5, 0.25),
            Rule(f"{by_model}.started", Kind.OPEN, 2, JOBS_CAP, 0.25),
            *(
                Rule(
                    f"{by_model}.{outcome}", Kind.DEPENDENT, 2, JOBS_CAP, 0.125, parent=f"{by_model}.started"
                )
                for outcome in outcomes
                if outcome != "started"
            ),
            Rule("feature", Kind.OPEN, 10, 14, 0.25),
            Rule("feature.on", Kind.DEPENDENT, 10, 14, 0.25, parent="feature"),
            Rule("events", Kind.OPEN, 5, 20, 0.25),
            Rule("errors", Kind.OPEN, 3, 20, 0.25),
            Rule("error_type", Kind.OPEN, 3, 20, 0.25),
            Rule("errors.version", Kind.OPEN, 3, 20, 0.125),
            Rule("error_type.version", Kind.OPEN, 3, 20, 0.125),
        ),
        floors=(("printers", "printer_type"),),
    )

"""Differential privacy for the numbers of one published week, built on OpenDP.

The unit of privacy is one installation's week. What one installation can contribute is bounded
by clipping (:mod:`.rules`), never by rejecting it: at most one to each installation count, at
most a cap to each key's total, at most a number of keys per metric. The week is released by one
OpenDP measurement (:mod:`.mechanism`), accounted in zero-concentrated DP (rho) and stated as
(ε, δ) through OpenDP's conversion. Keys known in advance are all released, zeros included; other
keys only above a noisy threshold, so a key that one installation alone has is not named.
Post-processing (:mod:`.release`) keeps the numbers sensible and costs no budget.

    release = release_week(contributions_of_each_installation)  # noise drawn once, here
    release.metrics["printer_type"].cells["prusa_mk4"].installations  # Noisy(value, half_width)
    release.ledger  # mechanism, rho, ε at δ, caps, each part's noise and 95 % half-width
"""

from .mechanism import CONFIDENCE, DEFAULT_RHO, DELTA, SELECTION_DELTA, Part, Plan, plan
from .release import DPCell, MetricRelease, Noisy, WeekRelease, ledger, release_clipped, release_week
from .rules import ClippedWeek, Contributions, Kind, Rule, Spec, clip, default_spec

__all__ = [
    "CONFIDENCE",
    "DEFAULT_RHO",
    "DELTA",
    "SELECTION_DELTA",
    "ClippedWeek",
    "Contributions",
    "DPCell",
    "Kind",
    "MetricRelease",
    "Noisy",
    "Part",
    "Plan",
    "Rule",
    "Spec",
    "WeekRelease",
    "clip",
    "default_spec",
    "ledger",
    "plan",
    "release_clipped",
    "release_week",
]

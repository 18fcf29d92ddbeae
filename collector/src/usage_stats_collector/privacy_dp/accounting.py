"""Budgets beyond one week's release: a single noisy count, and the total over many weeks.

Both through OpenDP: the count is OpenDP's discrete Gaussian on one integer (one installation
changes it by at most one), and ε of any (rho, δ) is OpenDP's conversion from zero-concentrated to
approximate DP, the same one each week's ε comes from.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import opendp.prelude as dp

from .mechanism import CONFIDENCE

_COUNT_DOMAIN = dp.atom_domain(T="i64")
_COUNT_METRIC = dp.absolute_distance(T="i64")
_APPROXIMATE_ZCDP = dp.approximate(dp.zero_concentrated_divergence())


def _count_measurement(scale: float) -> Any:
    return dp.m.make_gaussian(_COUNT_DOMAIN, _COUNT_METRIC, scale)


def count_scale(rho: float) -> float:
    """The noise scale of a count of sensitivity 1 that spends ``rho``."""
    if not rho > 0:
        raise ValueError("the budget of a count must be positive")
    return 1 / math.sqrt(2 * rho)


def count_part(rho: float) -> dict[str, float]:
    """The ledger entry of a count that spends ``rho``: as OpenDP accounts and bounds it."""
    scale = count_scale(rho)
    return {
        "rho": float(_count_measurement(scale).map(1)),
        "delta": 0.0,
        "sensitivity": 1.0,
        "scale": scale,
        "half_width": float(dp.discrete_gaussian_scale_to_accuracy(scale, 1 - CONFIDENCE)),
    }


def noisy_count(count: int, scale: float) -> int:
    """``count`` with OpenDP's discrete Gaussian noise of ``scale``, not below zero (post-processing)."""
    return max(0, int(_count_measurement(scale)(count)))


@cache
def epsilon(rho: float, thresholds_delta: float, delta: float) -> float:
    """ε at ``delta`` of a mechanism that spends ``rho`` in zCDP with ``thresholds_delta`` of δ on
    its thresholds (``delta`` includes it), by OpenDP's conversion; 0 for nothing spent."""
    if rho <= 0 and thresholds_delta <= 0:
        return 0.0
    spent = dp.m.make_user_measurement(
        dp.atom_domain(T=bool),
        dp.symmetric_distance(),
        _APPROXIMATE_ZCDP,
        lambda _: 0,
        lambda d_in: (rho * d_in, thresholds_delta * d_in),
        TO="i32",
    )
    stated: Any = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(spent), delta)
    spent_epsilon, _ = stated.map(1)
    return float(spent_epsilon)

"""Differential privacy of a week (privacy_dp): bounds, thresholds, the attack, the budget, zeros.

OpenDP draws its noise from the operating system's CSPRNG and cannot be seeded, so no test here
compares exact numbers. Each statistical assertion holds for a correct mechanism except with a
probability stated beside it (at most about 1e-6, most far less); the others rely on structure.
"""

from __future__ import annotations

import math

import pytest

from collector_testlib import make_report, revision_2
from usage_stats_collector.aggregates import JOB_OUTCOMES, contributions
from usage_stats_collector.privacy_dp import (
    DEFAULT_RHO,
    DELTA,
    SELECTION_DELTA,
    ClippedWeek,
    Contributions,
    Kind,
    Rule,
    Spec,
    clip,
    default_spec,
    plan,
    release_week,
)
from usage_stats_collector.privacy_dp.release import _consistent
from usage_stats_collector.schema import schema_document

SPEC = default_spec()
PRINTER_TYPE = SPEC.by_metric["printer_type"]


def _home(type_: str = "prusa_mk4", printers: int = 1, jobs: int = 5) -> dict[tuple[str, str], int]:
    """One ordinary installation's week."""
    return {
        ("active", ""): 1,
        ("section", "printer_fleet"): 1,
        ("section", "jobs"): 1,
        ("install.installation_type", "Home Assistant OS"): 1,
        ("install.integration_version", "1.2.0"): 1,
        ("printers", ""): printers,
        ("printer_type", type_): printers,
        ("jobs.started", type_): jobs,
        ("jobs.completed", type_): jobs - 1,
        ("jobs.failed", type_): 1,
        ("jobs.duration", "1h_2h"): jobs - 1,
    }


def _week(installations: int, type_: str = "prusa_mk4") -> list[dict[tuple[str, str], int]]:
    return [_home(type_) for _ in range(installations)]


def test_an_installation_over_a_cap_is_clipped_not_rejected() -> None:
    farm: dict[tuple[str, str], int] = {
        ("active", ""): 1,
        ("printers", ""): 400,
        ("printer_type", "prusa_mk4"): 300,
        ("printer_type", "bambu_x1c"): 60,
        ("printer_type", "voron_24"): 40,
        ("printer_type", "creality_k1"): 30,  # a fourth type: over max_keys, the smallest is dropped
        ("jobs.started", "prusa_mk4"): 5000,
        ("jobs.duration", "no_such_bucket"): 3,  # not a known key: dropped
        ("unknown.metric", "x"): 9,  # no rule: dropped
        ("events", "ha_start"): 0,  # nothing to count
    }
    clipped = clip(SPEC, farm)
    assert clipped == {
        ("active", ""): 1,
        ("printers", ""): SPEC.by_metric["printers"].cap,
        ("printer_type", "prusa_mk4"): PRINTER_TYPE.cap,
        ("printer_type", "bambu_x1c"): PRINTER_TYPE.cap,
        ("printer_type", "voron_24"): PRINTER_TYPE.cap,
        ("jobs.started", "prusa_mk4"): SPEC.by_metric["jobs.started"].cap,
    }
    assert PRINTER_TYPE.max_keys == 3
    # In a week, the farm is one installation among the others, with its clipped values.
    week = ClippedWeek(SPEC, [farm, _home()])
    assert week.installations == 2
    sums = week.sums["printer_type"]
    assert sums.installations == {"prusa_mk4": 2, "bambu_x1c": 1, "voron_24": 1}
    cap = PRINTER_TYPE.cap
    assert sums.totals == {"prusa_mk4": cap + 1, "bambu_x1c": cap, "voron_24": cap}
    assert sums.total == 3 * cap + 1
    release = release_week([farm, *_week(200)])
    assert release.metrics["active"].cells[""].installations.value > 0


def test_ties_are_broken_at_random() -> None:
    """Four types of one printer each, three kept: each is dropped in about a quarter of 400
    clippings (by key, the last would be dropped every time). The four counts are all within
    [50, 160] except with probability below 1e-9 (binomial tails at p = 0.25)."""
    home = {("printer_type", name): 1 for name in ("a", "b", "c", "d")}
    dropped = dict.fromkeys("abcd", 0)
    for _ in range(400):
        (name,) = {key for _, key in home} - {key for _, key in clip(SPEC, home)}
        dropped[name] += 1
    assert all(50 <= count <= 160 for count in dropped.values()), dropped


def test_a_key_of_a_single_installation_is_never_named() -> None:
    """Each installation has a printer type (and integration version, event, error) of its own.

    OpenDP's δ of a threshold bounds the probability that a key absent from the neighbouring week
    (here: the week without its only installation) is named, so each such key appears with
    probability at most SELECTION_DELTA = 1e-10 per release. 60 runs of 150 such keys per open
    metric and run (8 open metrics used) are 72,000 chances: the test fails by chance with
    probability below 1e-5 (in fact far less: at a count of 1 the threshold is 6.5 noise standard
    deviations away, about 4e-11 per chance).
    """
    week = []
    for number in range(150):
        own = f"own_{number}"
        home = _home(own) | _home("prusa_mk4")
        home |= {
            ("install.ha_version", f"2025.{number}.0"): 1,
            ("integration", own): 1,
            ("printer_model", f"prusa_mk4:{own}"): 1,
            ("events", own): 3,
            ("errors", own): 2,
            ("error_type", f"{own}:Timeout"): 2,
            ("feature", f"{own}.camera"): 7,
        }
        week.append(home)
    for _ in range(60):
        release = release_week(week)
        for rule in SPEC.rules:
            if rule.kind is Kind.OPEN:
                named = [key for key in release.metrics[rule.metric].cells if "own_" in key or "2025." in key]
                assert named == [], rule.metric
        assert "prusa_mk4" in release.metrics["printer_type"].cells  # 150 installations: named


def _kl(rate: float, p: float) -> float:
    """Kullback-Leibler divergence of Bernoulli(rate) from Bernoulli(p)."""
    terms = 0.0
    for a, b in ((rate, p), (1 - rate, 1 - p)):
        if a > 0:
            terms += a * math.log(a / b) if b > 0 else math.inf
    return terms


def _bound(rate: float, runs: int, *, upper: bool, failure: float = 1e-9) -> float:
    """The Chernoff bound on a Bernoulli probability measured as ``rate`` over ``runs`` runs: the
    true probability lies beyond it with probability at most ``failure`` (exp(-runs·KL))."""
    low, high = (rate, 1.0) if upper else (0.0, rate)
    for _ in range(60):
        middle = (low + high) / 2
        outside = _kl(rate, middle) > math.log(1 / failure) / runs
        if upper:
            low, high = (low, middle) if outside else (middle, high)
        else:
            low, high = (middle, high) if outside else (low, middle)
    return high if upper else low


def _rate(week: list[Contributions], key: str, spec: Spec, rho: float, runs: int) -> float:
    return (
        sum(key in release_week(week, spec=spec, rho=rho).metrics["printer_type"].cells for _ in range(runs))
        / runs
    )


@pytest.mark.parametrize("fakes", [4, 40, "edge"])
def test_made_up_installations_do_not_reveal_a_victims_rare_key(fakes: int | str) -> None:
    """The attack that defeats k-anonymity: a victim's rare printer type, and made-up installations
    reporting it too. With k = 5, four of them publish the victim's key for certain (and never
    without the victim). Under DP, the key appears with the victim at a rate at most
    e^epsilon · (rate without) + delta, whatever the number of made-up installations.

    Only the printer type's parts (the default spec's rule at its default share of the budget, so
    the same threshold and noise) run, for speed: whether the key appears depends on nothing else,
    and the bound uses their own (epsilon, delta), from OpenDP, tighter than the week's. Each rate
    is measured over 1,200 releases, and each of the four Chernoff bounds used fails with
    probability at most 1e-9: the test fails by chance with probability below 4e-9.
    """
    full = plan(SPEC)
    rho = full.part("printer_type/installations").rho + full.part("printer_type/totals").rho
    spec = Spec((PRINTER_TYPE,))
    bound = plan(spec, rho)
    threshold = bound.part("printer_type/installations").threshold
    assert threshold is not None
    if fakes == "edge":  # where the key appears now and then: the bound is tightest
        fakes = threshold - 2 * math.ceil(bound.part("printer_type/installations").scale)
    assert isinstance(fakes, int)
    others = _week(20, "bambu_x1c")
    fake = [{("active", ""): 1, ("printer_type", "victims_rare_type"): 1} for _ in range(fakes)]
    victim = {("active", ""): 1, ("printer_type", "victims_rare_type"): 1}
    runs = 1200
    without = _rate([*others, *fake], "victims_rare_type", spec, rho, runs)
    with_victim = _rate([*others, *fake, victim], "victims_rare_type", spec, rho, runs)
    factor = math.exp(bound.epsilon)
    print(
        f"\n{fakes} made-up installations: the victim's key appears in {with_victim:.4f} of {runs} "
        f"releases with the victim, {without:.4f} without; DP bound e^{bound.epsilon:.2f}·P(without) "
        f"+ {DELTA:g} = {min(1.0, factor * without + DELTA):.4f}; with k = 5 anonymity "
        f"{int(fakes + 1 >= 5)} with the victim, {int(fakes >= 5)} without"
    )
    # The lowest probability the rate with the victim allows is within the bound at the highest the
    # rate without allows; and the other way round (adding or removing one are both neighbours).
    lowest_with = _bound(with_victim, runs, upper=False)
    lowest_without = _bound(without, runs, upper=False)
    assert lowest_with <= factor * _bound(without, runs, upper=True) + DELTA
    assert lowest_without <= factor * _bound(with_victim, runs, upper=True) + DELTA


def test_the_budget_of_a_week_is_the_sum_of_its_parts() -> None:
    for rho in (DEFAULT_RHO, 0.1, 2.0):
        week_plan = plan(SPEC, rho)
        spent_rho, spent_delta = week_plan.spent
        assert spent_rho == pytest.approx(sum(part.rho for part in week_plan.parts), rel=1e-12)
        assert spent_rho == pytest.approx(rho, rel=1e-9)  # OpenDP rounds up, by a few ulps
        assert spent_delta == pytest.approx(sum(part.delta for part in week_plan.parts), rel=1e-9)
        assert 0 < spent_delta <= SELECTION_DELTA * sum(rule.kind is Kind.OPEN for rule in SPEC.rules)
        # Each rule spends its weight's share, whatever its parts.
        weights = sum(rule.weight for rule in SPEC.rules)
        for rule in SPEC.rules:
            parts = [part for part in week_plan.parts if part.rule == rule]
            assert sum(part.rho for part in parts) == pytest.approx(rho * rule.weight / weights, rel=1e-9)
        # OpenDP's (epsilon, delta) is at most the textbook conversion rho + 2·sqrt(rho·ln(1/delta)).
        assert rho < week_plan.epsilon <= rho + 2 * math.sqrt(rho * math.log(1 / (DELTA - spent_delta)))
    ledger = release_week(_week(50)).ledger
    assert ledger["rho"] == plan(SPEC).spent[0]
    assert ledger["epsilon"] == plan(SPEC).epsilon
    assert ledger["delta"] == DELTA
    assert sum(entry["rho"] for entry in ledger["parts"].values()) == pytest.approx(ledger["rho"], rel=1e-12)
    assert sum(cap["budget_share"] for cap in ledger["caps"].values()) == pytest.approx(1)
    assert ledger["caps"]["printer_type"] == {
        "kind": "open",
        "max_keys": PRINTER_TYPE.max_keys,
        "cap": PRINTER_TYPE.cap,
        "budget_share": PRINTER_TYPE.weight / sum(rule.weight for rule in SPEC.rules),
    }
    assert ledger["caps"]["jobs.started"]["parent"] == "printer_type"
    assert ledger["parts"]["printer_type/installations"]["threshold"] > 1
    assert ledger["library"].startswith("opendp ")


def test_known_keys_are_all_released_zeros_included() -> None:
    defs = schema_document("report-v1.schema.json")["$defs"]
    release = release_week(_week(30))  # no duration but 1h_2h, one installation type, two sections
    metrics = release.metrics
    assert list(metrics["jobs.duration"].cells) == defs["duration_bucket"]["enum"]
    assert list(metrics["section"].cells) == defs["section"]["enum"]
    assert len(metrics["install.installation_type"].cells) == 6
    assert list(metrics["active"].cells) == [""]
    # A dependent metric has every key its parent released, none reported included.
    assert set(metrics["jobs.interrupted"].cells) == set(metrics["printer_type"].cells)
    for name in ("jobs.duration", "section", "install.installation_type"):
        assert metrics[name].kind is Kind.KNOWN
        assert metrics[name].other is None
        assert metrics[name].total.value == sum(cell.total.value for cell in metrics[name].cells.values())


def test_post_processing_keeps_the_numbers_sensible() -> None:
    """Non-negative integers, totals not below installations, a total not below its visible keys,
    and printers not below the printer types (a small week: much of the noise is below zero)."""
    week = _week(40) + _week(40, "bambu_x1c")
    for _ in range(30):
        metrics = release_week(week).metrics
        for metric in metrics.values():
            for cell in metric.cells.values():
                assert isinstance(cell.installations.value, int)
                assert 0 <= cell.installations.value <= cell.total.value
                assert cell.total.half_width > 0
            visible = sum(cell.total.value for cell in metric.cells.values())
            assert metric.total.value >= visible
            if metric.kind is not Kind.KNOWN:
                assert metric.other is not None
                assert metric.other.value == metric.total.value - visible >= 0
        printers = metrics["printers"].cells[""]
        assert printers.total.value >= metrics["printer_type"].total.value
        assert printers.installations.value >= max(
            (cell.installations.value for cell in metrics["printer_type"].cells.values()), default=0
        )


def test_the_least_squares_step_meets_the_total_and_its_parts_halfway() -> None:
    parts, total = _consistent({"a": 10.0, "b": 10.0}, {"a": 0.0, "b": 0.0}, 14.0, 1.0, 1.0)
    # 6 too many, spread over three numbers of equal variance: 2 each.
    assert parts == pytest.approx({"a": 8.0, "b": 8.0}, abs=1e-9)
    assert total == pytest.approx(16.0, abs=1e-9)
    parts, total = _consistent({"a": 10.0, "b": 1.0}, {"a": 0.0, "b": 1.0}, 5.0, 1.0, 1.0)
    assert parts["b"] == 1.0  # held at its floor
    assert parts["a"] + parts["b"] == pytest.approx(total, abs=1e-6)
    assert _consistent({"a": 1.0}, {"a": 0.0}, 5.0, 1.0, 1.0) == ({"a": 1.0}, 5.0)  # already consistent


def test_numbers_are_accurate_to_their_published_interval() -> None:
    """300 installations: the active count is within 7 noise standard deviations of the truth
    (fails with probability about 3e-12 per release), and the 95 % intervals of the printer type's
    count cover the truth in at least 80 of 100 releases (the binomial tail below 80 of 100 at
    p = 0.95 is 2e-8; OpenDP's intervals are conservative, so less)."""
    week = _week(300)
    active = plan(SPEC).part("active/installations")
    covered = 0
    for _ in range(100):
        release = release_week(week)
        count = release.metrics["active"].cells[""].installations
        assert abs(count.value - 300) <= 7 * active.scale
        cell = release.metrics["printer_type"].cells["prusa_mk4"].installations
        covered += abs(cell.value - 300) <= cell.half_width
    assert covered >= 80


def test_the_default_spec_covers_every_published_metric() -> None:
    """Every metric a report can contribute (of every revision, every outcome) has a rule: a new
    metric without one would be dropped by clipping, and so never published under dp."""
    report = revision_2(make_report())
    report["jobs"]["by_model"] = {"bambu_x1c.x1c": dict.fromkeys(JOB_OUTCOMES, 1)}
    report["jobs"] |= {outcome: {"bambu_x1c": 1} for outcome in JOB_OUTCOMES}
    metrics = {metric for metric, _ in contributions(report)}
    # ``nonempty`` only decides whether a k-anonymous week is withheld; a DP week is never withheld.
    assert metrics - {"nonempty"} == set(SPEC.by_metric)


@pytest.mark.parametrize(
    ("rules", "floors", "problem"),
    [
        ((Rule("a", Kind.OPEN, 1, 1, 1.0), Rule("a", Kind.OPEN, 1, 1, 1.0)), (), "two rules"),
        ((Rule("a", Kind.OPEN, 0, 1, 1.0),), (), "positive"),
        ((Rule("a", Kind.OPEN, 1, 1, 0.0),), (), "positive"),
        ((Rule("a", Kind.KNOWN, 2, 1, 1.0, keys=("x",)),), (), "known metric"),
        (
            (Rule("a", Kind.KNOWN, 1, 1, 1.0, keys=("x",)), Rule("b", Kind.DEPENDENT, 1, 1, 1.0, parent="a")),
            (),
            "parent",
        ),
        ((Rule("a", Kind.OPEN, 1, 1, 1.0), Rule("b", Kind.OPEN, 1, 1, 1.0)), (("a", "b"),), "single-key"),
    ],
)
def test_a_spec_must_be_sound(
    rules: tuple[Rule, ...], floors: tuple[tuple[str, str], ...], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        Spec(rules, floors)


def test_the_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        plan(SPEC, 0.0)


def test_noisy_numbers_as_json() -> None:
    cell = release_week(_week(10)).metrics["active"].cells[""].installations
    assert cell.as_json() == {"value": cell.value, "ci95": round(cell.half_width, 1)}

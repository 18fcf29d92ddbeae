"""Publication under differential privacy, the real path: stored reports to /v1/stats, the page.

OpenDP's noise cannot be seeded, so no test compares noisy numbers with exact ones beyond a bound
stated beside it; what is exact is the structure: which keys may appear, what never changes, what
the ledger says, and what clipping lets through.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import time
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient, TestServer

from collector_testlib import make_report, new_id, revision_2, week_period
from usage_stats_collector import cli, publication, publication_dp
from usage_stats_collector.aggregates import DURATION_BUCKETS, SECTIONS
from usage_stats_collector.app import Settings, create_app
from usage_stats_collector.openapi import openapi_document
from usage_stats_collector.privacy_dp import DEFAULT_RHO, DELTA
from usage_stats_collector.privacy_dp.accounting import epsilon
from usage_stats_collector.publication import publication_time, publish_due
from usage_stats_collector.publication_dp import (
    LATE_SHARE,
    InstallationWeeks,
    publish_week,
    week_ledger,
)
from usage_stats_collector.schema import schema_document, validate_report
from usage_stats_collector.storage import Outcome, Storage, StoredReport

W18 = dt.date(2025, 4, 28)  # ISO week 2025-W18; it ends Monday 2025-05-05 00:00 UTC
RECEIVED = dt.datetime(2025, 5, 5, 9, tzinfo=dt.UTC).timestamp()
DUE = publication_time("2025-W18", 3)  # the Thursday after, 00:00 UTC
DAY = 86400.0


async def _stats(storage: Storage, **settings: Any) -> tuple[str, dict[str, Any]]:
    app = create_app(storage, Settings(purge_interval=0, publish_interval=0, **settings))
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/v1/stats")
        assert response.status == 200
        text = await response.text()
    return text, json.loads(text)


async def _store(storage: Storage, reports: list[dict[str, Any]], received: float = RECEIVED) -> None:
    await storage.bulk_load([StoredReport.from_report(report, received) for report in reports])


def _valid(stats: dict[str, Any]) -> None:
    components = openapi_document()["components"]
    jsonschema.validate(stats, {"$ref": "#/components/schemas/Stats", "components": components})


async def _release_again(storage: Storage, week: str) -> dict[str, Any]:
    """The week as a new dp publication would render it, from the stored reports, without storing
    it (what ``publish_due`` does once per week: here again and again, to see the noise vary)."""
    installations = InstallationWeeks()
    async for batch in storage.week_reports(week, 500):
        installations.feed(batch)
    return publish_week(week, installations.finish(), DEFAULT_RHO, DUE).stats


async def test_a_dp_week_is_published_with_its_ledger(storage: Storage) -> None:
    reports = [revision_2(make_report()) for _ in range(60)]
    reports.append(make_report(printer_fleet={"printers": 1, "types": {"rare_printer": 1}}))
    await _store(storage, reports)
    assert await publish_due(storage, now=DUE) == ["2025-W18"]  # dp is the default
    text, stats = await _stats(storage)
    _valid(stats)
    assert stats["privacy"] == "dp"
    assert stats["k_anonymity"] is None
    assert stats["rho"] == DEFAULT_RHO
    (week,) = stats["weeks"]
    assert week["privacy"] == "dp"
    assert week["k_anonymity"] is None
    assert week["reports"] is None  # each installation counts once
    assert week["late_reports"] is None  # released once, a week after the publication
    assert "rare_printer" not in text  # one installation's key: not named
    # The week's budget, and its ledger, once for every week that shares it.
    ledger = stats["ledgers"][week["dp"]["ledger"]]
    assert ledger == week_ledger(DEFAULT_RHO)
    assert week["dp"]["rho"] == ledger["rho"] == pytest.approx(DEFAULT_RHO, rel=1e-9)
    assert week["dp"]["epsilon"] == ledger["epsilon"]
    assert week["dp"]["delta"] == ledger["delta"] == DELTA
    assert sum(part["rho"] for part in ledger["parts"].values()) == pytest.approx(ledger["rho"], rel=1e-12)
    assert ledger["parts"]["late_reports"]["rho"] == pytest.approx(DEFAULT_RHO * LATE_SHARE)
    assert ledger["caps"]["printer_type"] | {"budget_share": 0} == {
        "kind": "open",
        "max_keys": 3,
        "cap": 5,
        "budget_share": 0,
    }
    assert stats["budget"]["dp_weeks"] == 1
    assert stats["budget"]["rho"] == pytest.approx(ledger["rho"])
    # Known keys are all published, zeros included; every cell has its intervals.
    assert list(week["jobs"]["duration"]) == list(DURATION_BUCKETS)
    installation_types = schema_document("report-v1.schema.json")["properties"]["installation"]
    assert set(week["installation"]["installation_type"]) == set(
        installation_types["properties"]["installation_type"]["enum"]
    )
    assert list(week["sections"]) == list(SECTIONS)
    intervals = week["ci95"]
    assert {"installations", "printers", "sections", "late_reports"} <= set(intervals)
    parts = ledger["parts"]
    assert intervals["installations"] == round(parts["active/installations"]["half_width"], 1)
    assert intervals["jobs.duration"] == {
        "total": round(parts["jobs.duration/totals"]["half_width"], 1),
        "installations": round(parts["jobs.duration/installations"]["half_width"], 1),
    }
    # Versions count installations: each cell's total is its installations, and so is its interval.
    version = intervals["installation.integration_version"]
    assert version["total"] == version["installations"]
    for cell in week["jobs"]["duration"].values():
        assert set(cell) == {"total", "installations"}
        assert 0 <= cell["installations"] <= cell["total"]
    for cell in week["printer_types"].values():  # the other of a list has an interval of its own
        assert ("ci95" in cell) == (cell["installations"] is None)
    # 61 installations: the count is within 7 noise standard deviations of them (a correct
    # mechanism fails this with probability about 3e-12).
    scale = ledger["parts"]["active/installations"]["scale"]
    assert abs(week["installations"] - 61) <= 7 * scale


async def test_a_published_dp_week_never_changes(storage: Storage) -> None:
    """Read twice, after a late report, a report of another week and a deletion: the same text.
    Its one later number, the late count, is released once a week later and then fixed too."""
    reports = [make_report() for _ in range(20)]
    await _store(storage, reports)
    assert await publish_due(storage, now=DUE) == ["2025-W18"]
    first, _ = await _stats(storage)
    assert (await _stats(storage))[0] == first
    late = make_report(printer_fleet={"printers": 1, "types": {"late_printer": 1}})
    assert (await storage.submit_report(late, now=DUE + 60)).outcome is Outcome.ACCEPTED
    next_week = make_report(period=week_period(W18 + dt.timedelta(weeks=1)))
    assert (await storage.submit_report(next_week, now=DUE + 60)).outcome is Outcome.ACCEPTED
    await storage.delete_installation(reports[0]["installation_id"])
    assert await publish_due(storage, now=DUE + 120) == []
    assert (await _stats(storage))[0] == first
    # A week later: the next week is published, and this week's late count released, once.
    assert await publish_due(storage, now=DUE + 7 * DAY) == ["2025-W19"]
    _, stats = await _stats(storage)
    week = stats["weeks"][-1]
    assert isinstance(week["late_reports"], int)
    assert week["late_reports"] >= 0
    before = json.loads(first)["weeks"][0]
    assert week == before | {"late_reports": week["late_reports"]}
    assert await publish_due(storage, now=DUE + 30 * DAY) == ["2025-W20", "2025-W21", "2025-W22"]
    assert (await _stats(storage))[1]["weeks"][-1] == week
    assert "late_printer" not in json.dumps(stats)


async def test_a_key_of_a_single_installation_is_never_published(storage: Storage) -> None:
    """Sixty installations, each with a printer type, model, versions, event and error of its own
    (and common ones): in 20 releases through the publication's own path, none of those is named.

    Each key reported by one installation appears with probability at most 1e-10 per release
    (OpenDP's δ of the threshold; in fact about 4e-11 at a count of one), and there are 20 x 60 x
    8 chances: a correct mechanism fails this test with probability below 1e-6.
    """
    reports = []
    for number in range(60):
        own = f"own{number:03d}"
        report = revision_2(make_report())
        fleet = report["printer_fleet"]
        fleet["types"][own] = 1
        fleet["printers"] += 1
        fleet["models"][own] = {own: 1}
        fleet["integrations"][own] = {"type": own, "version": f"9.{number}.0", "printers": 1}
        report["installation"]["ha_version"] = f"2099.{number}.0"
        report["installation"]["integration_version"] = f"8.{number}.0"
        report["events"][own] = 2
        report["errors"][own] = {"OwnError": 1}
        reports.append(report)
    assert validate_report(reports[0]) is None, validate_report(reports[0])
    await _store(storage, reports)
    for _ in range(20):
        text = json.dumps(await _release_again(storage, "2025-W18"))
        for secret in ('"own', ":own", '"2099.', '"8.', '"9.', "OwnError"):
            assert secret not in text, secret
    assert await publish_due(storage, now=DUE) == ["2025-W18"]
    assert '"own' not in (await _stats(storage))[0]


def _ordinary(type_: str = "bambu_x1c") -> dict[str, Any]:
    return make_report(printer_fleet={"printers": 1, "types": {type_: 1}})


async def test_made_up_installations_defeat_k_anonymity_not_dp(make_storage: Any) -> None:
    """A victim's rare printer type and four made-up installations reporting it too: k-anonymity
    (k = 5) publishes it, with the victim's installation in its count; differential privacy, in
    30 releases with the victim and 30 without, names it as rarely as its bound allows (here never:
    five installations are far below the threshold). test_privacy_dp measures the rates with many
    more releases, and with forty made-up installations, near the threshold."""
    kanonymous = await make_storage()
    victim = _ordinary("victims_rare_type")
    fakes = [_ordinary("victims_rare_type") for _ in range(4)]
    others = [_ordinary() for _ in range(20)]
    await _store(kanonymous, [*others, *fakes, victim])
    assert await publish_due(kanonymous, privacy="k-anonymity", k=5, now=DUE) == ["2025-W18"]
    week = (await _stats(kanonymous, privacy="k-anonymity", k_anonymity=5))[1]["weeks"][0]
    assert week["printer_types"]["victims_rare_type"] == {"total": 5, "installations": 5}

    # Under dp: the same week (W18), and the same without the victim (W19).
    without = [
        copy.deepcopy(report) | {"period": week_period(W18 + dt.timedelta(weeks=1))} for report in others
    ]
    without += [
        _ordinary("victims_rare_type") | {"period": week_period(W18 + dt.timedelta(weeks=1))}
        for _ in range(4)
    ]
    for report in without:
        report["submission_id"] = new_id()
    await _store(kanonymous, without)
    named = {"2025-W18": 0, "2025-W19": 0}
    for week_name in named:
        for _ in range(30):
            named[week_name] += (
                "victims_rare_type" in (await _release_again(kanonymous, week_name))["printer_types"]
            )
    bound = math.exp(week_ledger(DEFAULT_RHO)["epsilon"]) * named["2025-W19"] / 30 + DELTA
    print(
        f"\nvictim's key named in {named['2025-W18']}/30 releases with the victim, "
        f"{named['2025-W19']}/30 without; with k = 5 anonymity: 1 and 0"
    )
    assert named == {"2025-W18": 0, "2025-W19": 0}
    assert named["2025-W18"] / 30 <= bound


async def test_an_installation_over_the_caps_is_clipped_not_rejected(storage: Storage) -> None:
    """A print farm, and an installation that reported twice in the week: stored, counted once
    each, with what the caps let through."""
    farm = make_report(
        printer_fleet={"printers": 400, "types": {"a": 300, "b": 60, "c": 40, "d": 30}},
        jobs={
            "started": {"a": 5000},
            "completed": {"a": 4000},
            "failed": {},
            "cancelled": {},
            "duration": {},
        },
    )
    twice = make_report()
    again = make_report(twice["installation_id"])
    await _store(storage, [farm, twice])
    assert (await storage.submit_report(again, now=RECEIVED + 7200)).outcome is Outcome.ACCEPTED
    installations = InstallationWeeks()
    async for batch in storage.week_reports("2025-W18", 1):  # a batch per report: across batches
        installations.feed(batch)
    week = installations.finish()
    spec = week.spec.by_metric
    assert week.installations == 2
    assert week.sums["active"].installations == {"": 2}
    assert week.sums["printers"].totals == {"": spec["printers"].cap + 4}  # twice's 2 + 2, not clipped
    types = week.sums["printer_type"]
    assert sorted(types.installations.items()) == [
        ("a", 1),
        ("b", 1),
        ("bambu_x1c", 1),
        ("c", 1),
        ("prusa_mk4", 1),
    ]
    assert types.totals["a"] == spec["printer_type"].cap
    assert types.totals["bambu_x1c"] == 2  # summed over twice's two reports, under the cap
    assert week.sums["jobs.started"].totals["a"] == spec["jobs.started"].cap
    assert await publish_due(storage, now=DUE) == ["2025-W18"]


async def test_switching_rules_keeps_the_published_weeks(storage: Storage) -> None:
    await _store(storage, [make_report() for _ in range(3)])
    assert await publish_due(storage, privacy="k-anonymity", k=3, now=DUE) == ["2025-W18"]
    before = (await _stats(storage, privacy="k-anonymity", k_anonymity=3))[1]["weeks"][0]
    assert before["privacy"] == "k-anonymity"
    assert before["installations"] == 3
    # Switched to dp: the fixed week stays as it was; the next one is published under dp.
    await _store(storage, [make_report(period=week_period(W18 + dt.timedelta(weeks=1))) for _ in range(3)])
    assert await publish_due(storage, now=DUE + 7 * DAY) == ["2025-W19"]
    _, stats = await _stats(storage)
    assert [week["privacy"] for week in stats["weeks"]] == ["dp", "k-anonymity"]
    assert stats["weeks"][1] == before
    assert stats["budget"]["dp_weeks"] == 1
    # And back: the dp week stays, its late count is still released under its own rule.
    assert await publish_due(storage, privacy="k-anonymity", k=3, now=DUE + 14 * DAY) == []
    _, again = await _stats(storage, privacy="k-anonymity", k_anonymity=3)
    assert again["privacy"] == "k-anonymity"
    assert again["weeks"][0]["privacy"] == "dp"
    assert isinstance(again["weeks"][0]["late_reports"], int)
    _valid(again)


async def test_dp_publishes_every_due_week_from_its_first_publication(storage: Storage) -> None:
    """Whether a week has reports does not decide whether it is published (that would tell about
    them): from the first dp publication on, every due week is, empty or not. A week that fell due
    before that is not published under dp, even when a late report of it arrives."""
    old = make_report(period=week_period(W18 - dt.timedelta(weeks=3)))
    await _store(storage, [old])
    assert await publish_due(storage, now=DUE) == ["2025-W18"]  # empty: noise only
    assert await publish_due(storage, now=DUE + 7 * DAY) == ["2025-W19"]
    late_for_an_old_week = make_report(period=week_period(W18 - dt.timedelta(weeks=2)))
    await _store(storage, [late_for_an_old_week], received=DUE + 8 * DAY)
    assert await publish_due(storage, now=DUE + 9 * DAY, retention_days=400) == []
    _, stats = await _stats(storage)
    assert [week["week"] for week in stats["weeks"]] == ["2025-W19", "2025-W18"]
    assert all(week["installations"] >= 0 for week in stats["weeks"])
    # A backlog is published only when asked for, from a given time on (the benchmark does).
    backlog = publication_time("2025-W15", 3) - 1
    assert await publish_due(storage, now=DUE + 9 * DAY, dp_since=backlog) == [
        "2025-W15",
        "2025-W16",
        "2025-W17",
    ]


async def test_the_total_budget_is_the_sum_of_the_weeks(storage: Storage) -> None:
    assert await publish_due(storage, now=DUE, rho=0.5) == ["2025-W18"]
    assert await publish_due(storage, now=DUE + 7 * DAY, rho=1.0) == ["2025-W19"]
    _, stats = await _stats(storage, rho=1.0)
    weeks = {week["week"]: week["dp"] for week in stats["weeks"]}
    spent = weeks["2025-W18"]["rho"] + weeks["2025-W19"]["rho"]
    assert spent == pytest.approx(1.5, rel=1e-9)
    budget = stats["budget"]
    assert budget["dp_weeks"] == 2
    assert budget["rho"] == pytest.approx(spent)
    thresholds = sum(stats["ledgers"][week["ledger"]]["thresholds_delta"] for week in weeks.values())
    assert budget["delta"] == pytest.approx(DELTA + thresholds)
    assert budget["epsilon"] == pytest.approx(epsilon(budget["rho"], thresholds, budget["delta"]))
    assert budget["epsilon"] > max(week["epsilon"] for week in weeks.values())
    assert len(stats["ledgers"]) == 2  # two budgets, two ledgers


async def test_the_page_and_insights_show_dp_numbers_with_their_intervals(storage: Storage) -> None:
    """300 installations of two integrations: enough for their keys to pass the noisy thresholds."""
    await _store(storage, [revision_2(make_report()) for _ in range(300)])
    assert await publish_due(storage, now=DUE) == ["2025-W18"]
    app = create_app(storage, Settings(purge_interval=0, publish_interval=0))
    async with TestClient(TestServer(app)) as client:
        page = await (await client.get("/")).text()
        index = await (await client.get("/v1/integrations")).json()
        document = await (await client.get("/v1/integrations/bambu")).json()
        insight_page = await (await client.get("/integrations/bambu")).text()
        missing = await client.get("/v1/integrations/nothing")
        reason = (await missing.json())["error"]
    assert "published under differential privacy" in page.lower()
    assert " \u00b1" in page  # a number with its interval
    assert "\u03c1 = 0.50" in page
    assert index["privacy"] == document["privacy"] == "dp"
    assert index["k_anonymity"] is None
    assert document["installations"][-1] > 0
    assert "differentially private count" in insight_page
    assert missing.status == 404
    assert "noisy threshold" in reason
    components = openapi_document()["components"]
    jsonschema.validate(
        document, {"$ref": "#/components/schemas/IntegrationInsights", "components": components}
    )


def _options(*argv: str) -> tuple[str, float, int]:
    return cli._privacy(cli._parser().parse_args(["serve", *argv]))


def test_the_command_line_chooses_the_rule() -> None:
    assert _options() == ("dp", DEFAULT_RHO, 5)
    assert _options("--rho", "2") == ("dp", 2.0, 5)
    assert _options("--k-anonymity", "3") == ("k-anonymity", DEFAULT_RHO, 3)
    assert _options("--privacy", "k-anonymity") == ("k-anonymity", DEFAULT_RHO, 5)
    for argv, problem in (
        (["--privacy", "dp", "--k-anonymity", "3"], "k-anonymity applies"),
        (["--privacy", "k-anonymity", "--rho", "1"], "rho applies"),
        (["--rho", "0"], "positive"),
        (["--rho", "nan"], "positive"),
        (["--k-anonymity", "0"], "at least 1"),
    ):
        with pytest.raises(SystemExit, match=problem):
            _options(*argv)


def test_a_weekly_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        week_ledger(-1.0)


async def test_an_unknown_rule_is_refused(storage: Storage) -> None:
    with pytest.raises(ValueError, match="unknown privacy rule"):
        await publish_due(storage, privacy="none", now=time.time())


async def test_large_weeks_are_clipped_by_worker_processes(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With PARALLEL_FROM reports to clip in a run, installations are clipped in worker processes,
    in batches cut at installation boundaries; the sums are those of clipping in this process (a
    week without ties, so clipping is the same wherever it runs)."""
    reports = [make_report() for _ in range(30)]
    twice = make_report()
    await _store(storage, [*reports, twice])
    again = make_report(twice["installation_id"])
    assert (await storage.submit_report(again, now=RECEIVED + 7200)).outcome is Outcome.ACCEPTED
    here = InstallationWeeks()
    async for batch in storage.week_reports("2025-W18", 7):
        here.feed(batch)
    expected = here.finish()
    clippers = publication_dp.Clippers(workers=2)
    pool = clippers.pool()
    assert pool is not None
    try:
        parallel = publication_dp.ParallelWeek(pool, clippers.workers)
        async for batch in storage.week_reports("2025-W18", 7):  # the second report may cross a batch
            await parallel.feed(batch)
        await parallel.feed([])
        week = await parallel.finish()
    finally:
        await clippers.close()
    assert week.installations == expected.installations == 31
    for metric, sums in expected.sums.items():
        assert week.sums[metric].installations == sums.installations, metric
        assert week.sums[metric].totals == sums.totals, metric
    # Through the publication run, with the threshold lowered.
    monkeypatch.setattr(publication, "PARALLEL_FROM", 1)
    assert await publish_due(storage, now=DUE) == ["2025-W18"]
    assert (await _stats(storage))[1]["weeks"][0]["privacy"] == "dp"


class _BrokenPool(Executor):
    """An executor whose workers died: every task fails as a broken process pool's does."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_exception(BrokenProcessPool("a worker died"))
        return future


async def test_a_broken_worker_pool_leaves_clipping_to_this_process(
    storage: Storage, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await _store(storage, [make_report() for _ in range(5)])
    monkeypatch.setattr(publication, "PARALLEL_FROM", 1)
    monkeypatch.setattr(
        publication_dp.Clippers, "pool", lambda self: _BrokenPool() if self.workers > 1 else None
    )
    monkeypatch.setattr(publication_dp, "_cpus", lambda: 2)
    assert await publish_due(storage, now=DUE) == ["2025-W18"]
    assert "worker processes failed" in caplog.text
    assert publication_dp.Clippers(workers=1).pool() is None  # one core: no workers

"""Weekly publication: the delay, fixed snapshots, k on every number, bounds, new-installation limit."""

from __future__ import annotations

import datetime as dt
import json
import random
import time
import uuid
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from collector_testlib import assert_k_everywhere, current_period, make_report, revision_2, week_period
from usage_stats_collector.aggregates import iso_week, shard_of
from usage_stats_collector.app import Settings, create_app
from usage_stats_collector.publication import (
    MAX_KEYS,
    MAX_WEEKS,
    due_weeks,
    publication_time,
    publish_due,
)
from usage_stats_collector.storage import Outcome, Storage, StoredReport

W18 = dt.date(2025, 4, 28)  # ISO week 2025-W18, Monday; the week ends Monday 2025-05-05 00:00 UTC
RECEIVED = dt.datetime(2025, 5, 5, 9, tzinfo=dt.UTC).timestamp()
DUE = dt.datetime(2025, 5, 8, tzinfo=dt.UTC).timestamp()  # the Thursday after, 00:00 UTC
EMPTY_JOBS: dict[str, dict[str, int]] = {
    "started": {},
    "completed": {},
    "failed": {},
    "cancelled": {},
    "duration": {},
}


def _empty_report() -> dict[str, Any]:
    """An installation that reports nothing but being there."""
    return make_report(
        printer_fleet={"printers": 0, "types": {}}, features={}, jobs=EMPTY_JOBS, events={}, errors={}
    )


async def _stats(storage: Storage, k: int) -> tuple[str, dict[str, Any]]:
    settings = Settings(privacy="k-anonymity", k_anonymity=k, purge_interval=0, publish_interval=0)
    async with TestClient(TestServer(create_app(storage, settings))) as client:
        response = await client.get("/v1/stats")
        assert response.status == 200
        assert response.content_type == "application/json"
        text = await response.text()
    return text, json.loads(text)


async def _submit_all(storage: Storage, reports: list[dict[str, Any]], now: float = RECEIVED) -> None:
    for report in reports:
        assert (await storage.submit_report(report, now=now)).outcome is Outcome.ACCEPTED


async def test_a_week_is_published_only_after_it_closed_and_the_delay(storage: Storage) -> None:
    assert publication_time("2025-W18", 3) == DUE
    await _submit_all(storage, [make_report() for _ in range(3)])
    assert await publish_due(storage, privacy="k-anonymity", k=3, now=DUE - 1) == []
    assert (await _stats(storage, 3))[1]["weeks"] == []
    assert await publish_due(storage, privacy="k-anonymity", k=3, now=DUE) == ["2025-W18"]
    stats = (await _stats(storage, 3))[1]
    assert [week["week"] for week in stats["weeks"]] == ["2025-W18"]
    assert stats["weeks"][0]["installations"] == 3
    assert stats["weeks"][0]["published_at"] == "2025-05-08"
    assert stats["publication_delay_days"] == 3
    # Published once: running it again writes nothing.
    assert await publish_due(storage, privacy="k-anonymity", k=3, now=DUE + 86400) == []
    # The delay is a setting.
    await _submit_all(storage, [make_report(period=week_period(W18 + dt.timedelta(days=7)))])
    assert await publish_due(storage, privacy="k-anonymity", k=1, delay_days=5, now=DUE + 7 * 86400) == []
    assert await publish_due(storage, privacy="k-anonymity", k=1, delay_days=5, now=DUE + 10 * 86400) == [
        "2025-W19"
    ]


async def test_one_report_or_deletion_changes_nothing_published(storage: Storage) -> None:
    """The differencing attack: read, let one installation report or be deleted, read again."""
    reports = [make_report() for _ in range(5)]
    await _submit_all(storage, reports)
    await publish_due(storage, privacy="k-anonymity", k=5, now=DUE)
    before, stats = await _stats(storage, 5)
    assert stats["weeks"][0]["installations"] == 5
    # A late report of the published week, a report of a week not published yet, and a deletion.
    victim = make_report(printer_fleet={"printers": 1, "types": {"rare_printer": 1}})
    await storage.submit_report(victim, now=DUE + 60)
    await storage.submit_report(make_report(period=current_period()))
    await storage.delete_installation(reports[0]["installation_id"])
    assert await publish_due(storage, privacy="k-anonymity", k=5, now=DUE + 120) == []
    after, stats_after = await _stats(storage, 5)
    # Only the count of late reports moved: the victim's report came after publication.
    assert stats_after["weeks"][0]["late_reports"] == 1
    assert after == before.replace('"late_reports":0', '"late_reports":1')


async def test_late_reports_are_stored_and_counted_not_published(storage: Storage) -> None:
    """A report after its week's publication: stored, not in the snapshot, counted as late."""
    await _submit_all(storage, [make_report() for _ in range(3)])
    assert await publish_due(storage, privacy="k-anonymity", k=3, now=DUE) == ["2025-W18"]
    text, stats = await _stats(storage, 3)
    assert stats["weeks"][0]["late_reports"] == 0
    # On time: received just before the publication (counted); late: just after it.
    late = [make_report(printer_fleet={"printers": 9, "types": {"late_printer": 9}}) for _ in range(3)]
    for report in late:
        assert (await storage.submit_report(report, now=DUE + 1)).outcome is Outcome.ACCEPTED
    assert await storage.count_reports() == 6
    _, stats = await _stats(storage, 3)
    (week,) = stats["weeks"]
    assert week["late_reports"] == 3
    assert week["reports"] == 3
    assert week["installations"] == 3
    assert "late_printer" not in json.dumps(week)
    assert json.loads(text)["weeks"][0] == {**week, "late_reports": 0}
    # A later week knows nothing of them; deleting one takes it out of the count.
    await storage.delete_installation(late[0]["installation_id"])
    assert (await _stats(storage, 3))[1]["weeks"][0]["late_reports"] == 2
    settings = Settings(privacy="k-anonymity", k_anonymity=3, purge_interval=0, publish_interval=0)
    async with TestClient(TestServer(create_app(storage, settings))) as client:
        page = await (await client.get("/")).text()
    assert "late reports (not counted)" in page


async def test_every_published_number_passes_k(storage: Storage) -> None:
    k = 3
    common = {"started": {"bambu_x1c": 1}, "completed": {}, "failed": {}, "cancelled": {}, "duration": {}}
    reports = []
    for index in range(4):
        reports.append(
            make_report(
                # Only two installations have printers: the week's printer total is withheld.
                printer_fleet={"printers": 1, "types": {"bambu_x1c": 1}}
                if index < 2
                else {"printers": 0, "types": {}},
                jobs=common,
                # Two rare types reported by one installation each: their "other" has two
                # installations, fewer than k, so it is left out.
                events={"ha_start": 1, f"rare_event_{index % 2}": 5} if index < 2 else {"ha_start": 1},
                # Three installations with rare error types, one each: "other" (3) is published.
                errors={"bambu": {"TimeoutError": 1, f"Rare{index}Error": 2}} if index < 3 else {},
                features={"bambu.camera": {"on": 7 if index == 0 else 0, "off": 0 if index == 0 else 7}},
            )
        )
    # One installation with a rare feature and a victim's rare key folded into "other" alone.
    reports.append(
        make_report(
            printer_fleet={"printers": 0, "types": {}},
            jobs=common,
            events={"ha_start": 1},
            errors={"rare_integration": {"KeyError": 7}},
            features={"bambu.camera": {"on": 0, "off": 7}, "rare.feature": {"on": 1, "off": 0}},
        )
    )
    await _submit_all(storage, reports)
    await publish_due(storage, privacy="k-anonymity", k=k, now=DUE)
    text, stats = await _stats(storage, k)
    week = stats["weeks"][0]
    assert week["installations"] == 5
    assert week["printers"] is None
    assert week["printer_types"] == {}  # bambu_x1c: 2 installations
    assert week["events"] == {"ha_start": {"total": 5, "installations": 5}}
    assert week["jobs"]["started"] == {"bambu_x1c": {"total": 5, "installations": 5}}
    assert week["errors"] == {
        "bambu": {
            "total": 9,
            "installations": 3,
            "types": {
                "TimeoutError": {"total": 3, "installations": 3},
                "other": {"total": 6, "installations": 3},
            },
            "versions": {},  # no report names bambu's version (revision 2)
        }
    }
    # One installation had the camera on, four off: only the "off" side is published.
    assert week["features"] == {
        "bambu.camera": {"installations": 5, "installations_on": None, "on": None, "off": 28}
    }
    for secret in ("rare_printer", "rare_event", "rare_integration", "rare.feature", "KeyError", "Rare0"):
        assert secret not in text
    assert_k_everywhere(week, k)


async def test_week_of_one_real_and_empty_installations_is_withheld(storage: Storage) -> None:
    await _submit_all(storage, [make_report()] + [_empty_report() for _ in range(4)])
    assert await publish_due(storage, privacy="k-anonymity", k=5, now=DUE) == ["2025-W18"]
    _, stats = await _stats(storage, 5)
    assert stats["weeks"] == []
    assert stats["suppressed_weeks"] == 1
    # Withheld for good: a fifth real installation reporting late does not publish it.
    await _submit_all(storage, [make_report()], now=DUE + 60)
    assert await publish_due(storage, privacy="k-anonymity", k=5, now=DUE + 120) == []
    assert (await _stats(storage, 5))[1]["suppressed_weeks"] == 1


async def test_publication_is_bounded(storage: Storage) -> None:
    now = time.time()
    many_keys = {f"event_{index:03d}": 1 for index in range(MAX_KEYS + 20)}
    items = [
        StoredReport.from_report(make_report(events=many_keys, period=week_period(W18)), now)
        for _ in range(2)
    ]
    # Weeks far outside the retention period are never considered.
    for monday in (dt.date(1, 1, 1), dt.date(9999, 12, 20)):
        items.append(StoredReport.from_report(make_report(period=week_period(monday)), now))
    await storage.bulk_load(items)
    assert await publish_due(storage, privacy="k-anonymity", k=1, now=DUE, retention_days=30) == ["2025-W18"]
    assert len(due_weeks(DUE, 2, retention_days=1e12)) == MAX_WEEKS
    week = (await _stats(storage, 1))[1]["weeks"][0]
    assert len(week["events"]) == MAX_KEYS + 1  # and "other"
    assert week["events"]["other"] == {"total": 40, "installations": 2}
    for index in range(MAX_WEEKS + 6):
        later = iso_week(dt.date(2026, 1, 5) + dt.timedelta(weeks=index))
        assert await storage.store_publication(later, 1, None, now)
    stats = (await _stats(storage, 1))[1]
    assert stats["weeks"] == []  # only the newest MAX_WEEKS weeks are served
    assert stats["suppressed_weeks"] == MAX_WEEKS


def _ids_in_one_shard(count: int) -> list[str]:
    rng = random.Random(10)
    ids: list[str] = []
    while len(ids) < count:
        candidate = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if shard_of(candidate) == 3:
            ids.append(candidate)
    return ids


async def test_new_installations_per_week_are_limited(make_storage: Any) -> None:
    storage = await make_storage()
    limited = Storage(
        storage.url.render_as_string(hide_password=False),
        schema=storage.schema,
        max_new_installations_per_week=32,  # two per shard
    )
    try:
        first, second, third, fourth = _ids_in_one_shard(4)
        now = dt.datetime(2025, 5, 9, 12, tzinfo=dt.UTC).timestamp()  # a Friday
        for installation in (first, second):
            assert (
                await limited.submit_report(make_report(installation), now=now)
            ).outcome is Outcome.ACCEPTED
        refused = await limited.submit_report(make_report(third), now=now)
        assert refused.outcome is Outcome.TOO_MANY_NEW
        assert refused.retry_after == int(2.5 * 86400)  # until Monday 00:00 UTC
        # A refusal keeps nothing: not the report, and not the hour (a retry is refused the same way).
        again = await limited.submit_report(make_report(third), now=now + 1)
        assert again.outcome is Outcome.TOO_MANY_NEW
        # Known installations are not new; an unlimited storage is not limited.
        assert (await limited.submit_report(make_report(first), now=now + 3600)).outcome is Outcome.ACCEPTED
        assert (await storage.submit_report(make_report(fourth), now=now)).outcome is Outcome.ACCEPTED
        # The next week has room again.
        next_week = now + 3 * 86400
        assert (await limited.submit_report(make_report(third), now=next_week)).outcome is Outcome.ACCEPTED
        assert await limited.count_reports() == 5
        # Over HTTP: 429 with a reason and a Retry-After.
        app = create_app(
            limited, Settings(privacy="k-anonymity", k_anonymity=1, purge_interval=0, publish_interval=0)
        )
        async with TestClient(TestServer(app)) as client:
            fresh = _ids_in_one_shard(40)[4:]
            statuses = []
            for installation in fresh:
                response = await client.post(
                    "/v1/reports", json=make_report(installation, period=current_period())
                )
                statuses.append(response.status)
                if response.status == 429:
                    assert await response.json() == {"error": "too many new installations this week"}
                    assert 0 < int(response.headers["Retry-After"]) <= 7 * 86400
            assert statuses[:2] == [201, 201]
            assert set(statuses[2:]) == {429}
        # Old counts are purged.
        await limited.purge(400, now=time.time() + 30 * 86400)
    finally:
        await limited.close()


async def test_publication_loop_runs_in_the_server(storage: Storage) -> None:
    today = dt.datetime.now(dt.UTC).date()
    monday = today - dt.timedelta(days=today.weekday() + 14)  # a week that is due, whatever today is
    await _submit_all(storage, [make_report(period=week_period(monday)) for _ in range(2)], time.time())
    app = create_app(
        storage, Settings(privacy="k-anonymity", k_anonymity=2, purge_interval=0, publish_interval=0.05)
    )
    async with TestClient(TestServer(app)) as client:
        for _ in range(200):
            if (await (await client.get("/v1/stats")).json())["weeks"]:
                break
            await _sleep()
        stats = await (await client.get("/v1/stats")).json()
    assert [week["week"] for week in stats["weeks"]] == [iso_week(monday)]


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.02)


async def test_rare_error_components_are_one_other_of_k_installations(storage: Storage) -> None:
    reports = [
        make_report(errors={"bambu": {"TimeoutError": 1}, f"rare_{index}": {"KeyError": index + 1}})
        for index in range(3)
    ]
    await _submit_all(storage, reports)
    await publish_due(storage, privacy="k-anonymity", k=3, now=DUE)
    text, stats = await _stats(storage, 3)
    assert stats["weeks"][0]["errors"] == {
        "bambu": {
            "total": 3,
            "installations": 3,
            "types": {"TimeoutError": {"total": 3, "installations": 3}},
            "versions": {},
        },
        "other": {"total": 6, "installations": 3, "types": {}},
    }
    assert "rare_" not in text
    assert "KeyError" not in text


async def test_a_week_without_rare_keys_needs_no_scan(storage: Storage) -> None:
    await _submit_all(storage, [make_report() for _ in range(2)])
    assert await publish_due(storage, privacy="k-anonymity", k=2, now=DUE) == ["2025-W18"]
    week = (await _stats(storage, 2))[1]["weeks"][0]
    assert "other" not in week["printer_types"]
    assert week["printers"] == 4


async def test_section_counts_below_k_are_withheld(storage: Storage) -> None:
    reports = [make_report() for _ in range(3)]
    del reports[0]["events"]
    await _submit_all(storage, reports)
    await publish_due(storage, privacy="k-anonymity", k=3, now=DUE)
    week = (await _stats(storage, 3))[1]["weeks"][0]
    assert week["sections"] == {
        "printer_fleet": 3,
        "features": 3,
        "jobs": 3,
        "events": None,
        "errors": 3,
    }
    assert_k_everywhere(week, 3)


async def test_published_statistics_match_the_api_description(storage: Storage) -> None:
    import jsonschema

    from usage_stats_collector.openapi import openapi_document

    await _submit_all(storage, [revision_2(make_report()) for _ in range(2)] + [_empty_report()])
    await publish_due(storage, privacy="k-anonymity", k=2, now=DUE)
    stats = (await _stats(storage, 2))[1]
    assert len(stats["weeks"]) == 1
    assert stats["weeks"][0]["integrations"]["bambu"]["versions"] == {
        "2.1.0": {"total": 2, "installations": 2}
    }
    document = openapi_document()
    jsonschema.validate(stats, {"$ref": "#/components/schemas/Stats", "components": document["components"]})

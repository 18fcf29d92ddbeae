"""End to end: Home Assistant with the integration sends a report to a real collector.

A real Home Assistant process is started from the development configuration, with
a store seeded as an installation that has been sharing for some days would have
it. The integration is set up through its config flow over the HTTP API, with
`share` and the endpoint of a real collector process; `usage_stats.submit` sends the
report, which the collector stores (it publishes a week only after the week has ended),
and `usage_stats.delete` removes it there. Leaving `share` in the options removes it there too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
import json
from pathlib import Path
from typing import Any
import uuid

import httpx
import pytest

from custom_components.usage_stats.catalogue import (
    EVENTS,
    JOBS,
    PRINTERS,
    PRINTERS_BY_TYPE,
    Metric,
)
from custom_components.usage_stats.const import (
    DOMAIN,
    STORAGE_KEY,
    STORAGE_MINOR_VERSION,
    STORAGE_VERSION,
)
from custom_components.usage_stats.store import empty_data, snapshot

from .conftest import (
    HTTP_TIMEOUT,
    Collector,
    HomeAssistantConfig,
    api_client,
    onboard,
    wait_for,
)

# Whole days of sharing before the test: the grant day and the days up to yesterday.
DAYS_SHARING = 5
# `usage_stats.delete` sends the deletion request at once, not at the submission
# loop's next look at the outbox (once a minute): well under this.
DELETION_TIMEOUT = 10.0

type Days = dict[str, dict[str, dict[str, int]]]


def _key(metric: Metric, *labels: str) -> str:
    """Return the stored label key, as the integration makes it."""
    key = metric.label_key(*labels)
    assert key is not None, (metric.name, labels)
    return key


def _counts(metric: Metric, *labels: str, count: int) -> dict[str, dict[str, int]]:
    return {metric.name: {_key(metric, *labels): count}}


def seed_store(storage_dir: Path, granted_at: datetime, installation_id: str) -> Days:
    """Write `.storage/usage_stats.data` as an installation sharing since `granted_at`.

    Built with the integration's own `empty_data` and `snapshot` (which writes the
    compact on-disk `days`), so the file follows the current storage format.
    Returns the seeded daily counters.
    """
    grant_day = granted_at.date()
    days: Days = {}
    for offset in range(DAYS_SHARING):
        day = grant_day + timedelta(days=offset)
        days[day.isoformat()] = {
            # Snapshots: two Prusa printers every day.
            **_counts(PRINTERS, count=2),
            **_counts(PRINTERS_BY_TYPE, "prusa", count=2),
            # Counters: offset + 1 completed jobs and one start a day.
            **_counts(JOBS, "completed", "prusa", count=offset + 1),
            **_counts(EVENTS, "ha_start", count=1),
        }
    # On the grant day, two jobs and the start were counted before `share` was
    # granted: the baseline the integration took then (submission.consent_changed
    # keeps the counters, not the snapshots), never sent.
    days[grant_day.isoformat()][JOBS.name][_key(JOBS, "completed", "prusa")] = 3
    data = empty_data()
    data["consent"] = {
        "level": "share",
        "changed_at": granted_at.isoformat(),
        "share_granted_at": granted_at.isoformat(),
        "report_version": 1,
        "declined_version": None,
    }
    data["installation_id"] = installation_id
    data["days"] = days
    data["submission"]["baseline"] = {
        "day": grant_day.isoformat(),
        "metrics": {
            **_counts(JOBS, "completed", "prusa", count=2),
            **_counts(EVENTS, "ha_start", count=1),
        },
    }
    storage_dir.mkdir(parents=True, exist_ok=True)
    (storage_dir / STORAGE_KEY).write_text(
        json.dumps(
            {
                "version": STORAGE_VERSION,
                "minor_version": STORAGE_MINOR_VERSION,
                "key": STORAGE_KEY,
                "data": snapshot(data),
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    return days


def call_action(ha: httpx.Client, action: str) -> dict[str, Any]:
    """Call a `usage_stats` action over the REST API and return its response."""
    response = ha.post(f"/api/services/{DOMAIN}/{action}?return_response", json={})
    assert response.status_code == 200, (
        f"{action}: {response.status_code} {response.text}"
    )
    result: dict[str, Any] = response.json()["service_response"]
    return result


def admin_reports(collector: Collector, installation_id: str) -> list[dict[str, Any]]:
    """Return the raw reports the collector keeps of an installation (admin export)."""
    response = httpx.get(
        f"{collector.url}/v1/admin/installations/{installation_id}",
        headers={"Authorization": f"Bearer {collector.admin_token}"},
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 200, response.text
    reports: list[dict[str, Any]] = response.json()["reports"]
    return reports


def public_stats(collector: Collector) -> dict[str, Any]:
    """Return the collector's public statistics."""
    response = httpx.get(f"{collector.url}/v1/stats", timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    stats: dict[str, Any] = response.json()
    return stats


def iso_week(day: date) -> str:
    """Return the ISO week of a day as the collector names it."""
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def add_entry_with_share(ha: httpx.Client, endpoint: str) -> None:
    """Add the integration through its config flow, as the frontend does: share."""
    flow = ha.post(
        "/api/config/config_entries/flow",
        json={"handler": DOMAIN, "show_advanced_options": False},
    ).json()
    assert (flow["type"], flow["step_id"]) == ("form", "user"), flow
    step = ha.post(
        f"/api/config/config_entries/flow/{flow['flow_id']}",
        json={"consent": "share"},
    ).json()
    assert (step["type"], step["step_id"]) == ("form", "share"), step
    created = ha.post(
        f"/api/config/config_entries/flow/{flow['flow_id']}",
        json={"endpoint": endpoint},
    ).json()
    assert created["type"] == "create_entry", created
    assert created["result"]["state"] == "loaded", created


@pytest.mark.timeout(170)
def test_submit_and_delete_through_a_real_collector(
    collector: Collector, home_assistant_config: HomeAssistantConfig
) -> None:
    """Set up with `share` over HTTP, submit, see the report stored, delete it.

    Nothing is published before the report's week is closed.
    """
    today = datetime.now(UTC).date()
    granted_at = datetime.combine(
        today - timedelta(days=DAYS_SHARING), time(9, 30), UTC
    )
    installation_id = str(uuid.uuid4())
    days = seed_store(home_assistant_config.storage_dir, granted_at, installation_id)

    home_assistant = home_assistant_config.start()
    token = onboard(home_assistant.url)
    with api_client(home_assistant, token) as ha:
        add_entry_with_share(ha, collector.url)

        # The entry was created with the level in the store, so the consent record
        # (and its grant date) and the installation id are the seeded ones.
        export = call_action(ha, "export")
        assert export["consent"]["level"] == "share"
        assert export["consent"]["share_granted_at"] == granted_at.isoformat()
        assert export["installation_id"] == installation_id

        # What submit will send: the grant day (less its baseline) to yesterday.
        preview = call_action(ha, "preview")
        assert preview["endpoint"] == f"{collector.url}/v1/reports"
        assert preview["format"] == "json"
        payload = preview["payload"]
        grant_day = granted_at.date()
        yesterday = today - timedelta(days=1)
        assert payload["installation_id"] == installation_id
        assert payload["period"] == {
            "start": grant_day.isoformat(),
            "end": yesterday.isoformat(),
            "days": DAYS_SHARING,
        }
        completed = sum(
            day[JOBS.name][_key(JOBS, "completed", "prusa")] for day in days.values()
        )
        assert payload["printer_fleet"] == {"printers": 2, "types": {"prusa": 2}}
        # Two completed jobs and one start of the grant day were counted before
        # the grant (the baseline) and are not sent.
        assert payload["jobs"]["completed"] == {"prusa": completed - 2}
        assert payload["events"] == {"ha_start": DAYS_SHARING - 1}
        # The seeded installation accepted report version 1 and has not answered the
        # question about version 2: a plain revision 0 report, without what version 2
        # added (the collector accepts it below).
        assert "schema_minor" not in payload
        assert "interrupted" not in payload["jobs"]

        published = public_stats(collector)
        result = call_action(ha, "submit")
        assert result == {
            "outcome": "accepted",
            "kind": "report",
            "id": payload["submission_id"],
            "status_code": 201,
            "reports_waiting": 0,
        }

        # The collector keeps exactly the previewed report ...
        stored = admin_reports(collector, installation_id)
        assert [report["report"] for report in stored] == [payload]
        # ... and publishes nothing new: a week is published once, from a fixed snapshot, after
        # it has ended, so reading the statistics before and after one report shows no change.
        assert public_stats(collector) == published
        assert published["k_anonymity"] == 1
        assert iso_week(grant_day) not in [week["week"] for week in published["weeks"]]

        # Delete: local data goes at once, a deletion request is queued for the
        # collector, which got reports with the old installation id.
        deleted = call_action(ha, "delete")
        assert deleted == {"deletion_requests": 1, "reports_waiting": 1}

        # The deletion request goes out at once.
        wait_for(
            "the collector to delete the installation's reports",
            lambda: admin_reports(collector, installation_id) == [] or None,
            DELETION_TIMEOUT,
            interval=1.0,
            process=home_assistant.process,
        )
        history: list[dict[str, Any]] = wait_for(
            "Home Assistant to note the deletion request as accepted",
            lambda: call_action(ha, "export")["history"] or None,
            HTTP_TIMEOUT,
        )
        assert [(h["kind"], h["outcome"], h["status_code"]) for h in history] == [
            ("deletion", "accepted", 200)
        ]
        export = call_action(ha, "export")
        assert export["outbox"] == []
        assert export["installation_id"] not in (None, installation_id)
        # The seeded counters are gone (the collectors may have counted today anew).
        assert set(export["days"]) <= {today.isoformat()}

    # Nothing was published from it, nor changed by its deletion.
    assert public_stats(collector) == published

    # Nothing of this in Home Assistant's log: no ERROR or WARNING of ours, up to
    # and including the stop.
    home_assistant_config.stop()
    assert home_assistant_config.log_problems() == []


def lower_consent_in_options(ha: httpx.Client, endpoint: str, level: str) -> None:
    """Change the consent level through the options flow, as the frontend does."""
    (entry,) = ha.get(
        "/api/config/config_entries/entry", params={"domain": DOMAIN}
    ).json()
    flow = ha.post(
        "/api/config/config_entries/options/flow",
        json={"handler": entry["entry_id"], "show_advanced_options": False},
    ).json()
    assert (flow["type"], flow["step_id"]) == ("form", "init"), flow
    done = ha.post(
        f"/api/config/config_entries/options/flow/{flow['flow_id']}",
        json={"consent": level, "endpoint": endpoint, "retention_days": 90},
    ).json()
    assert done["type"] == "create_entry", done


@pytest.mark.timeout(170)
def test_leaving_share_deletes_the_reports_at_the_collector(
    collector: Collector, home_assistant_config: HomeAssistantConfig
) -> None:
    """Submit, then choose `local`: the collector keeps no report of the old id."""
    today = datetime.now(UTC).date()
    granted_at = datetime.combine(
        today - timedelta(days=DAYS_SHARING), time(9, 30), UTC
    )
    installation_id = str(uuid.uuid4())
    days = seed_store(home_assistant_config.storage_dir, granted_at, installation_id)

    home_assistant = home_assistant_config.start()
    token = onboard(home_assistant.url)
    with api_client(home_assistant, token) as ha:
        add_entry_with_share(ha, collector.url)
        submitted = call_action(ha, "submit")
        assert submitted["outcome"] == "accepted"
        assert len(admin_reports(collector, installation_id)) == 1

        lower_consent_in_options(ha, collector.url, "local")

        # The deletion request goes out at once, as the entry reloads.
        wait_for(
            "the collector to delete the installation's reports",
            lambda: admin_reports(collector, installation_id) == [] or None,
            DELETION_TIMEOUT,
            interval=1.0,
            process=home_assistant.process,
        )
        history: list[dict[str, Any]] = wait_for(
            "Home Assistant to note the deletion request as accepted",
            lambda: [
                h
                for h in call_action(ha, "export")["history"]
                if h["kind"] == "deletion"
            ]
            or None,
            HTTP_TIMEOUT,
        )
        assert [(h["outcome"], h["status_code"]) for h in history] == [
            ("accepted", 200)
        ]
        export = call_action(ha, "export")
        assert export["consent"]["level"] == "local"
        assert export["outbox"] == []
        assert export["installation_id"] not in (None, installation_id)
        # The local counters stay.
        assert set(days) <= set(export["days"])
        # The accepted report is still in the local archive, exactly as sent.
        assert [a["id"] for a in export["archive"]] == [submitted["id"]]

    assert public_stats(collector)["weeks"] == []

    home_assistant_config.stop()
    assert home_assistant_config.log_problems() == []

"""Tests of the export, preview, delete and submit actions."""

from __future__ import annotations

from datetime import timedelta
import json
from pathlib import Path
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser

from custom_components.usage_stats.catalogue import EVENTS, PRINTERS_BY_TYPE
from custom_components.usage_stats.const import (
    CONF_CONSENT,
    CONF_FORMAT,
    DOMAIN,
    STORAGE_KEY,
)
from custom_components.usage_stats.coordinator import UsageStatsCoordinator
from custom_components.usage_stats.report import MAX_REPORT_BYTES, PLACEHOLDER_ID
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import (
    HomeAssistantError,
    ServiceValidationError,
    Unauthorized,
)
from homeassistant.setup import async_setup_component

from .helpers import (
    Answer,
    Receiver,
    advance,
    assert_valid_deletion,
    assert_valid_report,
    parse_otlp,
    record_week,
    set_schedule,
    settle,
    share_with,
)


@pytest.fixture
def options(receiver: Receiver) -> dict[str, Any]:
    """Share with the receiver."""
    return share_with(receiver)


async def _call(
    hass: HomeAssistant, service: str, data: dict[str, Any] | None = None, **kwargs: Any
) -> Any:
    return await hass.services.async_call(
        DOMAIN, service, data or {}, blocking=True, return_response=True, **kwargs
    )


async def test_preview_equals_the_body_sent(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The preview is exactly what submit sends next, id included."""
    record_week(coordinator, freezer)
    freezer.move_to("2026-11-10T12:00:00+00:00")
    preview = await _call(hass, "preview")
    assert preview["endpoint"] == f"{receiver.url}/v1/reports"
    assert preview["format"] == "json"
    assert preview["partial_day"] is None  # At share: whole days only.
    assert_valid_report(preview["payload"])
    # The days not yet reported, up to yesterday, in reports of one ISO week each:
    # the first is the week of 2 November.
    assert preview["payload"]["period"] == {
        "start": "2026-11-02",
        "end": "2026-11-08",
        "days": 7,
    }
    # Asking again shows the same report.
    assert await _call(hass, "preview") == preview

    result = await _call(hass, "submit")
    assert result == {
        "outcome": "accepted",
        "kind": "report",
        "id": preview["payload"]["submission_id"],
        "status_code": 200,
        "reports_waiting": 1,
    }
    assert receiver.requests[0].json() == preview["payload"]

    # The next report waits (one request an hour): Monday 9 November, of the next week.
    waiting = (await _call(hass, "preview"))["payload"]
    assert waiting["period"] == {"start": "2026-11-09", "end": "2026-11-09", "days": 1}
    await advance(hass, freezer, timedelta(minutes=61))
    assert receiver.requests[1].json() == waiting
    # Nothing left: the next preview is empty until a whole day passed.
    assert (await _call(hass, "preview"))["payload"] is None


async def test_preview_of_a_waiting_report(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
) -> None:
    """A waiting report is what the next submission sends, in the chosen format."""
    receiver.answers = [Answer(500)]
    record_week(coordinator, freezer)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    waiting = coordinator.submission.state["outbox"][0]["body"]
    assert (await _call(hass, "preview"))["payload"] == waiting

    hass.config_entries.async_update_entry(
        mock_config_entry, options={**mock_config_entry.options, CONF_FORMAT: "otlp"}
    )
    await hass.async_block_till_done()
    preview = await _call(hass, "preview")
    assert preview["endpoint"] == f"{receiver.url}/v1/metrics"
    assert preview["format"] == "otlp"
    parse_otlp(preview["payload"])
    await advance(hass, freezer, "2026-11-09T08:00:00+00:00")
    assert json.loads(receiver.requests[-1].body) == preview["payload"]


@pytest.mark.parametrize("options", [{CONF_CONSENT: "local", "retention_days": 90}])
async def test_preview_before_sharing(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    options: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """Below share the preview shows the last seven days with placeholder ids."""
    coordinator = init_integration.runtime_data
    coordinator.record(EVENTS, "ha_start")
    freezer.tick(86_400)
    preview = await _call(hass, "preview")
    assert preview["endpoint"] is None
    payload = preview["payload"]
    assert_valid_report(payload)
    assert payload["installation_id"] == PLACEHOLDER_ID
    assert payload["period"]["days"] == 7
    assert payload["events"] == {"ha_start": 1}


@pytest.mark.parametrize("options", [{CONF_CONSENT: "local", "retention_days": 90}])
async def test_preview_before_sharing_includes_today(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    printers: dict[str, str],
    options: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """On the first day the preview shows today's printers and jobs, marked partial."""
    freezer.move_to("2026-11-24T10:00:00+00:00")
    hass.states.async_set(printers["prusa_1"], "idle")
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    for state in ("printing", "finished"):
        hass.states.async_set(printers["prusa_1"], state)
        await hass.async_block_till_done()
    await settle(hass, freezer)

    preview = await _call(hass, "preview")
    payload = preview["payload"]
    assert_valid_report(payload)
    assert payload["period"] == {"start": "2026-11-18", "end": "2026-11-24", "days": 7}
    assert preview["partial_day"] == "2026-11-24"
    # The Bambu Lab printer's model is read from the printer (PrusaLink reads none);
    # the printer integrations are not loaded here, so they have no version.
    assert payload["printer_fleet"] == {
        "printers": 3,
        "types": {"prusa": 2, "bambu_lab": 1},
        "integrations": {},
        "models": {"bambu_lab": {"x1c": 1}},
        "firmware": {},
    }
    assert payload["jobs"]["completed"] == {"prusa": 1}
    assert payload["jobs"]["by_model"] == {}


async def test_submit_hourly_limit(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
) -> None:
    """At most one request an hour, whoever asks."""
    set_schedule(coordinator, second=0)
    record_week(coordinator, freezer)
    freezer.move_to("2026-11-08T23:30:00+00:00")
    await _call(hass, "submit")
    # The weekly run queues the rest but waits for the hour too.
    await advance(hass, freezer, "2026-11-09T00:00:30+00:00")
    assert len(receiver.requests) == 1
    assert coordinator.submission.reports_waiting == 1
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "submit")
    assert err.value.translation_key == "rate_limited"
    assert err.value.translation_placeholders == {
        "time": "2026-11-08 16:30"
    }  # US/Pacific
    await advance(hass, freezer, "2026-11-09T00:30:30+00:00")
    assert len(receiver.requests) == 2
    assert [b["period"]["end"] for b in receiver.bodies()] == [
        "2026-11-07",
        "2026-11-08",
    ]
    freezer.move_to("2026-11-09T08:01:00+00:00")
    assert await _call(hass, "submit") == {
        "outcome": "nothing_to_send",
        "reports_waiting": 0,
    }


async def test_submit_failures(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A failed submit raises, and the report stays queued unless it was refused."""
    record_week(coordinator, freezer)
    freezer.move_to("2026-11-09T12:00:00+00:00")
    receiver.answers = [Answer(502), Answer(422)]
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "submit")
    assert err.value.translation_key == "submission_failed"
    assert err.value.translation_placeholders["reason"] == "502"
    assert coordinator.submission.reports_waiting == 1
    freezer.tick(3 * 3600)
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "submit")
    assert err.value.translation_key == "submission_rejected"
    assert coordinator.submission.reports_waiting == 0


@pytest.mark.parametrize("options", [{CONF_CONSENT: "local", "retention_days": 90}])
async def test_submit_needs_share(
    hass: HomeAssistant, init_integration: MockConfigEntry, options: dict[str, Any]
) -> None:
    """Nothing is submitted below share."""
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "submit")
    assert err.value.translation_key == "share_required"


async def test_delete_sends_a_deletion_request(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Delete erases everything and renews the id; deletion requests go on below share."""
    record_week(coordinator, freezer)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    old_id = coordinator.installation_id
    coordinator.record(EVENTS, "ha_start")

    # Leaving share asks the endpoint to delete the reports at once; it fails once.
    receiver.answers = [Answer(503)]
    hass.config_entries.async_update_entry(
        mock_config_entry, options={**mock_config_entry.options, CONF_CONSENT: "local"}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    coordinator = mock_config_entry.runtime_data
    assert len(receiver.bodies("/v1/deletion")) == 1
    assert coordinator.submission.reports_waiting == 1

    result = await _call(hass, "delete")
    # The id was already replaced on leaving share: nothing more to ask for.
    assert result == {"deletion_requests": 0, "reports_waiting": 1}
    assert coordinator.stored["days"] == {}
    assert coordinator.submission.state["history"] == []
    assert coordinator.submission.last_success is None
    assert coordinator.installation_id not in (None, old_id)
    # Written at once.
    assert hass_storage[STORAGE_KEY]["data"]["days"] == {"keys": [], "counts": {}}

    # The waiting deletion request is retried at `local` and delivered.
    await advance(hass, freezer, timedelta(hours=3))
    deletion = receiver.bodies("/v1/deletion")
    assert len(deletion) == 2
    assert_valid_deletion(deletion[1])
    assert deletion[1] == deletion[0]
    assert deletion[1]["installation_id"] == old_id
    assert coordinator.submission.reports_waiting == 0
    assert coordinator.submission.status == "disabled"


async def test_delete_at_share_starts_afresh(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
) -> None:
    """After a delete at share, reports carry the new id and only new counts."""
    receiver.answers = [Answer(500)]
    record_week(coordinator, freezer)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    assert (await _call(hass, "delete"))["deletion_requests"] == 1
    await hass.async_block_till_done(wait_background_tasks=True)
    deletion = receiver.requests[1]
    assert deletion.path == "/v1/deletion"  # At once.
    new_id = coordinator.installation_id
    coordinator.record(EVENTS, "printer_online")
    await advance(hass, freezer, "2026-11-16T06:00:30+00:00")
    (report,) = receiver.requests[2:]
    assert report.path == "/v1/reports"
    body = report.json()
    assert body["installation_id"] == new_id
    assert body["period"]["start"] == "2026-11-09"
    assert body["events"] == {"printer_online": 1}


async def test_export(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    tmp_path: Path,
) -> None:
    """Export returns everything stored, and writes it to a file when asked."""
    hass.config.config_dir = str(tmp_path)
    receiver.answers = [Answer(500)]
    record_week(coordinator, freezer)
    coordinator.record_snapshot(PRINTERS_BY_TYPE, {("prusa",): 2})
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    result = await _call(hass, "export")
    assert set(result) == {
        "consent",
        "installation_id",
        "days",
        "outbox",
        "history",
        "archive",
        "submission",
        "open_jobs",
    }
    assert result["open_jobs"] == {}
    assert result["consent"]["level"] == "share"
    assert result["installation_id"] == coordinator.installation_id
    assert result["days"]["2026-11-08"]["printers_by_type"] == {"prusa": 2}
    assert result["outbox"][0]["body"]["period"]["start"] == "2026-11-02"
    assert result["submission"]["schedule"] == {"second": 21600}

    result = await _call(hass, "export", {"filename": "export.json"})
    path = tmp_path / DOMAIN / "export.json"
    assert result["path"] == str(path)
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written == {key: value for key, value in result.items() if key != "path"}
    assert path.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    "filename", ["../secrets.yaml", "sub/export.json", "a\\b.json", "..", ".hidden", ""]
)
async def test_export_refuses_paths(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    tmp_path: Path,
    filename: str,
) -> None:
    """Only a bare file name is accepted."""
    hass.config.config_dir = str(tmp_path)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "export", {"filename": filename})
    assert err.value.translation_key == "invalid_filename"
    assert not (tmp_path / DOMAIN).exists()


async def test_export_write_failure(
    hass: HomeAssistant, init_integration: MockConfigEntry, tmp_path: Path
) -> None:
    """A file that cannot be written is a translated error."""
    hass.config.config_dir = str(tmp_path)
    with (
        patch(
            "custom_components.usage_stats.actions.write_utf8_file",
            side_effect=OSError("disk full"),
        ),
        pytest.raises(HomeAssistantError) as err,
    ):
        await _call(hass, "export", {"filename": "export.json"})
    assert err.value.translation_key == "export_failed"


@pytest.mark.parametrize("service", ["export", "delete", "submit"])
async def test_admin_only(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_read_only_user: MockUser,
    service: str,
) -> None:
    """Export, delete and submit need an administrator; preview does not."""
    with pytest.raises(Unauthorized):
        await _call(hass, service, context=Context(user_id=hass_read_only_user.id))
    await _call(hass, "preview", context=Context(user_id=hass_read_only_user.id))


async def test_unknown_user(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A call from a user that does not exist is refused."""
    with pytest.raises(Unauthorized):
        await _call(hass, "delete", context=Context(user_id="nobody"))


async def test_services_without_entry(hass: HomeAssistant) -> None:
    """The actions exist without a loaded entry, and say so."""
    assert await async_setup_component(hass, DOMAIN, {})
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "preview")
    assert err.value.translation_key == "not_loaded"


async def test_huge_fleet_report_is_capped(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The body sent stays within 10 KB with a huge fleet."""
    for day in range(2, 9):
        coordinator.stored["days"][f"2026-11-0{day}"] = {
            "printers": {"": 10_000},
            "printers_by_type": {f"type_{day}_{i:03}": 1 for i in range(50)},
            "jobs": {f"completed/type_{day}_{i:03}": 3 for i in range(50)},
            "errors": {f"component_{i:02}/Error{day}{i:02}": 1 for i in range(50)},
            "events": {f"custom_event_{day}_{i:02}": 2 for i in range(50)},
        }
    freezer.move_to("2026-11-09T12:00:00+00:00")
    await _call(hass, "submit")
    request = receiver.requests[0]
    assert len(request.body) <= MAX_REPORT_BYTES
    body = request.json()
    assert_valid_report(body)
    assert body["printer_fleet"]["printers"] == 10_000
    assert sum(body["jobs"]["completed"].values()) == 7 * 50 * 3

"""Report versions and re-consent, through the repairs fix flow and a real receiver.

No metric has been added since report version 1 yet, so these tests stand in a
newer catalogue: `event_metadata` as introduced by version 2 (and `errors` by 3).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import (
    CLIENT_ID,
    MockConfigEntry,
    MockUser,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.usage_stats.catalogue import (
    ERRORS,
    EVENT_METADATA,
    EVENTS,
    METRICS,
    metrics_added,
    report_version,
)
from custom_components.usage_stats.const import CONF_CONSENT, DOMAIN, STORAGE_KEY
from custom_components.usage_stats.coordinator import UsageStatsCoordinator
from custom_components.usage_stats.repairs import ISSUE_REPORT_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component

from .helpers import GRANTED, Receiver, advance, share_with

INSTALLATION_ID = "9b2f6c1e-7d4a-4e3b-a1c2-d3e4f5a6b7c8"
METADATA_KEY = "filament_change.material.petg"


@pytest.fixture
def newer_catalogue() -> Generator[None]:
    """Stand in a catalogue whose report version 2 added `event_metadata`."""
    with patch.dict(METRICS, {EVENT_METADATA.name: replace(EVENT_METADATA, since=2)}):
        yield


@pytest.fixture
def options(receiver: Receiver) -> dict[str, Any]:
    """Share with the receiver."""
    return share_with(receiver)


def _store_1_4(level: str = "share") -> dict[str, Any]:
    """A store file written before report versions existed (storage 1.4)."""
    granted = GRANTED if level == "share" else None
    return {
        "version": 1,
        "minor_version": 4,
        "key": STORAGE_KEY,
        "data": {
            "consent": {
                "level": level,
                "changed_at": GRANTED,
                "share_granted_at": granted,
            },
            "installation_id": INSTALLATION_ID if level == "share" else None,
            "days": {"keys": [], "counts": {}},
            "submission": {
                "schedule": {"weekday": 0, "second": 6 * 3600},
                "next_run": "2026-11-09T06:00:00+00:00",
            },
        },
    }


async def _set_up(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    level: str = "share",
) -> UsageStatsCoordinator:
    freezer.move_to("2026-11-03T12:00:00+00:00")
    hass_storage[STORAGE_KEY] = _store_1_4(level)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator: UsageStatsCoordinator = entry.runtime_data
    return coordinator


def _record_filament_change(coordinator: UsageStatsCoordinator) -> None:
    assert coordinator.record(EVENTS, "filament_change")
    assert coordinator.record(EVENT_METADATA, "filament_change", "material", "petg")


async def _fix_flow(
    hass: HomeAssistant, request: pytest.FixtureRequest, choice: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Open the issue's fix flow over the HTTP API and pick `choice` from its menu.

    The client's access token is made now, at the frozen time, so it is valid.
    """
    assert await async_setup_component(hass, "repairs", {})
    hass_client: ClientSessionGenerator = request.getfixturevalue("hass_client")
    user: MockUser = request.getfixturevalue("hass_admin_user")
    refresh_token = await hass.auth.async_create_refresh_token(user, CLIENT_ID)
    client = await hass_client(hass.auth.async_create_access_token(refresh_token))
    response = await client.post(
        "/api/repairs/issues/fix",
        json={"handler": DOMAIN, "issue_id": ISSUE_REPORT_VERSION},
    )
    assert response.status == 200, await response.text()
    shown: dict[str, Any] = await response.json()
    response = await client.post(
        f"/api/repairs/issues/fix/{shown['flow_id']}", json={"next_step_id": choice}
    )
    assert response.status == 200, await response.text()
    return shown, await response.json()


@pytest.mark.usefixtures("newer_catalogue")
async def test_older_version_store_raises_the_repair_and_accepting_adds_metrics(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    issue_registry: ir.IssueRegistry,
    hass_client: ClientSessionGenerator,
    request: pytest.FixtureRequest,
) -> None:
    """Version 1 accepted, version 2 current: asked; reports keep version 1 until accepted."""
    assert report_version() == 2
    coordinator = await _set_up(hass, mock_config_entry, hass_storage, freezer)
    assert coordinator.consent.report_version == 1
    issue = issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders == {
        "accepted": "1",
        "version": "2",
        "metrics": "- `event_metadata` — `events` — `event`, `key`, `value`",
    }

    # Until the user answers, the preview and the report keep version 1.
    _record_filament_change(coordinator)
    freezer.move_to("2026-11-04T12:00:00+00:00")
    preview = await hass.services.async_call(
        DOMAIN, "preview", {}, blocking=True, return_response=True
    )
    assert preview["payload"]["events"] == {"filament_change": 1}

    shown, result = await _fix_flow(hass, request, "accept")
    assert shown["type"] == "menu"
    assert shown["menu_options"] == ["accept", "decline"]
    assert shown["description_placeholders"]["metrics"].startswith("- `event_metadata`")
    assert result["type"] == "create_entry"
    assert coordinator.consent.report_version == 2
    assert hass_storage[STORAGE_KEY]["data"]["consent"]["report_version"] == 2
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is None

    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    (report,) = receiver.bodies()
    assert report["installation_id"] == INSTALLATION_ID
    assert report["events"] == {"filament_change": 1, METADATA_KEY: 1}

    # Answered: not asked again after a restart.
    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is None


@pytest.mark.usefixtures("newer_catalogue")
async def test_declining_keeps_metrics_out_until_the_next_change(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    issue_registry: ir.IssueRegistry,
    hass_client: ClientSessionGenerator,
    request: pytest.FixtureRequest,
) -> None:
    """Declined: the report keeps version 1; asked again only when version 3 comes."""
    coordinator = await _set_up(hass, mock_config_entry, hass_storage, freezer)
    _record_filament_change(coordinator)
    _, result = await _fix_flow(hass, request, "decline")
    assert result["type"] == "abort"
    assert result["reason"] == "declined"
    assert coordinator.consent.report_version == 1
    assert coordinator.consent.declined_version == 2
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is None

    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    (report,) = receiver.bodies()
    assert report["events"] == {"filament_change": 1}
    assert METADATA_KEY not in str(report)

    # A restart does not bring the question back.
    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is None

    # The next change (version 3 adds `errors`) asks about all that is not accepted.
    with patch.dict(METRICS, {ERRORS.name: replace(ERRORS, since=3)}):
        await hass.config_entries.async_reload(mock_config_entry.entry_id)
        await hass.async_block_till_done()
        issue = issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION)
        assert issue is not None
        assert issue.translation_placeholders["version"] == "3"
        assert [m.name for m in metrics_added(1, 3)] == ["event_metadata", "errors"]
        assert issue.translation_placeholders["metrics"].count("\n") == 1


@pytest.mark.usefixtures("newer_catalogue")
async def test_not_sharing_is_not_asked(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """An installation at `local` is never asked about a report version."""
    entry = MockConfigEntry(
        domain=DOMAIN, options={CONF_CONSENT: "local", "retention_days": 90}
    )
    coordinator = await _set_up(hass, entry, hass_storage, freezer, level="local")
    assert coordinator.consent.report_version is None
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is None


@pytest.mark.usefixtures("newer_catalogue")
async def test_leaving_share_withdraws_the_question_and_a_new_grant_accepts_all(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    issue_registry: ir.IssueRegistry,
) -> None:
    """The open question goes when sharing stops; sharing again accepts the current version."""
    coordinator = await _set_up(hass, mock_config_entry, hass_storage, freezer)
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is not None
    hass.config_entries.async_update_entry(
        mock_config_entry, options={**mock_config_entry.options, CONF_CONSENT: "local"}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is None
    assert mock_config_entry.runtime_data.consent.report_version is None

    hass.config_entries.async_update_entry(
        mock_config_entry, options={**mock_config_entry.options, CONF_CONSENT: "share"}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    coordinator = mock_config_entry.runtime_data
    assert coordinator.consent.report_version == 2
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is None
    freezer.move_to("2026-11-04T12:00:00+00:00")
    _record_filament_change(coordinator)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    (report,) = receiver.bodies()
    assert report["events"] == {"filament_change": 1, METADATA_KEY: 1}


async def test_current_catalogue_is_version_1() -> None:
    """Every metric so far was in the first report: nobody is asked today."""
    assert report_version() == 1
    assert {metric.since for metric in METRICS.values()} == {1}


@pytest.mark.usefixtures("newer_catalogue")
@pytest.mark.parametrize("choice", ["accept", "decline"])
async def test_answer_while_unloaded_is_refused(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    issue_registry: ir.IssueRegistry,
    hass_client: ClientSessionGenerator,
    request: pytest.FixtureRequest,
    choice: str,
) -> None:
    """An answer given while the entry is not loaded changes nothing; the question stays."""
    await _set_up(hass, mock_config_entry, hass_storage, freezer)
    await hass.config_entries.async_unload(mock_config_entry.entry_id)
    _, result = await _fix_flow(hass, request, choice)
    assert result["type"] == "abort"
    assert result["reason"] == "not_loaded"
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is not None
    assert hass_storage[STORAGE_KEY]["data"]["consent"]["report_version"] == 1

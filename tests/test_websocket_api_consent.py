"""Tests of the panel's consent commands: the report version and the shared sections."""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.usage_stats import actions
from custom_components.usage_stats.catalogue import Section, report_version
from custom_components.usage_stats.const import (
    CONF_CONSENT,
    CONF_ENDPOINT,
    CONF_FORMAT,
    CONF_RETENTION_DAYS,
    CONF_SECTIONS,
    DOMAIN,
    STORAGE_KEY,
)
from custom_components.usage_stats.coordinator import UsageStatsCoordinator
from custom_components.usage_stats.repairs import ISSUE_REPORT_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir

from .helpers import Receiver, record_week, share_with
from .test_report_version import JOBS_V1, JOBS_V3, _record_jobs, _set_up
from .test_websocket_api import _action, _result, _ws
from .test_websocket_api_share import _client

ALL = [section.value for section in Section]
# What version 3 adds to an accepted version 1: what versions 2 and 3 added.
ADDED_SINCE_1 = [
    {
        "metric": "printer_integrations",
        "section": "printer_fleet",
        "label": None,
        "values": [],
    },
    {
        "metric": "printer_models",
        "section": "printer_fleet",
        "label": None,
        "values": [],
    },
    {
        "metric": "jobs",
        "section": "jobs",
        "label": "outcome",
        "values": ["interrupted"],
    },
    {"metric": "jobs_by_model", "section": "jobs", "label": None, "values": []},
]


@pytest.fixture
def options(receiver: Receiver) -> dict[str, Any]:
    """Share with the receiver."""
    return share_with(receiver)


@pytest.mark.parametrize(
    ("command", "data"),
    [
        ("set_sections", {"sections": ["jobs"]}),
        ("accept_report_version", {"version": 3}),
    ],
)
async def test_admin_only(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    hass_ws_client: WebSocketGenerator,
    hass_read_only_user: MockUser,
    command: str,
    data: dict[str, Any],
) -> None:
    """A user who is not an administrator changes neither sections nor version."""
    coordinator = await _set_up(hass, mock_config_entry, hass_storage, freezer)
    client = await _client(hass, hass_ws_client, hass_read_only_user)
    msg = await _ws(client, command, **data)
    assert msg["error"]["code"] == "unauthorized"
    assert CONF_SECTIONS not in mock_config_entry.options
    assert coordinator.consent.report_version == 1


async def test_overview_shows_and_accepts_the_newer_report_version(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    hass_ws_client: WebSocketGenerator,
    hass_admin_user: MockUser,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Version 1 accepted: the overview says what 3 adds; accepting is the repair's."""
    coordinator = await _set_up(hass, mock_config_entry, hass_storage, freezer)
    _record_jobs(coordinator)
    freezer.move_to("2026-11-04T12:00:00+00:00")
    client = await _client(hass, hass_ws_client, hass_admin_user)
    overview = await _result(client, "overview")
    assert overview["report_version"] == {
        "accepted": 1,
        "current": report_version(),
        "declined": None,
        "added": ADDED_SINCE_1,
    }
    assert overview["submission"]["issues"] == [ISSUE_REPORT_VERSION]
    assert (await _result(client, "preview"))["payload"]["jobs"] == JOBS_V1

    # Only the current version, newer than the accepted one, can be accepted.
    for version in (1, 2, 4):
        msg = await _ws(client, "accept_report_version", version=version)
        assert msg["error"]["translation_key"] == "invalid_report_version"
        assert msg["error"]["message"].startswith(f"Report version {version} cannot")
    for bad in ("two", 0, None):
        msg = await _ws(client, "accept_report_version", version=bad)
        assert msg["error"]["code"] == "invalid_format"
    assert coordinator.consent.report_version == 1

    assert await _result(client, "accept_report_version", version=3) == {"accepted": 3}
    assert coordinator.consent.report_version == 3
    assert hass_storage[STORAGE_KEY]["data"]["consent"]["report_version"] == 3
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is None
    overview = await _result(client, "overview")
    assert overview["report_version"]["accepted"] == 3
    assert overview["report_version"]["added"] == []
    assert overview["submission"]["issues"] == []
    assert (await _result(client, "preview"))["payload"]["jobs"] == JOBS_V3
    # Accepted: nothing newer to accept.
    msg = await _ws(client, "accept_report_version", version=3)
    assert msg["error"]["translation_key"] == "invalid_report_version"


async def test_accepting_needs_share(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    hass_ws_client: WebSocketGenerator,
    hass_admin_user: MockUser,
) -> None:
    """An installation that does not share has no version to accept."""
    entry = MockConfigEntry(
        domain=DOMAIN, options={CONF_CONSENT: "local", CONF_RETENTION_DAYS: 90}
    )
    coordinator = await _set_up(hass, entry, hass_storage, freezer, "local")
    client = await _client(hass, hass_ws_client, hass_admin_user)
    overview = await _result(client, "overview")
    assert overview["report_version"]["accepted"] is None
    assert overview["report_version"]["added"] == []
    msg = await _ws(client, "accept_report_version", version=report_version())
    assert msg["error"]["translation_key"] == "share_required_to_accept"
    assert msg["error"]["message"].startswith("Only a sharing installation")
    assert coordinator.consent.report_version is None


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"sections": "jobs"},
        {"sections": ["jobs", "names"]},
        {"sections": ["jobs"], "extra": True},
    ],
)
async def test_set_sections_validation(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    data: dict[str, Any],
) -> None:
    """Anything but a list of report sections is refused; nothing changes."""
    client = await hass_ws_client(hass)
    msg = await _ws(client, "set_sections", **data)
    assert msg["error"]["code"] == "invalid_format"
    assert CONF_SECTIONS not in init_integration.options


async def test_set_sections_refuses_unknown_names(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The one function behind the command checks the names too, translated."""
    with pytest.raises(ServiceValidationError) as err:
        actions.set_sections(hass, init_integration, ["jobs", "hostnames"])
    assert err.value.translation_key == "unknown_section"
    assert err.value.translation_placeholders == {
        "section": "hostnames",
        "allowed": ", ".join(ALL),
    }
    assert CONF_SECTIONS not in init_integration.options


async def test_set_sections_is_the_options_flow(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_ws_client: WebSocketGenerator,
    hass_admin_user: MockUser,
) -> None:
    """Choosing sections here leaves the same options as the options flow; preview follows."""
    init_integration = mock_config_entry
    record_week(coordinator, freezer)
    freezer.move_to("2026-11-09T05:00:00+00:00")
    client = await _client(hass, hass_ws_client, hass_admin_user)
    overview = await _result(client, "overview")
    assert overview["sections"] == ALL
    assert overview["all_sections"] == ALL

    assert await _result(client, "set_sections", sections=["errors", "jobs"]) == {
        "sections": ["jobs", "errors"]
    }
    await hass.async_block_till_done()
    from_panel = dict(init_integration.options)
    assert from_panel[CONF_SECTIONS] == ["jobs", "errors"]
    client = await _client(hass, hass_ws_client, hass_admin_user)  # reloaded
    assert (await _result(client, "overview"))["sections"] == ["jobs", "errors"]
    payload = (await _result(client, "preview"))["payload"]
    assert payload == (await _action(hass, "preview"))["payload"]
    assert "jobs" in payload
    assert "errors" in payload
    for left_out in ("printer_fleet", "features", "events"):
        assert left_out not in payload

    # The options flow with the same choice leaves exactly the same options.
    assert await _result(client, "set_sections", sections=ALL)
    await hass.async_block_till_done()
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_CONSENT: "share",
            CONF_ENDPOINT: from_panel[CONF_ENDPOINT],
            CONF_RETENTION_DAYS: 90,
            CONF_SECTIONS: ["jobs", "errors"],
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    # (The form also fills in its default report format.)
    assert dict(init_integration.options) == {**from_panel, CONF_FORMAT: "json"}

    # None at all is a choice, as in the options flow.
    client = await _client(hass, hass_ws_client, hass_admin_user)
    assert await _result(client, "set_sections", sections=[]) == {"sections": []}
    assert init_integration.options[CONF_SECTIONS] == []

"""Tests of the panel's websocket commands."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.usage_stats.catalogue import EVENTS, JOBS
from custom_components.usage_stats.const import CONF_CONSENT, DOMAIN
from custom_components.usage_stats.coordinator import UsageStatsCoordinator
from custom_components.usage_stats.printers import KNOWN_PRINTER_INTEGRATIONS
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

COMMANDS = (
    "overview",
    "days",
    "preview",
    "history",
    "export",
    "delete",
    "submit",
    "subscribe",
)


async def _ws(client: Any, command: str, **data: Any) -> dict[str, Any]:
    await client.send_json_auto_id({"type": f"{DOMAIN}/{command}", **data})
    msg: dict[str, Any] = await client.receive_json()
    return msg


async def _result(client: Any, command: str, **data: Any) -> Any:
    msg = await _ws(client, command, **data)
    assert msg["success"], msg
    return msg["result"]


async def _action(hass: HomeAssistant, service: str) -> Any:
    return await hass.services.async_call(
        DOMAIN, service, {}, blocking=True, return_response=True
    )


@pytest.mark.parametrize("command", [*COMMANDS, "set_consent", "set_sections"])
async def test_admin_only(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    hass_read_only_access_token: str,
    command: str,
) -> None:
    """A user who is not an administrator gets nothing and changes nothing."""
    client = await hass_ws_client(hass, hass_read_only_access_token)
    data = {
        "set_consent": {"level": "disabled"},
        "set_sections": {"sections": ["jobs"]},
    }.get(command, {})
    msg = await _ws(client, command, **data)
    assert not msg["success"]
    assert msg["error"]["code"] == "unauthorized"
    assert init_integration.options[CONF_CONSENT] == "local"
    assert init_integration.runtime_data.consent.level == "local"


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != "subscribe"])
async def test_not_loaded(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, command: str
) -> None:
    """Without a loaded entry every command answers with a translated message."""
    assert await async_setup_component(hass, DOMAIN, {})
    client = await hass_ws_client(hass)
    msg = await _ws(client, command)
    assert not msg["success"]
    assert msg["error"]["code"] == "home_assistant_error"
    assert msg["error"]["translation_key"] == "not_loaded"
    assert msg["error"]["translation_domain"] == DOMAIN
    assert msg["error"]["message"].startswith("Usage Statistics is not set up")


@pytest.mark.parametrize(
    "data",
    [{}, {"level": "everything"}, {"level": 1}, {"level": "local", "extra": True}],
)
async def test_set_consent_validation(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    data: dict[str, Any],
) -> None:
    """A level that is not one of the three is refused, nothing changes."""
    client = await hass_ws_client(hass)
    msg = await _ws(client, "set_consent", **data)
    assert not msg["success"]
    assert msg["error"]["code"] == "invalid_format"
    assert init_integration.options[CONF_CONSENT] == "local"


async def test_commands_take_no_fields(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """An unknown field is refused (the export has no file name here)."""
    client = await hass_ws_client(hass)
    msg = await _ws(client, "export", filename="../x.json")
    assert msg["error"]["code"] == "invalid_format"


async def test_set_consent(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """Changing the level here is the same as in the options; share needs an endpoint."""
    client = await hass_ws_client(hass)
    assert await _result(client, "set_consent", level="disabled") == {
        "level": "disabled"
    }
    await hass.async_block_till_done()
    assert init_integration.options[CONF_CONSENT] == "disabled"
    assert init_integration.runtime_data.consent.level == "disabled"
    overview = await _result(client, "overview")
    assert overview["consent"]["level"] == "disabled"

    msg = await _ws(client, "set_consent", level="share")
    assert not msg["success"]
    assert msg["error"]["translation_key"] == "endpoint_required"
    assert msg["error"]["message"].startswith("Sharing needs a submission endpoint")
    assert init_integration.options[CONF_CONSENT] == "disabled"


async def test_overview_and_days(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The overview tells the consent and the days; `days` holds the counters."""
    coordinator: UsageStatsCoordinator = init_integration.runtime_data
    coordinator.record(JOBS, "completed", "prusa", amount=2)
    coordinator.record(EVENTS, "ha_start")
    today = coordinator.counters.today()
    client = await hass_ws_client(hass)
    overview = await _result(client, "overview")
    assert overview == {
        "consent": {
            "level": "local",
            "changed_at": coordinator.consent.changed_at.isoformat(),  # type: ignore[union-attr]
            "share_granted_at": None,
        },
        "levels": ["disabled", "local", "share"],
        "report_version": {
            "accepted": None,
            "current": 3,
            "declined": None,
            "added": [],
        },
        "sections": ["printer_fleet", "features", "jobs", "events", "errors"],
        "all_sections": ["printer_fleet", "features", "jobs", "events", "errors"],
        "endpoint": None,
        "format": "json",
        "retention_days": 90,
        "days_stored": 1,
        "first_day": today,
        "last_day": today,
        "pending_first_day": None,
        "submission": {
            "status": "disabled",
            "reports_waiting": 0,
            "last_success": None,
            "next_planned": None,
            "rejected_status": None,
            "issues": [],
        },
        "printer_integrations": sorted(KNOWN_PRINTER_INTEGRATIONS),
    }
    days = await _result(client, "days")
    assert days == {"retention_days": 90, "days": coordinator.stored["days"]}
    assert days["days"][today]["jobs"] == {"completed/prusa": 2}
    assert days["days"][today]["events"] == {"ha_start": 1}


async def test_subscribe(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The panel hears about new counts, consent changes and unloads."""
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": f"{DOMAIN}/subscribe"})
    msg = await client.receive_json()
    assert msg["success"]
    sub_id = msg["id"]

    init_integration.runtime_data.record(EVENTS, "ha_start")
    freezer.tick(timedelta(seconds=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    msg = await client.receive_json()
    assert msg == {"id": sub_id, "type": "event", "event": {"event": "updated"}}

    # A consent change reloads the entry: the panel hears of the unload and the setup.
    await client.send_json_auto_id(
        {"type": f"{DOMAIN}/set_consent", "level": "disabled"}
    )
    await hass.async_block_till_done()
    messages = [await client.receive_json() for _ in range(3)]
    assert [m["type"] for m in messages].count("result") == 1
    events = [m for m in messages if m["type"] == "event"]
    assert (
        events == [{"id": sub_id, "type": "event", "event": {"event": "updated"}}] * 2
    )

    await client.send_json_auto_id(
        {"type": "unsubscribe_events", "subscription": sub_id}
    )
    assert (await client.receive_json())["success"]

"""Tests of the panel's websocket commands at consent share."""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import CLIENT_ID, MockUser
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.usage_stats.catalogue import EVENTS
from custom_components.usage_stats.coordinator import UsageStatsCoordinator
from homeassistant.core import HomeAssistant

from .helpers import GRANTED, Receiver, advance, record_week, share_with
from .test_websocket_api import _action, _result, _ws


async def _client(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, user: MockUser
) -> Any:
    """Connect with a token made now (the clock was moved since the fixtures ran)."""
    refresh_token = await hass.auth.async_create_refresh_token(user, CLIENT_ID)
    return await hass_ws_client(
        hass, hass.auth.async_create_access_token(refresh_token)
    )


@pytest.fixture
def options(receiver: Receiver) -> dict[str, Any]:
    """Share with the receiver."""
    return share_with(receiver)


async def test_same_answers_as_the_actions(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    hass_ws_client: WebSocketGenerator,
    hass_admin_user: MockUser,
) -> None:
    """Preview, export, submit and delete answer exactly as the actions do."""
    record_week(coordinator, freezer)
    # Before the weekly run of Monday 06:00.
    freezer.move_to("2026-11-09T05:00:00+00:00")
    client = await _client(hass, hass_ws_client, hass_admin_user)
    preview = await _result(client, "preview")
    assert preview == await _action(hass, "preview")
    assert preview["payload"]["period"]["start"] == "2026-11-02"
    assert await _result(client, "export") == await _action(hass, "export")

    submitted = await _result(client, "submit")
    assert submitted == {
        "outcome": "accepted",
        "kind": "report",
        "id": preview["payload"]["submission_id"],
        "status_code": 200,
        "reports_waiting": 0,
    }
    assert receiver.bodies("/v1/reports") == [preview["payload"]]
    history = (await _result(client, "history"))["history"]
    assert [(h["kind"], h["outcome"], h["status_code"]) for h in history] == [
        ("report", "accepted", 200)
    ]
    assert history[0]["period_start"] == "2026-11-02"
    # The archive keeps the body exactly as it was sent.
    assert history[0]["body"] == preview["payload"]
    assert history == coordinator.submission.history()
    overview = await _result(client, "overview")
    assert overview["submission"]["last_success"] == "2026-11-09T05:00:00+00:00"
    assert overview["consent"]["share_granted_at"] == GRANTED
    assert overview["endpoint"] == receiver.url

    # The hourly limit is a translated error, as from the action.
    coordinator.record(EVENTS, "ha_start")
    msg = await _ws(client, "submit")
    assert msg["error"]["translation_key"] == "rate_limited"
    assert msg["error"]["message"].startswith("At most one request an hour")

    assert await _result(client, "delete") == {
        "deletion_requests": 1,
        "reports_waiting": 1,
    }
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(receiver.bodies("/v1/deletion")) == 1
    assert (await _result(client, "days"))["days"] == {}
    assert (await _result(client, "history"))["history"][0]["kind"] == "deletion"
    # A second delete from the action answers the same way the command did.
    assert await _action(hass, "delete") == {
        "deletion_requests": 0,
        "reports_waiting": 0,
    }


async def test_history_newest_first(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    hass_ws_client: WebSocketGenerator,
    hass_admin_user: MockUser,
) -> None:
    """The history lists what happened last first."""
    record_week(coordinator, freezer)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    coordinator.record(EVENTS, "ha_start")
    await advance(hass, freezer, "2026-11-11T12:00:00+00:00")
    await _action(hass, "submit")
    client = await _client(hass, hass_ws_client, hass_admin_user)
    history = (await _result(client, "history"))["history"]
    assert [h["period_start"] for h in history] == ["2026-11-09", "2026-11-02"]

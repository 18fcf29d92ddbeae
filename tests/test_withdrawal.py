"""Leaving `share` withdraws what was sent: a deletion request, then a new installation id."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
import json
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.usage_stats.catalogue import EVENTS
from custom_components.usage_stats.const import CONF_CONSENT
from custom_components.usage_stats.coordinator import UsageStatsCoordinator
from homeassistant.components.select import (
    ATTR_OPTION,
    DOMAIN as SELECT_DOMAIN,
    SERVICE_SELECT_OPTION,
)
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from .helpers import (
    Receiver,
    advance,
    assert_valid_deletion,
    record_week,
    set_schedule,
    share_with,
)

type Lower = Callable[[HomeAssistant, MockConfigEntry, str], Awaitable[None]]


@pytest.fixture
def options(receiver: Receiver) -> dict[str, Any]:
    """Share with the receiver."""
    return share_with(receiver)


async def _by_options(hass: HomeAssistant, entry: MockConfigEntry, level: str) -> None:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**entry.options, CONF_CONSENT: level}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def _by_select(hass: HomeAssistant, entry: MockConfigEntry, level: str) -> None:
    await hass.services.async_call(
        SELECT_DOMAIN,
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: "select.usage_statistics_consent", ATTR_OPTION: level},
        blocking=True,
    )


async def _by_reconfigure(
    hass: HomeAssistant, entry: MockConfigEntry, level: str
) -> None:
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CONSENT: level}
    )
    assert result["reason"] == "reconfigure_successful"


@pytest.mark.parametrize(
    ("lower", "level"),
    [
        (_by_options, "local"),
        (_by_select, "disabled"),
        (_by_reconfigure, "local"),
        (_by_options, "disabled"),
    ],
    ids=["options-local", "select-disabled", "reconfigure-local", "options-disabled"],
)
async def test_leaving_share_asks_for_deletion(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    lower: Lower,
    level: str,
) -> None:
    """The endpoint that got reports is asked to delete them; nothing is sent after."""
    record_week(coordinator, freezer)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    assert [r.path for r in receiver.requests] == ["/v1/reports"]
    old_id = coordinator.installation_id
    assert receiver.bodies()[0]["installation_id"] == old_id
    days_kept = dict(coordinator.stored["days"])

    await lower(hass, mock_config_entry, level)
    await hass.async_block_till_done(wait_background_tasks=True)

    # Sent at once, not at the next tick.
    assert [r.path for r in receiver.requests] == ["/v1/reports", "/v1/deletion"]
    deletion = receiver.requests[1].json()
    assert_valid_deletion(deletion)
    assert deletion["installation_id"] == old_id
    coordinator = mock_config_entry.runtime_data
    assert coordinator.consent.level == level
    assert coordinator.installation_id not in (None, old_id)
    assert coordinator.submission.state["sent_to"] == []
    assert coordinator.submission.reports_waiting == 0
    history = coordinator.submission.state["history"]
    assert [(h["kind"], h["outcome"]) for h in history] == [
        ("report", "accepted"),
        ("deletion", "accepted"),
    ]
    # The local counters stay.
    assert coordinator.stored["days"] == days_kept

    for _ in range(3):
        await advance(hass, freezer, timedelta(days=7))
    assert [r.path for r in receiver.requests] == ["/v1/reports", "/v1/deletion"]


async def test_leaving_share_before_anything_was_sent(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Nothing sent, nothing to delete: no request; the id is replaced all the same."""
    old_id = coordinator.installation_id
    await _by_options(hass, mock_config_entry, "local")
    await hass.async_block_till_done(wait_background_tasks=True)
    await advance(hass, freezer, timedelta(days=8))
    assert receiver.requests == []
    assert mock_config_entry.runtime_data.installation_id not in (None, old_id)


async def test_sharing_again_starts_a_new_id(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
) -> None:
    """After leaving and rejoining, reports carry a new id and only later days."""
    record_week(coordinator, freezer)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    old_id = coordinator.installation_id

    await _by_options(hass, mock_config_entry, "local")
    await hass.async_block_till_done(wait_background_tasks=True)
    # Recorded at `local`: never sent.
    freezer.move_to("2026-11-10T12:00:00+00:00")
    mock_config_entry.runtime_data.record(EVENTS, "ha_start")

    freezer.move_to("2026-11-11T12:00:00+00:00")
    await _by_options(hass, mock_config_entry, "share")
    await hass.async_block_till_done(wait_background_tasks=True)
    coordinator = mock_config_entry.runtime_data
    set_schedule(coordinator, second=6 * 3600)
    new_id = coordinator.installation_id
    assert new_id not in (None, old_id)
    freezer.move_to("2026-11-12T12:00:00+00:00")
    coordinator.record(EVENTS, "ha_start")

    await advance(hass, freezer, "2026-11-16T06:00:30+00:00")
    reports = receiver.bodies()
    assert len(reports) == 2
    assert reports[1]["installation_id"] == new_id
    # From the new grant day on (what it had counted before the grant left out).
    assert reports[1]["period"]["start"] == "2026-11-11"
    assert reports[1]["period"]["end"] == "2026-11-15"
    assert reports[1]["events"] == {"ha_start": 1}


def test_dialogs_say_so_before_confirming() -> None:
    """The consent dialogs and the options explain leaving share, in English and German."""
    root = Path(__file__).parent.parent / "custom_components" / "usage_stats"
    for lang, word in (("en", "delete"), ("de", "löschen")):
        strings = json.loads(
            (root / "translations" / f"{lang}.json").read_text(encoding="utf-8")
        )
        texts = [
            strings["config"]["step"]["user"]["description"],
            strings["config"]["step"]["reconfigure"]["description"],
            strings["options"]["step"]["init"]["data_description"]["consent"],
        ]
        assert all(word in text and "ID" in text for text in texts), lang

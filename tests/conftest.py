"""Fixtures for the Usage Statistics tests."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any
from unittest.mock import patch

from aiohttp import web
from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.usage_stats.const import (
    CONF_CONSENT,
    CONF_ENDPOINT,
    CONF_RETENTION_DAYS,
    DOMAIN,
)
from custom_components.usage_stats.coordinator import UsageStatsCoordinator
from homeassistant.core import HomeAssistant

from .helpers import GRANTED, Receiver, set_schedule

ENDPOINT = "https://stats.example.org"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integration from custom_components."""


@pytest.fixture
def options() -> dict[str, Any]:
    """Return the options of the config entry; tests override it."""
    return {CONF_CONSENT: "local", CONF_RETENTION_DAYS: 90}


@pytest.fixture
def mock_config_entry(options: dict[str, Any]) -> MockConfigEntry:
    """Return the config entry of the integration."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Usage Statistics",
        data={},
        options=options,
        entry_id="01JUSAGESTATSENTRY0000000",
    )


@pytest.fixture
def share_options() -> dict[str, Any]:
    """Return options with consent `share`."""
    return {CONF_CONSENT: "share", CONF_ENDPOINT: ENDPOINT, CONF_RETENTION_DAYS: 90}


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> MockConfigEntry:
    """Set up the integration and return its config entry."""
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    return mock_config_entry


@pytest.fixture
def mock_setup_entry() -> Generator[None]:
    """Keep the config flow tests from setting up the entry."""
    with patch("custom_components.usage_stats.async_setup_entry", return_value=True):
        yield


# Submission: a real receiving server, and an entry sharing with it.


@pytest.fixture
async def receiver(socket_enabled: None) -> AsyncGenerator[Receiver]:
    """Start a receiving HTTP server on an ephemeral port of 127.0.0.1."""
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield receiver
    receiver.release()
    await runner.cleanup()


@pytest.fixture
async def coordinator(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> UsageStatsCoordinator:
    """Set up the entry at the grant time, with a weekly run on Mondays 06:00 UTC.

    Tests using it override `options` with `share_with(receiver)`.
    """
    freezer.move_to(GRANTED)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    coordinator: UsageStatsCoordinator = mock_config_entry.runtime_data
    set_schedule(coordinator, weekday=0, second=6 * 3600)
    return coordinator

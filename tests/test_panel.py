"""Tests of the sidebar panel's registration."""

from __future__ import annotations

import copy
from typing import Any

from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from custom_components.usage_stats.const import (
    CONF_CONSENT,
    PANEL_URL_PATH,
    STORAGE_KEY,
)
from custom_components.usage_stats.panel import (
    FRONTEND_DIRECTORY,
    async_keep_panel_for_reload,
)
from homeassistant.components.frontend import EVENT_PANELS_UPDATED
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant

from .helpers import NEWER_STORE


async def _panels(hass: HomeAssistant, client: object) -> dict[str, dict[str, object]]:
    await client.send_json_auto_id({"type": "get_panels"})  # type: ignore[attr-defined]
    msg = await client.receive_json()  # type: ignore[attr-defined]
    assert msg["success"]
    panels: dict[str, dict[str, object]] = msg["result"]
    return panels


async def test_panel_for_administrators(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    hass_read_only_access_token: str,
    hass_client: ClientSessionGenerator,
) -> None:
    """The sidebar entry exists for administrators while the entry is loaded."""
    panel = (await _panels(hass, await hass_ws_client(hass)))[PANEL_URL_PATH]
    assert panel["component_name"] == "custom"
    assert panel["icon"] == "mdi:chart-box-outline"
    assert panel["title"] == "Usage Statistics"
    assert panel["require_admin"] is True
    custom = panel["config"]["_panel_custom"]  # type: ignore[index]
    assert custom["name"] == "usage-stats-panel"
    assert not custom["embed_iframe"]

    # Served from the integration's folder, the digest in the URL busts caches.
    module_url: str = custom["module_url"]
    bundle = (FRONTEND_DIRECTORY / "usage-stats-panel.js").read_bytes()
    client = await hass_client()
    response = await client.get(module_url)
    assert response.status == 200
    assert await response.read() == bundle
    assert module_url.startswith("/usage_stats_static/usage-stats-panel.js?v=")

    read_only = await hass_ws_client(hass, hass_read_only_access_token)
    assert PANEL_URL_PATH not in await _panels(hass, read_only)


async def test_panel_follows_the_entry(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """Unloading removes the sidebar entry; a reload brings it back."""
    client = await hass_ws_client(hass)
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    assert PANEL_URL_PATH not in await _panels(hass, client)
    assert await hass.config_entries.async_setup(init_integration.entry_id)
    await hass.async_block_till_done()
    assert PANEL_URL_PATH in await _panels(hass, client)


async def test_panel_stays_while_options_reload_the_entry(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """Choosing a consent level in the panel reloads the entry but keeps the panel open."""
    updates = async_capture_events(hass, EVENT_PANELS_UPDATED)
    hass.config_entries.async_update_entry(
        init_integration, options={**init_integration.options, CONF_CONSENT: "disabled"}
    )
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.LOADED
    assert init_integration.runtime_data.consent.level == "disabled"
    assert PANEL_URL_PATH in await _panels(hass, await hass_ws_client(hass))
    assert updates == []
    # A later unload removes it as usual.
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    assert PANEL_URL_PATH not in await _panels(hass, await hass_ws_client(hass))
    assert len(updates) == 1


async def test_panel_goes_when_the_reload_fails(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    hass_storage: dict[str, Any],
) -> None:
    """If the entry cannot be set up again, the kept panel is removed.

    The reload's steps, as the options listener takes them: the panel is kept, the
    entry unloads, and meanwhile a newer version of the integration wrote the store,
    which Home Assistant (since 2026.3) or our migration (before) refuses.
    """
    async_keep_panel_for_reload(hass)
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    client = await hass_ws_client(hass)
    assert PANEL_URL_PATH in await _panels(hass, client)
    hass_storage[STORAGE_KEY] = copy.deepcopy(NEWER_STORE)

    assert not await hass.config_entries.async_setup(init_integration.entry_id)
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.SETUP_ERROR
    assert init_integration.reason is not None
    assert "written by a newer version of Usage Statistics" in init_integration.reason
    assert PANEL_URL_PATH not in await _panels(hass, client)
    assert hass_storage[STORAGE_KEY] == NEWER_STORE

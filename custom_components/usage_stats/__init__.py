"""The Usage Statistics integration: privacy-first, consent-based usage statistics."""

from __future__ import annotations

from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import config_validation as cv, issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.typing import ConfigType
from homeassistant.loader import async_get_integration

from .collectors import async_setup_collectors
from .const import DOMAIN, SIGNAL_UPDATED
from .coordinator import UsageStatsConfigEntry, UsageStatsCoordinator
from .panel import async_keep_panel_for_reload, async_register_panel, async_remove_panel
from .repairs import ISSUE_REPORT_VERSION, async_check_report_version
from .services import async_setup_services
from .store import UsageStatsStore
from .submission import ISSUES
from .websocket import async_setup_websocket_api

PLATFORMS: list[Platform] = [Platform.SELECT, Platform.SENSOR]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up the integration: its actions exist whether or not an entry is loaded."""
    async_setup_services(hass)
    async_setup_websocket_api(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: UsageStatsConfigEntry) -> bool:
    """Set up Usage Statistics from a config entry."""
    integration = await async_get_integration(hass, DOMAIN)
    coordinator = UsageStatsCoordinator(hass, entry, str(integration.version))
    try:
        await coordinator.async_load()
    except ConfigEntryError:
        async_remove_panel(hass)  # if it was kept for this reload
        raise
    entry.runtime_data = coordinator
    async_check_report_version(coordinator)
    await coordinator.submission.async_start()
    entry.async_on_unload(entry.add_update_listener(_async_update_listener))
    # Not a one-time listener: removing one that already fired logs an ERROR
    # when the entry unloads after the stop event.
    entry.async_on_unload(
        hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, coordinator.async_flush_at_stop)
    )
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    async_setup_collectors(coordinator)
    await async_register_panel(hass)
    entry.async_on_unload(lambda: async_remove_panel(hass, reloading=True))
    # An open panel reloads what it shows: the entry is new (for example after
    # the consent changed) and again when it unloads.
    async_dispatcher_send(hass, SIGNAL_UPDATED)
    entry.async_on_unload(lambda: async_dispatcher_send(hass, SIGNAL_UPDATED))
    return True


async def async_unload_entry(hass: HomeAssistant, entry: UsageStatsConfigEntry) -> bool:
    """Unload a config entry; the coordinator writes what is pending."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: UsageStatsConfigEntry) -> None:
    """Delete the stored data and the repair issues when the entry is removed."""
    await UsageStatsStore(hass).async_remove()
    for issue in (*ISSUES, ISSUE_REPORT_VERSION):
        ir.async_delete_issue(hass, DOMAIN, issue)


async def _async_update_listener(
    hass: HomeAssistant, entry: UsageStatsConfigEntry
) -> None:
    """Reload when the options change, so collectors follow the consent level."""
    async_keep_panel_for_reload(hass)
    hass.config_entries.async_schedule_reload(entry.entry_id)

"""Actions of the Usage Statistics integration."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv

from .catalogue import EVENT_METADATA, EVENTS
from .const import DOMAIN
from .coordinator import UsageStatsConfigEntry
from .events import EventRefusedError, validate_event

ATTR_EVENT_TYPE = "event_type"
ATTR_METADATA = "metadata"

SERVICE_RECORD_EVENT = "record_event"
RECORD_EVENT_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_EVENT_TYPE): cv.string,
        vol.Optional(ATTR_METADATA, default=dict): vol.Schema(
            {}, extra=vol.ALLOW_EXTRA
        ),
    }
)


def loaded_entry(hass: HomeAssistant) -> UsageStatsConfigEntry:
    """Return the loaded config entry, or raise a translated error."""
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            return entry
    raise ServiceValidationError(
        translation_domain=DOMAIN, translation_key="not_loaded"
    )


async def _async_record_event(call: ServiceCall) -> None:
    """Record an event declared in the catalogue, or a `custom_` one."""
    coordinator = loaded_entry(call.hass).runtime_data
    event_type: str = call.data[ATTR_EVENT_TYPE]
    metadata: dict[str, Any] = call.data[ATTR_METADATA]
    try:
        pairs = validate_event(event_type, metadata)
    except EventRefusedError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key=err.reason,
            translation_placeholders=err.placeholders,
        ) from None
    # At consent `disabled` the call is accepted and nothing is recorded.
    if coordinator.record(EVENTS, event_type):
        for key, value in pairs:
            coordinator.record(EVENT_METADATA, event_type, key, value)


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""
    hass.services.async_register(
        DOMAIN, SERVICE_RECORD_EVENT, _async_record_event, schema=RECORD_EVENT_SCHEMA
    )

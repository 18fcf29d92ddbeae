"""The actions: record events, and export, preview, delete and submit the statistics."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Final

import voluptuous as vol

from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError, Unauthorized, UnknownUser
from homeassistant.helpers import config_validation as cv

from . import actions
from .catalogue import EVENT_METADATA, EVENTS
from .const import DOMAIN
from .events import EventRefusedError, validate_event

SERVICE_RECORD_EVENT: Final = "record_event"
SERVICE_EXPORT: Final = "export"
SERVICE_PREVIEW: Final = "preview"
SERVICE_DELETE: Final = "delete"
SERVICE_SUBMIT: Final = "submit"
ATTR_FILENAME: Final = "filename"
ATTR_EVENT_TYPE: Final = "event_type"
ATTR_METADATA: Final = "metadata"

EXPORT_SCHEMA: Final = vol.Schema({vol.Optional(ATTR_FILENAME): cv.string})
NO_FIELDS: Final = vol.Schema({})
RECORD_EVENT_SCHEMA: Final = vol.Schema(
    {
        vol.Required(ATTR_EVENT_TYPE): cv.string,
        vol.Optional(ATTR_METADATA, default=dict): vol.Schema(
            {}, extra=vol.ALLOW_EXTRA
        ),
    }
)

type Handler = Callable[[ServiceCall], Coroutine[Any, Any, ServiceResponse]]


def _admin_only(hass: HomeAssistant, handler: Handler) -> Handler:
    """Refuse the call unless it comes from an administrator (or from the system)."""

    async def _handle(call: ServiceCall) -> ServiceResponse:
        if call.context.user_id:
            user = await hass.auth.async_get_user(call.context.user_id)
            if user is None:
                raise UnknownUser(context=call.context)
            if not user.is_admin:
                raise Unauthorized(context=call.context)
        return await handler(call)

    return _handle


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions."""

    async def record_event(call: ServiceCall) -> None:
        """Record an event declared in the catalogue, or a `custom_` one."""
        coordinator = actions.loaded_coordinator(hass)
        event_type: str = call.data[ATTR_EVENT_TYPE]
        try:
            pairs = validate_event(event_type, call.data[ATTR_METADATA])
        except EventRefusedError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key=err.reason,
                translation_placeholders=err.placeholders,
            ) from None
        # Everything was checked first; at consent `disabled` nothing is recorded.
        if coordinator.record(EVENTS, event_type):
            for key, value in pairs:
                coordinator.record(EVENT_METADATA, event_type, key, value)

    async def export(call: ServiceCall) -> ServiceResponse:
        return await actions.async_export(hass, call.data.get(ATTR_FILENAME))

    async def preview(call: ServiceCall) -> ServiceResponse:
        return actions.preview(hass)

    async def delete(call: ServiceCall) -> ServiceResponse:
        return await actions.async_delete(hass)

    async def submit(call: ServiceCall) -> ServiceResponse:
        return await actions.async_submit(hass)

    hass.services.async_register(
        DOMAIN, SERVICE_RECORD_EVENT, record_event, schema=RECORD_EVENT_SCHEMA
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_EXPORT,
        _admin_only(hass, export),
        schema=EXPORT_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_PREVIEW,
        preview,
        schema=NO_FIELDS,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_DELETE,
        _admin_only(hass, delete),
        schema=NO_FIELDS,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_SUBMIT,
        _admin_only(hass, submit),
        schema=NO_FIELDS,
        supports_response=SupportsResponse.OPTIONAL,
    )

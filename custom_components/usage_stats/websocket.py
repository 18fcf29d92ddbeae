"""The panel's websocket commands: administrators only, the same answers as the actions."""

from __future__ import annotations

from typing import Any, Final

import voluptuous as vol

from homeassistant.components.websocket_api import async_register_command
from homeassistant.components.websocket_api.connection import ActiveConnection
from homeassistant.components.websocket_api.decorators import (
    async_response,
    require_admin,
    websocket_command,
)
from homeassistant.components.websocket_api.messages import event_message
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect

from . import actions
from .catalogue import Section
from .const import DOMAIN, SIGNAL_UPDATED, ConsentLevel

PREFIX: Final = f"{DOMAIN}/"


@callback
def async_setup_websocket_api(hass: HomeAssistant) -> None:
    """Register the websocket commands (once, with the actions)."""
    for command in (
        ws_overview,
        ws_days,
        ws_preview,
        ws_history,
        ws_export,
        ws_comparison,
        ws_delete,
        ws_submit,
        ws_set_consent,
        ws_set_sections,
        ws_accept_report_version,
        ws_subscribe,
    ):
        async_register_command(hass, command)


def _send(connection: ActiveConnection, msg: dict[str, Any], result: Any) -> None:
    connection.send_result(msg["id"], result)


@websocket_command({vol.Required("type"): f"{PREFIX}overview"})
@require_admin
@callback
def ws_overview(
    hass: HomeAssistant,
    connection: ActiveConnection,
    msg: dict[str, Any],
) -> None:
    """Return the consent and submission state."""
    _send(connection, msg, actions.overview(hass))


@websocket_command({vol.Required("type"): f"{PREFIX}days"})
@require_admin
@callback
def ws_days(
    hass: HomeAssistant,
    connection: ActiveConnection,
    msg: dict[str, Any],
) -> None:
    """Return the daily counters of every kept day."""
    _send(connection, msg, actions.days(hass))


@websocket_command({vol.Required("type"): f"{PREFIX}preview"})
@require_admin
@callback
def ws_preview(
    hass: HomeAssistant,
    connection: ActiveConnection,
    msg: dict[str, Any],
) -> None:
    """Return what the next submission would send (the `preview` action's answer)."""
    _send(connection, msg, actions.preview(hass))


@websocket_command({vol.Required("type"): f"{PREFIX}history"})
@require_admin
@callback
def ws_history(
    hass: HomeAssistant,
    connection: ActiveConnection,
    msg: dict[str, Any],
) -> None:
    """Return what became of the messages sent, newest first."""
    _send(connection, msg, actions.history(hass))


@websocket_command({vol.Required("type"): f"{PREFIX}export"})
@require_admin
@async_response
async def ws_export(
    hass: HomeAssistant,
    connection: ActiveConnection,
    msg: dict[str, Any],
) -> None:
    """Return everything stored locally (the `export` action's answer)."""
    _send(connection, msg, await actions.async_export(hass, None))


@websocket_command({vol.Required("type"): f"{PREFIX}comparison"})
@require_admin
@async_response
async def ws_comparison(
    hass: HomeAssistant,
    connection: ActiveConnection,
    msg: dict[str, Any],
) -> None:
    """Return the printers of this installation beside the published statistics."""
    _send(connection, msg, await actions.async_comparison(hass))


@websocket_command({vol.Required("type"): f"{PREFIX}delete"})
@require_admin
@async_response
async def ws_delete(
    hass: HomeAssistant,
    connection: ActiveConnection,
    msg: dict[str, Any],
) -> None:
    """Erase everything (the `delete` action's answer)."""
    _send(connection, msg, await actions.async_delete(hass))


@websocket_command({vol.Required("type"): f"{PREFIX}submit"})
@require_admin
@async_response
async def ws_submit(
    hass: HomeAssistant,
    connection: ActiveConnection,
    msg: dict[str, Any],
) -> None:
    """Send the oldest waiting message now (the `submit` action's answer)."""
    _send(connection, msg, await actions.async_submit(hass))


@websocket_command(
    {
        vol.Required("type"): f"{PREFIX}set_consent",
        vol.Required("level"): vol.In([level.value for level in ConsentLevel]),
    }
)
@require_admin
@callback
def ws_set_consent(
    hass: HomeAssistant,
    connection: ActiveConnection,
    msg: dict[str, Any],
) -> None:
    """Change the consent level as the options flow and the select entity do."""
    coordinator = actions.loaded_coordinator(hass)
    actions.set_consent(hass, coordinator.config_entry, msg["level"])
    _send(connection, msg, {"level": msg["level"]})


@websocket_command(
    {
        vol.Required("type"): f"{PREFIX}set_sections",
        vol.Required("sections"): [vol.In([section.value for section in Section])],
    }
)
@require_admin
@callback
def ws_set_sections(
    hass: HomeAssistant,
    connection: ActiveConnection,
    msg: dict[str, Any],
) -> None:
    """Choose the report sections to share, as the options flow does."""
    coordinator = actions.loaded_coordinator(hass)
    chosen = actions.set_sections(hass, coordinator.config_entry, msg["sections"])
    _send(connection, msg, {"sections": chosen})


@websocket_command(
    {
        vol.Required("type"): f"{PREFIX}accept_report_version",
        vol.Required("version"): vol.All(int, vol.Range(min=1)),
    }
)
@require_admin
@async_response
async def ws_accept_report_version(
    hass: HomeAssistant,
    connection: ActiveConnection,
    msg: dict[str, Any],
) -> None:
    """Accept a newer report version, as the re-consent repair does."""
    _send(
        connection, msg, await actions.async_accept_report_version(hass, msg["version"])
    )


@websocket_command({vol.Required("type"): f"{PREFIX}subscribe"})
@require_admin
@callback
def ws_subscribe(
    hass: HomeAssistant,
    connection: ActiveConnection,
    msg: dict[str, Any],
) -> None:
    """Send an event whenever the statistics, the consent or the submission change."""

    @callback
    def forward() -> None:
        connection.send_message(event_message(msg["id"], {"event": "updated"}))

    connection.subscriptions[msg["id"]] = async_dispatcher_connect(
        hass, SIGNAL_UPDATED, forward
    )
    connection.send_result(msg["id"])

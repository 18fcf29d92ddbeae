"""The sidebar panel: a built Lit bundle served from the integration's folder."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Final

from homeassistant.components import frontend, panel_custom
from homeassistant.components.http import StaticPathConfig
from homeassistant.core import HomeAssistant, callback
from homeassistant.util.hass_dict import HassKey

from .const import (
    DOMAIN,
    NAME,
    PANEL_BUNDLE,
    PANEL_ELEMENT,
    PANEL_ICON,
    PANEL_STATIC_URL,
    PANEL_URL_PATH,
)

FRONTEND_DIRECTORY: Final = Path(__file__).parent / "frontend"
# The bundle's digest, once the static path is registered (it cannot be removed).
DATA_PANEL_VERSION: HassKey[str] = HassKey(f"{DOMAIN}_panel_version")
# Set while the entry reloads after its options changed (for example the consent,
# chosen in the panel itself): the panel stays, so an open panel is not closed.
DATA_KEEP_PANEL: HassKey[bool] = HassKey(f"{DOMAIN}_keep_panel")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


async def async_register_panel(hass: HomeAssistant) -> None:
    """Serve the bundle and add the sidebar entry, for administrators only."""
    if PANEL_URL_PATH in hass.data.get(frontend.DATA_PANELS, {}):
        return  # kept through a reload
    if (version := hass.data.get(DATA_PANEL_VERSION)) is None:
        version = await hass.async_add_executor_job(
            _digest, FRONTEND_DIRECTORY / PANEL_BUNDLE
        )
        await hass.http.async_register_static_paths(
            [StaticPathConfig(PANEL_STATIC_URL, str(FRONTEND_DIRECTORY), True)]
        )
        hass.data[DATA_PANEL_VERSION] = version
    await panel_custom.async_register_panel(
        hass,
        frontend_url_path=PANEL_URL_PATH,
        webcomponent_name=PANEL_ELEMENT,
        sidebar_title=NAME,
        sidebar_icon=PANEL_ICON,
        # The digest makes browsers fetch a new bundle after an update.
        module_url=f"{PANEL_STATIC_URL}/{PANEL_BUNDLE}?v={version}",
        require_admin=True,
        config={},
    )


@callback
def async_keep_panel_for_reload(hass: HomeAssistant) -> None:
    """Keep the sidebar entry through the reload that follows."""
    hass.data[DATA_KEEP_PANEL] = True


@callback
def async_remove_panel(hass: HomeAssistant, *, reloading: bool = False) -> None:
    """Remove the sidebar entry, unless it is kept for a reload."""
    if reloading and hass.data.pop(DATA_KEEP_PANEL, False):
        return
    hass.data.pop(DATA_KEEP_PANEL, None)
    frontend.async_remove_panel(hass, PANEL_URL_PATH, warn_if_unknown=False)

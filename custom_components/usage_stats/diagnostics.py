"""Diagnostics for the Usage Statistics integration."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_ENDPOINT
from .coordinator import UsageStatsConfigEntry

TO_REDACT = {CONF_ENDPOINT, "installation_id"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: UsageStatsConfigEntry
) -> dict[str, Any]:
    """Return diagnostics: settings, consent record and a summary of what is stored."""
    coordinator = entry.runtime_data
    days = coordinator.stored["days"]
    return async_redact_data(
        {
            "options": dict(entry.options),
            "installation_id": coordinator.installation_id,
            "consent": coordinator.consent.as_dict(),
            "storage": {
                "days_stored": len(days),
                "metrics": sorted({metric for day in days.values() for metric in day}),
            },
        },
        TO_REDACT,
    )

"""Diagnostics for the Usage Statistics integration."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_ENDPOINT
from .coordinator import UsageStatsConfigEntry, UsageStatsCoordinator

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
            "submission": _submission(coordinator),
        },
        TO_REDACT,
    )


def _submission(coordinator: UsageStatsCoordinator) -> dict[str, Any]:
    """Return how the submission is doing, without any report's content."""
    submission = coordinator.submission
    state = coordinator.stored["submission"]
    return {
        "status": submission.status,
        "reports_waiting": submission.reports_waiting,
        "outbox": [
            {"kind": entry["kind"], "attempts": entry["attempts"]}
            for entry in state["outbox"]
        ],
        "history_entries": len(state["history"]),
        "last_success": state["last_success"],
        "next_planned": _iso(submission.next_planned),
        "rejected_status": state["rejected_status"],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None

"""Tests for the diagnostics."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from homeassistant.core import HomeAssistant

from .conftest import ENDPOINT


@pytest.mark.parametrize(
    "options", [{"consent": "share", "endpoint": ENDPOINT, "retention_days": 90}]
)
async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    mock_config_entry: MockConfigEntry,
    options: dict[str, Any],
    snapshot: SnapshotAssertion,
) -> None:
    """Diagnostics redact the installation id and the endpoint."""
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    result = await get_diagnostics_for_config_entry(
        hass, hass_client, mock_config_entry
    )
    # The weekly time is picked at random per installation.
    assert result == snapshot(
        exclude=props("changed_at", "share_granted_at", "next_planned")
    )
    assert result["submission"]["next_planned"] is not None
    consent = result["consent"]
    assert consent["changed_at"] == consent["share_granted_at"] is not None
    installation_id = mock_config_entry.runtime_data.installation_id
    assert installation_id
    assert installation_id not in str(result)
    assert ENDPOINT not in str(result)

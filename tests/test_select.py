"""Tests for the consent select entity."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.usage_stats.const import CONF_CONSENT, DOMAIN
from homeassistant.components.select import (
    ATTR_OPTION,
    DOMAIN as SELECT_DOMAIN,
    SERVICE_SELECT_OPTION,
)
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .conftest import ENDPOINT

ENTITY_ID = "select.usage_statistics_consent"


async def test_select_entity(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """The consent select shows the entry's level on the service device."""
    assert hass.states.get(ENTITY_ID) == snapshot(name="state")
    entity = entity_registry.async_get(ENTITY_ID)
    assert entity == snapshot(name="entity")
    device = device_registry.async_get(entity.device_id)
    assert device.identifiers == {(DOMAIN, init_integration.entry_id)}
    assert device.entry_type is dr.DeviceEntryType.SERVICE
    assert device.name == "Usage Statistics"


async def test_select_changes_consent(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Choosing a level is the same as changing it in the options."""
    await hass.services.async_call(
        SELECT_DOMAIN,
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: ENTITY_ID, ATTR_OPTION: "disabled"},
        blocking=True,
    )
    await hass.async_block_till_done()
    assert init_integration.options[CONF_CONSENT] == "disabled"
    assert init_integration.runtime_data.consent.level == "disabled"
    assert hass.states.get(ENTITY_ID).state == "disabled"


async def test_select_share_needs_endpoint(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Share without an endpoint is refused with a translated error, nothing changes."""
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            SELECT_DOMAIN,
            SERVICE_SELECT_OPTION,
            {ATTR_ENTITY_ID: ENTITY_ID, ATTR_OPTION: "share"},
            blocking=True,
        )
    assert err.value.translation_key == "endpoint_required"
    assert "Configure" in str(err.value)
    assert init_integration.options[CONF_CONSENT] == "local"
    assert hass.states.get(ENTITY_ID).state == "local"


@pytest.mark.parametrize(
    "options", [{CONF_CONSENT: "local", "endpoint": ENDPOINT, "retention_days": 90}]
)
async def test_select_share_with_endpoint(
    hass: HomeAssistant, init_integration: MockConfigEntry, options: dict[str, Any]
) -> None:
    """With an endpoint set, share can be chosen from the dashboard."""
    await hass.services.async_call(
        SELECT_DOMAIN,
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: ENTITY_ID, ATTR_OPTION: "share"},
        blocking=True,
    )
    await hass.async_block_till_done()
    assert hass.states.get(ENTITY_ID).state == "share"
    assert init_integration.runtime_data.installation_id is not None

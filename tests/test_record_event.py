"""Tests for the usage_stats.record_event action."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.usage_stats.const import CONF_CONSENT, DOMAIN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError

from .helpers import today


async def _record(hass: HomeAssistant, event_type: str, **metadata: Any) -> None:
    await hass.services.async_call(
        DOMAIN,
        "record_event",
        {"event_type": event_type, "metadata": metadata},
        blocking=True,
    )


async def test_declared_event(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A declared event with declared metadata is counted."""
    await _record(hass, "filament_change", material="petg")
    await _record(hass, "filament_change", material="petg")
    await _record(hass, "print_queued", from_automation=True)
    await _record(hass, "maintenance")
    assert today(init_integration, "events") == {
        "filament_change": 2,
        "print_queued": 1,
        "maintenance": 1,
    }
    assert today(init_integration, "event_metadata") == {
        "filament_change/material/petg": 2,
        "print_queued/from_automation/true": 1,
    }


async def test_custom_event(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Custom events take booleans, bucketed numbers and short identifiers."""
    await _record(
        hass, "custom_nozzle_swap", hardened=False, size=0.4, layers=250, kind="brass"
    )
    assert today(init_integration, "events") == {"custom_nozzle_swap": 1}
    assert today(init_integration, "event_metadata") == {
        "custom_nozzle_swap/hardened/false": 1,
        "custom_nozzle_swap/size/lt_1": 1,
        "custom_nozzle_swap/layers/from_100_to_1000": 1,
        "custom_nozzle_swap/kind/brass": 1,
    }


@pytest.mark.parametrize(
    ("event_type", "metadata", "reason", "field"),
    [
        ("door_opened", {}, "unknown_event_type", None),
        ("Custom Thing", {}, "not_identifier", "event_type"),
        ("custom_", {}, "unknown_event_type", None),
        ("filament_change", {"colour": "red"}, "unknown_metadata_key", "metadata.colour"),
        ("filament_change", {"material": "gold"}, "invalid_metadata_value", "metadata.material"),
        ("print_queued", {"from_automation": "yes"}, "invalid_metadata_value", "metadata.from_automation"),
        ("custom_x", {"owner": "alice@example.org"}, "identifying_value", "metadata.owner"),
        ("custom_x", {"host": "printer.local"}, "identifying_value", "metadata.host"),
        ("custom_x", {"ip": "10.0.0.7"}, "identifying_value", "metadata.ip"),
        ("custom_x", {"mac": "a4:c1:38:00:11:22"}, "identifying_value", "metadata.mac"),
        ("custom_x", {"file": "/config/benchy.gcode"}, "identifying_value", "metadata.file"),
        ("custom_x", {"url": "https://example.org"}, "identifying_value", "metadata.url"),
        ("custom_x", {"id": "9f1c2d3e-4b5a-4c6d-8e7f-001122334455"}, "identifying_value", "metadata.id"),
        ("custom_x", {"serial": "czpx4720x004xk01234"}, "identifying_value", "metadata.serial"),
        ("custom_x", {"name": "x" * 33}, "value_too_long", "metadata.name"),
        ("custom_x", {"name": "Kitchen Printer"}, "not_identifier", "metadata.name"),
        ("custom_x", {"list": [1, 2]}, "not_identifier", "metadata.list"),
        ("custom_x", {"nan": float("nan")}, "not_identifier", "metadata.nan"),
        ("custom_x", {f"k{i}": True for i in range(11)}, "too_much_metadata", None),
    ],
)  # fmt: skip
async def test_refused(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    event_type: str,
    metadata: dict[str, Any],
    reason: str,
    field: str | None,
) -> None:
    """Anything not declared or identifying is refused, naming the field; nothing is stored."""
    await _record(hass, "custom_before", ok=True)
    before = dict(init_integration.runtime_data.stored["days"])
    with pytest.raises(ServiceValidationError) as err:
        await _record(hass, event_type, **metadata)
    assert err.value.translation_key == reason
    if field:
        assert err.value.translation_placeholders["field"] == field
        assert field in str(err.value)
    assert init_integration.runtime_data.stored["days"] == before


async def test_metadata_key_must_be_identifier(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Metadata keys are identifiers too."""
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "record_event",
            {"event_type": "custom_x", "metadata": {"e-mail": True}},
            blocking=True,
        )
    assert err.value.translation_key == "not_identifier"


@pytest.mark.parametrize("options", [{CONF_CONSENT: "disabled", "retention_days": 90}])
async def test_disabled_records_nothing(
    hass: HomeAssistant, init_integration: MockConfigEntry, options: dict[str, Any]
) -> None:
    """At `disabled` the action is accepted and nothing is recorded."""
    await _record(hass, "filament_change", material="pla")
    assert init_integration.runtime_data.stored["days"] == {}


async def test_not_loaded(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Without a loaded entry, the action says so."""
    await hass.config_entries.async_unload(init_integration.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _record(hass, "maintenance")
    assert err.value.translation_key == "not_loaded"

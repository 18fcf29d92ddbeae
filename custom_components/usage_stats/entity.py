"""Base entity of the Usage Statistics integration."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN, NAME
from .coordinator import UsageStatsCoordinator


class UsageStatsEntity(CoordinatorEntity[UsageStatsCoordinator]):
    """An entity on the Usage Statistics service device."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: UsageStatsCoordinator, description: EntityDescription
    ) -> None:
        """Initialize the entity."""
        super().__init__(coordinator)
        self.entity_description = description
        entry = coordinator.config_entry
        self._attr_unique_id = f"{entry.entry_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry.entry_id)},
            entry_type=DeviceEntryType.SERVICE,
            name=NAME,
            manufacturer=NAME,
            sw_version=coordinator.integration_version,
        )

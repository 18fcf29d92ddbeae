"""Sensors of the Usage Statistics integration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .coordinator import UsageStatsConfigEntry, UsageStatsCoordinator
from .entity import UsageStatsEntity
from .submission import STATUSES

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class UsageStatsSensorEntityDescription(SensorEntityDescription):
    """Describes a Usage Statistics sensor."""

    value_fn: Callable[[UsageStatsCoordinator], StateType | datetime]


# The weekly submission: when it last worked, when it runs next, how it is doing.
SUBMISSION_SENSORS: tuple[UsageStatsSensorEntityDescription, ...] = (
    UsageStatsSensorEntityDescription(
        key="last_submission",
        translation_key="last_submission",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda coordinator: coordinator.submission.last_success,
    ),
    UsageStatsSensorEntityDescription(
        key="next_submission",
        translation_key="next_submission",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda coordinator: coordinator.submission.next_planned,
    ),
    UsageStatsSensorEntityDescription(
        key="submission_status",
        translation_key="submission_status",
        device_class=SensorDeviceClass.ENUM,
        options=list(STATUSES),
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda coordinator: coordinator.submission.status,
    ),
    UsageStatsSensorEntityDescription(
        key="reports_waiting",
        translation_key="reports_waiting",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda coordinator: coordinator.submission.reports_waiting,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: UsageStatsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the sensors."""
    async_add_entities(
        UsageStatsSensorEntity(entry.runtime_data, description)
        for description in SUBMISSION_SENSORS
    )


class UsageStatsSensorEntity(UsageStatsEntity, SensorEntity):
    """A sensor of the Usage Statistics integration."""

    entity_description: UsageStatsSensorEntityDescription

    @property
    def native_value(self) -> StateType | datetime:
        """Return the value of the sensor."""
        return self.entity_description.value_fn(self.coordinator)

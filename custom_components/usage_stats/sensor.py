"""Sensors: the local statistics, for dashboards and long-term statistics."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .catalogue import ERRORS, EVENTS, JOBS, PRINTERS, PRINTERS_BY_TYPE
from .coordinator import UsageStatsConfigEntry, UsageStatsCoordinator
from .counters import NO_LABEL, utc_today
from .entity import UsageStatsEntity
from .submission import STATUSES

PARALLEL_UPDATES = 0

# Metrics whose every count is one recorded event.
EVENT_METRICS = (EVENTS, JOBS, ERRORS)


def _last_days(days: int) -> tuple[date, date]:
    today = utc_today()
    return today - timedelta(days=days - 1), today


def _sum_over(
    coordinator: UsageStatsCoordinator, metrics: tuple[Any, ...], days: int
) -> int:
    first, last = _last_days(days)
    return sum(
        sum(coordinator.counters.total(metric, first, last).values())
        for metric in metrics
    )


def _jobs_completed(coordinator: UsageStatsCoordinator) -> int:
    first, last = _last_days(7)
    return sum(
        count
        for key, count in coordinator.counters.total(JOBS, first, last).items()
        if key.startswith("completed/")
    )


def _start_of_today() -> datetime:
    return datetime.combine(utc_today(), time.min, UTC)


@dataclass(frozen=True, kw_only=True)
class UsageStatsSensorEntityDescription(SensorEntityDescription):
    """Describes a Usage Statistics sensor."""

    value_fn: Callable[[UsageStatsCoordinator], StateType | datetime]
    attributes_fn: Callable[[UsageStatsCoordinator], Mapping[str, Any]] | None = None
    last_reset_fn: Callable[[], datetime] | None = None


STATISTICS_SENSORS: tuple[UsageStatsSensorEntityDescription, ...] = (
    UsageStatsSensorEntityDescription(
        key="printers",
        translation_key="printers",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda c: c.counters.latest(PRINTERS).get(NO_LABEL, 0),
        attributes_fn=lambda c: dict(
            sorted(c.counters.latest(PRINTERS_BY_TYPE).items())
        ),
    ),
    UsageStatsSensorEntityDescription(
        key="events_today",
        translation_key="events_today",
        state_class=SensorStateClass.TOTAL,
        value_fn=lambda c: _sum_over(c, EVENT_METRICS, 1),
        last_reset_fn=_start_of_today,
    ),
    UsageStatsSensorEntityDescription(
        key="errors_7d",
        translation_key="errors_7d",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda c: _sum_over(c, (ERRORS,), 7),
    ),
    UsageStatsSensorEntityDescription(
        key="jobs_completed_7d",
        translation_key="jobs_completed_7d",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_jobs_completed,
    ),
    UsageStatsSensorEntityDescription(
        key="days_stored",
        translation_key="days_stored",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        native_unit_of_measurement=UnitOfTime.DAYS,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda c: len(c.counters.days),
    ),
)


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
        for description in (*STATISTICS_SENSORS, *SUBMISSION_SENSORS)
    )


class UsageStatsSensorEntity(UsageStatsEntity, SensorEntity):
    """A sensor of the Usage Statistics integration."""

    entity_description: UsageStatsSensorEntityDescription

    @property
    def native_value(self) -> StateType | datetime:
        """Return the value."""
        return self.entity_description.value_fn(self.coordinator)

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Return the per-type counts of the printers sensor."""
        if (attributes_fn := self.entity_description.attributes_fn) is None:
            return None
        return attributes_fn(self.coordinator)

    @property
    def last_reset(self) -> datetime | None:
        """Return when a daily total started."""
        if (last_reset_fn := self.entity_description.last_reset_fn) is None:
            return None
        return last_reset_fn()

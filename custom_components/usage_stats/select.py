"""Select entity: the consent level, changeable from any dashboard."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .actions import set_consent
from .const import CONF_CONSENT, ConsentLevel
from .coordinator import UsageStatsConfigEntry
from .entity import UsageStatsEntity

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class UsageStatsSelectEntityDescription(SelectEntityDescription):
    """Describes a Usage Statistics select entity."""

    current_fn: Callable[[UsageStatsConfigEntry], str]
    select_fn: Callable[[HomeAssistant, UsageStatsConfigEntry, str], None]


SELECTS: tuple[UsageStatsSelectEntityDescription, ...] = (
    UsageStatsSelectEntityDescription(
        key=CONF_CONSENT,
        translation_key=CONF_CONSENT,
        entity_category=EntityCategory.CONFIG,
        options=[level.value for level in ConsentLevel],
        current_fn=lambda entry: entry.options[CONF_CONSENT],
        select_fn=set_consent,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: UsageStatsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the select entities."""
    async_add_entities(
        UsageStatsSelectEntity(entry.runtime_data, description)
        for description in SELECTS
    )


class UsageStatsSelectEntity(UsageStatsEntity, SelectEntity):
    """A select entity of the Usage Statistics integration."""

    entity_description: UsageStatsSelectEntityDescription

    @property
    def current_option(self) -> str:
        """Return the selected option."""
        return self.entity_description.current_fn(self.coordinator.config_entry)

    async def async_select_option(self, option: str) -> None:
        """Change the selected option."""
        self.entity_description.select_fn(
            self.hass, self.coordinator.config_entry, option
        )

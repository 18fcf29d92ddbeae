"""The coordinator: owns the store, the consent record and the local statistics."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .consent import ConsentRecord, new_installation_id
from .const import CONF_CONSENT, DOMAIN, LOGGER, SAVE_DELAY, ConsentLevel
from .store import (
    StoredData,
    UnsupportedStorageVersionError,
    UsageStatsStore,
    empty_data,
)

type UsageStatsConfigEntry = ConfigEntry[UsageStatsCoordinator]


class UsageStatsCoordinator(DataUpdateCoordinator[None]):
    """Keeps the integration's state; entities listen to it.

    Nothing is polled: collectors push into it, and it tells its listeners.
    """

    config_entry: UsageStatsConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: UsageStatsConfigEntry,
        integration_version: str,
    ) -> None:
        """Initialize the coordinator."""
        super().__init__(hass, LOGGER, config_entry=entry, name=DOMAIN)
        self.integration_version = integration_version
        self.store = UsageStatsStore(hass)
        self.stored: StoredData = empty_data()
        self.consent = ConsentRecord()
        # Only data that was loaded may be written back: a store we could not
        # read (for example from a newer version) must stay untouched.
        self._loaded = False

    @property
    def installation_id(self) -> str | None:
        """Return the installation id; None until `share` was first granted."""
        return self.stored["installation_id"]

    async def async_load(self) -> None:
        """Load the store and apply the consent level chosen in the entry."""
        try:
            stored = await self.store.async_load()
        except UnsupportedStorageVersionError as err:
            raise ConfigEntryError(
                translation_domain=DOMAIN,
                translation_key="unsupported_storage_version",
                translation_placeholders={"error": str(err)},
            ) from err
        self.stored = stored or empty_data()
        self._loaded = True
        self.consent = ConsentRecord.from_dict(self.stored["consent"])
        level = ConsentLevel(self.config_entry.options[CONF_CONSENT])
        if stored is None or level != self.consent.level:
            self._apply_consent(level)

    @callback
    def _apply_consent(self, level: ConsentLevel) -> None:
        """Record a new consent level, dated now."""
        self.consent = self.consent.with_level(level, dt_util.utcnow())
        self.stored["consent"] = self.consent.as_dict()
        if level is ConsentLevel.SHARE and self.installation_id is None:
            self.stored["installation_id"] = new_installation_id()
        self.async_schedule_save()

    @callback
    def async_schedule_save(self) -> None:
        """Write the store soon; many changes in a row make one write."""
        self.store.async_delay_save(self._data_to_save, SAVE_DELAY)

    @callback
    def _data_to_save(self) -> StoredData:
        return self.stored

    async def async_shutdown(self) -> None:
        """Write what is pending before the entry unloads."""
        await super().async_shutdown()
        if self._loaded:
            await self.store.async_save(self.stored)

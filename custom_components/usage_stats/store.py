"""Persistent local storage of the consent record and the daily counters."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import STORAGE_KEY, STORAGE_MINOR_VERSION, STORAGE_VERSION


class StoredData(TypedDict):
    """What the store file holds (the `data` of version 1)."""

    consent: dict[str, Any]
    installation_id: str | None
    # {"YYYY-MM-DD": {metric: {label: count}}}, UTC days.
    days: dict[str, dict[str, dict[str, int]]]
    submission: NotRequired[dict[str, Any]]


class UnsupportedStorageVersionError(Exception):
    """The store was written by a newer version of the integration."""


def empty_data() -> StoredData:
    """Return the data of a new installation."""
    return {
        "consent": {"level": "disabled", "changed_at": None, "share_granted_at": None},
        "installation_id": None,
        "days": {},
    }


class UsageStatsStore(Store[StoredData]):
    """The integration's store, file `.storage/usage_stats.data`, private to the owner.

    The key starts with the domain, so Home Assistant files a repair for a corrupt
    file under this integration.
    """

    def __init__(self, hass: HomeAssistant) -> None:
        """Initialize the store."""
        super().__init__(
            hass,
            STORAGE_VERSION,
            STORAGE_KEY,
            private=True,
            atomic_writes=True,
            minor_version=STORAGE_MINOR_VERSION,
        )

    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: dict[str, Any]
    ) -> StoredData:
        """Migrate data written by another version of the integration.

        A newer major version is refused (the file is left untouched, so a
        downgrade loses nothing); older minor versions gain the keys added since.
        """
        if old_major_version > STORAGE_VERSION:
            raise UnsupportedStorageVersionError(
                f"{STORAGE_KEY} was written by storage version "
                f"{old_major_version}.{old_minor_version}, newer than "
                f"{STORAGE_VERSION}.{STORAGE_MINOR_VERSION}"
            )
        data = empty_data()
        data.update(old_data)  # type: ignore[typeddict-item]
        return data

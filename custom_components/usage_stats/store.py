"""Persistent local storage of the consent record and the daily counters.

On disk the daily counters are kept compact: each distinct metric and label key
is written once in a key table, and each day is a flat list of key index and
count pairs. In memory they are plain nested dicts.
"""

from __future__ import annotations

from collections.abc import Callable
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


# Separates the metric from the label key in the on-disk key table.
KEY_SEPARATOR = "|"


def encode_days(days: dict[str, dict[str, dict[str, int]]]) -> dict[str, Any]:
    """Return the on-disk form of the daily counters."""
    index: dict[str, int] = {}
    counts: dict[str, list[int]] = {}
    for day in sorted(days):
        flat: list[int] = []
        for metric, labels in days[day].items():
            for label, count in labels.items():
                key = f"{metric}{KEY_SEPARATOR}{label}"
                flat += (index.setdefault(key, len(index)), count)
        counts[day] = flat
    return {"keys": list(index), "counts": counts}


def decode_days(encoded: dict[str, Any]) -> dict[str, dict[str, dict[str, int]]]:
    """Return the daily counters from their on-disk form."""
    keys = [key.split(KEY_SEPARATOR, 1) for key in encoded["keys"]]
    days: dict[str, dict[str, dict[str, int]]] = {}
    for day, flat in encoded["counts"].items():
        metrics = days[day] = {}
        for position in range(0, len(flat), 2):
            metric, label = keys[flat[position]]
            metrics.setdefault(metric, {})[label] = flat[position + 1]
    return days


def to_disk(data: StoredData) -> dict[str, Any]:
    """Return the on-disk form of the stored data."""
    return {**data, "days": encode_days(data["days"])}


def from_disk(data: dict[str, Any]) -> StoredData:
    """Return the stored data from its on-disk form."""
    return {**data, "days": decode_days(data["days"])}  # type: ignore[typeddict-item]


class UnsupportedStorageVersionError(Exception):
    """The store was written by a newer version of the integration."""


def empty_data() -> StoredData:
    """Return the data of a new installation."""
    return {
        "consent": {"level": "disabled", "changed_at": None, "share_granted_at": None},
        "installation_id": None,
        "days": {},
    }


class UsageStatsStore(Store[dict[str, Any]]):
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
    ) -> dict[str, Any]:
        """Migrate data written by another version of the integration.

        A newer major version is refused (the file is left untouched, so a
        downgrade loses nothing). Version 1.1 kept the daily counters as nested
        dicts on disk; 1.2 writes them compact. Keys added since are filled in.
        """
        if old_major_version > STORAGE_VERSION:
            raise UnsupportedStorageVersionError(
                f"{STORAGE_KEY} was written by storage version "
                f"{old_major_version}.{old_minor_version}, newer than "
                f"{STORAGE_VERSION}.{STORAGE_MINOR_VERSION}"
            )
        data: dict[str, Any] = {**to_disk(empty_data()), **old_data}
        if old_minor_version < 2:
            data["days"] = encode_days(old_data.get("days", {}))
        return data

    async def async_load_data(self) -> StoredData | None:
        """Load the stored data, migrating it when needed."""
        if (data := await self.async_load()) is None:
            return None
        return from_disk(data)

    async def async_save_data(self, data: StoredData) -> None:
        """Write the data now."""
        await self.async_save(to_disk(data))

    def async_delay_save_data(
        self, data_func: Callable[[], StoredData], delay: float
    ) -> None:
        """Write the data returned by `data_func` after `delay` seconds."""
        self.async_delay_save(lambda: to_disk(data_func()), delay)

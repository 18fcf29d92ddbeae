"""Tests for setting up, reloading, unloading and removing the integration."""

from __future__ import annotations

import copy
from datetime import datetime
import json
from pathlib import Path
from typing import Any
from unittest.mock import patch
from uuid import UUID

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.usage_stats.catalogue import EVENTS
from custom_components.usage_stats.const import (
    CONF_CONSENT,
    DOMAIN,
    STORAGE_KEY,
    STORAGE_MINOR_VERSION,
    STORAGE_VERSION,
    ConsentLevel,
)
from custom_components.usage_stats.store import decode_days
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .helpers import NEWER_STORE, settle

# The real file loader, captured before the test harness swaps in its in-memory one.
REAL_STORE_LOAD = Store._async_load


async def test_setup_and_unload(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """Setting up records the consent; unloading writes it and removes listeners."""
    entry = init_integration
    assert entry.state is ConfigEntryState.LOADED
    assert STORAGE_KEY not in hass_storage  # Writes are debounced.

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    stored = hass_storage[STORAGE_KEY]
    assert (stored["version"], stored["minor_version"]) == (
        STORAGE_VERSION,
        STORAGE_MINOR_VERSION,
    )
    assert stored["data"]["consent"]["level"] == "local"
    assert stored["data"]["installation_id"] is None
    assert not entry.update_listeners
    assert hass.states.get("select.usage_statistics_consent").state == "unavailable"


async def test_store_write_is_debounced(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """The store is written once the debounce delay has passed, compactly."""
    coordinator = init_integration.runtime_data
    await coordinator.async_save_now()
    coordinator.record(EVENTS, "ha_start")
    today = dt_util.utcnow().date().isoformat()
    await settle(hass, freezer, 5)
    written = hass_storage[STORAGE_KEY]["data"]
    assert "events|ha_start" not in written["days"]["keys"]
    await settle(hass, freezer, 6)
    written = hass_storage[STORAGE_KEY]["data"]
    # A key table, and each day a flat list of key index and count.
    index = written["days"]["keys"].index("events|ha_start")
    flat = [int(n) for n in written["days"]["counts"][today].split(",")]
    assert dict(zip(flat[::2], flat[1::2], strict=True))[index] == 1
    assert decode_days(written["days"]) == init_integration.runtime_data.stored["days"]


async def test_consent_record_is_dated(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Each change is dated; the installation id appears only with `share`."""
    freezer.move_to("2026-11-02T10:00:00+00:00")
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    coordinator = mock_config_entry.runtime_data
    assert coordinator.consent.changed_at == datetime.fromisoformat(
        "2026-11-02T10:00:00+00:00"
    )
    assert coordinator.consent.share_granted_at is None
    assert coordinator.installation_id is None

    freezer.move_to("2026-11-03T08:30:00+00:00")
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={**mock_config_entry.options, CONF_CONSENT: "share"},
    )
    await hass.async_block_till_done()
    coordinator = mock_config_entry.runtime_data
    granted = datetime.fromisoformat("2026-11-03T08:30:00+00:00")
    assert coordinator.consent.share_granted_at == granted
    installation_id = coordinator.installation_id
    assert installation_id is not None
    assert UUID(installation_id).version == 4

    # Reloading with the same level changes nothing.
    freezer.move_to("2026-11-04T00:00:00+00:00")
    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    coordinator = mock_config_entry.runtime_data
    assert coordinator.consent.changed_at == granted
    assert coordinator.installation_id == installation_id

    # Lowering consent clears the grant and replaces the id (nothing was sent with it).
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={**mock_config_entry.options, CONF_CONSENT: "disabled"},
    )
    await hass.async_block_till_done()
    coordinator = mock_config_entry.runtime_data
    assert coordinator.consent.level == "disabled"
    assert coordinator.consent.share_granted_at is None
    assert coordinator.consent.changed_at == dt_util.utcnow()
    assert coordinator.installation_id not in (None, installation_id)


async def test_remove_entry_deletes_store(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """Removing the entry deletes its stored data."""
    await hass.config_entries.async_unload(init_integration.entry_id)
    assert STORAGE_KEY in hass_storage
    await hass.config_entries.async_remove(init_integration.entry_id)
    await hass.async_block_till_done()
    assert STORAGE_KEY not in hass_storage


async def test_newer_storage_version_is_refused(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """A store from a newer major version is left untouched and setup fails clearly."""
    hass_storage[STORAGE_KEY] = copy.deepcopy(NEWER_STORE)
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR
    assert mock_config_entry.reason == NEWER_STORE_REASON
    assert hass_storage[STORAGE_KEY] == NEWER_STORE


# The translated reason (translations/en.json, exceptions.unsupported_storage_version;
# the config entry's reason drops the final full stop).
NEWER_STORE_REASON = (
    "The stored statistics were written by a newer version of Usage Statistics and were "
    "left untouched: usage_stats.data was written by storage version "
    f"{STORAGE_VERSION + 1}, newer than {STORAGE_VERSION}.{STORAGE_MINOR_VERSION}. "
    "Update the integration"
)


async def test_newer_storage_file_is_refused_and_kept(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    tmp_path: Path,
) -> None:
    """A downgrade reads a real file of a newer major version: translated error, file kept.

    Read by Home Assistant's own file loader, so the test holds whatever each
    version's `Store` does before our migration runs; stopping writes nothing.
    """
    hass.config.config_dir = str(tmp_path)
    storage_dir = tmp_path / ".storage"
    storage_dir.mkdir()
    path = storage_dir / STORAGE_KEY
    newer = json.dumps(NEWER_STORE, indent=4)
    path.write_text(newer, encoding="utf-8")
    mock_config_entry.add_to_hass(hass)
    with patch.object(Store, "_async_load", REAL_STORE_LOAD):
        assert not await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()

    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR
    assert mock_config_entry.reason == NEWER_STORE_REASON
    await hass.async_stop(force=True)
    assert path.read_text(encoding="utf-8") == newer
    assert [p.name for p in storage_dir.iterdir()] == [STORAGE_KEY]


async def test_older_minor_version_is_migrated(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Data without the keys of later minor versions gains them, keeping the rest."""
    hass_storage[STORAGE_KEY] = {
        "version": STORAGE_VERSION,
        "minor_version": 0,
        "key": STORAGE_KEY,
        "data": {
            "consent": {
                "level": "local",
                "changed_at": "2026-10-01T00:00:00+00:00",
                "share_granted_at": None,
            },
            "installation_id": None,
        },
    }
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.LOADED
    coordinator = mock_config_entry.runtime_data
    assert isinstance(coordinator.stored["days"], dict)
    assert coordinator.stored["open_jobs"] == {}
    assert coordinator.consent.changed_at == datetime.fromisoformat(
        "2026-10-01T00:00:00+00:00"
    )
    assert hass_storage[STORAGE_KEY]["minor_version"] == STORAGE_MINOR_VERSION


async def test_corrupt_store_file(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    tmp_path: Path,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A corrupt file is set aside, a repair is filed under the integration, setup goes on."""
    hass.config.config_dir = str(tmp_path)
    storage_dir = tmp_path / ".storage"
    storage_dir.mkdir()
    (storage_dir / STORAGE_KEY).write_text("{not json", encoding="utf-8")
    mock_config_entry.add_to_hass(hass)
    with patch.object(Store, "_async_load", REAL_STORE_LOAD):
        await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()

    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert mock_config_entry.runtime_data.consent.level == "local"
    assert [p.name[: len(STORAGE_KEY) + 9] for p in storage_dir.iterdir()] == [
        f"{STORAGE_KEY}.corrupt."
    ]
    issues = [
        issue
        for issue in issue_registry.issues.values()
        if issue.translation_key == "storage_corruption"
    ]
    assert len(issues) == 1
    assert issues[0].issue_domain == DOMAIN


@pytest.mark.parametrize("options", [{CONF_CONSENT: "disabled", "retention_days": 90}])
async def test_new_installation_disabled_is_dated(
    hass: HomeAssistant, init_integration: MockConfigEntry, options: dict[str, Any]
) -> None:
    """Refusing consent is recorded and dated too."""
    consent = init_integration.runtime_data.consent
    assert consent.level == "disabled"
    assert consent.changed_at is not None
    assert consent.share_granted_at is None
    assert not consent.level.allows(ConsentLevel.LOCAL)
    assert ConsentLevel.SHARE.allows(ConsentLevel.LOCAL)


STORE_1_1 = """{
    "version": 1,
    "minor_version": 1,
    "key": "usage_stats.data",
    "data": {
        "consent": {
            "level": "share",
            "changed_at": "2026-10-05T08:00:00+00:00",
            "share_granted_at": "2026-10-05T08:00:00+00:00"
        },
        "installation_id": "9b2f6c1e-7d4a-4e3b-a1c2-d3e4f5a6b7c8",
        "days": {
            "2026-10-05": {"events": {"ha_start": 2}, "printers": {"": 1}}
        }
    }
}"""


@pytest.mark.parametrize(
    "options",
    [
        {
            CONF_CONSENT: "share",
            "endpoint": "https://stats.example.org",
            "retention_days": 90,
        }
    ],
)
async def test_store_1_1_file_is_migrated(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    options: dict[str, Any],
    tmp_path: Path,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """A 1.1 file as written before submissions existed gains the submission state."""
    freezer.move_to("2026-10-06T12:00:00+00:00")
    hass.config.config_dir = str(tmp_path)
    storage_dir = tmp_path / ".storage"
    storage_dir.mkdir()
    (storage_dir / STORAGE_KEY).write_text(STORE_1_1, encoding="utf-8")
    mock_config_entry.add_to_hass(hass)
    with patch.object(Store, "_async_load", REAL_STORE_LOAD):
        assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()

    coordinator = mock_config_entry.runtime_data
    assert coordinator.installation_id == "9b2f6c1e-7d4a-4e3b-a1c2-d3e4f5a6b7c8"
    assert coordinator.stored["days"]["2026-10-05"]["events"] == {"ha_start": 2}
    submission = coordinator.stored["submission"]
    assert submission["outbox"] == []
    assert submission["history"] == []
    assert submission["baseline"] is None
    assert submission["schedule"] is not None  # Picked at the first start.
    # Without a baseline, the grant day itself is never sent.
    assert coordinator.submission.pending_first_day().isoformat() == "2026-10-06"
    await coordinator.async_save_now()
    written = hass_storage[STORAGE_KEY]
    assert (written["version"], written["minor_version"]) == (1, 7)
    assert written["data"]["submission"]["archive"] == []
    assert written["data"]["open_jobs"] == {}
    assert decode_days(written["data"]["days"]) == coordinator.stored["days"]

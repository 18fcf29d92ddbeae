"""The store file as Home Assistant's own storage helper writes it, on every tested version."""

from __future__ import annotations

import json
from pathlib import Path
import threading
from typing import Any
from unittest.mock import patch

from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.usage_stats.const import STORAGE_KEY, STORAGE_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.helpers import json as json_helper
from homeassistant.helpers.storage import Store

# The real file loader and writer, captured before the test harness swaps in its own.
REAL_STORE_LOAD = Store._async_load
REAL_STORE_WRITE = Store._async_write_data


async def test_store_is_serialized_off_the_event_loop(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    tmp_path: Path,
) -> None:
    """The store's JSON is made in a worker thread, never on the event loop.

    Home Assistant 2025.4 always serializes in a worker thread; from 2026.2 a store
    is serialized on the event loop unless it says its data is thread safe, which
    ours is: every write is a snapshot taken on the loop.
    """
    hass.config.config_dir = str(tmp_path)
    threads: list[threading.Thread] = []
    encode = json_helper._orjson_bytes_default_encoder

    def recording_encoder(data: Any) -> bytes:
        # Only our store: Home Assistant's own (of the frontend, for example) are not ours.
        if isinstance(data, dict) and data.get("key") == STORAGE_KEY:
            threads.append(threading.current_thread())
        return encode(data)

    mock_config_entry.add_to_hass(hass)
    with (
        patch.object(Store, "_async_load", REAL_STORE_LOAD),
        patch.object(Store, "_async_write_data", REAL_STORE_WRITE),
        patch.object(json_helper, "_orjson_bytes_default_encoder", recording_encoder),
    ):
        assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()
        await mock_config_entry.runtime_data.async_save_now()
        assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
        await hass.async_block_till_done()

    assert threads
    assert threading.main_thread() not in threads
    written = json.loads((tmp_path / ".storage" / STORAGE_KEY).read_text("utf-8"))
    assert written["version"] == STORAGE_VERSION
    assert written["data"]["consent"]["level"] == "local"

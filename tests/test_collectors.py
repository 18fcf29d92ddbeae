"""Tests for the collectors, through the real hass, registries and state machine."""

from __future__ import annotations

import logging
import threading
from typing import Any

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.usage_stats.collectors.errors import ErrorTypeHandler
from custom_components.usage_stats.const import (
    CONF_CONSENT,
    CONF_FEATURE_ENTITIES,
    CONF_PRINTER_INTEGRATIONS,
    CONF_RETENTION_DAYS,
)
from homeassistant.const import EVENT_HOMEASSISTANT_STARTED, EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.helpers import device_registry as dr

from .helpers import seed_store, settle, today


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def test_fleet(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    printers: dict[str, str],
    device_registry: dr.DeviceRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Printers are counted per type; accessories and other devices are not."""
    entry = await _setup(hass, mock_config_entry)
    assert today(entry, "printers") == {"": 3}
    assert today(entry, "printers_by_type") == {"prusa": 2, "bambu_lab": 1}

    # Looked up through its config entry, as every tested release allows
    # (async_get_device and `devices` as a mapping are deprecated since 2026.8).
    (bambu,) = hass.config_entries.async_entries("bambu_lab")
    device = next(
        device
        for device in dr.async_entries_for_config_entry(device_registry, bambu.entry_id)
        if ("bambu_lab", "01P00A123456789") in device.identifiers
    )
    device_registry.async_remove_device(device.id)
    await settle(hass, freezer)
    assert today(entry, "printers") == {"": 2}
    assert today(entry, "printers_by_type") == {"prusa": 2}


@pytest.mark.parametrize(
    "options",
    [
        {
            CONF_CONSENT: "local",
            CONF_RETENTION_DAYS: 90,
            CONF_PRINTER_INTEGRATIONS: ["hue"],
        }
    ],
)
async def test_fleet_user_domains(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    printers: dict[str, str],
    options: dict[str, Any],
) -> None:
    """The user decides which integrations' devices are printers."""
    entry = await _setup(hass, mock_config_entry)
    assert today(entry, "printers") == {"": 1}
    assert today(entry, "printers_by_type") == {"hue": 1}


async def test_features(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    printers: dict[str, str],
) -> None:
    """On/off feature entities of printers are counted by integration and key."""
    hass.states.async_set(printers["prusa_1_light"], "on")
    hass.states.async_set(printers["prusa_2_light"], "off")
    hass.states.async_set(printers["bambu_fan"], "unavailable")
    hass.states.async_set(printers["lamp"], "on")
    entry = await _setup(hass, mock_config_entry)
    assert today(entry, "features") == {
        "prusalink.chamber_light/on": 1,
        "prusalink.chamber_light/off": 1,
    }

    hass.states.async_set(printers["prusa_2_light"], "on")
    hass.states.async_set(printers["bambu_fan"], "on")
    await hass.async_block_till_done()
    assert today(entry, "features") == {
        "prusalink.chamber_light/on": 2,
        "bambu_lab.aux_fan/on": 1,
    }
    # Attribute changes do not count.
    hass.states.async_set(printers["bambu_fan"], "on", {"percentage": 50})
    await hass.async_block_till_done()
    assert today(entry, "features")["bambu_lab.aux_fan/on"] == 1


@pytest.mark.parametrize(
    "options",
    [
        {
            CONF_CONSENT: "local",
            CONF_RETENTION_DAYS: 90,
            CONF_FEATURE_ENTITIES: ["light.office_lamp", "input_boolean.heated_bed"],
        }
    ],
)
async def test_features_selected_by_user(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    printers: dict[str, str],
    options: dict[str, Any],
) -> None:
    """Entities the user selects count too, by integration, never by id."""
    hass.states.async_set(printers["lamp"], "on")
    hass.states.async_set("input_boolean.heated_bed", "off")
    entry = await _setup(hass, mock_config_entry)
    assert today(entry, "features") == {
        "hue.light/on": 1,
        "input_boolean.input_boolean/off": 1,
    }


@pytest.mark.parametrize(
    "options",
    [
        {
            CONF_CONSENT: "local",
            CONF_RETENTION_DAYS: 90,
            CONF_PRINTER_INTEGRATIONS: ["octoprint", "bambu_lab", "my_printer"],
        }
    ],
)
async def test_errors(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    options: dict[str, Any],
) -> None:
    """Only errors of the printer integrations and of Usage Statistics are counted.

    Only their integration and exception class are kept; errors of other
    integrations, of Home Assistant core and of libraries are not recorded at all.
    """
    entry = await _setup(hass, mock_config_entry)
    secret = "password hunter2 for /home/alice/prints/benchy.gcode at 192.168.1.5"  # noqa: S105

    def log(name: str, level: int, exc: BaseException | None = None) -> None:
        logging.getLogger(name).log(level, secret, exc_info=exc)

    # Counted: the configured printer integrations (core and custom) and ourselves.
    log("homeassistant.components.octoprint", logging.ERROR, ValueError(secret))
    log("homeassistant.components.octoprint.sensor", logging.WARNING, TimeoutError())
    log("homeassistant.components.octoprint", logging.ERROR)
    log("custom_components.bambu_lab.pybambu", logging.CRITICAL, OSError(secret))
    log("custom_components.my_printer", logging.ERROR, KeyError(secret))
    log("custom_components.usage_stats.transport", logging.ERROR, RuntimeError())
    thread = threading.Thread(
        target=log,
        args=("homeassistant.components.octoprint", logging.ERROR, RuntimeError()),
    )
    thread.start()
    thread.join()
    # Not counted at all.
    log("homeassistant.components.octoprint", logging.WARNING)  # No exception.
    log("homeassistant.components.camera", logging.ERROR, RuntimeError(secret))
    log("homeassistant.setup", logging.ERROR, ModuleNotFoundError(secret))
    log("homeassistant", logging.ERROR, ModuleNotFoundError(secret))
    log("homeassistant.core", logging.ERROR)
    log(
        "homeassistant.components.prusalink", logging.ERROR, ValueError()
    )  # Not chosen.
    log("custom_components.my_secret_thing.sensor", logging.ERROR, KeyError(secret))
    log("custom_components", logging.ERROR, KeyError(secret))
    log("pyoctoprintapi", logging.ERROR, ConnectionError(secret))
    log("aiohttp.client", logging.ERROR, ConnectionError(secret))
    log("octoprint", logging.ERROR, ConnectionError(secret))
    await hass.async_block_till_done()

    assert today(entry, "errors") == {
        "octoprint/ValueError": 1,
        "octoprint/TimeoutError": 1,
        "octoprint/no_exception": 1,
        "octoprint/RuntimeError": 1,
        "bambu_lab/OSError": 1,
        "my_printer/KeyError": 1,
        "usage_stats/RuntimeError": 1,
    }
    assert "hunter2" not in str(entry.runtime_data.stored)

    await hass.config_entries.async_unload(entry.entry_id)
    assert not any(
        isinstance(handler, ErrorTypeHandler)
        for handler in logging.getLogger().handlers
    )


async def test_error_handler_never_raises(hass: HomeAssistant) -> None:
    """A record the handler cannot read is dropped without an exception."""
    handler = ErrorTypeHandler(hass, frozenset())
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "msg", None, None)
    record.name = None  # type: ignore[assignment]
    assert handler.handle(record)
    assert not handler.pending
    handler.drain()  # Nothing to record, no coordinator: a no-op.


@pytest.mark.parametrize(
    "options", [{CONF_CONSENT: "disabled", CONF_RETENTION_DAYS: 90}]
)
async def test_disabled_attaches_nothing(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    printers: dict[str, str],
    options: dict[str, Any],
) -> None:
    """At `disabled`, no handler or listener is attached and nothing is recorded."""
    listeners_before = hass.bus.async_listeners()
    entry = await _setup(hass, mock_config_entry)
    assert not any(
        isinstance(handler, ErrorTypeHandler)
        for handler in logging.getLogger().handlers
    )
    hass.states.async_set(printers["prusa_1"], "printing")
    logging.getLogger("homeassistant.components.mqtt").error("x", exc_info=ValueError())
    await hass.async_block_till_done()
    assert entry.runtime_data.stored["days"] == {}
    listeners_after = hass.bus.async_listeners()
    assert listeners_after.get("state_changed", 0) == listeners_before.get(
        "state_changed", 0
    )


async def test_home_assistant_start_counted_once(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """A start of Home Assistant counts; a reload of the entry does not."""
    hass.set_state(CoreState.starting)
    entry = await _setup(hass, mock_config_entry)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)
    await hass.async_block_till_done()
    hass.set_state(CoreState.running)
    assert today(entry, "events") == {"ha_start": 1}
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert today(entry, "events") == {"ha_start": 1}


@pytest.mark.parametrize("options", [{CONF_CONSENT: "local", CONF_RETENTION_DAYS: 7}])
async def test_retention(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    options: dict[str, Any],
) -> None:
    """Days older than the retention are dropped at start and every midnight."""
    freezer.move_to("2026-11-23T23:59:00+00:00")
    seed_store(
        hass_storage,
        {
            "2026-11-10": {"events": {"ha_start": 1}},
            "2026-11-17": {"events": {"ha_start": 2}},
            "2026-11-18": {"events": {"ha_start": 3}},
        },
    )
    entry = await _setup(hass, mock_config_entry)
    days = entry.runtime_data.stored["days"]
    assert sorted(days) == ["2026-11-17", "2026-11-18", "2026-11-23"]
    await settle(hass, freezer, 70)
    assert sorted(days) == ["2026-11-18", "2026-11-23", "2026-11-24"]


async def test_unload_after_start_logs_nothing(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Set up during start-up and unloaded after it: no ERROR or WARNING is logged."""
    hass.set_state(CoreState.starting)
    entry = await _setup(hass, mock_config_entry)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)
    await hass.async_block_till_done()
    hass.set_state(CoreState.running)
    stored = entry.runtime_data.stored
    caplog.clear()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert list(stored["days"].values())[-1]["events"] == {"ha_start": 1}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_unload_before_start_stops_listening(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Unloaded while Home Assistant still starts: the start is not counted later."""
    hass.set_state(CoreState.starting)
    entry = await _setup(hass, mock_config_entry)
    stored = entry.runtime_data.stored
    caplog.clear()  # Loading any custom integration warns that it is custom.
    assert await hass.config_entries.async_unload(entry.entry_id)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)
    await hass.async_block_till_done()
    hass.set_state(CoreState.running)
    assert all("events" not in day for day in stored["days"].values())
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_unload_after_stop_event_logs_nothing(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Unloaded after Home Assistant's stop event fired: no ERROR or WARNING."""
    entry = await _setup(hass, mock_config_entry)
    caplog.clear()
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]

"""Fixtures for the Usage Statistics tests."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any
from unittest.mock import PropertyMock, patch

from aiohttp import web
from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.usage_stats.const import (
    CONF_CONSENT,
    CONF_ENDPOINT,
    CONF_RETENTION_DAYS,
    DOMAIN,
)
from custom_components.usage_stats.coordinator import UsageStatsCoordinator
from homeassistant.components.http import HomeAssistantHTTP
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .helpers import GRANTED, Receiver, set_schedule
from .jobs_fleet import Driver, Fleet, register_fleet

ENDPOINT = "https://stats.example.org"

# Entity registry fields that Home Assistant releases after the pinned minimum (2025.4.4)
# added or changed: 2026.2 has `object_id_base` and `suggested_object_id`; 2026.10 writes
# `aliases` as a list holding None for the entity's own name. The snapshots leave them
# out so they hold on every tested version.
LATER_REGISTRY_FIELDS = ("aliases", "object_id_base", "suggested_object_id")


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integration from custom_components."""


@pytest.fixture(autouse=True)
def mock_http_start_stop() -> Generator[None]:
    """Keep the http integration (a dependency) from serving on a port, as core's tests do.

    `HomeAssistantHTTP.start` and `.stop` exist on every tested release (newer test
    plugins patch `start` themselves; older ones do not). Tests reach Home Assistant's
    web app through aiohttp's test clients instead.
    """
    with (
        patch.object(HomeAssistantHTTP, "start"),
        patch.object(HomeAssistantHTTP, "stop"),
    ):
        yield


@pytest.fixture(autouse=True)
def no_usage_reports(caplog: pytest.LogCaptureFixture) -> Generator[None]:
    """Fail a test in which Home Assistant reports a deprecated use by this integration.

    Home Assistant logs "Detected that custom integration 'usage_stats' …" for a use it
    will stop supporting; on every tested release, no test may cause one.
    """
    yield
    reports = [
        record.getMessage()
        for when in ("setup", "call")
        for record in caplog.get_records(when)
        if "custom integration 'usage_stats'" in record.getMessage()
    ]
    assert not reports, reports


def plain_keys(*, data: Any, path: Any) -> Any:
    """Return a mapping whose `str` subclass keys (StrEnum members) are plain strings.

    Home Assistant 2026 names state attributes and capabilities with StrEnum
    members, which syrupy 6 writes as their repr; 2025.4 used plain strings.
    Both mean the same key, so the snapshots show the string on every release.
    """
    if isinstance(data, dict) and any(
        isinstance(key, str) and type(key) is not str for key in data
    ):
        return type(data)(
            {
                str.__str__(key) if isinstance(key, str) else key: value
                for key, value in data.items()
            }
        )
    return data


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Return the snapshot assertion as it reads on every tested release.

    Without the registry fields of later versions, and with plain string keys.
    """
    return snapshot.with_defaults(
        exclude=props(*LATER_REGISTRY_FIELDS), matcher=plain_keys
    )


@pytest.fixture
def options() -> dict[str, Any]:
    """Return the options of the config entry; tests override it."""
    return {CONF_CONSENT: "local", CONF_RETENTION_DAYS: 90}


@pytest.fixture
def mock_config_entry(options: dict[str, Any]) -> MockConfigEntry:
    """Return the config entry of the integration."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Usage Statistics",
        data={},
        options=options,
        entry_id="01JUSAGESTATSENTRY0000000",
    )


@pytest.fixture
def share_options() -> dict[str, Any]:
    """Return options with consent `share`."""
    return {CONF_CONSENT: "share", CONF_ENDPOINT: ENDPOINT, CONF_RETENTION_DAYS: 90}


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> MockConfigEntry:
    """Set up the integration and return its config entry."""
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    return mock_config_entry


@pytest.fixture
def mock_setup_entry() -> Generator[None]:
    """Keep the config flow tests from setting up the entry."""
    with patch("custom_components.usage_stats.async_setup_entry", return_value=True):
        yield


@pytest.fixture
def printers(
    hass: HomeAssistant,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> dict[str, str]:
    """Register a fake fleet of printer integrations' devices and entities.

    Two PrusaLink printers, one Bambu Lab printer with an AMS unit beside it, and
    a device of an integration that is not a printer. Every name, serial and host
    is made to look identifying, so tests can check none is recorded; of the
    models only Bambu Lab's (`X1C`) is, which that integration reads from the
    printer (PrusaLink reads none: its model here is never taken).
    Returns the status and feature entity ids by role.
    """
    ids: dict[str, str] = {}
    for index in (1, 2):
        entry = MockConfigEntry(
            domain="prusalink",
            title=f"Prusa MK4 Kitchen {index}",
            data={"host": f"192.168.1.{10 + index}"},
        )
        entry.add_to_hass(hass)
        device = device_registry.async_get_or_create(
            config_entry_id=entry.entry_id,
            identifiers={("prusalink", entry.entry_id)},
            name=f"Kitchen Prusa {index}",
            model="Original Prusa MK4",
            serial_number=f"CZPX4720X004XK{index:05d}",
            manufacturer="Prusa",
        )
        status = entity_registry.async_get_or_create(
            "sensor",
            "prusalink",
            f"{entry.entry_id}_printer.state",
            device_id=device.id,
            config_entry=entry,
            translation_key="printer_state",
            suggested_object_id=f"kitchen_prusa_{index}",
        )
        light = entity_registry.async_get_or_create(
            "light",
            "prusalink",
            f"{entry.entry_id}_light",
            device_id=device.id,
            config_entry=entry,
            translation_key="chamber_light",
            suggested_object_id=f"kitchen_prusa_{index}_light",
        )
        ids[f"prusa_{index}"] = status.entity_id
        ids[f"prusa_{index}_light"] = light.entity_id

    bambu = MockConfigEntry(domain="bambu_lab", title="Garage X1C 01P00A123456789")
    bambu.add_to_hass(hass)
    printer = device_registry.async_get_or_create(
        config_entry_id=bambu.entry_id,
        identifiers={("bambu_lab", "01P00A123456789")},
        name="Garage X1C",
        model="X1C",
        serial_number="01P00A123456789",
    )
    ams = device_registry.async_get_or_create(
        config_entry_id=bambu.entry_id,
        identifiers={("bambu_lab", "006A0B123456")},
        name="Garage X1C AMS 1",
        model="AMS",
    )
    # Linked by id: `via_device` of async_get_or_create is deprecated since 2026.8,
    # and 2025.4 takes `via_device_id` only in async_update_device.
    device_registry.async_update_device(ams.id, via_device_id=printer.id)
    status = entity_registry.async_get_or_create(
        "sensor",
        "bambu_lab",
        "01P00A123456789_print_status",
        device_id=printer.id,
        config_entry=bambu,
        translation_key="print_status",
        suggested_object_id="garage_x1c_print_status",
    )
    fan = entity_registry.async_get_or_create(
        "fan",
        "bambu_lab",
        "01P00A123456789_aux_fan",
        device_id=printer.id,
        config_entry=bambu,
        translation_key="aux_fan",
        suggested_object_id="garage_x1c_aux_fan",
    )
    ids["bambu"] = status.entity_id
    ids["bambu_fan"] = fan.entity_id

    hue = MockConfigEntry(domain="hue", title="Hue bridge 192.168.1.2")
    hue.add_to_hass(hass)
    lamp = device_registry.async_get_or_create(
        config_entry_id=hue.entry_id,
        identifiers={("hue", "00:17:88:01:02:03")},
        name="Office lamp",
    )
    ids["lamp"] = entity_registry.async_get_or_create(
        "light",
        "hue",
        "00:17:88:01:02:03-0b",
        device_id=lamp.id,
        config_entry=hue,
        suggested_object_id="office_lamp",
    ).entity_id
    return ids


# Submission: a real receiving server, and an entry sharing with it.


@pytest.fixture
async def receiver(socket_enabled: None) -> AsyncGenerator[Receiver]:
    """Start a receiving HTTP server on an ephemeral port of 127.0.0.1."""
    receiver = Receiver()
    runner = web.AppRunner(receiver.application())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield receiver
    receiver.release()
    await runner.cleanup()


@pytest.fixture
async def coordinator(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> UsageStatsCoordinator:
    """Set up the entry at the grant time, with a weekly run on Mondays 06:00 UTC.

    Tests using it override `options` with `share_with(receiver)`.
    """
    freezer.move_to(GRANTED)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    coordinator: UsageStatsCoordinator = mock_config_entry.runtime_data
    set_schedule(coordinator, second=6 * 3600)
    return coordinator


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Enable the entities that are disabled by default (as core's fixture does)."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


# Print jobs: a printer of every supported integration, and a driver of its states.


@pytest.fixture
def fleet(
    hass: HomeAssistant,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> Fleet:
    """Register a printer of every supported integration (tests/jobs_fleet.py)."""
    return register_fleet(hass, device_registry, entity_registry)


@pytest.fixture
def drive(hass: HomeAssistant, freezer: FrozenDateTimeFactory, fleet: Fleet) -> Driver:
    """Return the driver of the fleet's states."""
    return Driver(hass, freezer, fleet)

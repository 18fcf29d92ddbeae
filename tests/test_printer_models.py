"""Printer integrations' versions, printer models and firmware, and jobs per model.

Report version 3's labels: the catalogue refuses what looks typed by a person,
and the collectors record a model and a firmware version only where the printer
integration reads them from the printer itself (README: Printer models and
firmware), through the real registries and state machine.
"""

from __future__ import annotations

from collections.abc import Callable

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockModule,
    mock_integration,
)

from custom_components.usage_stats.catalogue import (
    JOBS_BY_MODEL,
    PRINTER_INTEGRATIONS,
    PRINTER_MODELS,
    Label,
    LabelKind,
)
from custom_components.usage_stats.const import (
    CONF_CONSENT,
    CONF_PRINTER_INTEGRATIONS,
    CONF_RETENTION_DAYS,
)
from custom_components.usage_stats.printers import KNOWN_PRINTER_INTEGRATIONS
from custom_components.usage_stats.privacy import (
    firmware_error,
    firmware_label,
    label_error,
    model_error,
    model_label,
    version_error,
)
from homeassistant.const import __version__ as ha_version
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .helpers import settle, today
from .jobs_fleet import (
    DEVICE_INFO,
    Driver,
    Fleet,
    assert_adds_up,
    describe_fleet,
    jobs,
    setup_entry,
    total,
)

# The integrations that read model and firmware from the printer (or its maker's
# cloud), and those that do not (README: Printer models and firmware).
FROM_PRINTER = {
    "dremel_3d_printer",
    "bambu_lab",
    "ha_creality_ws",
    "elegoo_printer",
    "anycubic_cloud",
    "flashforge",
}
NOT_FROM_PRINTER = {"octoprint", "prusalink", "moonraker"}


def _label(kind: LabelKind) -> Label:
    """Return the label of that kind of the new metrics."""
    return next(
        label
        for metric in (PRINTER_INTEGRATIONS, PRINTER_MODELS, JOBS_BY_MODEL)
        for label in metric.labels
        if label.kind is kind
    )


@pytest.mark.parametrize(
    "value",
    [
        "x1c",
        "3d45",  # Dremel's model starts with a digit.
        "centauri_carbon",
        "adventurer_5m_pro",
        "unknown",
        "x" * 32,
    ],
)
def test_model_label_accepts_models(value: str) -> None:
    """A model label is a short identifier, which may start with a digit."""
    assert _label(LabelKind.MODEL).check(value)


@pytest.mark.parametrize(
    "value",
    [
        "01p00a123456789",  # a serial number
        "czpx4720x004xk00001",  # a serial number
        "00000000_0000_4000_8000_1234567890ab",  # a UUID (as the label would be)
        "0e1f2a3b4c5d6e7f",  # a hex id
        "garage.fritz.box",  # a host name
        "john@example.org",  # an e-mail address
        "192.168.1.5",  # an IP address
        "a" * 33,  # too long
        "X1C",  # not normalised: capitals
        "x1c mini",  # a space
        "x1c/p1s",  # the label separator
        "_x1c",
        "",
    ],
)
def test_model_label_refuses_what_is_no_model(value: str) -> None:
    """Serial-, host- and e-mail-like values, and anything not a short identifier."""
    assert not _label(LabelKind.MODEL).check(value)


@pytest.mark.parametrize(
    ("model", "name_by_user", "label"),
    [
        ("X1C", None, "x1c"),
        ("3D45", None, "3d45"),
        ("Centauri Carbon", "Workshop printer", "centauri_carbon"),
        ("Adventurer 5M Pro", None, "adventurer_5m_pro"),
        ("Anycubic Kobra 3", None, "anycubic_kobra_3"),
        ("Ender-3 V3 KE", None, "ender_3_v3_ke"),
        # Equal to the name the person gave the device: it may be a name.
        ("X1C", "X1C", None),
        ("Centauri Carbon", "centauri-carbon", None),
        # What looks typed by a person, or identifying, as given or as a label.
        ("01P00A123456789", None, None),  # a serial number
        ("CZPX4720X004XK00001", None, None),
        ("garage-x1c.fritz.box", None, None),  # a host name
        ("printer.local", None, None),
        ("john@example.org", None, None),  # an e-mail address
        ("http://192.168.1.5/", None, None),  # a URL
        ("88:a9:a7:00:11:22", None, None),  # a MAC address
        ("/dev/ttyUSB0", None, None),  # a path
        ("My very own printer with a long name", None, None),  # too long
        ("", None, None),
        (None, None, None),
        # A model the printer itself does not know is no model.
        ("UNKNOWN", None, None),
        ("Unknown", None, None),
    ],
)
def test_model_label(model: str | None, name_by_user: str | None, label: str) -> None:
    """A device's model becomes a label, or is refused."""
    assert model_label(model, name_by_user) == label
    if label is not None:
        assert _label(LabelKind.MODEL).check(label)


@pytest.mark.parametrize(
    "value", ["1.8", "0.0", "10.2", "2025.4", "9999.9999", "unknown"]
)
def test_firmware_label_accepts_major_minor(value: str) -> None:
    """A firmware label is `major.minor`, or `unknown`."""
    assert _label(LabelKind.FIRMWARE).check(value)


@pytest.mark.parametrize(
    "value",
    [
        "01.08.02.00",  # not reduced
        "1.8.2",
        "v1.8",
        "1",
        "1.8 beta",
        "1.8-beta",
        "10000.1",
        "1,8",
        "x1c",
        "",
    ],
)
def test_firmware_label_refuses_what_is_not_major_minor(value: str) -> None:
    """Anything but `major.minor` (at most four digits each) is refused."""
    assert not _label(LabelKind.FIRMWARE).check(value)


@pytest.mark.parametrize(
    ("version", "label"),
    [
        ("01.08.02.00", "1.8"),  # Bambu Lab: leading zeros dropped
        ("v3.0_R02.12.10", "3.0"),  # Dremel
        ("V1.3.3.46", "1.3"),  # Creality
        ("V1.1.29", "1.1"),  # Elegoo
        ("2.4.1.6", "2.4"),
        ("v2.7.5", "2.7"),  # FlashForge
        ("1.8", "1.8"),
        ("3", None),  # no minor version
        ("beta", None),
        ("12345.1", None),  # not a firmware version
        ("", None),
        (None, None),
    ],
)
def test_firmware_label(version: str | None, label: str | None) -> None:
    """A device's software version becomes its `major.minor`, or is refused."""
    assert firmware_label(version) == label
    if label is not None:
        assert _label(LabelKind.FIRMWARE).check(label)


@pytest.mark.parametrize(
    "value",
    ["2025.4.4", "2026.11.0", "2.1.9", "1.0.0b3", "v1.13.3", "1.0+local", "0.9.4-rc.1"],
)
def test_version_label_accepts_versions(value: str) -> None:
    """An integration's version is any version string of its manifest."""
    assert _label(LabelKind.VERSION).check(value)


@pytest.mark.parametrize(
    "value",
    [
        "1.0/2",  # a slash (also the label separator)
        "1.0 beta",  # a space
        "C:\\1.0",
        "john@example.org",
        "1.0_beta",
        ".1.0",
        "1" * 33,  # too long
        "",
    ],
)
def test_version_label_refuses_what_is_no_version(value: str) -> None:
    """A slash, a space or any other character outside a version string is refused."""
    assert not _label(LabelKind.VERSION).check(value)


@pytest.mark.parametrize(
    "check", [label_error, version_error, model_error, firmware_error]
)
@pytest.mark.parametrize("value", [None, 1.8, 3, ["x1c"]])
def test_only_text_is_a_label(
    check: Callable[[object], str | None], value: object
) -> None:
    """A value that is not text is refused, with the reason."""
    assert check(value) == "not_text"


async def test_fleet_records_integrations_models_and_firmware(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: Fleet,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Each integration's version; model and firmware only where read from the printer.

    A core integration's version is Home Assistant's, a custom one's its manifest's.
    OctoPrint's, PrusaLink's and Moonraker's models are never recorded, nor any
    hardware version.
    """
    await describe_fleet(hass, device_registry, fleet)
    entry = await setup_entry(hass, mock_config_entry)
    types = {
        domain: integration.printer_type
        for domain, integration in KNOWN_PRINTER_INTEGRATIONS.items()
    }
    assert today(entry, "printer_integrations") == {
        f"{domain}/{types[domain]}/{info.version or ha_version}": 1
        for domain, info in DEVICE_INFO.items()
    }
    assert today(entry, "printer_models") == {
        "dremel/3d45/3.0": 1,
        "bambu_lab/x1c/1.8": 1,
        "creality/k1c/1.3": 1,
        "elegoo/centauri_carbon/1.1": 1,
        "anycubic/anycubic_kobra_3/2.4": 1,
        "flashforge/adventurer_5m_pro/2.7": 1,
    }
    assert {key.split("/")[0] for key in today(entry, "printer_models")} == {
        types[domain] for domain in FROM_PRINTER
    }
    models = str(today(entry, "printer_models"))
    for domain in NOT_FROM_PRINTER:
        info = DEVICE_INFO[domain]
        assert types[domain] not in models
        for value in (model_label(info.model), firmware_label(info.sw_version)):
            assert value is None or value not in models, (domain, value)
    stored = str(entry.runtime_data.stored)
    for value in ("prusa_i3_mk3s", "1.11.8", "42311", "88:a9:a7", "Workshop printer"):
        assert value not in stored
    # The flags say the same as the README.
    assert {
        domain
        for domain, integration in KNOWN_PRINTER_INTEGRATIONS.items()
        if integration.model_from_printer and integration.firmware_from_printer
    } == FROM_PRINTER
    assert not any(
        KNOWN_PRINTER_INTEGRATIONS[domain].model_from_printer
        or KNOWN_PRINTER_INTEGRATIONS[domain].firmware_from_printer
        for domain in NOT_FROM_PRINTER
    )


async def test_fleet_follows_the_device_registry(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: Fleet,
    device_registry: dr.DeviceRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A firmware update changes the snapshot; a model named by its user is unknown.

    A model equal to the name the person gave the device may be that name: it is
    left out (`unknown`), its firmware kept, and its jobs counted per type only.
    """
    await describe_fleet(hass, device_registry, fleet)
    entry = await setup_entry(hass, mock_config_entry)
    device_registry.async_update_device(
        fleet.device["bambu_lab"], sw_version="01.09.00.00"
    )
    await settle(hass, freezer)
    assert today(entry, "printer_models")["bambu_lab/x1c/1.9"] == 1
    assert "bambu_lab/x1c/1.8" not in today(entry, "printer_models")

    device_registry.async_update_device(fleet.device["bambu_lab"], name_by_user="X1C")
    await settle(hass, freezer)
    models = today(entry, "printer_models")
    assert models["bambu_lab/unknown/1.9"] == 1
    assert "bambu_lab/x1c/1.9" not in models

    # A printer with neither model nor firmware read from it is not in the snapshot.
    device_registry.async_update_device(
        fleet.device["flashforge"], model=None, sw_version=None
    )
    await settle(hass, freezer)
    assert not any(
        key.startswith("flashforge/") for key in today(entry, "printer_models")
    )
    assert today(entry, "printers_by_type")["flashforge"] == 1


async def test_an_integration_without_a_version_is_left_out(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: Fleet,
) -> None:
    """Not loaded, without a version, or one that is no version: no integration entry.

    Its printers are still counted.
    """
    mock_integration(hass, MockModule("bambu_lab"), built_in=False)
    mock_integration(
        hass,
        MockModule("moonraker", partial_manifest={"version": "1.13.3 (dev)"}),
        built_in=False,
    )
    mock_integration(
        hass,
        MockModule("flashforge", partial_manifest={"version": "1.1.0"}),
        built_in=False,
    )
    entry = await setup_entry(hass, mock_config_entry)
    assert today(entry, "printer_integrations") == {"flashforge/flashforge/1.1.0": 1}
    assert today(entry, "printers") == {"": len(DEVICE_INFO)}


async def test_jobs_by_model_beside_jobs(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    drive: Driver,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Every job counted per type is counted per model too, where the model is known.

    Moonraker's model is a constant, not the printer's: its jobs are per type only.
    """
    await describe_fleet(hass, device_registry, drive.fleet)
    for domain, idle in (("bambu_lab", "idle"), ("moonraker", "standby")):
        await drive(domain, idle, 0)
    entry = await setup_entry(hass, mock_config_entry)
    for status, progress, minutes in (("running", 0, 0), ("finish", 100, 60)):
        await drive("bambu_lab", status, progress, minutes)
    for status, progress, minutes in (("running", 0, 1), ("failed", 40, 30)):
        await drive("bambu_lab", status, progress, minutes)
    await drive("bambu_lab", "running", 0, 1)  # Still running.
    for status, progress, minutes in (("printing", 0, 0), ("complete", 100, 60)):
        await drive("moonraker", status, progress, minutes)
    await drive.settle()

    assert jobs(entry, "bambu_lab") == {"started": 3, "completed": 1, "failed": 1}
    assert jobs(entry, "moonraker") == {"started": 1, "completed": 1}
    assert total(entry, "jobs_by_model") == {
        "started/bambu_lab/x1c": 3,
        "completed/bambu_lab/x1c": 1,
        "failed/bambu_lab/x1c": 1,
    }
    assert_adds_up(entry)


async def test_no_model_no_jobs_by_model(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    drive: Driver,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A printer of a flagged integration whose model is not known: per type only."""
    await drive("elegoo_printer", "idle", 0)
    entry = await setup_entry(hass, mock_config_entry)
    for status, progress, minutes in (("printing", 0, 0), ("complete", 100, 45)):
        await drive("elegoo_printer", status, progress, minutes)
    await drive.settle()
    assert jobs(entry, "elegoo_printer") == {"started": 1, "completed": 1}
    assert total(entry, "jobs_by_model") == {}


@pytest.mark.parametrize(
    "options",
    [
        {
            CONF_CONSENT: "local",
            CONF_RETENTION_DAYS: 90,
            CONF_PRINTER_INTEGRATIONS: ["elegoo_printer", "printer3000x"],
        }
    ],
)
async def test_a_refused_printer_type_counts_no_job(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
    drive: Driver,
) -> None:
    """A domain added by the user that looks like a serial number is no label.

    Its printer's jobs are counted neither per type nor per model, and not as
    running; the other printers' are.
    """
    entry = MockConfigEntry(domain="printer3000x", title="Printer")
    entry.add_to_hass(hass)
    device = device_registry.async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={("printer3000x", "1")},
        name="Printer",
        model="X1C",
    )
    status = entity_registry.async_get_or_create(
        "sensor",
        "printer3000x",
        "1_print_status",
        device_id=device.id,
        config_entry=entry,
        translation_key="print_status",
    ).entity_id
    await describe_fleet(hass, device_registry, drive.fleet)
    hass.states.async_set(status, "idle")
    await drive("elegoo_printer", "idle", 0)
    usage = await setup_entry(hass, mock_config_entry)
    for state in ("printing", "complete"):
        hass.states.async_set(status, state)
        await drive("elegoo_printer", state, 100 if state == "complete" else 0, 30)
    await drive.settle()
    assert total(usage, "jobs") == {
        "started/elegoo": 1,
        "completed/elegoo": 1,
    }
    assert total(usage, "jobs_by_model") == {
        "started/elegoo/centauri_carbon": 1,
        "completed/elegoo/centauri_carbon": 1,
    }
    assert usage.runtime_data.stored["open_jobs"] == {"elegoo": 0}

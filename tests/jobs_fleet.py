"""A printer of every supported integration in the real registries, and a driver of its states.

Shared by the job tests: printers are registered in the real device and entity
registries the way each integration registers them; their states are set on
those entities, with time passing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockModule,
    mock_integration,
)

from custom_components.usage_stats.catalogue import JOB_OUTCOMES
from custom_components.usage_stats.printers import KNOWN_PRINTER_INTEGRATIONS
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.loader import async_get_integration

from .helpers import settle

UUID = "8f1e0c6a-0000-4000-8000-1234567890ab"


@dataclass(frozen=True)
class Kind:
    """How an integration registers its status and progress sensors."""

    domain: str
    status: dict[str, str]
    progress: dict[str, str] | None
    # The sensor of the printer host's own state (Klipper's klippy state), if any.
    fault: dict[str, str] | None = None


KINDS = {
    kind.domain: kind
    for kind in (
        Kind(
            "octoprint",
            {"unique_id": f"Current State-{UUID}"},
            {"unique_id": f"Job Percentage-{UUID}"},
        ),
        Kind(
            "prusalink",
            {"unique_id": f"{UUID}_printer.state", "translation_key": "printer_state"},
            {"unique_id": f"{UUID}_job.progress", "translation_key": "progress"},
        ),
        Kind(
            "dremel_3d_printer",
            {"unique_id": f"{UUID}_job_phase", "translation_key": "job_phase"},
            {"unique_id": f"{UUID}_progress", "translation_key": "progress"},
        ),
        Kind(
            "bambu_lab",
            {"unique_id": f"{UUID}_print_status", "translation_key": "print_status"},
            {
                "unique_id": f"{UUID}_print_progress",
                "translation_key": "print_progress",
            },
        ),
        Kind(
            "moonraker",
            {"unique_id": f"{UUID}_print_state"},
            {"unique_id": f"{UUID}_progress"},
            {"unique_id": f"{UUID}_state"},
        ),
        Kind(
            "ha_creality_ws",
            {"unique_id": f"{UUID}_print_status", "translation_key": "print_status"},
            {
                "unique_id": f"{UUID}_print_progress",
                "translation_key": "print_progress",
            },
        ),
        Kind(
            "elegoo_printer",
            {"unique_id": f"{UUID}_print_status", "translation_key": "print_status"},
            {
                "unique_id": f"{UUID}_print_progress",
                "translation_key": "print_progress",
            },
        ),
        Kind(
            "anycubic_cloud",
            {"unique_id": f"{UUID}_print_state", "translation_key": "print_state"},
            {
                "unique_id": f"{UUID}_print_progress",
                "translation_key": "print_progress",
            },
        ),
        Kind("flashforge", {"unique_id": f"{UUID}_status"}, None),
    )
}


@dataclass(frozen=True)
class DeviceInfo:
    """What an integration writes into its printer's device entry, and its version."""

    model: str | None
    sw_version: str | None
    # A custom integration's manifest version; None: a core integration.
    version: str | None = None
    hw_version: str | None = None


# As each integration fills in its printer's device (README: Printer models and
# firmware): where model and software version come from the printer itself, values
# as the printer reports them; OctoPrint and PrusaLink set none, Moonraker a
# constant. OctoPrint here has a model anyway, as its printer profile's model (typed
# by a person) would read, to show that it is never taken.
DEVICE_INFO = {
    "octoprint": DeviceInfo("Prusa i3 MK3S", "1.11.8"),
    "prusalink": DeviceInfo(None, None),
    "dremel_3d_printer": DeviceInfo("3D45", "v3.0_R02.12.10"),
    "bambu_lab": DeviceInfo("X1C", "01.08.02.00", "2.1.9"),
    "moonraker": DeviceInfo("moonraker", None, "1.13.3"),
    "ha_creality_ws": DeviceInfo("K1C", "V1.3.3.46", "0.9.4"),
    "elegoo_printer": DeviceInfo("Centauri Carbon", "V1.1.29", "2.3.0"),
    # hw_version: Anycubic's made-up printer id, FlashForge's MAC address.
    "anycubic_cloud": DeviceInfo("Anycubic Kobra 3", "2.4.1.6", "0.2.3", "42311"),
    "flashforge": DeviceInfo(
        "Adventurer 5M Pro", "v2.7.5", "1.1.0", "88:a9:a7:00:11:22"
    ),
}


async def describe_fleet(
    hass: HomeAssistant, device_registry: dr.DeviceRegistry, fleet: Fleet
) -> None:
    """Give the fleet's devices their DEVICE_INFO, and load each integration.

    Loaded as Home Assistant loads the integrations of its config entries before
    setting them up: a core one from Home Assistant itself, a custom one (not
    installed here) from its manifest.
    """
    for domain, info in DEVICE_INFO.items():
        device_registry.async_update_device(
            fleet.device[domain],
            model=info.model,
            sw_version=info.sw_version,
            hw_version=info.hw_version,
        )
        if info.version is None:
            await async_get_integration(hass, domain)
        else:
            mock_integration(
                hass,
                MockModule(domain, partial_manifest={"version": info.version}),
                built_in=False,
            )


@dataclass
class Fleet:
    """One registered printer per integration: its status and progress entities."""

    status: dict[str, str]
    progress: dict[str, str]
    device: dict[str, str]
    fault: dict[str, str]


def register_fleet(
    hass: HomeAssistant,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> Fleet:
    """Register a printer of every supported integration."""
    fleet = Fleet({}, {}, {}, {})
    for kind in KINDS.values():
        entry = MockConfigEntry(domain=kind.domain, title=f"Printer 192.168.1.5 {UUID}")
        entry.add_to_hass(hass)
        device = device_registry.async_get_or_create(
            config_entry_id=entry.entry_id,
            identifiers={(kind.domain, UUID)},
            name="Workshop printer",
        )
        fleet.device[kind.domain] = device.id
        fleet.status[kind.domain] = entity_registry.async_get_or_create(
            "sensor",
            kind.domain,
            kind.status["unique_id"],
            device_id=device.id,
            config_entry=entry,
            translation_key=kind.status.get("translation_key"),
        ).entity_id
        for sensor, ids in ((kind.progress, fleet.progress), (kind.fault, fleet.fault)):
            if sensor is not None:
                ids[kind.domain] = entity_registry.async_get_or_create(
                    "sensor",
                    kind.domain,
                    sensor["unique_id"],
                    device_id=device.id,
                    config_entry=entry,
                    translation_key=sensor.get("translation_key"),
                ).entity_id
    return fleet


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def printer_type(domain: str) -> str:
    return KNOWN_PRINTER_INTEGRATIONS[domain].printer_type


def assert_adds_up(entry: MockConfigEntry) -> None:
    """Started = the sum of the outcomes + the jobs still running, per printer type."""
    jobs: dict[str, dict[str, int]] = {}
    for metrics in entry.runtime_data.stored["days"].values():
        for key, value in metrics.get("jobs", {}).items():
            outcome, kind = key.split("/")
            jobs.setdefault(kind, dict.fromkeys(JOB_OUTCOMES, 0))[outcome] += value
    running = entry.runtime_data.stored["open_jobs"]
    for kind in jobs.keys() | running.keys():
        counts = jobs.get(kind, dict.fromkeys(JOB_OUTCOMES, 0))
        ended = sum(n for outcome, n in counts.items() if outcome != "started")
        assert counts["started"] == ended + running.get(kind, 0), (kind, counts)


class Driver:
    """Sets states on the registered entities, with time passing."""

    def __init__(
        self, hass: HomeAssistant, freezer: FrozenDateTimeFactory, fleet: Fleet
    ) -> None:
        """Initialize the driver."""
        self.hass, self.freezer, self.fleet = hass, freezer, fleet

    async def __call__(
        self,
        domain: str,
        status: str | None = None,
        progress: float | str | None = None,
        minutes: float = 0,
    ) -> None:
        """Move time on, then set the status and progress as one update does."""
        self.freezer.tick(timedelta(minutes=minutes))
        if status is not None:
            self.hass.states.async_set(self.fleet.status[domain], status)
        if progress is not None:
            self.hass.states.async_set(self.fleet.progress[domain], str(progress))
        await self.hass.async_block_till_done()

    async def fault(self, domain: str, state: str) -> None:
        """Set the state of the printer host's own sensor (Klipper's klippy state)."""
        self.hass.states.async_set(self.fleet.fault[domain], state)
        await self.hass.async_block_till_done()

    async def settle(self) -> None:
        """Let endings settle."""
        await settle(self.hass, self.freezer)


def total(entry: MockConfigEntry, metric: str) -> dict[str, int]:
    """Return the counts of a metric summed over all stored days."""
    totals: dict[str, int] = {}
    for metrics in entry.runtime_data.stored["days"].values():
        for key, value in metrics.get(metric, {}).items():
            totals[key] = totals.get(key, 0) + value
    return totals


def jobs(entry: MockConfigEntry, domain: str) -> dict[str, int]:
    kind = printer_type(domain)
    return {
        key.split("/")[0]: value
        for key, value in total(entry, "jobs").items()
        if key.endswith(f"/{kind}")
    }

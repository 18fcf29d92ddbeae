"""The printer directory: which devices are printers, and which entities to watch.

Read from the device and entity registries for the configured printer
integrations, and read again whenever either registry changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from homeassistant.const import Platform, __version__ as ha_version
from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.debounce import Debouncer
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.loader import IntegrationNotLoaded, async_get_loaded_integration

from ..const import CONF_FEATURE_ENTITIES, CONF_PRINTER_INTEGRATIONS, LOGGER
from ..coordinator import UsageStatsCoordinator
from ..printers import (
    ACCESSORY_MODELS,
    DEFAULT_PRINTER_INTEGRATIONS,
    PrinterIntegration,
    printer_integration,
)
from ..privacy import firmware_label, model_label, version_error

# Entities of printer devices whose on/off state is a feature flag.
SWITCH_LIKE_DOMAINS = frozenset(
    {Platform.SWITCH, Platform.LIGHT, Platform.FAN, Platform.SIREN}
)
RESCAN_COOLDOWN = 2.0


@dataclass(frozen=True, slots=True)
class Printer:
    """A printer device and its status and job progress entities, if found."""

    device_id: str
    integration: PrinterIntegration
    status_entity_id: str | None
    progress_entity_id: str | None = None
    # The printer host's own state sensor (Klipper's klippy state), if it has one.
    host_entity_id: str | None = None
    # Its model and `major.minor` firmware as labels, where the integration reads
    # them from the printer itself; None otherwise.
    model: str | None = None
    firmware: str | None = None


def feature_key(entity_id: str, entry: er.RegistryEntry | None) -> str:
    """Return `<integration domain>.<translation key or entity domain>` of an entity."""
    domain = entity_id.partition(".")[0]
    if entry is None:
        return f"{domain}.{domain}"
    return f"{entry.platform}.{entry.translation_key or entry.domain}"


class PrinterDirectory:
    """Knows the printers and the feature entities; tells subscribers of changes."""

    def __init__(self, coordinator: UsageStatsCoordinator) -> None:
        """Initialize the directory."""
        self.coordinator = coordinator
        self.hass = coordinator.hass
        self.printers: list[Printer] = []
        self.features: dict[str, str] = {}  # entity id -> feature key
        # Integration domain -> the version loaded (Home Assistant's for core ones).
        self.versions: dict[str, str] = {}
        self._subscribers: list[Callable[[], None]] = []
        self._debouncer = Debouncer(
            self.hass,
            LOGGER,
            cooldown=RESCAN_COOLDOWN,
            immediate=False,
            function=self.async_refresh,
            background=False,
        )

    def subscribe(self, subscriber: Callable[[], None]) -> None:
        """Call `subscriber` after every refresh."""
        self._subscribers.append(subscriber)

    @callback
    def async_start(self) -> None:
        """Read the registries now and again after each change."""
        entry = self.coordinator.config_entry
        entry.async_on_unload(self._debouncer.async_shutdown)
        entry.async_on_unload(
            self.hass.bus.async_listen(
                dr.EVENT_DEVICE_REGISTRY_UPDATED, self._async_registry_updated
            )
        )
        entry.async_on_unload(
            self.hass.bus.async_listen(
                er.EVENT_ENTITY_REGISTRY_UPDATED, self._async_registry_updated
            )
        )
        self.async_refresh()

    @callback
    def _async_registry_updated(self, _event: Event[Any]) -> None:
        self._debouncer.async_schedule_call()

    @callback
    def async_refresh(self) -> None:
        """Read the registries and tell every subscriber."""
        self._scan()
        for subscriber in self._subscribers:
            subscriber()

    def _scan(self) -> None:
        options = self.coordinator.config_entry.options
        device_registry = dr.async_get(self.hass)
        entity_registry = er.async_get(self.hass)
        printers: dict[str, Printer] = {}
        features: dict[str, str] = {}
        domains = options.get(CONF_PRINTER_INTEGRATIONS, DEFAULT_PRINTER_INTEGRATIONS)
        for domain in domains:
            integration = printer_integration(domain)
            for config_entry in self.hass.config_entries.async_entries(domain):
                for device in dr.async_entries_for_config_entry(
                    device_registry, config_entry.entry_id
                ):
                    if device.id in printers or not _is_printer(device):
                        continue
                    entities = er.async_entries_for_device(entity_registry, device.id)
                    own = [entity for entity in entities if entity.platform == domain]
                    status = next(
                        (
                            entity
                            for entity in own
                            if integration.is_status_entity(
                                entity.domain, entity.translation_key, entity.unique_id
                            )
                        ),
                        None,
                    )
                    host_unique_id = (
                        integration.host_unique_id(status.unique_id) if status else None
                    )
                    host = next(
                        (
                            entity.entity_id
                            for entity in own
                            if host_unique_id and entity.unique_id == host_unique_id
                        ),
                        None,
                    )
                    progress = next(
                        (
                            entity.entity_id
                            for entity in own
                            if integration.is_progress_entity(
                                entity.domain, entity.translation_key, entity.unique_id
                            )
                        ),
                        None,
                    )
                    printers[device.id] = Printer(
                        device.id,
                        integration,
                        status.entity_id if status else None,
                        progress,
                        host,
                        *_model_and_firmware(integration, device),
                    )
                    features.update(
                        (entity.entity_id, feature_key(entity.entity_id, entity))
                        for entity in entities
                        if entity.domain in SWITCH_LIKE_DOMAINS
                    )
        for entity_id in options.get(CONF_FEATURE_ENTITIES, ()):
            features[entity_id] = feature_key(
                entity_id, entity_registry.async_get(entity_id)
            )
        self.printers = list(printers.values())
        self.features = features
        self.versions = {
            domain: version
            for domain in {printer.integration.domain for printer in self.printers}
            if (version := self._version(domain)) is not None
        }

    def _version(self, domain: str) -> str | None:
        """Return the version of a loaded integration (Home Assistant's for core)."""
        try:
            integration = async_get_loaded_integration(self.hass, domain)
        except IntegrationNotLoaded:
            return None
        if integration.is_built_in:
            version = ha_version
        elif integration.version is not None:
            version = str(integration.version)
        else:  # A custom integration without a version (Home Assistant refuses it).
            return None
        return version if version_error(version) is None else None


def _model_and_firmware(
    integration: PrinterIntegration, device: dr.DeviceEntry
) -> tuple[str | None, str | None]:
    """Return a printer's model and firmware labels, where they come from the printer.

    A model equal to the name the person gave the device is refused: it may be a
    name, not what the printer reports.
    """
    model = (
        model_label(device.model, device.name_by_user)
        if integration.model_from_printer
        else None
    )
    firmware = (
        firmware_label(device.sw_version) if integration.firmware_from_printer else None
    )
    return model, firmware


def _is_printer(device: dr.DeviceEntry) -> bool:
    """Return False for accessories (AMS units, spool holders) and service devices."""
    return (
        device.via_device_id is None
        and device.entry_type is not dr.DeviceEntryType.SERVICE
        and (device.model or "").lower() not in ACCESSORY_MODELS
    )


class EntityWatcher:
    """Base of the collectors that follow the state of entities the directory names."""

    def __init__(
        self, coordinator: UsageStatsCoordinator, directory: PrinterDirectory
    ) -> None:
        """Initialize the watcher; it stops watching when the entry unloads."""
        self.coordinator = coordinator
        self.directory = directory
        self._unsub: CALLBACK_TYPE | None = None
        coordinator.config_entry.async_on_unload(self._async_unwatch)

    @callback
    def _async_unwatch(self) -> None:
        if self._unsub is not None:
            self._unsub()
            self._unsub = None

    @callback
    def _async_watch(self, entity_ids: Iterable[str]) -> None:
        """Follow exactly these entities from now on."""
        self._async_unwatch()
        if entity_ids := list(entity_ids):
            self._unsub = async_track_state_change_event(
                self.coordinator.hass, entity_ids, self._async_state_changed
            )

    @callback
    def _async_state_changed(self, event: Event[EventStateChangedData]) -> None:
        raise NotImplementedError

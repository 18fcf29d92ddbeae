"""The 3D-printer integrations recognised by default, and how to read their status.

Each entry maps an integration domain to the printer type label that is recorded,
how to find its printer status entity and its job progress entity, what the
status states mean, and which other signals tell how a job ended. Sources: the
integrations' own code (core: octoprint, prusalink, dremel_3d_printer; custom:
greghesp/ha-bambulab, marcolivierarsenault/moonraker-home-assistant,
3dg1luk43/ha_creality_ws, danielcherubini/elegoo-homeassistant,
WaresWichall/hass-anycubic_cloud, joseffallman/hass_flashforge).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final


class PrinterState(StrEnum):
    """What a printer status means for counting."""

    PRINTING = "printing"
    PAUSED = "paused"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"
    ERROR = "error"
    IDLE = "idle"
    OFFLINE = "offline"


# A job whose progress entity shows at least this (percent) when it ends completed.
NEAR_COMPLETE: Final = 99.0
# Home Assistant's own states for an entity without a value.
UNAVAILABLE_STATES: Final = frozenset({"unavailable", "unknown"})
# Models of accessory devices that some printer integrations add beside printers.
ACCESSORY_MODELS: Final = frozenset(
    {"ams", "ams lite", "ams 2 pro", "ams ht", "external spool", "cfs"}
)


def _states(**groups: tuple[str, ...]) -> dict[str, PrinterState]:
    return {
        value: PrinterState(group)
        for group, values in groups.items()
        for value in values
    }


@dataclass(frozen=True, slots=True)
class PrinterIntegration:
    """A printer integration: its type label and how to read its status entity."""

    domain: str
    printer_type: str
    # The status sensor is found by translation key or by unique id suffix/prefix.
    translation_keys: frozenset[str] = frozenset()
    unique_id_suffixes: tuple[str, ...] = ()
    unique_id_prefixes: tuple[str, ...] = ()
    # Lower-cased state value -> meaning; unlisted values are ignored.
    states: Mapping[str, PrinterState] = field(default_factory=dict)
    # The job progress sensor (percent), found the same ways.
    progress_translation_keys: frozenset[str] = frozenset()
    progress_unique_id_suffixes: tuple[str, ...] = ()
    progress_unique_id_prefixes: tuple[str, ...] = ()
    # (event type, `type` of its data) of a bus event the integration fires with
    # the printer's `device_id` when a job is cancelled.
    cancel_event: tuple[str, str] | None = None
    # The progress entity keeps the last job's value while idle, so a job that
    # began and ended between two polls shows as a change to 100 %, and one that
    # ended as the next began as the progress falling from 100 % while printing.
    progress_kept_while_idle: bool = False
    # Every end of a job shows as its own status, kept until the next job starts
    # (Moonraker's complete, cancelled, error): a return to idle from a job is
    # none of them (a restart of the printer's host), and a change from one to
    # another is a job that began and ended between two polls.
    ends_kept: bool = False
    # The sensor of the printer host's own state (Klipper's klippy state): its
    # unique id is the status entity's with the first suffix replaced by the second.
    host_unique_id_suffixes: tuple[str, str] | None = None
    # Host states in which the host stopped with a fault (an emergency stop, an
    # error): a job running then has failed.
    host_fault_states: frozenset[str] = frozenset()
    # The device's model and software version in the device registry are read from
    # the printer itself (or its maker's cloud), never from configuration: only
    # then are they recorded (README: Printer models and firmware).
    model_from_printer: bool = False
    firmware_from_printer: bool = False

    def is_status_entity(
        self, entity_domain: str, translation_key: str | None, unique_id: str
    ) -> bool:
        """Return True for the entity that carries this integration's printer status."""
        if entity_domain != "sensor":
            return False
        return (
            translation_key in self.translation_keys
            or unique_id.endswith(self.unique_id_suffixes)
            or unique_id.startswith(self.unique_id_prefixes)
        ) and bool(self.states)

    def is_progress_entity(
        self, entity_domain: str, translation_key: str | None, unique_id: str
    ) -> bool:
        """Return True for the entity that carries the job progress in percent."""
        return entity_domain == "sensor" and (
            translation_key in self.progress_translation_keys
            or unique_id.endswith(self.progress_unique_id_suffixes)
            or unique_id.startswith(self.progress_unique_id_prefixes)
        )

    def host_unique_id(self, status_unique_id: str) -> str | None:
        """Return the unique id of the host state sensor beside a status entity."""
        if (suffixes := self.host_unique_id_suffixes) is None:
            return None
        status_suffix, host_suffix = suffixes
        if not status_unique_id.endswith(status_suffix):
            return None
        return status_unique_id.removesuffix(status_suffix) + host_suffix

    def meaning(self, state: str) -> PrinterState | None:
        """Return what a state value of the status entity means."""
        if state in UNAVAILABLE_STATES:
            return PrinterState.OFFLINE
        return self.states.get(state.lower())


KNOWN_PRINTER_INTEGRATIONS: Final[Mapping[str, PrinterIntegration]] = {
    integration.domain: integration
    for integration in (
        PrinterIntegration(
            "octoprint",
            "octoprint",
            unique_id_prefixes=("Current State-",),
            states=_states(
                printing=("printing", "printing from sd", "sending file to sd", "starting",
                          "starting print from sd", "starting to send file to sd",
                          "resuming", "finishing"),
                paused=("paused", "pausing"),
                cancelled=("cancelling",),
                error=("error", "offline after error"),
                idle=("operational",),
                offline=("offline", "closed", "connecting", "opening serial connection",
                         "detecting serial connection"),
            ),
            progress_unique_id_prefixes=("Job Percentage-",),
            progress_kept_while_idle=True,
        ),
        PrinterIntegration(
            "prusalink",
            "prusa",
            translation_keys=frozenset({"printer_state"}),
            states=_states(
                printing=("printing",), paused=("paused", "attention"),
                finished=("finished",), cancelled=("stopped",), error=("error",),
                idle=("idle", "ready", "busy"),
            ),
            progress_translation_keys=frozenset({"progress"}),
        ),
        PrinterIntegration(
            "dremel_3d_printer",
            "dremel",
            translation_keys=frozenset({"job_phase"}),
            states=_states(
                printing=("building", "preparing", "resuming"),
                paused=("pausing", "paused"), finished=("completed",), idle=("ready",),
            ),
            progress_translation_keys=frozenset({"progress"}),
            model_from_printer=True,
            firmware_from_printer=True,
        ),
        PrinterIntegration(
            "bambu_lab",
            "bambu_lab",
            translation_keys=frozenset({"print_status"}),
            states=_states(
                printing=("running", "prepare", "slicing", "init"), paused=("pause",),
                finished=("finish",), failed=("failed",), idle=("idle",),
                offline=("offline",),
            ),
            progress_translation_keys=frozenset({"print_progress"}),
            cancel_event=("bambu_lab_event", "event_print_canceled"),
            model_from_printer=True,
            firmware_from_printer=True,
        ),
        PrinterIntegration(
            "moonraker",
            "klipper",
            unique_id_suffixes=("_print_state",),
            states=_states(
                printing=("printing",), paused=("paused",), finished=("complete",),
                cancelled=("cancelled",), error=("error",), idle=("standby",),
            ),
            progress_unique_id_suffixes=("_progress",),
            ends_kept=True,
            host_unique_id_suffixes=("_print_state", "_state"),
            host_fault_states=frozenset({"shutdown", "error"}),
        ),
        PrinterIntegration(
            "ha_creality_ws",
            "creality",
            translation_keys=frozenset({"print_status"}),
            states=_states(
                printing=("printing", "processing", "self-testing"), paused=("paused",),
                finished=("completed",), cancelled=("stopped",), error=("error",),
                idle=("idle",), offline=("off",),
            ),
            progress_translation_keys=frozenset({"print_progress"}),
            model_from_printer=True,
            firmware_from_printer=True,
        ),
        PrinterIntegration(
            "elegoo_printer",
            "elegoo",
            translation_keys=frozenset({"print_status"}),
            states=_states(
                printing=("printing", "homing", "dropping", "lifting", "file_checking",
                          "loading", "preheating", "leveling", "recovery",
                          "printing_recovery"),
                paused=("pausing", "paused"), finished=("complete",),
                cancelled=("stopping", "stopped"), idle=("idle",),
            ),
            progress_translation_keys=frozenset({"print_progress"}),
            model_from_printer=True,
            firmware_from_printer=True,
        ),
        PrinterIntegration(
            "anycubic_cloud",
            "anycubic",
            translation_keys=frozenset({"print_state"}),
            states=_states(
                printing=("printing", "preheating", "downloading", "checking", "slicing"),
                paused=("paused",), finished=("finished",), failed=("failed",),
            ),
            progress_translation_keys=frozenset({"print_progress"}),
            model_from_printer=True,
            firmware_from_printer=True,
        ),
        PrinterIntegration(
            "flashforge",
            "flashforge",
            unique_id_suffixes=("_status",),
            states=_states(
                printing=("building_from_sd",), paused=("paused",),
                finished=("building_completed",), idle=("ready",),
            ),
            progress_unique_id_suffixes=("_progress",),
            model_from_printer=True,
            firmware_from_printer=True,
        ),
    )
}  # fmt: skip

DEFAULT_PRINTER_INTEGRATIONS: Final = tuple(KNOWN_PRINTER_INTEGRATIONS)


def printer_integration(domain: str) -> PrinterIntegration:
    """Return how to read a printer integration.

    A domain the user added reads its status the way any known integration does:
    a sensor with one of their translation keys, states by the first known meaning.
    """
    if known := KNOWN_PRINTER_INTEGRATIONS.get(domain):
        return known
    states: dict[str, PrinterState] = {}
    for integration in KNOWN_PRINTER_INTEGRATIONS.values():
        for value, meaning in integration.states.items():
            states.setdefault(value, meaning)
    return PrinterIntegration(
        domain,
        domain,
        translation_keys=frozenset(
            key
            for integration in KNOWN_PRINTER_INTEGRATIONS.values()
            for key in integration.translation_keys
        ),
        states=states,
        progress_translation_keys=frozenset(
            key
            for integration in KNOWN_PRINTER_INTEGRATIONS.values()
            for key in integration.progress_translation_keys
        ),
    )

"""The job state machine, for the states of every supported printer integration.

Printers are registered in the real device and entity registries the way each
integration registers them; their states are set on those entities. Every test
also checks that the jobs add up: started = the outcomes + the jobs running.
"""

from __future__ import annotations

import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.usage_stats.const import (
    CONF_CONSENT,
    CONF_PRINTER_INTEGRATIONS,
    CONF_RETENTION_DAYS,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .helpers import settle, today
from .jobs_fleet import Driver, assert_adds_up, jobs, printer_type, setup_entry, total

# (domain, idle state, [(status, progress, minutes)...], outcome, duration bucket)
ENDINGS = [
    # OctoPrint: the state text alone cannot tell a finished job from a cancelled
    # one (both go Printing -> Operational); the job percentage can.
    ("octoprint", "Operational", [("Printing", 0, 0), (None, 60, 20), ("Operational", 100, 25)], "completed", "30m_1h"),
    ("octoprint", "Operational", [("Printing", 0, 0), ("Cancelling", 40, 5), ("Operational", 0, 0)], "cancelled", None),
    ("octoprint", "Operational", [("Printing", 0, 0), (None, 40, 5), ("Operational", 0, 0)], "cancelled", None),
    ("octoprint", "Operational", [("Printing", 0, 0), (None, 40, 5), ("Operational", 40, 0)], "cancelled", None),
    ("octoprint", "Operational", [("Printing", 0, 0), ("Pausing", 40, 5), ("Paused", None, 5), ("Printing", None, 5), ("Finishing", 99.6, 5), ("Operational", 100, 0)], "completed", "lt_30m"),
    ("octoprint", "Operational", [("Printing", 0, 0), ("Error", 30, 5), ("Offline after error", 0, 0)], "failed", None),
    ("octoprint", "Operational", [("Printing", 0, 0), ("unavailable", 30, 5), ("Operational", 0, 3)], "interrupted", None),
    ("octoprint", "Operational", [("Printing", 0, 0), ("unavailable", 90, 5), ("Operational", 100, 3)], "completed", "lt_30m"),
    ("octoprint", "Operational", [("Printing from SD", 0, 0), ("Operational", 100, 3)], "completed", "lt_30m"),
    # PrusaLink: its own finished and stopped states; progress is unavailable at idle.
    ("prusalink", "idle", [("printing", 0, 0), ("finished", 100, 90), ("idle", "unavailable", 1)], "completed", "1h_2h"),
    ("prusalink", "idle", [("printing", 0, 0), ("paused", 10, 5), ("stopped", 10, 1), ("idle", "unavailable", 1)], "cancelled", None),
    ("prusalink", "idle", [("printing", 0, 0), ("attention", 10, 5), ("error", 10, 1)], "failed", None),
    ("prusalink", "idle", [("printing", 0, 0), ("unavailable", 10, 5), ("idle", "unavailable", 1)], "interrupted", None),
    ("prusalink", "idle", [("printing", 0, 0), (None, 99.5, 5), ("idle", "unavailable", 1)], "completed", "lt_30m"),
    ("prusalink", "idle", [("printing", 0, 0), (None, 35, 5), ("idle", "unavailable", 1)], "cancelled", None),
    # Dremel: an aborted job goes back to ready.
    ("dremel_3d_printer", "ready", [("preparing", 0, 0), ("building", 1, 1), ("completed", 100, 300)], "completed", "4h_8h"),
    ("dremel_3d_printer", "ready", [("building", 0, 0), ("ready", 20, 10)], "cancelled", None),
    # Bambu Lab: a cancelled job ends as `failed` (or `finish`) with a cancel event.
    ("bambu_lab", "idle", [("prepare", 0, 0), ("running", 0, 1), ("finish", 100, 600)], "completed", "8h_24h"),
    ("bambu_lab", "idle", [("running", 0, 0), ("failed", 50, 30)], "failed", None),
    ("bambu_lab", "idle", [("running", 0, 0), ("offline", None, 60), ("running", None, 10), ("finish", 100, 500)], "completed", "8h_24h"),
    ("bambu_lab", "idle", [("running", 0, 0), ("pause", 50, 30), ("offline", None, 1), ("failed", None, 1)], "failed", None),
    # Klipper (Moonraker)
    ("moonraker", "standby", [("printing", 0, 0), ("complete", 100, 1500)], "completed", "gt_24h"),
    ("moonraker", "standby", [("printing", 0, 0), ("cancelled", 10, 5)], "cancelled", None),
    ("moonraker", "standby", [("printing", 0, 0), ("error", 10, 5)], "failed", None),
    # Creality
    ("ha_creality_ws", "idle", [("self-testing", 0, 0), ("printing", 0, 1), ("completed", 100, 200)], "completed", "2h_4h"),
    ("ha_creality_ws", "idle", [("printing", 0, 0), ("stopped", 10, 5)], "cancelled", None),
    ("ha_creality_ws", "idle", [("printing", 0, 0), ("error", 10, 5)], "failed", None),
    ("ha_creality_ws", "idle", [("printing", 0, 0), ("off", 10, 5), ("idle", 10, 5)], "interrupted", None),
    # Elegoo
    ("elegoo_printer", "idle", [("preheating", 0, 0), ("printing", 0, 1), ("complete", 100, 45)], "completed", "30m_1h"),
    ("elegoo_printer", "idle", [("printing", 0, 0), ("stopping", 10, 5), ("stopped", 10, 1)], "cancelled", None),
    ("elegoo_printer", "idle", [("printing", 0, 0), ("idle", 100, 5)], "completed", "lt_30m"),
    # Anycubic Cloud: it has no idle state; the job ends finished or failed.
    ("anycubic_cloud", "finished", [("printing", 0, 0), ("finished", 100, 100)], "completed", "1h_2h"),
    ("anycubic_cloud", "finished", [("printing", 0, 0), ("failed", 10, 5)], "failed", None),
    # FlashForge: no progress entity is known, so a job back at ready directly
    # cannot be told apart: interrupted.
    ("flashforge", "ready", [("building_from_sd", None, 0), ("building_completed", None, 70)], "completed", "1h_2h"),
    ("flashforge", "ready", [("building_from_sd", None, 0), ("ready", None, 70)], "interrupted", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("domain", "idle", "steps", "outcome", "bucket"),
    ENDINGS,
    ids=[f"{case[0]}-{case[3]}-{n}" for n, case in enumerate(ENDINGS)],
)
async def test_job_outcome(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    drive: Driver,
    domain: str,
    idle: str,
    steps: list[tuple[str | None, float | str | None, float]],
    outcome: str,
    bucket: str | None,
) -> None:
    """Each integration's states end a job in exactly one outcome."""
    await drive(domain, idle, 100 if domain in drive.fleet.progress else None)
    entry = await setup_entry(hass, mock_config_entry)
    for status, progress, minutes in steps:
        await drive(domain, status, progress, minutes)
    await drive.settle()
    assert jobs(entry, domain) == {"started": 1, outcome: 1}
    assert total(entry, "job_duration") == ({bucket: 1} if bucket else {})
    assert entry.runtime_data.stored["open_jobs"] == {printer_type(domain): 0}
    assert_adds_up(entry)


async def test_octoprint_events_and_errors(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, drive: Driver
) -> None:
    """An error state counts as a printer error; a lost connection as off and online."""
    await drive("octoprint", "Operational", 0)
    entry = await setup_entry(hass, mock_config_entry)
    await drive("octoprint", "Printing", 0)
    await drive("octoprint", "Error", 10, 5)
    await drive("octoprint", "Offline after error")
    await drive("octoprint", "unavailable")
    await drive("octoprint", "Operational", 0)
    await drive("octoprint", "Printing", 0)
    await drive("octoprint", "unavailable", 20, 5)
    await drive("octoprint", "Operational", 0)
    await drive.settle()
    assert jobs(entry, "octoprint") == {"started": 2, "failed": 1, "interrupted": 1}
    assert today(entry, "errors") == {"octoprint/printer_error": 1}
    assert today(entry, "events") == {"printer_offline": 2, "printer_online": 2}
    assert_adds_up(entry)


async def test_octoprint_short_job_between_polls(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, drive: Driver
) -> None:
    """A job that began and ended between two polls shows only as 100 %."""
    await drive("octoprint", "Operational", 0)
    entry = await setup_entry(hass, mock_config_entry)
    await drive("octoprint", None, 100, 1)  # Started and completed unseen.
    await drive("octoprint", None, 0, 1)  # A file was selected: no job.
    await drive("octoprint", None, "unavailable", 1)
    await drive("octoprint", None, 100, 1)  # No value before: not evidence.
    await drive.settle()
    assert jobs(entry, "octoprint") == {"started": 1, "completed": 1}
    assert today(entry, "job_duration") == {}
    assert_adds_up(entry)


async def test_octoprint_observed_sequence(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, drive: Driver
) -> None:
    """The sequence a real OctoPrint virtual printer showed through the core integration.

    Completed, cancelled, firmware error and lost serial line (the last two
    look the same: the printer's state becomes unavailable, the percentage 0).
    """
    await drive("octoprint", "Operational", 0)
    entry = await setup_entry(hass, mock_config_entry)
    for status, percent in (
        ("Printing", 63.18),
        (None, 100.0),
        ("Operational", 100.0),
        ("Printing", 4.66),
        ("Operational", 0),
        ("Printing", 8.4),
        ("unavailable", 0),
        ("Operational", 0),
        ("Printing", 6.2),
        ("unavailable", 0),
        ("Operational", 0),
    ):
        await drive("octoprint", status, percent, 0.5)
        await drive.settle()
    assert jobs(entry, "octoprint") == {
        "started": 4,
        "completed": 1,
        "cancelled": 1,
        "interrupted": 2,
    }
    assert total(entry, "job_duration") == {"lt_30m": 1}
    assert_adds_up(entry)


async def test_octoprint_next_job_without_idle_between(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, drive: Driver
) -> None:
    """A job ends and the next begins between two polls: only the percentage falls."""
    await drive("octoprint", "Operational", 0)
    entry = await setup_entry(hass, mock_config_entry)
    await drive("octoprint", "Printing", 63.18)
    await drive("octoprint", None, 100, 1)  # Finishing, still Printing.
    await drive("octoprint", None, 42.57, 40)  # The next job.
    await drive("octoprint", None, 60, 1)
    await drive("octoprint", "Operational", 100, 1)
    await drive.settle()
    assert jobs(entry, "octoprint") == {"started": 2, "completed": 2}
    assert total(entry, "job_duration") == {"30m_1h": 1, "lt_30m": 1}
    assert_adds_up(entry)


@pytest.mark.parametrize("ending", ["failed", "finish"])
async def test_bambu_cancel_event(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    drive: Driver,
    ending: str,
) -> None:
    """Bambu Lab's cancel event makes its `failed` (or `finish`) a cancelled job.

    The event may come before the state or within the same update after it.
    """
    device_id = drive.fleet.device["bambu_lab"]
    await drive("bambu_lab", "idle", 0)
    entry = await setup_entry(hass, mock_config_entry)

    def cancel(device: str = device_id, kind: str = "event_print_canceled") -> None:
        hass.bus.async_fire("bambu_lab_event", {"device_id": device, "type": kind})

    cancel()  # No job yet: ignored.
    await drive("bambu_lab", "running", 1)
    cancel(kind="event_print_started")
    cancel(device="another-device")
    cancel()
    await drive("bambu_lab", ending, 40, 10)
    await drive.settle()
    await drive("bambu_lab", "running", 1)
    hass.states.async_set(drive.fleet.status["bambu_lab"], ending)
    cancel()
    await drive.settle()
    await drive("bambu_lab", "running", 1)
    await drive("bambu_lab", ending, 100, 10)
    await drive.settle()
    expected = "failed" if ending == "failed" else "completed"
    assert jobs(entry, "bambu_lab") == {"started": 3, "cancelled": 2, expected: 1}
    assert_adds_up(entry)


def _seed(hass_storage: dict[str, Any], open_jobs: dict[str, int]) -> None:
    hass_storage["usage_stats.data"] = {
        "version": 1,
        "minor_version": 3,
        "key": "usage_stats.data",
        "data": {
            "consent": {"level": "local", "changed_at": None, "share_granted_at": None},
            "installation_id": None,
            "days": {"keys": [], "counts": {}},
            "open_jobs": open_jobs,
        },
    }


@pytest.mark.parametrize(
    ("at_start", "later", "outcomes"),
    [
        # Still printing after the restart: the same job, counted once.
        (("Printing", 50), [("Operational", 100)], {"completed": 1}),
        # Ended while Home Assistant was not running.
        (("Operational", 100), [], {"completed": 1}),
        (("Operational", 0), [], {"interrupted": 1}),
        (("Cancelling", 30), [("Operational", 0)], {"cancelled": 1}),
        (("Error", 30), [], {"failed": 1}),
        # Not known yet at start-up: decided when the printer shows a state.
        (
            ("unavailable", "unavailable"),
            [("Printing", 50), ("Operational", 100)],
            {"completed": 1},
        ),
        (("unknown", "unknown"), [("Operational", 0)], {"interrupted": 1}),
    ],
)
async def test_job_across_restart(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    drive: Driver,
    at_start: tuple[str, float | str],
    later: list[tuple[str, float]],
    outcomes: dict[str, int],
) -> None:
    """A job counted as started before a restart gets exactly one outcome after it."""
    _seed(hass_storage, {"octoprint": 1, "prusa": 0})
    await drive("octoprint", *at_start)
    entry = await setup_entry(hass, mock_config_entry)
    for status, progress in later:
        await drive("octoprint", status, progress, 5)
    await drive.settle()
    assert jobs(entry, "octoprint") == outcomes  # Not started again.
    assert today(entry, "job_duration") == {}  # Its start was not seen.
    assert entry.runtime_data.stored["open_jobs"]["octoprint"] == 0


async def test_two_printers_one_job_before_restart(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    drive: Driver,
) -> None:
    """One stored running job and a printer already printing: a new job counts."""
    _seed(hass_storage, {"bambu_lab": 1})
    await drive("bambu_lab", "running", 50)
    await drive("prusalink", "printing", 10)
    entry = await setup_entry(hass, mock_config_entry)
    assert jobs(entry, "bambu_lab") == {}
    assert jobs(entry, "prusalink") == {"started": 1}  # Seen printing at start-up.
    await drive("bambu_lab", "finish", 100, 5)
    await drive("prusalink", "finished", 100, 5)
    await drive.settle()
    assert jobs(entry, "bambu_lab") == {"completed": 1}
    assert jobs(entry, "prusalink") == {"started": 1, "completed": 1}
    assert today(entry, "job_duration") == {}


async def test_job_across_reload_and_unload(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    drive: Driver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A reload keeps a running job; an unload decides an ending still settling."""
    await drive("moonraker", "standby", 0)
    entry = await setup_entry(hass, mock_config_entry)
    await drive("moonraker", "printing", 0)
    assert entry.runtime_data.stored["open_jobs"] == {"klipper": 1}
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert jobs(entry, "moonraker") == {"started": 1}
    await drive("moonraker", "complete", 100, 20)
    stored = entry.runtime_data.stored
    caplog.clear()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    day = next(iter(stored["days"].values()))
    assert day["jobs"] == {"started/klipper": 1, "completed/klipper": 1}
    assert stored["open_jobs"] == {"klipper": 0}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_printer_removed_during_ending(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    drive: Driver,
    device_registry: dr.DeviceRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A printer removed while its job ends still gets the outcome."""
    await drive("moonraker", "standby", 0)
    entry = await setup_entry(hass, mock_config_entry)
    await drive("moonraker", "printing", 0)
    await drive("moonraker", "cancelled", 10, 5)
    device_registry.async_remove_device(drive.fleet.device["moonraker"])
    await settle(hass, freezer)
    assert jobs(entry, "moonraker") == {"started": 1, "cancelled": 1}


@pytest.mark.parametrize(
    "options",
    [
        {
            CONF_CONSENT: "local",
            CONF_RETENTION_DAYS: 90,
            CONF_PRINTER_INTEGRATIONS: ["my_printer"],
        }
    ],
)
async def test_user_domain_uses_known_signals(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
    freezer: FrozenDateTimeFactory,
    options: dict[str, Any],
) -> None:
    """A domain the user adds reads status and progress like the known ones."""
    printer = MockConfigEntry(domain="my_printer")
    printer.add_to_hass(hass)
    device = device_registry.async_get_or_create(
        config_entry_id=printer.entry_id, identifiers={("my_printer", "1")}
    )
    status, progress = (
        entity_registry.async_get_or_create(
            "sensor",
            "my_printer",
            key,
            device_id=device.id,
            config_entry=printer,
            translation_key=key,
        ).entity_id
        for key in ("print_status", "print_progress")
    )
    hass.states.async_set(status, "idle")
    entry = await setup_entry(hass, mock_config_entry)
    for state, percent in (
        ("printing", 0),
        ("idle", 100),
        ("printing", 0),
        ("idle", 20),
    ):
        hass.states.async_set(status, state)
        hass.states.async_set(progress, str(percent))
        await settle(hass, freezer)
    assert today(entry, "jobs") == {
        "started/my_printer": 2,
        "completed/my_printer": 1,
        "cancelled/my_printer": 1,
    }


async def test_delete_forgets_running_jobs(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, drive: Driver
) -> None:
    """After `usage_stats.delete` a job started before it gets no outcome."""
    await drive("ha_creality_ws", "idle", 0)
    entry = await setup_entry(hass, mock_config_entry)
    await drive("ha_creality_ws", "printing", 0)
    await drive("octoprint", "Printing", 0)
    await entry.runtime_data.submission.async_delete()
    assert entry.runtime_data.stored["open_jobs"] == {}
    await drive("ha_creality_ws", "completed", 100, 5)
    await drive("ha_creality_ws", "printing", 0, 5)  # A new job counts again.
    await drive("ha_creality_ws", "stopped", 10, 5)
    await drive.settle()
    assert total(entry, "jobs") == {"started/creality": 1, "cancelled/creality": 1}
    assert_adds_up(entry)


async def test_job_survives_renamed_status_entity(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    drive: Driver,
    entity_registry: er.EntityRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A printer whose status entity is renamed mid-job keeps its job."""
    await drive("prusalink", "idle", 0)
    entry = await setup_entry(hass, mock_config_entry)
    await drive("prusalink", "printing", 10)
    old_id = drive.fleet.status["prusalink"]
    new_id = "sensor.renamed_printer_state"
    entity_registry.async_update_entity(old_id, new_entity_id=new_id)
    hass.states.async_set(new_id, "printing")
    await settle(hass, freezer)
    drive.fleet.status["prusalink"] = new_id
    await drive("prusalink", "finished", 100, 30)
    await drive.settle()
    assert jobs(entry, "prusalink") == {"started": 1, "completed": 1}
    assert total(entry, "job_duration") == {}  # Its start was not seen since.
    assert_adds_up(entry)

"""Job outcomes for the state sequences real printers showed through their integrations.

Moonraker (Klipper) sequences were measured with a real klippy and Moonraker and the
HACS `moonraker` integration, which polls every 2 s while it knows the printer is
printing and every 30 s otherwise: short jobs and pauses can fall between two polls,
its progress sensor reads 0 whenever the printer is not printing, and its sensors
keep their last values while klippy restarts. Its print state keeps the end of the
last job (`complete`, `cancelled`, `error`) until the next one starts; `standby`
follows a firmware or host restart. The klippy state sensor (`ready`, `startup`,
`shutdown`, `error`) shows an emergency stop or a fault.

Bambu Lab sequences follow ha-bambulab: when a printer reconnects it is marked
online and its entities are written with the last values before the fresh data is
applied, so a printer that lost power mid-print shows, within a millisecond,
`running -> unavailable -> running -> idle`, its progress falling to 0.
"""

from __future__ import annotations

from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.usage_stats.printers import KNOWN_PRINTER_INTEGRATIONS
from homeassistant.core import HomeAssistant

from .helpers import today
from .jobs_fleet import Driver, assert_adds_up, jobs, setup_entry, total


async def _klipper(
    hass: HomeAssistant, entry: MockConfigEntry, drive: Driver, state: str = "standby"
) -> MockConfigEntry:
    await drive("moonraker", state, 0)
    await drive.fault("moonraker", "ready")
    return await setup_entry(hass, entry)


async def test_klipper_emergency_stop_is_a_failure(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, drive: Driver
) -> None:
    """M112 mid-print: paused and klippy shut down in one poll, then standby.

    Moonraker's history calls the job `klippy_shutdown`; its progress reads 0 from
    the pause on, which says nothing about how the job ended.
    """
    entry = await _klipper(hass, mock_config_entry, drive)
    await drive("moonraker", "printing", 0)
    await drive("moonraker", None, 34.0, 1)
    await drive("moonraker", "paused", 0, 0.05)
    await drive.fault("moonraker", "shutdown")
    await drive.fault("moonraker", "error")  # The same stop: one printer error.
    await drive.settle()
    # The firmware restart: klippy starts again, the print state goes to standby.
    await drive.fault("moonraker", "startup")
    await drive("moonraker", "standby", 0, 0.5)
    await drive.fault("moonraker", "ready")
    await drive.settle()
    assert jobs(entry, "moonraker") == {"started": 1, "failed": 1}
    assert total(entry, "job_duration") == {}
    assert today(entry, "errors") == {"klipper/printer_error": 1}
    assert_adds_up(entry)


async def test_klipper_back_to_standby_from_a_pause_is_interrupted(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, drive: Driver
) -> None:
    """A klippy or host restart while paused: standby, never `cancelled` (no cancel).

    A cancel shows as Moonraker's own `cancelled`; its progress is 0 while paused.
    """
    entry = await _klipper(hass, mock_config_entry, drive)
    await drive("moonraker", "printing", 0)
    await drive("moonraker", None, 51.0, 10)
    await drive("moonraker", "paused", 0, 1)
    await drive("moonraker", "standby", 0, 3)
    await drive.settle()
    assert jobs(entry, "moonraker") == {"started": 1, "interrupted": 1}
    assert_adds_up(entry)


async def test_klipper_restart_mid_print_is_interrupted(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, drive: Driver
) -> None:
    """Klippy restarts mid-print: the sensors keep `printing`, then show `standby`."""
    entry = await _klipper(hass, mock_config_entry, drive)
    await drive("moonraker", "printing", 0)
    await drive("moonraker", None, 20.0, 5)
    await drive.fault("moonraker", "startup")
    await drive.fault("moonraker", "ready")
    await drive("moonraker", "standby", 0, 1)
    await drive.settle()
    assert jobs(entry, "moonraker") == {"started": 1, "interrupted": 1}
    assert today(entry, "errors") == {}
    assert_adds_up(entry)


async def test_klipper_pause_and_resume_then_complete(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, drive: Driver
) -> None:
    """A pause seen between polls changes nothing; the job completes."""
    entry = await _klipper(hass, mock_config_entry, drive)
    await drive("moonraker", "printing", 0)
    await drive("moonraker", "paused", 0, 2)
    await drive("moonraker", "printing", 40, 1)
    await drive("moonraker", "complete", 0, 3)
    await drive.settle()
    assert jobs(entry, "moonraker") == {"started": 1, "completed": 1}
    assert total(entry, "job_duration") == {"lt_30m": 1}
    assert_adds_up(entry)


async def test_klipper_jobs_shorter_than_a_poll(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, drive: Driver
) -> None:
    """Jobs that began and ended between two polls show only as a new end state.

    `standby -> complete` (a 15-second job), then `complete -> cancelled` and
    `cancelled -> error` (a job failing 8 seconds after it started): each is a job
    with that outcome and no duration. The same end state again shows nothing.
    """
    entry = await _klipper(hass, mock_config_entry, drive)
    await drive("moonraker", "complete", 0, 1)
    await drive("moonraker", "cancelled", 0, 1)
    await drive("moonraker", "error", 0, 1)
    await drive("moonraker", "error", 0, 1)
    await drive.settle()
    assert jobs(entry, "moonraker") == {
        "started": 3,
        "completed": 1,
        "cancelled": 1,
        "failed": 1,
    }
    assert total(entry, "job_duration") == {}
    assert_adds_up(entry)


async def test_klipper_end_state_at_start_up_is_no_job(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, drive: Driver
) -> None:
    """The end of the last job, shown when watching starts (or after a restart), is old."""
    entry = await _klipper(hass, mock_config_entry, drive, state="complete")
    await drive("moonraker", "unavailable", 0, 1)
    await drive("moonraker", "complete", 0, 1)
    await drive.settle()
    assert jobs(entry, "moonraker") == {}


async def test_bambu_reconnect_with_a_replayed_state_is_interrupted(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, drive: Driver
) -> None:
    """Power or Wi-Fi lost mid-print, back idle: the replayed `running` is not news."""
    await drive("bambu_lab", "idle", 0)
    entry = await setup_entry(hass, mock_config_entry)
    await drive("bambu_lab", "running", 0)
    await drive("bambu_lab", None, 37, 30)
    await drive("bambu_lab", "unavailable", "unavailable", 1)
    # Reconnected: online with the last values, then the fresh data, at once.
    await drive("bambu_lab", "running", 37, 20)
    await drive("bambu_lab", "idle", 0)
    await drive.settle()
    assert jobs(entry, "bambu_lab") == {"started": 1, "interrupted": 1}
    assert today(entry, "events") == {"printer_offline": 1, "printer_online": 1}
    assert_adds_up(entry)


async def test_bambu_reconnect_while_still_printing_continues_the_job(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, drive: Driver
) -> None:
    """Back online and still printing: the same job, which may then end as usual."""
    await drive("bambu_lab", "idle", 0)
    entry = await setup_entry(hass, mock_config_entry)
    await drive("bambu_lab", "running", 0)
    await drive("bambu_lab", "unavailable", "unavailable", 10)
    await drive("bambu_lab", "running", 40, 1)
    await drive.settle()  # Still running after the reconnect settled.
    await drive("bambu_lab", None, 80, 20)
    await drive("bambu_lab", "finish", 100, 20)
    await drive.settle()
    assert jobs(entry, "bambu_lab") == {"started": 1, "completed": 1}
    assert_adds_up(entry)


def test_the_host_sensor_is_found_beside_the_status_sensor() -> None:
    """Moonraker's klippy state sensor: the print state's unique id without `print_`."""
    moonraker = KNOWN_PRINTER_INTEGRATIONS["moonraker"]
    assert moonraker.host_unique_id("01JB8_print_state") == "01JB8_state"
    assert moonraker.host_unique_id("01JB8_progress") is None
    assert (
        KNOWN_PRINTER_INTEGRATIONS["bambu_lab"].host_unique_id("x_print_status") is None
    )

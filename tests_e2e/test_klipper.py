"""End to end with a real Klipper printer: klippy and Moonraker through the HACS `moonraker` integration.

A real klippy and Moonraker (PyPI), with the printer's MCU simulated on a
pseudo-terminal (devtools/klipper_mcu.py), and a real Home Assistant with the
`moonraker` custom integration that users install through HACS (its unchanged source
from ../shared/thirdparty/, set up through its own config flow) and Usage Statistics
with its default consent, all on 127.0.0.1. Klipper prints six jobs: one completes,
one is paused and resumed and completes, one is cancelled, one fails in the middle
of its file, one is cut short by an emergency stop, and one is shorter than a poll.
Each must end in the outcome the README promises, with a duration only for the
completed jobs whose start Home Assistant saw, and nothing that identifies the
printer (host, port, socket, file names, printer name) in the store, the export or
the preview.

The integration polls every 2 s while it knows the printer is printing and every
30 s otherwise; the test asks for a refresh with `homeassistant.update_entity` (a
real refresh, at most one per 10 s) until Home Assistant shows the state Klipper is
in, as a poll would, only sooner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from custom_components.usage_stats.const import DOMAIN
from devtools.klipper_printer import HOST, KlipperPrinter, gcode_job

from .conftest import (
    DIAGNOSTICS,
    REPO,
    HomeAssistant,
    HomeAssistantConfig,
    api_client,
    onboard,
    tail,
    wait_for,
)
from .test_octoprint import (
    add_usage_stats_with_defaults,
    durations,
    export_data,
    job_counts,
    settled_export,
    strings_and_numbers,
)

MOONRAKER_INTEGRATION = (
    REPO.parent
    / "shared"
    / "thirdparty"
    / "moonraker-home-assistant"
    / "custom_components"
    / "moonraker"
)
SYNC_TIMEOUT = 45.0
KLIPPER_TIMEOUT = 60.0
# File names that must never reach the statistics.
JOB_FILE = "e2e-klipper-benchy.gcode"
LONG_FILE = "e2e-klipper-long-benchy.gcode"
SHORT_FILE = "e2e-klipper-short.gcode"
FAILING_FILE = "e2e-klipper-failing.gcode"
FILES = (JOB_FILE, LONG_FILE, SHORT_FILE, FAILING_FILE)
JOB_SECONDS = 25
# Paused, resumed, cancelled or stopped before its end: long enough for every step.
LONG_SECONDS = 60
FAIL_AFTER_SECONDS = 30
SHORT_SECONDS = 2


@pytest.fixture
def klipper(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[KlipperPrinter]:
    """Start a Klipper printer (simulated MCU, klippy, Moonraker) on a free port."""
    printer = KlipperPrinter(tmp_path / "klipper")
    for name, log in printer.logs().items():
        request.node.stash.setdefault(DIAGNOSTICS, []).append(
            lambda name=name, log=log: (f"{name} log (tail)", tail(log))
        )
    printer.launch()
    try:
        printer.wait_until_ready()
        yield printer
    finally:
        printer.stop()


def add_moonraker_entry(ha: httpx.Client, printer: KlipperPrinter) -> dict[str, Any]:
    """Add the `moonraker` integration through its config flow, as a user does."""
    flow = ha.post(
        "/api/config/config_entries/flow",
        json={"handler": "moonraker", "show_advanced_options": False},
    ).json()
    assert (flow["type"], flow["step_id"]) == ("form", "user"), flow
    created = ha.post(
        f"/api/config/config_entries/flow/{flow['flow_id']}",
        json={
            "url": HOST,
            "port": str(printer.port),
            "tls": False,
            "api_key": "",
            "printer_name": "",
        },
    ).json()
    assert created["type"] == "create_entry", created
    entry: dict[str, Any] = created["result"]
    assert entry["state"] == "loaded", entry
    return entry


class HomeAssistantKlipper:
    """The Klipper printer as Home Assistant shows it."""

    def __init__(self, ha: httpx.Client) -> None:
        """Find the print state and klippy state sensors of the moonraker entry."""
        self._ha = ha
        entities = self._template("{{ integration_entities('moonraker') | list }}")
        (self.print_state,) = [
            e for e in entities if e.endswith("_current_print_state")
        ]
        (self.host_state,) = [e for e in entities if e.endswith("_printer_state")]
        self.seen: list[tuple[str, str]] = []

    def _template(self, template: str) -> list[str]:
        response = self._ha.post("/api/template", json={"template": template})
        assert response.status_code == 200, response.text
        entities: list[str] = json.loads(response.text.replace("'", '"'))
        return entities

    def states(self) -> tuple[str, str]:
        """Return (print state, klippy state) as Home Assistant has them."""
        current = tuple(
            str(self._ha.get(f"/api/states/{entity_id}").json()["state"])
            for entity_id in (self.print_state, self.host_state)
        )
        if not self.seen or self.seen[-1] != current:
            self.seen.append(current)  # type: ignore[arg-type]
        return current  # type: ignore[return-value]

    def refresh_until(self, what: str, done: Callable[[str, str], bool]) -> None:
        """Refresh the moonraker entities until `done(print state, klippy state)` holds."""

        def probe() -> bool | None:
            self._ha.post(
                "/api/services/homeassistant/update_entity",
                json={"entity_id": [self.print_state]},
            )
            return done(*self.states()) or None

        try:
            wait_for(
                f"Home Assistant to show {what}", probe, SYNC_TIMEOUT, interval=2.0
            )
        except pytest.fail.Exception as err:
            pytest.fail(f"{err}; Home Assistant showed {self.seen}")


def wait_klipper(printer: KlipperPrinter, what: str, done: Callable[[], bool]) -> None:
    """Wait until Klipper itself is in a state."""
    wait_for(f"Klipper to be {what}", lambda: done() or None, KLIPPER_TIMEOUT)


def watch(ha: httpx.Client, printer: KlipperPrinter) -> HomeAssistantKlipper:
    """Add Usage Statistics (defaults) and the moonraker entry; wait for the printer."""
    add_usage_stats_with_defaults(ha)
    add_moonraker_entry(ha, printer)
    seen = HomeAssistantKlipper(ha)
    seen.refresh_until(
        "the printer ready", lambda s, host: (s, host) == ("standby", "ready")
    )
    return seen


def start_job(printer: KlipperPrinter, seen: HomeAssistantKlipper, name: str) -> None:
    """Start printing a file and wait until Home Assistant shows it printing."""
    printer.print_file(name)
    seen.refresh_until("the job printing", lambda state, _: state == "printing")


def assert_nothing_identifying(
    documents: dict[str, Any], printer: KlipperPrinter
) -> None:
    """Assert that no document holds a value naming the printer or its files."""
    texts = [*FILES, "benchy", HOST, str(printer.klippy_socket), str(printer.serial)]
    for name, document in documents.items():
        for value in strings_and_numbers(document):
            if isinstance(value, str):
                assert f":{printer.port}" not in value, (name, value)
                assert value != str(printer.port), (name, value)
                for text in texts:
                    assert text not in value, (name, text)
            else:
                assert value != printer.port, (name, value)


def _set_up(home_assistant_config: HomeAssistantConfig) -> tuple[HomeAssistant, str]:
    """Link the moonraker integration, start Home Assistant; return it and a token.

    Skipped where ../shared/thirdparty has no moonraker integration.
    """
    if not MOONRAKER_INTEGRATION.is_dir():
        pytest.skip(
            f"the HACS moonraker integration is missing: {MOONRAKER_INTEGRATION} "
            "(../shared/thirdparty/moonraker-home-assistant, not on PyPI)"
        )
    home_assistant_config.add_custom_integration(MOONRAKER_INTEGRATION)
    home_assistant = home_assistant_config.start()
    return home_assistant, onboard(home_assistant.url)


@pytest.mark.timeout(480)
def test_jobs_of_a_real_klipper_end_in_the_promised_outcomes(
    klipper: KlipperPrinter, home_assistant_config: HomeAssistantConfig
) -> None:
    """Six real Klipper jobs through Moonraker and the HACS integration, one outcome each."""
    # Long enough to be seen printing: a refresh on request comes at most every 10 s.
    klipper.upload(JOB_FILE, gcode_job(JOB_SECONDS))
    klipper.upload(LONG_FILE, gcode_job(LONG_SECONDS))
    # It fails long after Home Assistant can see it printing (a job failing within a
    # poll of its start shows as `cancelled -> error`: the unit tests count that one).
    klipper.upload(FAILING_FILE, gcode_job(LONG_SECONDS, fail_after=FAIL_AFTER_SECONDS))
    klipper.upload(SHORT_FILE, gcode_job(SHORT_SECONDS))
    home_assistant, token = _set_up(home_assistant_config)
    with api_client(home_assistant, token) as ha:
        seen = watch(ha, klipper)

        # 1. A job that completes.
        start_job(klipper, seen, JOB_FILE)
        wait_klipper(klipper, "complete", lambda: klipper.print_state() == "complete")
        seen.refresh_until("the job complete", lambda state, _: state == "complete")

        # 2. Paused and resumed, then it completes.
        start_job(klipper, seen, LONG_FILE)
        klipper.pause()
        seen.refresh_until("the job paused", lambda state, _: state == "paused")
        klipper.resume()
        seen.refresh_until(
            "the job printing again", lambda state, _: state == "printing"
        )
        wait_klipper(klipper, "complete", lambda: klipper.print_state() == "complete")
        seen.refresh_until("the job complete", lambda state, _: state == "complete")

        # 3. Cancelled.
        start_job(klipper, seen, LONG_FILE)
        klipper.cancel()
        seen.refresh_until("the job cancelled", lambda state, _: state == "cancelled")

        # 4. A macro raises an error in the middle of the file.
        start_job(klipper, seen, FAILING_FILE)
        wait_klipper(klipper, "in error", lambda: klipper.print_state() == "error")
        seen.refresh_until("the job failed", lambda state, _: state == "error")

        # 5. An emergency stop mid-print, then a firmware restart.
        start_job(klipper, seen, LONG_FILE)
        klipper.emergency_stop()
        seen.refresh_until(
            "the emergency stop",
            lambda state, host: (state, host) == ("paused", "shutdown"),
        )
        klipper.firmware_restart()
        klipper.wait_until_ready()
        seen.refresh_until(
            "the printer restarted", lambda s, host: (s, host) == ("standby", "ready")
        )

        # 6. A job shorter than a poll: it starts right after a refresh (the next poll
        # is 30 s away) and ends before Home Assistant looks again.
        klipper.print_file(SHORT_FILE)
        wait_klipper(klipper, "complete", lambda: klipper.print_state() == "complete")
        seen.refresh_until(
            "the short job complete", lambda state, _: state == "complete"
        )

        export = settled_export(ha, "klipper")
        last_day = export["days"][max(export["days"])]
        assert last_day["printers_by_type"] == {"klipper": 1}
        assert job_counts(export, "klipper") == {
            "started": 6,
            "completed": 3,
            "cancelled": 1,
            "failed": 2,
        }, seen.seen
        # Durations: only the two completed jobs whose start was seen.
        assert durations(export) == 2
        assert export["open_jobs"] == {"klipper": 0}
        preview = ha.post(
            f"/api/services/{DOMAIN}/preview?return_response", json={}
        ).json()["service_response"]
        documents = {"export": export_data(ha), "preview": preview}
    home_assistant_config.stop()
    for store in sorted(home_assistant_config.storage_dir.glob(f"{DOMAIN}*")):
        documents[store.name] = json.loads(store.read_text(encoding="utf-8"))
    assert_nothing_identifying(documents, klipper)
    assert home_assistant_config.log_problems() == []


@pytest.mark.timeout(480)
def test_klipper_jobs_across_restarts(
    klipper: KlipperPrinter, home_assistant_config: HomeAssistantConfig
) -> None:
    """A klippy restart, a Moonraker restart and a Home Assistant restart mid-print.

    The firmware restart loses the job (standby): `interrupted`. Klippy prints on
    while Moonraker restarts: the job completes, with its duration. Across a restart
    of Home Assistant the job is counted once; it is then cancelled, without a
    duration (its start was seen before the restart).
    """
    klipper.upload(JOB_FILE, gcode_job(JOB_SECONDS))
    klipper.upload(LONG_FILE, gcode_job(LONG_SECONDS))
    home_assistant, token = _set_up(home_assistant_config)
    with api_client(home_assistant, token) as ha:
        seen = watch(ha, klipper)

        # 1. Klippy restarts mid-print (a firmware restart): the job is gone.
        start_job(klipper, seen, LONG_FILE)
        klipper.firmware_restart()
        klipper.wait_until_ready()
        seen.refresh_until(
            "standby after the restart",
            lambda s, host: (s, host) == ("standby", "ready"),
        )

        # 2. Moonraker restarts mid-print; klippy prints on.
        start_job(klipper, seen, JOB_FILE)
        klipper.restart("moonraker")
        klipper.wait_until_ready()
        wait_klipper(klipper, "complete", lambda: klipper.print_state() == "complete")
        seen.refresh_until("the job complete", lambda state, _: state == "complete")
        between = seen.seen

        # 3. Home Assistant restarts mid-print.
        start_job(klipper, seen, LONG_FILE)
    home_assistant_config.stop()
    restarted = home_assistant_config.start()
    with api_client(restarted, token) as ha:
        seen = HomeAssistantKlipper(ha)
        seen.refresh_until("the job printing", lambda state, _: state == "printing")
        klipper.cancel()
        seen.refresh_until("the job cancelled", lambda state, _: state == "cancelled")
        export = settled_export(ha, "klipper")
    assert job_counts(export, "klipper") == {
        "started": 3,
        "interrupted": 1,
        "completed": 1,
        "cancelled": 1,
    }, (between, seen.seen)
    # The completed job's start was seen (before Moonraker restarted).
    assert durations(export) == 1
    assert home_assistant_config.log_problems() == []

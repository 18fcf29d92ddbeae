"""End to end with a real printer: OctoPrint's virtual printer through Home Assistant.

A real OctoPrint server (PyPI `octoprint`, its bundled virtual printer) and a real
Home Assistant process, on 127.0.0.1. Home Assistant's core `octoprint` integration
is set up through its config flow (OctoPrint asks its admin to approve the app key),
Usage Statistics with its default consent (`local`). OctoPrint prints four jobs:
one completes, one is cancelled, one ends by a firmware error, one by a lost serial
line. Usage Statistics must count each in one outcome, a duration only for the
completed one, and nothing that identifies the server in its store.

The octoprint integration polls every 30 s; the test asks for a refresh with
`homeassistant.update_entity` (a real refresh, at most one per 10 s) until Home
Assistant shows the state OctoPrint is in, as a poll would, only sooner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import json
from pathlib import Path
import time
from typing import Any

import httpx
import pytest

from custom_components.usage_stats.catalogue import (
    JOB_DURATION,
    JOBS,
    LABEL_SEPARATOR,
    PRINTERS_BY_TYPE,
)
from custom_components.usage_stats.const import DOMAIN
from devtools.octoprint_server import HOST, OctoPrintClient, OctoPrintServer, gcode_job

from .conftest import (
    HomeAssistantConfig,
    add_octoprint_entry,
    api_client,
    onboard,
    wait_for,
)

# Home Assistant refreshes the octoprint entities at most every 10 s on request.
SYNC_TIMEOUT = 45.0
OCTOPRINT_TIMEOUT = 60.0
# How long Usage Statistics may take to decide how a job ended, once Home
# Assistant shows the printer idle again.
SETTLE_TIMEOUT = 30.0
# The entities of the (only) OctoPrint entry; its device is named "OctoPrint".
CURRENT_STATE = "sensor.octoprint_current_state"
JOB_PERCENTAGE = "sensor.octoprint_job_percentage"
PRINTING = "binary_sensor.octoprint_printing"
ENTITIES = (CURRENT_STATE, JOB_PERCENTAGE, PRINTING)
# Jobs: long enough to be seen printing, short enough for CI.
COMPLETED_FILE = "e2e-completed-job.gcode"
COMPLETED_SECONDS = 20
LONG_FILE = "e2e-long-job.gcode"
LONG_SECONDS = 300


def add_usage_stats_with_defaults(ha: httpx.Client) -> None:
    """Add Usage Statistics through its config flow with the suggested consent."""
    flow = ha.post(
        "/api/config/config_entries/flow",
        json={"handler": DOMAIN, "show_advanced_options": False},
    ).json()
    assert (flow["type"], flow["step_id"]) == ("form", "user"), flow
    (consent,) = (field for field in flow["data_schema"] if field["name"] == "consent")
    default = consent["description"]["suggested_value"]
    assert default == "local"
    created = ha.post(
        f"/api/config/config_entries/flow/{flow['flow_id']}",
        json={"consent": default},
    ).json()
    assert created["type"] == "create_entry", created
    assert created["result"]["state"] == "loaded", created


class HomeAssistantPrinter:
    """The OctoPrint printer as Home Assistant shows it."""

    def __init__(self, ha: httpx.Client) -> None:
        """Read the entities through `ha`."""
        self._ha = ha
        self.seen: list[tuple[str, str, str]] = []

    def states(self) -> tuple[str, str, str]:
        """Return (Current State, Job Percentage, Printing) as Home Assistant has them."""
        state, percentage, printing = (
            self._ha.get(f"/api/states/{entity_id}").json()["state"]
            for entity_id in ENTITIES
        )
        current = (str(state), str(percentage), str(printing))
        if not self.seen or self.seen[-1] != current:
            self.seen.append(current)
        return current

    def refresh_until(self, what: str, done: Callable[[str, str], bool]) -> None:
        """Refresh the octoprint entities until `done(state, percentage)` holds."""

        def probe() -> bool | None:
            self._ha.post(
                "/api/services/homeassistant/update_entity",
                json={"entity_id": list(ENTITIES)},
            )
            state, percentage, _ = self.states()
            return done(state, percentage) or None

        wait_for(f"Home Assistant to show {what}", probe, SYNC_TIMEOUT, interval=2.0)


def octoprint_state(client: OctoPrintClient) -> str:
    """Return OctoPrint's connection state (`Operational`, `Printing`, ...)."""
    return client.connection_state()


def wait_octoprint(
    client: OctoPrintClient, what: str, done: Callable[[], bool]
) -> None:
    """Wait until OctoPrint itself is in a state."""
    wait_for(f"OctoPrint to be {what}", lambda: done() or None, OCTOPRINT_TIMEOUT)


def start_job(
    client: OctoPrintClient, printer: HomeAssistantPrinter, name: str
) -> None:
    """Start printing a file and wait until Home Assistant shows it printing."""
    client.print_file(name)
    printer.refresh_until("the job printing", lambda state, _: state == "Printing")


def back_to_operational(client: OctoPrintClient, printer: HomeAssistantPrinter) -> None:
    """After a lost connection: let Home Assistant see it, then connect again."""
    wait_octoprint(client, "offline", lambda: octoprint_state(client) != "Printing")
    printer.refresh_until(
        "the printer unavailable", lambda state, _: state == "unavailable"
    )
    client.connect()
    wait_octoprint(
        client, "operational", lambda: octoprint_state(client) == "Operational"
    )
    printer.refresh_until(
        "the printer operational again", lambda state, _: state == "Operational"
    )


def export_data(ha: httpx.Client) -> dict[str, Any]:
    """Return what `usage_stats.export` returns."""
    response = ha.post(f"/api/services/{DOMAIN}/export?return_response", json={})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["service_response"]
    return data


def settled_export(ha: httpx.Client, printer_type: str = "octoprint") -> dict[str, Any]:
    """Return the export once every started job has its outcome, or at the timeout.

    Usage Statistics may decide a job's ending some seconds after Home Assistant
    shows it (the other entities of the same update may still come); at the
    timeout the last export is returned, for the assertions to tell what is
    missing.
    """
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        export = export_data(ha)
        jobs = job_counts(export, printer_type)
        outcomes = sum(count for key, count in jobs.items() if key != "started")
        if outcomes == jobs.get("started", 0) or time.monotonic() >= deadline:
            return export
        time.sleep(1.0)


def job_counts(
    export: dict[str, Any], printer_type: str = "octoprint"
) -> dict[str, int]:
    """Return the job counts of the printers of a type by outcome, over all days.

    All days: the test may run over midnight.
    """
    counts: dict[str, int] = {}
    for day in export["days"].values():
        for key, count in day.get(JOBS.name, {}).items():
            outcome, kind = key.split(LABEL_SEPARATOR)
            assert kind == printer_type, key
            counts[outcome] = counts.get(outcome, 0) + count
    return counts


def durations(export: dict[str, Any]) -> int:
    """Return how many job durations were counted (all days)."""
    return sum(
        sum(day.get(JOB_DURATION.name, {}).values()) for day in export["days"].values()
    )


def strings_and_numbers(value: Any) -> Iterator[str | int | float]:
    """Yield every key, string and number in a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_and_numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_and_numbers(item)
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        yield value


def assert_nothing_identifying(
    storage_dir: Path, server: OctoPrintServer, api_key: str
) -> None:
    """Assert that no store of Usage Statistics holds a value naming the server."""
    stores = sorted(storage_dir.glob(f"{DOMAIN}*"))
    assert stores, "Usage Statistics wrote no store"
    texts = [server.username, api_key, COMPLETED_FILE, LONG_FILE, HOST, "e2e-"]
    for store in stores:
        document = json.loads(store.read_text(encoding="utf-8"))
        for value in strings_and_numbers(document):
            if isinstance(value, str):
                assert value != str(server.port), (store.name, value)
                assert f":{server.port}" not in value, (store.name, value)
                for text in texts:
                    assert text not in value, (store.name, text)
            else:
                assert value != server.port, (store.name, value)


@pytest.mark.timeout(420)
def test_jobs_of_a_real_octoprint_end_in_one_outcome_each(
    octoprint: OctoPrintServer, home_assistant_config: HomeAssistantConfig
) -> None:
    """Completed, cancelled, failed and interrupted jobs of a real OctoPrint."""
    home_assistant = home_assistant_config.start()
    token = onboard(home_assistant.url)
    with (
        api_client(home_assistant, token) as ha,
        octoprint.client() as client,
    ):
        add_usage_stats_with_defaults(ha)
        octoprint.wait_until_operational()
        entry = add_octoprint_entry(ha, octoprint)
        printer = HomeAssistantPrinter(ha)
        printer.refresh_until(
            "the printer operational", lambda state, _: state == "Operational"
        )
        client.upload(COMPLETED_FILE, gcode_job(COMPLETED_SECONDS))
        client.upload(LONG_FILE, gcode_job(LONG_SECONDS))

        # 1. Completed: OctoPrint finishes; Home Assistant shows Operational at 100 %.
        start_job(client, printer, COMPLETED_FILE)
        wait_octoprint(
            client, "done printing", lambda: client.job()["state"] == "Operational"
        )
        printer.refresh_until(
            "the job completed", lambda state, _: state == "Operational"
        )
        # OctoPrint reports the completion as 100 or 100.0, depending on timing.
        assert float(printer.states()[1]) == 100.0

        # 2. Cancelled: back to Operational, the job's progress gone (0 %).
        start_job(client, printer, LONG_FILE)
        client.cancel()
        wait_octoprint(
            client, "done cancelling", lambda: client.job()["state"] == "Operational"
        )
        printer.refresh_until(
            "the job cancelled", lambda state, _: state == "Operational"
        )
        assert float(printer.states()[1]) == 0.0

        # 3. A firmware error: OctoPrint closes the serial connection ("Offline
        # after error"), Home Assistant shows the printer unavailable.
        start_job(client, printer, LONG_FILE)
        client.command("!!DEBUG:trigger_fatal_error_marlin")
        back_to_operational(client, printer)

        # 4. The serial line drops: the same, as far as Home Assistant can see.
        start_job(client, printer, LONG_FILE)
        client.command("!!DEBUG:drop_connection")
        back_to_operational(client, printer)

        # Usage Statistics counted one OctoPrint printer and each job once.
        export = settled_export(ha)
        last_day = export["days"][max(export["days"])]
        assert last_day[PRINTERS_BY_TYPE.name] == {"octoprint": 1}
        jobs = job_counts(export)
        outcomes = {key: count for key, count in jobs.items() if key != "started"}
        assert jobs.get("started") == 4, (jobs, printer.seen)
        assert sum(outcomes.values()) == jobs["started"], (jobs, printer.seen)
        # A firmware error and a lost line look alike through the octoprint
        # integration (Printing -> unavailable -> Operational): how those jobs
        # ended is unknown, so both count as interrupted.
        assert outcomes == {"completed": 1, "cancelled": 1, "interrupted": 2}, (
            jobs,
            printer.seen,
        )
        # A duration only for the completed job.
        assert durations(export) == 1, export["days"]

        api_key = entry_api_key(home_assistant_config, entry["entry_id"])

    # Restart: the counts are kept; the entry, set up during Home Assistant's
    # start this time, unloads and loads again cleanly.
    home_assistant_config.stop()
    home_assistant = home_assistant_config.start()
    with api_client(home_assistant, token) as ha:
        (usage_stats,) = ha.get(
            "/api/config/config_entries/entry", params={"domain": DOMAIN}
        ).json()
        reloaded = ha.post(
            f"/api/config/config_entries/entry/{usage_stats['entry_id']}/reload"
        )
        assert reloaded.status_code == 200, reloaded.text
        assert job_counts(settled_export(ha)) == jobs

    home_assistant_config.stop()
    assert_nothing_identifying(home_assistant_config.storage_dir, octoprint, api_key)
    assert home_assistant_config.log_problems() == []


def entry_api_key(config: HomeAssistantConfig, entry_id: str) -> str:
    """Return the app key Home Assistant keeps for the octoprint entry."""
    entries = json.loads(
        (config.storage_dir / "core.config_entries").read_text(encoding="utf-8")
    )["data"]["entries"]
    (entry,) = (e for e in entries if e["entry_id"] == entry_id)
    key: str = entry["data"]["api_key"]
    return key

"""`scripts/develop`: Home Assistant with a small fleet of real printers that print.

Starts two OctoPrint servers with their virtual printers (base directories under
`config/octoprint/`, kept between runs, on free ports of 127.0.0.1), makes sure
Home Assistant has a config entry of its core `octoprint` integration for each (the
address changes every run, so the entries are updated before Home Assistant
starts), starts Home Assistant on http://127.0.0.1:8123, and then drives the
printers: each starts a job about every minute and a half, and in turn a job
completes, is cancelled, or is ended by a firmware error or a lost serial line
(the printer is connected again afterwards), the way real jobs end. Usage Statistics, once added with its defaults,
counts two OctoPrint printers and their jobs.

Beside them, where the HACS `moonraker` integration's source is in
`../shared/thirdparty/` (it is linked into the configuration's custom_components),
a real Klipper printer (klippy and Moonraker with a simulated MCU, under
`config/klipper/`) with its config entry, printing a job every few minutes: it
completes, is paused and resumed, is cancelled, fails in the middle of its file,
or is cut short by an emergency stop (then restarted), in turn.

Everything started here stops with it: on Ctrl+C or SIGTERM, and, should this
process die, the children get SIGTERM from the kernel (see `OctoPrintServer`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
import itertools
import json
import logging
from pathlib import Path
import signal
import subprocess
import sys
import threading
from types import FrameType, MappingProxyType
from typing import Any

import httpx

from homeassistant.config_entries import (
    STORAGE_VERSION,
    STORAGE_VERSION_MINOR,
    ConfigEntry,
)

from .klipper_printer import KlipperPrinter, gcode_job as klipper_gcode_job
from .octoprint_server import (
    HOST,
    OctoPrintClient,
    OctoPrintServer,
    die_with_parent,
    gcode_job,
)

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "config"
PRINTERS = ("printer-1", "printer-2")
# The HACS moonraker integration (not on PyPI): where it is, a Klipper printer joins.
MOONRAKER_INTEGRATION = (
    REPO.parent
    / "shared/thirdparty/moonraker-home-assistant/custom_components/moonraker"
)
KLIPPER_JOB = "development-klipper-job.gcode"
KLIPPER_FAILING_JOB = "development-klipper-failing-job.gcode"
KLIPPER_JOB_SECONDS = 90
HOME_ASSISTANT_APP = "Home Assistant"
# Seconds between the end of one job and the start of the next, per printer; the
# second printer starts later so that the two are seldom in the same state.
PAUSE = 30.0
STAGGER = 40.0
# How long a job prints, and when a job that does not complete is ended.
JOB_SECONDS = 60
ENDED_AFTER = 35.0
# After an error or a lost line the printer is reconnected, as a user would.
RECONNECT_AFTER = 45.0

_LOGGER = logging.getLogger("develop")


def seed_config_entries(
    config_dir: Path, servers: list[OctoPrintServer], klipper: KlipperPrinter | None
) -> None:
    """Add or update Home Assistant's octoprint (and moonraker) config entries.

    An octoprint entry is matched by the server's UPnP id (its unique id, as the
    config flow sets it), the moonraker entry by its domain (its flow sets no unique
    id); the address (and app key) are updated, everything else is kept. Only while
    Home Assistant is not running: it owns the file then.
    """
    path = config_dir / ".storage" / "core.config_entries"
    if path.exists():
        stored: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    else:
        stored = {
            "version": STORAGE_VERSION,
            "minor_version": STORAGE_VERSION_MINOR,
            "key": "core.config_entries",
            "data": {"entries": []},
        }
    entries: list[dict[str, Any]] = stored["data"]["entries"]
    for server in servers:
        data = {
            "host": HOST,
            "port": server.port,
            "path": "/",
            "ssl": False,
            "verify_ssl": True,
            "username": server.username,
            "api_key": server.generate_app_key(HOME_ASSISTANT_APP),
        }
        _upsert_entry(
            entries,
            "octoprint",
            server.upnp_uuid,
            f"OctoPrint {server.basedir.name}",
            data,
        )
    if klipper is not None:
        data = {
            "url": HOST,
            "port": str(klipper.port),
            "tls": False,
            "api_key": "",
            "printer_name": "",
        }
        _upsert_entry(entries, "moonraker", None, "moonraker", data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stored, indent=2), encoding="utf-8")


def _upsert_entry(
    entries: list[dict[str, Any]],
    domain: str,
    unique_id: str | None,
    title: str,
    data: dict[str, Any],
) -> None:
    """Update the data of the stored entry of `domain` and `unique_id`, or add one."""
    for entry in entries:
        if entry["domain"] == domain and entry["unique_id"] == unique_id:
            entry["data"] = data
            entry["modified_at"] = datetime.now(UTC).isoformat()
            return
    entries.append(
        ConfigEntry(
            data=data,
            discovery_keys=MappingProxyType({}),
            domain=domain,
            minor_version=1,
            options={},
            source="user",
            subentries_data=None,
            title=title,
            unique_id=unique_id,
            version=1,
        ).as_dict()
    )


def _complete(client: OctoPrintClient, stopping: threading.Event) -> None:
    """Let the job print to its end."""
    stopping.wait(JOB_SECONDS + 5)


def _cancel(client: OctoPrintClient, stopping: threading.Event) -> None:
    if not stopping.wait(ENDED_AFTER):
        client.cancel()


def _fail(client: OctoPrintClient, stopping: threading.Event) -> None:
    """End the job with a firmware error (the printer halts, OctoPrint goes offline)."""
    if not stopping.wait(ENDED_AFTER):
        client.command("!!DEBUG:trigger_fatal_error_marlin")
        if not stopping.wait(RECONNECT_AFTER):
            client.connect()


def _drop(client: OctoPrintClient, stopping: threading.Event) -> None:
    """End the job with a lost serial connection, then connect again."""
    if not stopping.wait(ENDED_AFTER):
        client.command("!!DEBUG:drop_connection")
        if not stopping.wait(RECONNECT_AFTER):
            client.connect()


# The endings, in turn: most jobs complete, as in a real workshop.
ENDINGS: tuple[tuple[str, Callable[[OctoPrintClient, threading.Event], None]], ...] = (
    ("completes", _complete),
    ("is cancelled", _cancel),
    ("completes", _complete),
    ("ends by a firmware error", _fail),
    ("completes", _complete),
    ("ends by a lost serial line", _drop),
)


@dataclass
class Driver:
    """Starts jobs on one printer, one after another, ending them in turn."""

    server: OctoPrintServer
    delay: float
    stopping: threading.Event
    thread: threading.Thread | None = field(default=None, init=False)

    def start(self) -> None:
        """Drive the printer in a daemon thread."""
        self.thread = threading.Thread(
            target=self._run, name=self.server.basedir.name, daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        client = self.server.client()
        name = self.server.basedir.name
        try:
            client.upload("development-job.gcode", gcode_job(JOB_SECONDS))
            if self.stopping.wait(self.delay):
                return
            for ending, end in itertools.cycle(ENDINGS):
                self._wait_operational(client)
                if self.stopping.is_set():
                    return
                _LOGGER.info("%s: a job starts; it %s", name, ending)
                client.print_file("development-job.gcode")
                end(client, self.stopping)
                if self.stopping.wait(PAUSE):
                    return
        except httpx.HTTPError:
            if not self.stopping.is_set():
                _LOGGER.exception("%s: the driver stopped", name)
        finally:
            client.close()

    def _wait_operational(self, client: OctoPrintClient) -> None:
        while not self.stopping.is_set() and client.connection_state() != "Operational":
            self.stopping.wait(2)


@dataclass
class KlipperDriver:
    """Starts jobs on the Klipper printer, ending them in turn the ways Klipper jobs end."""

    printer: KlipperPrinter
    stopping: threading.Event
    thread: threading.Thread | None = field(default=None, init=False)

    def start(self) -> None:
        """Drive the printer in a daemon thread."""
        self.thread = threading.Thread(target=self._run, name="klipper", daemon=True)
        self.thread.start()

    def _wait(self, seconds: float) -> bool:
        """Wait; True when stopping."""
        return self.stopping.wait(seconds)

    def _run(self) -> None:
        printer = self.printer
        endings: tuple[tuple[str, str, Callable[[], None]], ...] = (
            ("completes", KLIPPER_JOB, lambda: self._wait(KLIPPER_JOB_SECONDS + 5)),
            ("is paused and resumed", KLIPPER_JOB, self._pause_and_resume),
            ("is cancelled", KLIPPER_JOB, lambda: self._after(printer.cancel)),
            ("fails in the middle of its file", KLIPPER_FAILING_JOB, self._fail),
            ("is cut short by an emergency stop", KLIPPER_JOB, self._emergency_stop),
        )
        try:
            printer.upload(KLIPPER_JOB, klipper_gcode_job(KLIPPER_JOB_SECONDS))
            printer.upload(
                KLIPPER_FAILING_JOB,
                klipper_gcode_job(KLIPPER_JOB_SECONDS, fail_after=ENDED_AFTER),
            )
            if self._wait(20):
                return
            for ending, name, end in itertools.cycle(endings):
                _LOGGER.info("Klipper: a job starts; it %s", ending)
                printer.print_file(name)
                end()
                if self._wait(PAUSE * 4):
                    return
        except (httpx.HTTPError, RuntimeError, TimeoutError):
            if not self.stopping.is_set():
                _LOGGER.exception("Klipper: the driver stopped")

    def _after(self, action: Callable[[], None]) -> None:
        if not self._wait(ENDED_AFTER):
            action()

    def _pause_and_resume(self) -> None:
        self._after(self.printer.pause)
        if not self._wait(20):
            self.printer.resume()
            self._wait(KLIPPER_JOB_SECONDS)

    def _fail(self) -> None:
        self._wait(KLIPPER_JOB_SECONDS)

    def _emergency_stop(self) -> None:
        self._after(self.printer.emergency_stop)
        if not self._wait(RECONNECT_AFTER):
            self.printer.firmware_restart()
            self.printer.wait_until_ready()


def main(argv: list[str]) -> int:
    """Start the printers, Home Assistant and the drivers; stop all on a signal.

    `--config DIR` chooses Home Assistant's configuration directory (default:
    the repository's `config/`); other arguments go to Home Assistant.
    """
    parser = argparse.ArgumentParser(prog="scripts/develop")
    parser.add_argument("--config", type=Path, default=CONFIG)
    args, hass_args = parser.parse_known_args(argv)
    config: Path = args.config.resolve()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s develop: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    servers = [OctoPrintServer(config / "octoprint" / name) for name in PRINTERS]
    klipper = (
        KlipperPrinter(config / "klipper") if MOONRAKER_INTEGRATION.is_dir() else None
    )
    home_assistant: subprocess.Popen[bytes] | None = None
    try:
        for server in servers:
            server.launch()
        if klipper is None:
            _LOGGER.info("No Klipper printer: %s is missing", MOONRAKER_INTEGRATION)
        else:
            klipper.launch()
            klipper.wait_until_ready()
            _LOGGER.info("Klipper (Moonraker): %s", klipper.url)
        for server in servers:
            server.wait_until_operational()
            _LOGGER.info(
                "OctoPrint %s: %s (user %s, password in %s)",
                server.basedir.name,
                server.url,
                server.username,
                server.basedir / "admin-password",
            )
        seed_config_entries(config, servers, klipper)
        home_assistant = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "homeassistant",
                "--config",
                str(config),
                *hass_args,
            ],
            # Not the repository: its custom_components would join the config's.
            cwd=config,
            preexec_fn=die_with_parent,  # noqa: PLW1509
        )
        for index, server in enumerate(servers):
            Driver(server, 10 + index * STAGGER, stopping).start()
        if klipper is not None:
            KlipperDriver(klipper, stopping).start()
        while not stopping.is_set() and home_assistant.poll() is None:
            stopping.wait(1)
    finally:
        stopping.set()
        if home_assistant is not None and home_assistant.poll() is None:
            home_assistant.send_signal(signal.SIGTERM)
            try:
                home_assistant.wait(60)
            except subprocess.TimeoutExpired:
                home_assistant.kill()
        for server in servers:
            server.stop()
        if klipper is not None:
            klipper.stop()
    return home_assistant.returncode if home_assistant is not None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

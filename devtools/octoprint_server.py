"""A real OctoPrint server with its virtual printer, on 127.0.0.1, as a child process.

OctoPrint (PyPI `octoprint`, in `.venv-octoprint` made by `scripts/setup`) runs
headless from a base directory written here: first run and wizards done, access
control with one admin user, the bundled virtual printer on the serial port
`VIRTUAL`, connected at start-up. Used by the end-to-end tests and by
`scripts/develop` (`devtools.develop`).

The virtual printer simulates move durations from the feed rate, so a job made by
`gcode_job` takes about the seconds asked for: quick, but a real print for
OctoPrint (progress, `Printing`, `Finishing`, `Cancelling`, errors of the firmware,
a lost serial line).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import contextlib
import ctypes
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import secrets
import signal
import socket
import subprocess
import time
from typing import Any, Self
import uuid

import httpx

REPO = Path(__file__).resolve().parent.parent
OCTOPRINT = REPO / ".venv-octoprint" / "bin" / "octoprint"
HOST = "127.0.0.1"
START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0
HTTP_TIMEOUT = 30.0
# The OctoPrint user that Home Assistant's integration asks an app key for.
USERNAME = "printer-admin"
# The app key the driver (tests, scripts/develop) uses for OctoPrint's REST API.
DRIVER_APP = "usage-stats-driver"

# Feed rate of the job's moves (mm/min) and the length of one move (mm): 10 s at
# this speed, which the virtual printer simulates ten times faster, in 1 s.
_FEED_RATE = 600
_MOVE_MM = 100


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Let Linux send SIGTERM to this child when its parent dies (PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def gcode_job(seconds: int) -> str:
    """Return G-code that the virtual printer prints in about `seconds` seconds.

    Pairs of moves on X: 100 mm out at 600 mm/min, which the virtual printer
    simulates in 1 s (ten times faster than the feed rate), and back, which it
    does not delay (it times a move by its signed distance). The progress OctoPrint
    reports (bytes of the file sent) grows evenly.
    """
    lines = ["; usage-stats development job", "G21", "G90", "G28", f"G1 F{_FEED_RATE}"]
    for _ in range(seconds):
        lines += [f"G1 X{_MOVE_MM} F{_FEED_RATE}", f"G1 X0 F{_FEED_RATE}"]
    lines.append("M400")
    return "\n".join(lines) + "\n"


def _config_yaml(upnp_uuid: str) -> str:
    """Return OctoPrint's config.yaml: headless, virtual printer, no online services."""
    config: dict[str, Any] = {
        "server": {
            "firstRun": False,
            "onlineCheck": {"enabled": False},
            "pluginBlacklist": {"enabled": False},
            "seenWizards": {"corewizard": 4},
        },
        "plugins": {
            # No usage tracking, no online checks.
            "_disabled": [
                "tracking",
                "announcements",
                "softwareupdate",
                "errortracking",
                "pluginmanager",
                "backup",
                "achievements",
                "health_check",
            ],
            # Home Assistant's config flow reads the server's UPnP id from the
            # discovery plugin's `discovery.xml`; its announcements stay on the
            # loopback interface.
            # The UPnP id is Home Assistant's unique id of the server: kept.
            "discovery": {
                "addresses": [HOST],
                "interfaces": ["lo"],
                "upnpUuid": upnp_uuid,
            },
            "virtual_printer": {
                "enabled": True,
                # Time per line sent: the default (10 ms).
                "throttle": 0.01,
            },
        },
        "serial": {
            "port": "VIRTUAL",
            "baudrate": 115200,
            "autoconnect": True,
        },
    }
    # YAML is a superset of JSON: OctoPrint reads this as it is.
    return json.dumps(config, indent=2) + "\n"


@dataclass
class OctoPrintServer:
    """An OctoPrint server with its virtual printer, from a base directory."""

    basedir: Path
    port: int = field(default_factory=free_port)
    username: str = USERNAME
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the server's base URL."""
        return f"http://{HOST}:{self.port}"

    @property
    def log(self) -> Path:
        """Return OctoPrint's console output."""
        return self.basedir / "console.log"

    @property
    def password(self) -> str:
        """Return the admin's password (kept in the base directory)."""
        return (self.basedir / "admin-password").read_text(encoding="utf-8").strip()

    @property
    def api_key(self) -> str:
        """Return the driver's app key (kept in the base directory)."""
        return (self.basedir / "driver-key").read_text(encoding="utf-8").strip()

    @property
    def upnp_uuid(self) -> str:
        """Return the server's UPnP id (kept in the base directory)."""
        return (self.basedir / "upnp-uuid").read_text(encoding="utf-8").strip()

    def prepare(self) -> None:
        """Write the base directory: config, the admin user, the driver's app key.

        Idempotent: an existing user and keys are kept (a server started again
        keeps its identity, as a real one does).
        """
        self.basedir.mkdir(parents=True, exist_ok=True)
        if not (self.basedir / "upnp-uuid").exists():
            (self.basedir / "upnp-uuid").write_text(str(uuid.uuid4()), encoding="utf-8")
        (self.basedir / "config.yaml").write_text(
            _config_yaml(self.upnp_uuid), encoding="utf-8"
        )
        if not (self.basedir / "users.yaml").exists():
            password = secrets.token_urlsafe(16)
            subprocess.run(  # noqa: S603
                [
                    str(OCTOPRINT),
                    "--basedir",
                    str(self.basedir),
                    "user",
                    "add",
                    "--password",
                    password,
                    "--admin",
                    self.username,
                ],
                check=True,
                capture_output=True,
            )
            (self.basedir / "admin-password").write_text(password, encoding="utf-8")
        if not (self.basedir / "driver-key").exists():
            key = secrets.token_urlsafe(32)
            keys = self.basedir / "data" / "appkeys" / "keys.yaml"
            keys.parent.mkdir(parents=True, exist_ok=True)
            keys.write_text(
                json.dumps(
                    {self.username: [{"api_key": key, "app_id": DRIVER_APP}]}, indent=2
                )
                + "\n",
                encoding="utf-8",
            )
            (self.basedir / "driver-key").write_text(key, encoding="utf-8")

    def start(self, timeout: float = START_TIMEOUT) -> Self:
        """Start OctoPrint and wait until its virtual printer is operational."""
        self.launch()
        self.wait_until_operational(timeout)
        return self

    def launch(self) -> None:
        """Start the OctoPrint process; `wait_until_operational` waits for it."""
        if not OCTOPRINT.exists():
            msg = f"{OCTOPRINT} is missing: run scripts/setup"
            raise RuntimeError(msg)
        self.prepare()
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603
                [
                    str(OCTOPRINT),
                    "serve",
                    "--basedir",
                    str(self.basedir),
                    "--host",
                    HOST,
                    "--port",
                    str(self.port),
                    # Only for root (CI and containers run as root); harmless otherwise.
                    "--iknowwhatimdoing",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "NO_COLOR": "1"},
                preexec_fn=die_with_parent,  # noqa: PLW1509
            )

    def wait_until_operational(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until the server answers and its virtual printer is operational."""
        client = self.client()
        try:
            self.wait_for(
                "OctoPrint's virtual printer to be operational",
                lambda: client.connection_state() == "Operational" or None,
                timeout,
            )
        finally:
            client.close()

    def stop(self) -> None:
        """Stop OctoPrint (SIGTERM, then SIGKILL when it does not exit in time)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)

    def client(self) -> OctoPrintClient:
        """Return a REST client with the driver's app key."""
        return OctoPrintClient(self.url, self.api_key)

    def wait_for[T](
        self,
        what: str,
        probe: Callable[[], T | None],
        timeout: float,
        interval: float = 0.25,
    ) -> T:
        """Call `probe` until it returns something other than None; fail on exit."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            if self.process is not None and (code := self.process.poll()) is not None:
                msg = f"OctoPrint exited with {code} while waiting for {what}"
                raise RuntimeError(msg)
            try:
                if (result := probe()) is not None:
                    return result
            except httpx.TransportError as err:
                last_error = err
            if time.monotonic() >= deadline:
                msg = f"timed out after {timeout:.0f} s waiting for {what}"
                if last_error is not None:
                    msg += f" (last error: {last_error!r})"
                raise TimeoutError(msg)
            time.sleep(interval)

    @contextlib.contextmanager
    def _admin(self) -> Iterator[Callable[..., httpx.Response]]:
        """Log in as the admin, as OctoPrint's web interface does; yield a requester.

        The login page sets the CSRF cookie that every POST must echo in a header.
        """
        with httpx.Client(base_url=self.url, timeout=HTTP_TIMEOUT) as session:
            session.get("/login").raise_for_status()
            cookie = f"csrf_token_P{self.port}"

            def request(
                method: str, path: str, body: dict[str, Any] | None = None
            ) -> httpx.Response:
                return session.request(
                    method,
                    path,
                    json=body,
                    headers={"X-CSRF-Token": session.cookies[cookie]},
                ).raise_for_status()

            request(
                "POST",
                "/api/login",
                {"user": self.username, "pass": self.password, "remember": False},
            )
            yield request

    def approve_app_keys(self, app: str) -> int:
        """Approve, as the admin, the pending app key requests of `app`.

        What a user does in OctoPrint's access request dialog, over its API: log
        in (credentials just checked), list the pending requests, decide `true`.
        Returns how many requests were approved.
        """
        with self._admin() as request:
            pending: dict[str, dict[str, Any]] = request(
                "GET", "/api/plugin/appkeys"
            ).json()["pending"]
            approved = 0
            for user_token, decision in pending.items():
                if decision.get("app_id") == app:
                    request(
                        "POST",
                        f"/plugin/appkeys/decision/{user_token}",
                        {"decision": True},
                    )
                    approved += 1
            return approved

    def generate_app_key(self, app: str) -> str:
        """Generate an app key for `app` as the admin (OctoPrint's user settings)."""
        with self._admin() as request:
            key: str = request(
                "POST", "/api/plugin/appkeys", {"command": "generate", "app": app}
            ).json()["api_key"]
            return key


class OctoPrintClient:
    """OctoPrint's REST API with an app key: files, jobs, connection, commands."""

    def __init__(self, url: str, api_key: str) -> None:
        """Use the server at `url` with `api_key`."""
        self._http = httpx.Client(
            base_url=url, headers={"X-Api-Key": api_key}, timeout=HTTP_TIMEOUT
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()

    def __enter__(self) -> Self:
        """Use the client in a `with` block, which closes it."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the HTTP client."""
        self.close()

    def connection_state(self) -> str:
        """Return the serial connection's state (`Operational`, `Closed`, ...)."""
        state: str = (
            self._http.get("/api/connection")
            .raise_for_status()
            .json()["current"]["state"]
        )
        return state

    def printer(self) -> dict[str, Any] | None:
        """Return `/api/printer`'s state (text and flags), None while not connected."""
        response = self._http.get("/api/printer", params={"exclude": "temperature,sd"})
        if response.status_code == 409:
            return None
        state: dict[str, Any] = response.raise_for_status().json()["state"]
        return state

    def job(self) -> dict[str, Any]:
        """Return `/api/job`: the job, its progress and OctoPrint's state text."""
        job: dict[str, Any] = self._http.get("/api/job").raise_for_status().json()
        return job

    def upload(self, name: str, gcode: str) -> None:
        """Upload G-code to OctoPrint's local storage as `name`."""
        self._http.post(
            "/api/files/local",
            files={"file": (name, gcode.encode(), "application/octet-stream")},
        ).raise_for_status()

    def print_file(self, name: str) -> None:
        """Select an uploaded file and start printing it."""
        self._http.post(
            f"/api/files/local/{name}", json={"command": "select", "print": True}
        ).raise_for_status()

    def cancel(self) -> None:
        """Cancel the running job."""
        self._http.post("/api/job", json={"command": "cancel"}).raise_for_status()

    def command(self, *commands: str) -> None:
        """Send commands to the printer (`!!DEBUG:...` ones reach the virtual printer)."""
        self._http.post(
            "/api/printer/command", json={"commands": list(commands)}
        ).raise_for_status()

    def connect(self) -> None:
        """Connect to the virtual printer again (after an error or a lost line)."""
        self._http.post(
            "/api/connection",
            json={"command": "connect", "port": "VIRTUAL", "baudrate": 115200},
        ).raise_for_status()

    def disconnect(self) -> None:
        """Close the serial connection."""
        self._http.post(
            "/api/connection", json={"command": "disconnect"}
        ).raise_for_status()

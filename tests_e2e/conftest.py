"""Real processes for the end-to-end tests: the collector, Home Assistant, OctoPrint.

All on 127.0.0.1, on free ports. These tests run without Home Assistant's pytest
plugin (`-p no:homeassistant`), which blocks sockets and replaces the event loop.
Every process started here is stopped at teardown, also when the test fails; a
failed test shows the tail of each log.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
import os
from pathlib import Path
import re
import secrets
import signal
import subprocess
import sys
import time
from typing import Any
import uuid

import httpx
from playwright.sync_api import Browser, sync_playwright
import pytest

from devtools.octoprint_server import HOST, OctoPrintServer, free_port

REPO = Path(__file__).resolve().parent.parent
# The collector is its own deployable with its own environment (collector/.venv, made by
# scripts/setup): its process runs on that interpreter. The process helper uses the standard
# library only, so it is imported from the source tree.
COLLECTOR_PYTHON = REPO / "collector" / ".venv" / "bin" / "python"
sys.path.insert(0, str(REPO / "collector" / "src"))
from usage_stats_collector.process import (  # noqa: E402
    CollectorProcess,
    CollectorStartError,
)

TOKEN_ENV = "USAGE_STATS_COLLECTOR_ADMIN_TOKEN"  # noqa: S105 - the name of a variable

# The Home Assistant releases a test can start: the oldest supported one runs on this
# interpreter (.venv); the newest on PyPI runs on Python 3.14 in the chroot of
# scripts/py314, from .venv-ha-newest (both made by scripts/setup). The chroot sees the
# work tree and /tmp at the same paths, and shares the machine's network.
OLDEST = "oldest"
NEWEST = "newest"
NEWEST_VENV = REPO / ".venv-ha-newest"


def hass_command(release: str) -> list[str]:
    """Return the command that starts Home Assistant of `release` (`hass --config` follows)."""
    if release == OLDEST:
        return [sys.executable, "-m", "homeassistant"]
    if not (NEWEST_VENV / "pyvenv.cfg").exists():
        pytest.fail(f"{NEWEST_VENV} is missing: run scripts/setup")
    return [
        str(REPO / "scripts" / "py314"),
        "run",
        str(NEWEST_VENV / "bin" / "python"),
        "-m",
        "homeassistant",
    ]


def newest_release() -> str:
    """Return the version of the newest release, as requirements_ha_newest.txt pins it."""
    pins = (REPO / "requirements_ha_newest.txt").read_text(encoding="utf-8")
    match = re.search(r"(?m)^homeassistant==(\S+)$", pins)
    assert match is not None, "requirements_ha_newest.txt pins no homeassistant"
    return match[1]


DEV_CONFIG = REPO / "config" / "configuration.yaml"

COLLECTOR_START_TIMEOUT = 30.0
HA_START_TIMEOUT = 90.0
HA_RUNNING_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
LOG_TAIL_LINES = 60
HTTP_TIMEOUT = 30.0

# Diagnostics (title, text) shown with a failed test: the tails of the processes' logs.
type Diagnostic = Callable[[], tuple[str, str]]
DIAGNOSTICS = pytest.StashKey[list[Diagnostic]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Add the tails of the processes' logs to the report of a failed test."""
    report = yield
    if report.failed:
        for diagnostic in item.stash.get(DIAGNOSTICS, []):
            report.sections.append(diagnostic())
    return report


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Return the last lines of a log file."""
    if not path.exists():
        return f"({path} does not exist)"
    text = path.read_text(encoding="utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process with SIGTERM, and kill it if it does not exit in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)


def wait_for[T](
    what: str,
    probe: Callable[[], T | None],
    timeout: float,
    *,
    interval: float = 0.5,
    process: subprocess.Popen[bytes] | None = None,
) -> T:
    """Call `probe` until it returns something other than None, at most `timeout` seconds.

    Connection errors count as "not yet". Fails at once when `process` exited.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        if process is not None and (code := process.poll()) is not None:
            pytest.fail(f"the process exited with {code} while waiting for {what}")
        try:
            if (result := probe()) is not None:
                return result
        except httpx.TransportError as err:
            last_error = err
        if time.monotonic() >= deadline:
            pytest.fail(
                f"timed out after {timeout:.0f} s waiting for {what}"
                + (f" (last error: {last_error!r})" if last_error else "")
            )
        time.sleep(interval)


@dataclass
class Collector:
    """A running collector process."""

    url: str
    admin_token: str
    log: Path


@pytest.fixture
def collector(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Collector]:
    """Start the reference collector on a free port of 127.0.0.1, SQLite in tmp_path.

    `--k-anonymity 1`: the collector publishes a value only when at least k
    installations reported it, and a week only with at least k installations, once the
    week has ended (so the report of the current week is never on `/v1/stats` here).
    """
    with run_collector(tmp_path, request) as collector:
        yield collector


@pytest.fixture
def publishing_collector(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Collector]:
    """The collector of `collector`, publishing the weeks that ended without a delay.

    Its publication runs every second, so a report of a closed week is published as
    soon as it arrives (and fixed from then on).
    """
    with run_collector(
        tmp_path,
        request,
        "--publication-delay-days",
        "0",
        "--publish-interval",
        "1",
    ) as collector:
        yield collector


@contextmanager
def run_collector(
    tmp_path: Path, request: pytest.FixtureRequest, *options: str
) -> Iterator[Collector]:
    """Run the collector with `--k-anonymity 1` and `options` while the block runs.

    The admin token goes in through the environment, never the command line (where
    every local user could read it, and where a token starting with `-` would be taken
    for an option).
    """
    token = secrets.token_urlsafe(24)
    log = tmp_path / "collector.log"
    with log.open("wb") as stderr:
        process = CollectorProcess(
            f"sqlite:///{tmp_path / 'collector.db'}",
            "--k-anonymity",
            "1",
            *options,
            host=HOST,
            python=str(COLLECTOR_PYTHON),
            env={**os.environ, TOKEN_ENV: token},
            stderr=stderr,
            start_timeout=COLLECTOR_START_TIMEOUT,
            stop_timeout=STOP_TIMEOUT,
        )
        request.node.stash.setdefault(DIAGNOSTICS, []).append(
            lambda: ("collector log (tail)", tail(log))
        )
        try:
            process.start()
        except CollectorStartError as err:
            pytest.fail(str(err))
    try:
        yield Collector(process.url, token, log)
    finally:
        process.stop()


@dataclass
class HomeAssistant:
    """A running Home Assistant process and its configuration directory."""

    process: subprocess.Popen[bytes]
    config_dir: Path
    url: str


@dataclass
class HomeAssistantConfig:
    """A temporary copy of the development configuration, on a free port."""

    config_dir: Path
    port: int
    release: str = OLDEST
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Return Home Assistant's base URL."""
        return f"http://{HOST}:{self.port}"

    @property
    def storage_dir(self) -> Path:
        """Return `<config>/.storage`, where Home Assistant keeps its stores."""
        return self.config_dir / ".storage"

    @property
    def log(self) -> Path:
        """Return Home Assistant's log file, or its console output before that exists."""
        log = self.config_dir / "home-assistant.log"
        return log if log.exists() else self.config_dir / "console.log"

    def start(self) -> HomeAssistant:
        """Start Home Assistant as `scripts/develop` does (`hass --config`); wait for HTTP."""
        with (self.config_dir / "console.log").open("wb") as output:
            process = subprocess.Popen(  # noqa: S603
                [*hass_command(self.release), "--config", str(self.config_dir)],
                # Not the repository: its custom_components would join the config's.
                cwd=self.config_dir,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.started.append(process)
        # The onboarding API answers without authentication once HTTP is up: 200
        # while onboarding is not done, 404 once it is (the integration is not set up).
        wait_for(
            "Home Assistant's HTTP API",
            lambda: httpx.get(f"{self.url}/api/onboarding", timeout=5).status_code
            in (200, 404)
            or None,
            HA_START_TIMEOUT,
            process=process,
        )
        return HomeAssistant(process, self.config_dir, self.url)

    def stop(self) -> None:
        """Stop the Home Assistant processes started from this configuration."""
        for process in self.started:
            stop(process)

    def add_custom_integration(self, folder: Path) -> None:
        """Link a custom integration's folder into the configuration's custom_components."""
        (self.config_dir / "custom_components" / folder.name).symlink_to(folder)

    def runtime_installs(self) -> list[str]:
        """Return the packages Home Assistant installed at start (none: all are pinned)."""
        return [
            line
            for name in ("home-assistant.log.1", "home-assistant.log")
            if (log := self.config_dir / name).exists()
            for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
            if "Attempting install of" in line
        ]

    def log_problems(self) -> list[str]:
        """Return this integration's ERROR and WARNING records in Home Assistant's logs.

        Home Assistant keeps the previous run's log as `home-assistant.log.1`.
        """
        return [
            problem
            for name in ("home-assistant.log.1", "home-assistant.log")
            if (log := self.config_dir / name).exists()
            for problem in integration_log_problems(log)
        ]


@pytest.fixture
def home_assistant_config(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[HomeAssistantConfig]:
    """Return a copy of the development configuration with its own free HTTP port.

    Everything but `http: server_port` is the development configuration as it is;
    `custom_components/usage_stats` is a symlink to the repository's, as
    `scripts/develop` makes it (`HomeAssistantConfig.add_custom_integration` links
    more). Home Assistant processes started from it are stopped at teardown. The release
    is the oldest supported one, unless the test is parametrized indirectly with
    `release` (OLDEST or NEWEST).
    """
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    port = free_port()
    text, replaced = re.subn(
        r"(?m)^([ \t]+server_port:[ \t]*)\d+[ \t]*$",
        rf"\g<1>{port}",
        DEV_CONFIG.read_text(encoding="utf-8"),
    )
    assert replaced == 1, "config/configuration.yaml should set http: server_port once"
    assert f"server_host: {HOST}" in text
    (config_dir / "configuration.yaml").write_text(text, encoding="utf-8")
    (config_dir / "custom_components").mkdir()
    (config_dir / "custom_components" / "usage_stats").symlink_to(
        REPO / "custom_components" / "usage_stats"
    )
    config = HomeAssistantConfig(
        config_dir, port, getattr(request, "param", {}).get("release", OLDEST)
    )
    request.node.stash.setdefault(DIAGNOSTICS, []).append(
        lambda: ("Home Assistant log (tail)", tail(config.log))
    )
    try:
        yield config
    finally:
        config.stop()


@contextmanager
def api_client(home_assistant: HomeAssistant, token: str) -> Iterator[httpx.Client]:
    """Yield an authenticated client of Home Assistant's API once it is running."""
    with httpx.Client(
        base_url=home_assistant.url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=HTTP_TIMEOUT,
    ) as ha:
        wait_for(
            "Home Assistant to be running",
            lambda: ha.get("/api/config").json()["state"] == "RUNNING" or None,
            HA_RUNNING_TIMEOUT,
            process=home_assistant.process,
        )
        yield ha


def onboard(
    url: str, *, name: str = "End to end", username: str = "e2e", password: str = ""
) -> str:
    """Create the owner through the onboarding API and return an access token.

    Without a `password` the owner gets a random one (nobody logs in with it).
    """
    client_id = f"{url}/"
    response = httpx.post(
        f"{url}/api/onboarding/users",
        json={
            "client_id": client_id,
            "name": name,
            "username": username,
            "password": password or uuid.uuid4().hex,
            "language": "en",
        },
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 200, response.text
    response = httpx.post(
        f"{url}/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": response.json()["auth_code"],
            "client_id": client_id,
        },
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


# A Home Assistant log record starts with its time, level, thread and logger:
# "2025-04-24 09:15:00.123 WARNING (MainThread) [custom_components.usage_stats] ...";
# 2026.11 adds the UTC offset to the time: "2026-12-06 16:48:36.037+00:00 WARNING ...".
_LOG_RECORD = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+(?:[+-]\d\d:?\d\d|Z)? "
    r"(?P<level>[A-Z]+) \([^)]*\) \[(?P<logger>[^\]]+)\]"
)
# The one warning Home Assistant writes for every custom integration it loads: it
# is about being a custom integration, not about anything this one does.
_CUSTOM_INTEGRATION_NOTICE = re.compile(
    r"We found a custom integration usage_stats which has not been tested by Home Assistant"
)


def integration_log_problems(log: Path) -> list[str]:
    """Return the ERROR and WARNING records of Home Assistant's log caused by us.

    A record (its first line and any traceback after it) is ours when its logger is
    `custom_components.usage_stats...` or its text mentions `usage_stats` (an error
    that Home Assistant logs about one of our callbacks or tasks names it).
    """
    records: list[list[str]] = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if _LOG_RECORD.match(line) or not records:
            records.append([line])
        else:
            records[-1].append(line)
    problems = []
    for record in records:
        text = "\n".join(record)
        if (match := _LOG_RECORD.match(record[0])) is None or match["level"] not in {
            "WARNING",
            "ERROR",
            "CRITICAL",
        }:
            continue
        ours = match["logger"].startswith("custom_components.usage_stats") or (
            "usage_stats" in text
        )
        if ours and not _CUSTOM_INTEGRATION_NOTICE.search(record[0]):
            problems.append(text)
    return problems


@pytest.fixture
def octoprint(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[OctoPrintServer]:
    """Launch a real OctoPrint with its virtual printer on a free port of 127.0.0.1.

    The process is launched, not awaited (it takes some seconds, which Home
    Assistant's start can use): call `wait_until_operational` before using it.
    """
    server = OctoPrintServer(tmp_path / "octoprint")
    request.node.stash.setdefault(DIAGNOSTICS, []).append(
        lambda: ("OctoPrint log (tail)", tail(server.log))
    )
    server.launch()
    try:
        yield server
    finally:
        server.stop()


def add_octoprint_entry(ha: httpx.Client, server: OctoPrintServer) -> dict[str, Any]:
    """Add Home Assistant's core `octoprint` integration through its config flow.

    As a user does in the frontend: the form with the server's address and the
    OctoPrint user; the flow then asks OctoPrint for an app key, which the user
    approves in OctoPrint (here over OctoPrint's API, as its admin). Returns the
    created config entry.
    """
    flow = ha.post(
        "/api/config/config_entries/flow",
        json={"handler": "octoprint", "show_advanced_options": False},
    ).json()
    assert (flow["type"], flow["step_id"]) == ("form", "user"), flow
    step = ha.post(
        f"/api/config/config_entries/flow/{flow['flow_id']}",
        json={
            "username": server.username,
            "host": HOST,
            "port": server.port,
            "path": "/",
            "ssl": False,
            "verify_ssl": True,
        },
    ).json()
    assert (step["type"], step["step_id"]) == ("progress", "get_api_key"), step
    wait_for(
        "the app key request of Home Assistant to approve in OctoPrint",
        lambda: server.approve_app_keys("Home Assistant") or None,
        HTTP_TIMEOUT,
    )

    def created() -> dict[str, Any] | None:
        # What the frontend does when the flow reports progress: fetch its step.
        result: dict[str, Any] = ha.get(
            f"/api/config/config_entries/flow/{flow['flow_id']}"
        ).json()
        if result.get("type") == "progress":
            return None
        assert result["type"] == "create_entry", result
        return result

    entry: dict[str, Any] = wait_for(
        "the octoprint config entry", created, HTTP_TIMEOUT
    )["result"]
    assert entry["state"] == "loaded", entry
    return entry


# The browser of the panel's tests: Debian's chromium through Playwright.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Start Debian's chromium through Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()

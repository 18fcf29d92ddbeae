"""The collector as a child process, for test harnesses and benchmarks.

``with CollectorProcess("sqlite:///x.db") as collector:`` starts ``usage-stats-collector serve`` on
a free port of 127.0.0.1, waits a bounded time for its ``usage-stats-collector ready port=N`` line
and stops it with SIGTERM at the end (killing it if it does not exit in time).

This module uses the standard library only, so a harness in another environment (the end-to-end
test runs in Home Assistant's) can import it from ``collector/src`` and start the collector with
the interpreter of the collector's own environment (``python=collector/.venv/bin/python``).
"""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import IO, Self

READY_LINE = re.compile(rb"usage-stats-collector ready port=(\d+)\s*")


class CollectorStartError(RuntimeError):
    """The collector exited, or printed no ready line in time."""


class CollectorProcess:
    """``usage-stats-collector serve --port 0`` as a child process."""

    def __init__(
        self,
        database: str,
        *options: str,
        host: str = "127.0.0.1",
        python: str | None = None,
        stderr: IO[bytes] | int = subprocess.DEVNULL,
        env: Mapping[str, str] | None = None,
        preexec_fn: Callable[[], object] | None = None,
        start_timeout: float = 60.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.command = [
            python or sys.executable,
            "-m",
            "usage_stats_collector",
            "serve",
            "--host",
            host,
            "--port",
            "0",
            "--database",
            database,
            *options,
        ]
        self._stderr = stderr
        self._env = dict(env) if env is not None else None
        self._preexec_fn = preexec_fn  # e.g. lower a resource limit of the child
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._lines: queue.Queue[bytes] = queue.Queue()
        self.stdout: list[bytes] = []  # every line the process printed, the ready line first
        self.process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self.port = 0

    @property
    def pid(self) -> int:
        """The process id of the running collector."""
        if self.process is None:
            raise RuntimeError("the collector was not started")
        return self.process.pid

    @property
    def url(self) -> str:
        """Base URL of the running collector."""
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start the process and wait for its ready line; raise CollectorStartError otherwise."""
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            self.command,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=self._env,
            preexec_fn=self._preexec_fn,  # noqa: PLW1509 - only for test harnesses
        )
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self._start_timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                if (code := self.process.poll()) is not None:
                    self.stop()
                    raise CollectorStartError(
                        f"the collector exited with {code} before it was ready"
                    ) from None
                continue
            if match := READY_LINE.fullmatch(line):
                self.port = int(match.group(1))
                return
        self.stop()
        raise CollectorStartError(f"the collector printed no ready line within {self._start_timeout:.0f} s")

    def stop(self) -> int:
        """Stop the process (SIGTERM, then SIGKILL after the stop timeout); return its exit code."""
        if self.process is None or self._reader is None:
            raise RuntimeError("the collector was not started")
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(self._stop_timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        code = self.process.wait()
        self._reader.join(self._stop_timeout)  # the rest of stdout
        return code

    def _read(self, stdout: IO[bytes]) -> None:
        for line in stdout:
            self.stdout.append(line)
            self._lines.put(line)

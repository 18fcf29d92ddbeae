"""The HTTP server around the application, bounded for the public internet.

- Compressed bodies are never inflated (``auto_decompress=False``; the application answers 415).
- Request heads are small (line, field and header count limits) and must arrive within the header
  timeout: aiohttp closes a connection that has not sent a complete request head within its
  keep-alive timeout, from the moment it connects and between requests.
- Bodies must arrive within the body timeout (the application answers 408).
- At most ``max_connections`` connections are open (also kept well under the file descriptor
  limit). When full, the connection that has waited longest for a request head is closed to make
  room (slow or idle clients give way to new ones); when no connection is idle, the new one gets
  503.
- No access log and no client address in any log line: aiohttp's "Error handling request from
  <address>" becomes a line without the address (malformed HTTP at debug level, no traceback).
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
from typing import Any, cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

_LOGGER = logging.getLogger(__name__)
HTTP_LOGGER = logging.getLogger("usage_stats_collector.http")

DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_HEADER_TIMEOUT = 10.0
# File descriptors kept free for the database, the listening socket and the connections asyncio
# accepts in a batch (up to the listen backlog, twice) before the limit applies to them.
RESERVED_DESCRIPTORS = 200
LISTEN_BACKLOG = 64
# The headers of the answers the server gives without the application (malformed HTTP).
ERROR_HEADERS = {
    "Server": "usage-stats-collector",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 24\r\n"
    b"Connection: close\r\nServer: usage-stats-collector\r\n\r\n"
    b'{"error": "server busy"}'
)


def handler_options(header_timeout: float = DEFAULT_HEADER_TIMEOUT) -> dict[str, Any]:
    """Keyword arguments of aiohttp's request handler (``AppRunner``/``TestServer``)."""
    return {
        "access_log": None,  # it would record client addresses
        "logger": HTTP_LOGGER,
        "auto_decompress": False,
        "keepalive_timeout": header_timeout,
        "max_line_size": 8190,
        "max_field_size": 8190,
        "max_headers": 32,
        "lingering_time": 2.0,
    }


class _NoAddress(logging.Filter):
    """Rewrite aiohttp's "Error handling request from <address>" without the address."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Error handling request from"):
            return True
        error = record.exc_info[1] if record.exc_info else None
        record.args = (type(error).__name__ if error else "unknown",)
        if error is None or isinstance(error, HttpProcessingError):
            # Malformed HTTP: routine on the public internet, no traceback.
            record.msg = "Malformed HTTP request (%s)"
            record.exc_info = None
            record.exc_text = None
            return HTTP_LOGGER.isEnabledFor(logging.DEBUG)
        record.msg = "Error handling a request (%s)"
        return True


HTTP_LOGGER.addFilter(_NoAddress())


def raise_descriptor_limit() -> int:
    """Raise the soft limit of open files to the hard limit; return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = 65536 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):  # pragma: no cover - not allowed here
            pass
    return soft


def connection_limit(max_connections: int, descriptors: int) -> int:
    """The connection cap: as configured, and well under the file descriptor limit."""
    return max(1, min(max_connections, descriptors - RESERVED_DESCRIPTORS))


class _Busy(asyncio.Protocol):
    """The answer to a connection over the cap when no connection can give way."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)
        transport.write(BUSY_RESPONSE)
        transport.close()


class _Handler(RequestHandler):
    """aiohttp's request handler, counted by the connection limiter."""

    def __init__(self, limiter: ConnectionLimiter, manager: web.Server, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._limiter = limiter

    def waiting_for_request(self) -> bool:
        """Connected, but no complete request head yet (a new, slow or idle connection)."""
        waiter = self._waiter
        return waiter is not None and not waiter.done() and not self._messages

    def connection_lost(self, exc: BaseException | None) -> None:
        self._limiter.discard(self)
        super().connection_lost(exc)

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> StreamResponse:
        """aiohttp's answer to malformed HTTP, as JSON and without its version in ``Server``."""
        # aiohttp's own logs the error (through the filter) and raises once a response has started.
        super().handle_error(request, status, exc, message)
        reason = "malformed request" if status < 500 else "internal error"
        error = web.json_response({"error": reason}, status=status, headers=ERROR_HEADERS)
        error.force_close()
        return error


class ConnectionLimiter:
    """The protocol factory of the listening socket: at most ``limit`` open connections."""

    def __init__(self, server: web.Server, limit: int) -> None:
        self._server = server
        self.limit = limit
        self._open: dict[_Handler, None] = {}  # oldest first

    def __len__(self) -> int:
        return len(self._open)

    def discard(self, handler: _Handler) -> None:
        """Forget a closed connection."""
        self._open.pop(handler, None)

    def __call__(self) -> asyncio.Protocol:
        while len(self._open) >= self.limit:
            waiting = next((handler for handler in self._open if handler.waiting_for_request()), None)
            if waiting is None:
                _LOGGER.debug("Connection limit reached: a new connection is turned away")
                return _Busy()
            _LOGGER.debug("Connection limit reached: closing the connection that waited longest")
            self.discard(waiting)
            waiting.force_close()
        server = self._server
        handler = _Handler(self, server, loop=asyncio.get_running_loop(), **server._kwargs)
        self._open[handler] = None
        return handler


class LimitedSite(web.SockSite):
    """A listening socket whose connections go through a :class:`ConnectionLimiter`."""

    def __init__(self, runner: web.AppRunner, sock: socket.socket, max_connections: int) -> None:
        super().__init__(runner, sock)
        self._max_connections = max_connections
        self.limiter: ConnectionLimiter | None = None

    async def start(self) -> None:
        """Listen, with the limiter as protocol factory."""
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        self.limiter = ConnectionLimiter(server, self._max_connections)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self.limiter, sock=self._sock, backlog=LISTEN_BACKLOG)

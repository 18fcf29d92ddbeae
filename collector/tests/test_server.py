"""The bounded server in process: the connection cap, the log filter, the admin token's sources."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from usage_stats_collector import cli, server


async def _hello(_: web.Request) -> web.Response:
    return web.Response(text="hello")


async def _slow_body(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(text="read")


@pytest.fixture
async def limited() -> AsyncIterator[tuple[int, server.ConnectionLimiter]]:
    """An app behind a LimitedSite that allows 3 connections."""
    app = web.Application()
    app.router.add_get("/", _hello)
    app.router.add_post("/", _slow_body)
    runner = web.AppRunner(app, **server.handler_options(30))
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = server.LimitedSite(runner, sock, 3)
    await site.start()
    assert site.limiter is not None
    try:
        yield sock.getsockname()[1], site.limiter
    finally:
        await runner.cleanup()


async def _get(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return answer


async def _wait_for(condition: object, what: str) -> None:
    for _ in range(200):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(what)


async def test_the_longest_waiting_connection_gives_way(
    limited: tuple[int, server.ConnectionLimiter],
) -> None:
    port, limiter = limited
    idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    await _wait_for(lambda: len(limiter) == 3, "three open connections")
    answer = await _get(port)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b"hello")
    # The first idle connection was closed to make room.
    assert await asyncio.wait_for(idle[0][0].read(), 5) == b""
    for _, writer in idle:
        writer.close()


async def test_busy_connections_turn_a_new_one_away(limited: tuple[int, server.ConnectionLimiter]) -> None:
    port, limiter = limited
    busy = []
    for _ in range(3):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{")
        busy.append((reader, writer))
    await _wait_for(
        lambda: len(limiter) == 3 and not any(h.waiting_for_request() for h in limiter._open), "busy"
    )
    answer = await _get(port)
    assert answer.startswith(b"HTTP/1.1 503 ")
    assert answer.endswith(b'{"error": "server busy"}')
    for _, writer in busy:
        writer.close()


def test_connection_limit_stays_under_the_descriptor_limit() -> None:
    assert server.connection_limit(1000, 65536) == 1000
    assert server.connection_limit(1000, 1024) == 1024 - server.RESERVED_DESCRIPTORS
    assert server.connection_limit(1000, 100) == 1
    assert server.raise_descriptor_limit() >= 256


def _record(error: BaseException | None) -> logging.LogRecord:
    return logging.LogRecord(
        "usage_stats_collector.http",
        logging.ERROR,
        __file__,
        1,
        "Error handling request from %s",
        ("203.0.113.7",),
        (type(error), error, None) if error else None,
    )


def test_aiohttp_error_lines_lose_the_client_address(caplog: pytest.LogCaptureFixture) -> None:
    from aiohttp.http_exceptions import BadHttpMessage

    address_filter = server._NoAddress()
    malformed = _record(BadHttpMessage("bad"))
    assert address_filter.filter(malformed) is False  # debug only, and debug is off
    assert malformed.getMessage() == "Malformed HTTP request (BadHttpMessage)"
    assert malformed.exc_info is None
    unexpected = _record(RuntimeError("boom"))
    assert address_filter.filter(unexpected) is True
    assert unexpected.getMessage() == "Error handling a request (RuntimeError)"
    other = logging.LogRecord("x", logging.INFO, __file__, 1, "Something from %s", ("a",), None)
    assert address_filter.filter(other) is True
    assert other.getMessage() == "Something from a"
    with caplog.at_level(logging.DEBUG, logger="usage_stats_collector.http"):
        assert address_filter.filter(_record(None)) is True
    assert "203.0.113.7" not in caplog.text


def test_admin_token_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cli.TOKEN_ENV, raising=False)
    assert cli._admin_token(None) is None
    monkeypatch.setenv(cli.TOKEN_ENV, "  from-env \n")
    assert cli._admin_token(None) == "from-env"
    token_file = tmp_path / "token"
    token_file.write_text("-starts-with-a-dash\n", encoding="utf-8")
    assert cli._admin_token(token_file) == "-starts-with-a-dash"  # the file wins
    token_file.write_text("\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="empty"):
        cli._admin_token(token_file)
    with pytest.raises(SystemExit, match="cannot read"):
        cli._admin_token(tmp_path / "missing")


def test_the_command_line_takes_no_token() -> None:
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["serve", "--admin-token", "secret"])
    args = cli._parser().parse_args(["serve", "--admin-token-file", "/run/secrets/token"])
    assert args.admin_token_file == Path("/run/secrets/token")


@pytest.mark.parametrize("option", ["--max-connections", "--header-timeout", "--body-timeout"])
async def test_limits_must_be_positive(tmp_path: Path, option: str) -> None:
    args = cli._parser().parse_args(["serve", option, "0", "--database", f"sqlite:///{tmp_path}/x.db"])
    with pytest.raises(SystemExit, match="must be positive"):
        await cli._serve(args)


async def test_malformed_http_gets_json_without_a_server_version(
    limited: tuple[int, server.ConnectionLimiter], caplog: pytest.LogCaptureFixture
) -> None:
    port, _ = limited
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ", 2)[1] == b"400"
    assert b"Server: usage-stats-collector\r\n" in head + b"\r\n"
    assert body == b'{"error": "malformed request"}'
    assert "127.0.0.1" not in caplog.text

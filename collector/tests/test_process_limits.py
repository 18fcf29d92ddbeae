"""The real collector process under abuse, on 127.0.0.1: compressed bodies, slow clients, logs.

Each test starts ``usage-stats-collector serve`` as a child process (SQLite in tmp_path) and
measures it from outside: its peak memory (``VmHWM``), how fast normal clients are answered while
others misbehave, and what it writes to its log. All loops are bounded.
"""

from __future__ import annotations

import asyncio
import resource
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from collector_testlib import new_id, recent_report
from usage_stats_collector.process import CollectorProcess

GIB = 1 << 30


def gzip_bomb() -> bytes:
    """About 1 MB of valid gzip that inflates to 1 GiB of zeros (built in well under a second).

    With a sync flush after each MiB of zeros, every MiB after the first compresses to the same
    bytes, so the stream is the first MiB's bytes, 1,023 copies of the next one's, and a trailer.
    """
    mib = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = compressor.compress(mib) + compressor.flush(zlib.Z_SYNC_FLUSH)
    repeated = compressor.compress(mib) + compressor.flush(zlib.Z_SYNC_FLUSH)
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(mib, crc)
    final_block = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    return first + repeated * 1023 + final_block + struct.pack("<II", crc, GIB & 0xFFFFFFFF)


def peak_rss_mb(pid: int) -> float:
    """The peak resident memory of a process so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")  # pragma: no cover


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """The collector's stderr."""
    return tmp_path / "collector.log"


@pytest.fixture
def collector(tmp_path: Path, log: Path) -> Iterator[CollectorProcess]:
    """A collector process with a 1 s body timeout."""
    with (
        log.open("wb") as stderr,
        CollectorProcess(
            f"sqlite:///{tmp_path / 'c.db'}", "--purge-interval", "0", "--body-timeout", "1", stderr=stderr
        ) as process,
    ):
        yield process


async def _health_latencies(url: str, stop: asyncio.Event) -> list[float]:
    """GET /healthz every 0.1 s until stop; the time of each answer (10 s when none came)."""
    latencies: list[float] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        while not stop.is_set() and len(latencies) < 600:
            started = time.monotonic()
            try:
                async with session.get(f"{url}/healthz") as response:
                    assert response.status == 200
                    latencies.append(time.monotonic() - started)
            except TimeoutError:
                latencies.append(10.0)
            await asyncio.sleep(0.1)
    return latencies


def test_compressed_bodies_are_refused_without_inflating(collector: CollectorProcess) -> None:
    """Eight 1 MB gzip bodies that inflate to 1 GiB each: 415, memory flat, /healthz prompt."""
    bomb = gzip_bomb()
    before = peak_rss_mb(collector.pid)

    async def attack() -> tuple[list[int], list[float]]:
        stop = asyncio.Event()
        health = asyncio.create_task(_health_latencies(collector.url, stop))
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:

            async def post() -> int:
                async with session.post(f"{collector.url}/v1/reports", data=bomb, headers=headers) as answer:
                    return answer.status

            statuses = await asyncio.gather(*(post() for _ in range(8)))
        await asyncio.sleep(0.5)
        stop.set()
        return statuses, await health

    statuses, latencies = asyncio.run(attack())
    peak = peak_rss_mb(collector.pid)
    print(f"peak RSS {before:.0f} -> {peak:.0f} MB; /healthz max {max(latencies) * 1000:.0f} ms")
    assert statuses == [415] * 8
    assert peak < 200
    assert latencies
    assert max(latencies) < 1.0


def _lower_descriptor_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (400, 400))


async def _trickle(port: int, stop: asyncio.Event) -> int:
    """A client that sends its request head one byte every 0.5 s, reconnecting when dropped."""
    head = b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + b"X-Slow: y" * 50
    connections = 0
    while not stop.is_set() and connections < 50:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        connections += 1
        try:
            for byte in head:
                if stop.is_set():
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.5)
        except OSError:
            await asyncio.sleep(0.1)  # dropped by the server: come back
        finally:
            writer.close()
    return connections


def test_normal_clients_are_answered_while_hundreds_trickle(tmp_path: Path, log: Path) -> None:
    """500 slow clients against a process limited to 400 open files: others still get answers in 2 s."""
    with (
        log.open("wb") as stderr,
        CollectorProcess(
            f"sqlite:///{tmp_path / 'c.db'}",
            "--purge-interval",
            "0",
            "--header-timeout",
            "3",
            stderr=stderr,
            preexec_fn=_lower_descriptor_limit,
        ) as collector,
    ):

        async def run() -> list[float]:
            stop = asyncio.Event()
            tricklers = [asyncio.create_task(_trickle(collector.port, stop)) for _ in range(500)]
            await asyncio.sleep(2)  # all of them connected and trickling
            timings: list[float] = []
            timeout = aiohttp.ClientTimeout(total=2)
            try:
                for index in range(16):
                    started = time.monotonic()
                    async with aiohttp.ClientSession(timeout=timeout) as session:
                        if index % 2:
                            async with session.post(
                                f"{collector.url}/v1/reports", json=recent_report()
                            ) as response:
                                assert response.status == 201
                        else:
                            async with session.get(f"{collector.url}/healthz") as response:
                                assert response.status == 200
                    timings.append(time.monotonic() - started)
                    await asyncio.sleep(0.25)
            finally:
                stop.set()
                await asyncio.gather(*tricklers)
            return timings

        timings = asyncio.run(run())
        print(f"normal clients: max {max(timings) * 1000:.0f} ms over {len(timings)} requests")
        assert len(timings) == 16
        assert max(timings) < 2.0
        assert collector.stop() == 0
    text = log.read_text()
    assert "Traceback" not in text
    assert "127.0.0.1" not in text
    assert len(text) < 20_000  # no line per refused or dropped connection


async def _raw(port: int, data: bytes, *, then_close: bool = False) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        if then_close:
            return b""
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


def test_logs_name_no_client_and_show_no_traceback_for_client_faults(
    collector: CollectorProcess, log: Path
) -> None:
    """Malformed HTTP, a TLS hello, dropped uploads and slow bodies: no address, no traceback."""

    async def abuse() -> list[bytes]:
        port = collector.port
        answers = [
            await _raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n"),
            await _raw(port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64)),
            await _raw(port, b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n"),
            await _raw(
                port,
                b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            ),
            # A body slower than the body timeout (1 s).
            await _raw(
                port,
                b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n{",
            ),
        ]
        # Uploads dropped half way.
        for _ in range(3):
            await _raw(
                port,
                b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 1000\r\n\r\n{"a": ',
                then_close=True,
            )
        await asyncio.sleep(0.5)
        async with aiohttp.ClientSession() as session:
            deletion = {"schema_version": 1, "request_id": new_id(), "installation_id": new_id()}
            async with session.post(f"{collector.url}/v1/deletion", json=deletion) as response:
                assert response.status == 200
        return answers

    answers = asyncio.run(abuse())
    assert [answer.split(b" ", 2)[1] for answer in answers] == [b"400", b"400", b"400", b"400", b"408"]
    for answer in answers:
        head = answer.split(b"\r\n\r\n")[0].lower()
        assert b"server: usage-stats-collector\r\n" in head + b"\r\n"
        assert b"x-content-type-options: nosniff" in head
    assert collector.stop() == 0
    text = log.read_text()
    assert "127.0.0.1" not in text
    assert "Traceback" not in text
    assert "Error handling request" not in text
    assert "Unexpected error" not in text

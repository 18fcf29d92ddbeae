#!/usr/bin/env python3
"""Load benchmark of the usage_stats reference collector, on loopback only.

For each backend (SQLite, then PostgreSQL) it starts ``usage-stats-collector serve`` as a real
subprocess on 127.0.0.1 with a fresh database, drives 50 concurrent keep-alive clients posting
distinct valid reports (distinct installation ids), prints accepted reports/s and latency percentiles, then
seeds about a million stored reports through the storage layer (``Storage.bulk_load``: reports and
their aggregates in the same transactions), publishes the closed weeks as the collector does under
k-anonymity (fixed snapshots, k = 5), checks the published totals against the stored rows of those
weeks (and exits with 1 when a stored report of a published week is not in its numbers) and prints
the latency of ``GET /v1/stats`` (served from the snapshots); then publishes the same weeks again
under differential privacy (the default; the k-anonymous snapshots are removed first, which only a
benchmark does), checks each week's noisy installation count against the stored installations
(within 7 noise standard deviations) and measures ``GET /v1/stats`` again. It stops by itself.

    collector/.venv/bin/python benchmarks/collector_load.py            # full run (takes several minutes)
    collector/.venv/bin/python benchmarks/collector_load.py --quick    # smaller counts
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import sys
import time
from typing import Any
import uuid

import aiohttp
from bench_databases import on_each_backend
from sqlalchemy import delete, distinct, func, select
from usage_stats_collector.aggregates import contributions
from usage_stats_collector.models import privacy_ledgers, published_weeks, reports
from usage_stats_collector.process import CollectorProcess
from usage_stats_collector.publication import publication_time, publish_due
from usage_stats_collector.storage import Storage, StoredReport

HOST = "127.0.0.1"
PRINTER_TYPES = [
    "bambu_x1c",
    "bambu_p1s",
    "bambu_a1",
    "prusa_mk4",
    "prusa_xl",
    "prusa_mini",
    "voron_24",
    "creality_k1",
]
FEATURES = [
    f"{domain}.{key}"
    for domain in ("bambu", "prusa", "octoprint")
    for key in ("camera", "notify", "ams", "light")
]
EVENTS = [
    "ha_start",
    "printer_offline",
    "printer_online",
    "custom_filament_runout",
    "custom_door_open",
]
ERRORS = {
    "bambu": ["TimeoutError", "ConnectionError"],
    "prusa": ["ClientError"],
    "custom": ["printer_error"],
}
BUCKETS = ["lt_30m", "30m_1h", "1h_2h", "2h_4h", "4h_8h", "8h_24h", "gt_24h"]


def random_report(
    rng: random.Random, installation_id: str, start: dt.date
) -> dict[str, Any]:
    """A realistic, schema-valid weekly report."""
    types = rng.sample(PRINTER_TYPES, rng.randint(1, 3))
    if rng.random() < 0.02:
        types.append(
            f"rare_{rng.randint(0, 999)}"
        )  # a long-tail type for k-anonymity to fold
    fleet = {t: rng.randint(1, 2) for t in types}
    started = {t: rng.randint(0, 30) for t in types}
    completed = {t: n * 8 // 10 for t, n in started.items()}
    return {
        "schema_version": 1,
        "submission_id": str(uuid.uuid4()),
        "installation_id": installation_id,
        "period": {
            "start": start.isoformat(),
            "end": (start + dt.timedelta(days=6)).isoformat(),
            "days": 7,
        },
        "installation": {
            "integration_version": rng.choice(["1.0.0", "1.1.0", "1.2.0"]),
            "ha_version": rng.choice(["2025.3.4", "2025.4.1", "2025.4.4"]),
            "python_version": "3.13.0",
            "installation_type": rng.choice(
                ["Home Assistant OS", "Home Assistant Container"]
            ),
            "country_code": rng.choice(["DE", "US", "GB", "FR", "NL"]),
        },
        "printer_fleet": {"printers": sum(fleet.values()), "types": fleet},
        "features": {
            f: {"on": rng.randint(0, 7), "off": rng.randint(0, 7)}
            for f in rng.sample(FEATURES, 5)
        },
        "jobs": {
            "started": started,
            "completed": completed,
            "failed": {
                t: n - completed[t] for t, n in started.items() if n - completed[t] > 0
            },
            "cancelled": {},
            "duration": {b: rng.randint(0, 10) for b in rng.sample(BUCKETS, 4)},
        },
        "events": {e: rng.randint(1, 9) for e in rng.sample(EVENTS, 3)},
        "errors": {
            c: {t: rng.randint(1, 5) for t in types_}
            for c, types_ in ERRORS.items()
            if rng.random() < 0.3
        },
    }


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def collector(database: str, *options: str) -> CollectorProcess:
    """The collector as a subprocess on a free loopback port.

    Without its background purge and publication: the benchmark publishes itself, once every
    report it posts or seeds is stored (a publication run in the middle of the load would fix a
    week while its reports still arrive, and they would be late reports).
    """
    return CollectorProcess(
        database,
        "--purge-interval",
        "0",
        "--publish-interval",
        "0",
        *options,
        host=HOST,
    )


class _Client(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection posting pre-rendered requests, one at a time.

    The load generator shares the machine's cores with the collector (and PostgreSQL), so it is
    kept lean: requests are rendered before the clock starts and answers are only split into
    status, head and body. aiohttp's client took about 0.4 ms of CPU per request here, which the
    collector then did not have.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.answer: asyncio.Future[int] | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(
                ConnectionError("the collector closed the connection")
            )
        if not self.lost.done():
            self.lost.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0 or self.answer is None or self.answer.done():
            return
        head = bytes(self.buffer[:head_end]).decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if len(self.buffer) < head_end + 4 + length:
            return
        del self.buffer[: head_end + 4 + length]
        self.answer.set_result(int(head[9:12]))

    async def post(self, request: bytes) -> int:
        assert self.transport is not None
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.answer


def render(url: str, bodies: list[bytes]) -> list[bytes]:
    """Whole HTTP/1.1 requests posting each body to /v1/reports."""
    host = url.removeprefix("http://")
    return [
        (
            f"POST /v1/reports HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        for body in bodies
    ]


async def post_load(url: str, total: int, clients: int, seed: int) -> dict[str, float]:
    """``clients`` concurrent clients post ``total`` distinct reports; return throughput and latency."""
    rng = random.Random(seed)
    monday = dt.date.today() - dt.timedelta(days=dt.date.today().weekday() + 7)
    bodies = [
        json.dumps(random_report(rng, str(uuid.uuid4()), monday)).encode()
        for _ in range(total)
    ]
    requests = iter(render(url, bodies))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    host, port = url.removeprefix("http://").rsplit(":", 1)
    loop = asyncio.get_running_loop()

    async def client() -> None:
        transport, connection = await loop.create_connection(_Client, host, int(port))
        try:
            for request in requests:
                began = time.perf_counter()
                status = await asyncio.wait_for(connection.post(request), 30)
                latencies.append(time.perf_counter() - began)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            transport.close()

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - began
    accepted = statuses.get(201, 0)
    if accepted != total:
        print(f"    WARNING: statuses {statuses}")
    return {
        "accepted": accepted,
        "seconds": elapsed,
        "rate": accepted / elapsed,
        "p50": percentile(latencies, 50) * 1000,
        "p95": percentile(latencies, 95) * 1000,
        "p99": percentile(latencies, 99) * 1000,
    }


async def seed(database: str, reports: int, installations: int, batch: int) -> float:
    """Store ``reports`` reports (one per installation and week) with their aggregates."""
    storage = Storage(database, pool_size=2)
    rng = random.Random(7)
    weeks = -(-reports // installations)
    this_monday = dt.date.today() - dt.timedelta(days=dt.date.today().weekday())
    ids = [str(uuid.uuid4()) for _ in range(installations)]
    # A pool of distinct report bodies; each stored report is one of them with its own ids and period.
    templates = []
    for _ in range(256):
        report = random_report(rng, "__IID__", dt.date(2000, 1, 3))
        report["submission_id"] = "__SID__"
        text = json.dumps(report, separators=(",", ":"), sort_keys=True)
        templates.append(
            (
                text.replace("2000-01-03", "__START__").replace(
                    "2000-01-09", "__END__"
                ),
                contributions(report),
            )
        )
    began = time.perf_counter()
    now = time.time()
    done = 0
    pending: list[StoredReport] = []
    try:
        for week_index in range(weeks):
            start = this_monday - dt.timedelta(weeks=weeks + 1 - week_index)
            start_text, end_text = (
                start.isoformat(),
                (start + dt.timedelta(days=6)).isoformat(),
            )
            received = now - (weeks + 1 - week_index) * 7 * 86400 + 8 * 86400
            for installation_id in ids:
                if done >= reports:
                    break
                text, contrib = templates[rng.randrange(len(templates))]
                sid = str(uuid.uuid4())
                payload = (
                    text.replace("__SID__", sid)
                    .replace("__IID__", installation_id)
                    .replace("__START__", start_text)
                    .replace("__END__", end_text)
                )
                if rng.random() < 0.02:
                    # A long-tail event (one in 500) that k-anonymity folds into "other", whose
                    # installations publication then counts from the stored reports.
                    rare = f"custom_rare_{rng.randrange(500)}"
                    payload = payload.replace(
                        '"events":{', f'"events":{{"{rare}":1,', 1
                    )
                    contrib = contrib | {("events", rare): 1}
                pending.append(
                    StoredReport(
                        sid, installation_id, start, received, payload, contrib
                    )
                )
                done += 1
                if len(pending) >= batch:
                    await storage.bulk_load(pending)
                    pending = []
            if done % (batch * 10) < installations:
                print(
                    f"    seeded {done:,} reports ({time.perf_counter() - began:.0f} s)",
                    flush=True,
                )
        if pending:
            await storage.bulk_load(pending)
    finally:
        await storage.close()
    return time.perf_counter() - began


async def stats_latency(
    url: str, rounds: int
) -> tuple[dict[str, float], dict[str, Any]]:
    latencies = []
    body: dict[str, Any] = {}
    async with aiohttp.ClientSession(url) as session:
        for index in range(rounds + 3):
            began = time.perf_counter()
            async with session.get("/v1/stats") as response:
                body = await response.json()
            if index >= 3:  # warm-up
                latencies.append(time.perf_counter() - began)
    return {
        "p50": percentile(latencies, 50) * 1000,
        "p95": percentile(latencies, 95) * 1000,
        "max": max(latencies) * 1000,
    }, body


async def stored_count(database: str) -> int:
    storage = Storage(database, pool_size=1)
    try:
        return await storage.count_reports()
    finally:
        await storage.close()


async def stored_in(database: str, weeks: list[str]) -> int:
    """How many stored reports these weeks hold."""
    storage = Storage(database, pool_size=1)
    try:
        async with storage.engine.connect() as conn:
            count = await conn.execute(
                select(func.count()).where(reports.c.week.in_(weeks))
            )
            return int(count.scalar_one())
    finally:
        await storage.close()


async def publish(database: str) -> tuple[list[str], float]:
    """Publish the due weeks as the collector's publication loop does, under k-anonymity (k = 5).

    Returns the weeks and the seconds it took.
    """
    storage = Storage(database, pool_size=2)
    try:
        began = time.perf_counter()
        published = await publish_due(storage, privacy="k-anonymity", k=5)
        return published, time.perf_counter() - began
    finally:
        await storage.close()


async def publish_dp(database: str) -> tuple[list[str], float]:
    """Publish the same weeks again under differential privacy, the default.

    The published weeks are removed first (a benchmark's shortcut: the collector never does); the
    run publishes the backlog of weeks at once.

    Returns the weeks and the seconds it took.
    """
    storage = Storage(database, pool_size=2)
    try:
        async with storage.engine.begin() as conn:
            await conn.execute(delete(published_weeks))
            await conn.execute(delete(privacy_ledgers))
            weeks = sorted(
                (await conn.execute(select(distinct(reports.c.week)))).scalars()
            )
        since = publication_time(weeks[0], 3) - 1
        began = time.perf_counter()
        published = await publish_due(storage, dp_since=since)
        return published, time.perf_counter() - began
    finally:
        await storage.close()


async def installations_of(database: str, weeks: list[str]) -> dict[str, int]:
    """The installations that stored a report of each week."""
    storage = Storage(database, pool_size=1)
    try:
        async with storage.engine.connect() as conn:
            rows = await conn.execute(
                select(reports.c.week, func.count(distinct(reports.c.installation_id)))
                .where(reports.c.week.in_(weeks))
                .group_by(reports.c.week)
            )
            return {week: int(count) for week, count in rows}
    finally:
        await storage.close()


def dp_verdict(stats: dict[str, Any], true: dict[str, int]) -> tuple[bool, str]:
    """Whether each dp week's installations are near the stored ones.

    Within 7 noise standard deviations: a correct mechanism misses that with probability about
    3e-12 per week.
    """
    worst = 0.0
    for week in stats["weeks"]:
        scale = stats["ledgers"][week["dp"]["ledger"]]["parts"]["active/installations"][
            "scale"
        ]
        worst = max(worst, abs(week["installations"] - true[week["week"]]) / scale)
    size = len(json.dumps(stats, separators=(",", ":")))
    text = f"installations within {worst:.1f} noise standard deviations of the stored ones; {size / 1e3:,.0f} kB"
    return worst <= 7, text if worst <= 7 else f"OUT OF BOUNDS: {text}"


async def run_backend(name: str, database: str, args: argparse.Namespace) -> bool:
    """Measure one backend; return whether the published weeks hold every stored report."""
    print(f"\n== {name}: {database}", flush=True)
    with collector(database) as running:
        await post_load(
            running.url, min(500, args.reports), args.clients, seed=1
        )  # warm-up
        load = await post_load(running.url, args.reports, args.clients, seed=2)
    print(
        f"  POST /v1/reports, {args.clients} clients: {load['accepted']:,.0f} accepted in {load['seconds']:.1f} s "
        f"= {load['rate']:,.0f} reports/s; latency p50 {load['p50']:.1f} ms, p95 {load['p95']:.1f} ms, "
        f"p99 {load['p99']:.1f} ms",
        flush=True,
    )
    print(f"  seeding {args.seed:,} reports through Storage.bulk_load ...", flush=True)
    seconds = await seed(database, args.seed, args.installations, args.batch)
    total = await stored_count(database)
    print(f"  seeded in {seconds:.0f} s; {total:,} reports stored", flush=True)
    weeks, seconds = await publish(database)
    print(
        f"  published {len(weeks)} closed weeks ({await stored_in(database, weeks):,} reports) "
        f"under k-anonymity in {seconds:.1f} s",
        flush=True,
    )
    with collector(database, "--k-anonymity", "5") as running:
        latency, stats = await stats_latency(running.url, args.stats_rounds)
    # Every stored report of a published week is in that week's numbers: none late, none lost.
    # The weeks are those /v1/stats shows, whoever published them.
    in_weeks = await stored_in(database, [week["week"] for week in stats["weeks"]])
    published = sum(week["reports"] for week in stats["weeks"])
    late = sum(week["late_reports"] for week in stats["weeks"])
    consistent = published == in_weeks and late == 0
    verdict = (
        "consistent"
        if consistent
        else f"INCONSISTENT ({published:,} published, {late:,} late, {in_weeks:,} stored)"
    )
    print(
        f"  GET /v1/stats at {total:,} reports ({len(stats['weeks'])} weeks): p50 {latency['p50']:.1f} ms, "
        f"p95 {latency['p95']:.1f} ms, max {latency['max']:.1f} ms; aggregates {verdict}",
        flush=True,
    )
    weeks, seconds = await publish_dp(database)
    print(
        f"  published the same {len(weeks)} weeks under differential privacy in {seconds:.1f} s",
        flush=True,
    )
    with collector(database) as running:
        latency, stats = await stats_latency(running.url, args.stats_rounds)
    within, verdict = dp_verdict(
        stats,
        await installations_of(database, [week["week"] for week in stats["weeks"]]),
    )
    print(
        f"  GET /v1/stats (dp) ({len(stats['weeks'])} weeks): p50 {latency['p50']:.1f} ms, "
        f"p95 {latency['p95']:.1f} ms, max {latency['max']:.1f} ms; {verdict}",
        flush=True,
    )
    return consistent and within


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller counts (a minute or two)"
    )
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "USAGE_STATS_BENCH_POSTGRES_URL",
            "postgresql://postgres@127.0.0.1:5432/test",
        ),
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--reports", type=int, default=None, help="reports posted per backend"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="reports stored before measuring /v1/stats",
    )
    parser.add_argument("--stats-rounds", type=int, default=30)
    args = parser.parse_args()
    args.reports = args.reports or (2_000 if args.quick else 10_000)
    args.seed = args.seed or (50_000 if args.quick else 1_000_000)
    args.installations = 20_000
    args.batch = 5_000 if args.quick else 20_000
    try:
        consistent = await on_each_backend(
            args.backends,
            args.postgres_url,
            "collector-bench-",
            lambda label, database: run_backend(label, database, args),
        )
    except ValueError as err:
        parser.error(str(err))
    # A published week that misses a stored report of it fails the run.
    return 0 if consistent else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

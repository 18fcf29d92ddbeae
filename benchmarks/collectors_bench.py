"""Benchmark of the collectors on the real Home Assistant event bus and logging.

Prints:
  (a) the cost of one recorded event, and the overhead the integration adds to
      `state_changed` dispatch for entities it does not track, as a ratio to Home
      Assistant without the integration;
  (b) the store size and memory growth after 1,000,000 recorded events, and the
      store size of 90 days of a busy installation;
  (c) store writes per minute under a burst of events.

Run: .venv/bin/python benchmarks/collectors_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
from pathlib import Path
import statistics
import sys
import tempfile
import time
import tracemalloc
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_homeassistant_custom_component.common import (  # noqa: E402
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.usage_stats.catalogue import (  # noqa: E402
    ERRORS,
    EVENTS,
    FEATURES,
    JOB_DURATION,
    JOBS,
    PRINTERS,
    PRINTERS_BY_TYPE,
)
from custom_components.usage_stats.const import DOMAIN  # noqa: E402
from homeassistant import loader  # noqa: E402
from homeassistant.core import HomeAssistant  # noqa: E402
from homeassistant.helpers import (  # noqa: E402
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.helpers.storage import Store  # noqa: E402

logging.basicConfig(level=logging.CRITICAL)


async def _setup(hass: HomeAssistant) -> MockConfigEntry:
    """Add a printer and set up the integration at consent `local`."""
    hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
    printer_entry = MockConfigEntry(domain="prusalink", title="printer")
    printer_entry.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=printer_entry.entry_id, identifiers={("prusalink", "1")}
    )
    er.async_get(hass).async_get_or_create(
        "sensor",
        "prusalink",
        "1_printer.state",
        device_id=device.id,
        config_entry=printer_entry,
        translation_key="printer_state",
        suggested_object_id="printer_state",
    )
    entry = MockConfigEntry(
        domain=DOMAIN, options={"consent": "local", "retention_days": 90}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def _dispatch_time(hass: HomeAssistant, count: int) -> float:
    """Seconds to set `count` states of entities nobody tracks and dispatch them."""
    states = hass.states
    start = time.perf_counter()
    for i in range(count):
        states.async_set(f"sensor.untracked_{i % 200}", str(i))
    await hass.async_block_till_done()
    return time.perf_counter() - start


async def bench_overhead(count: int, rounds: int) -> dict[str, float]:
    """(a) Ratio of state_changed dispatch time with and without the integration."""
    results: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(rounds):
        for variant in ("without", "with"):
            with tempfile.TemporaryDirectory() as config_dir:
                async with async_test_home_assistant(config_dir=config_dir) as hass:
                    if variant == "with":
                        await _setup(hass)
                    await _dispatch_time(hass, 1000)  # warm-up
                    results[variant].append(await _dispatch_time(hass, count))
                    await hass.async_stop(force=True)
    without = statistics.median(results["without"])
    with_ = statistics.median(results["with"])
    return {
        "untracked_state_changes": count,
        "without_us_per_change": without / count * 1e6,
        "with_us_per_change": with_ / count * 1e6,
        "overhead_ratio": with_ / without,
    }


async def bench_record(count: int) -> dict[str, float]:
    """(a) Cost per recorded event, direct and through a tracked printer's state."""
    with tempfile.TemporaryDirectory() as config_dir:
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            entry = await _setup(hass)
            coordinator = entry.runtime_data
            labels = [
                ("mqtt", "ValueError"),
                ("zha", "TimeoutError"),
                ("custom", "KeyError"),
            ]
            start = time.perf_counter()
            for i in range(count):
                coordinator.record(ERRORS, *labels[i % 3])
            direct = (time.perf_counter() - start) / count

            cycle = ("idle", "printing", "finished")
            state_count = count // 10
            start = time.perf_counter()
            for i in range(state_count):
                hass.states.async_set("sensor.printer_state", cycle[i % 3])
            await hass.async_block_till_done()
            via_state = (time.perf_counter() - start) / state_count

            log = logging.getLogger("homeassistant.components.mqtt")
            log_count = count // 10
            start = time.perf_counter()
            for _ in range(log_count):
                try:
                    raise ValueError("x")  # noqa: TRY301
                except ValueError:
                    log.exception("x")
            await hass.async_block_till_done()
            via_log = (time.perf_counter() - start) / log_count
            await hass.async_stop(force=True)
    return {
        "record_us_per_event": direct * 1e6,
        "tracked_state_change_us": via_state * 1e6,
        "logged_exception_us": via_log * 1e6,
    }


def _fill_90_days(coordinator: Any, scale: int) -> None:
    """Record 90 days of counters.

    A day: 6 printer types, 6 features (x scale) each on and off, jobs of 3 types
    in 4 outcomes, 5 duration ranges, 15 errors (x scale) and 10 events (x scale).
    """
    counters = coordinator.counters
    types = ("prusa", "bambu_lab", "klipper", "octoprint", "creality", "elegoo")
    for day in range(90):
        key = f"2026-{1 + day // 28:02d}-{1 + day % 28:02d}"
        counters.set(PRINTERS, {"": 12}, day=key)
        counters.set(PRINTERS_BY_TYPE, dict.fromkeys(types, 2), day=key)
        counters.set(
            FEATURES,
            {
                f"bambu_lab.feature_{f}/{s}": 3
                for f in range(6 * scale)
                for s in ("on", "off")
            },
            day=key,
        )
        for outcome in ("started", "completed", "failed", "cancelled"):
            for kind in types[:3]:
                counters.add(JOBS, f"{outcome}/{kind}", 7, day=key)
        for bucket in ("lt_30m", "30m_1h", "1h_2h", "2h_4h", "4h_8h"):
            counters.add(JOB_DURATION, bucket, 3, day=key)
        for c in range(15 * scale):
            counters.add(ERRORS, f"integration_{c}/TimeoutError", 11, day=key)
        for e in range(10 * scale):
            counters.add(EVENTS, f"custom_event_{e}", 5, day=key)


async def bench_size(count: int) -> dict[str, float]:
    """(b) Store size and memory growth after `count` recorded events."""
    with tempfile.TemporaryDirectory() as config_dir:
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            entry = await _setup(hass)
            coordinator = entry.runtime_data
            components = [f"integration_{i}" for i in range(80)]
            classes = ["ValueError", "TimeoutError", "KeyError", "OSError"]
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            for i in range(count):
                match i % 4:
                    case 0:
                        coordinator.record(ERRORS, components[i % 80], classes[i % 4])
                    case 1:
                        coordinator.record(JOBS, "started", "prusa")
                    case 2:
                        coordinator.record(EVENTS, f"custom_event_{i % 70}")
                    case _:
                        coordinator.record(JOB_DURATION, "1h_2h")
            gc.collect()
            growth = tracemalloc.get_traced_memory()[0] - before
            tracemalloc.stop()
            one_day = len(json.dumps(coordinator.stored))

            # 90 days of a busy installation, and of one with every metric near its cap.
            sizes = {}
            for profile, scale in (("busy", 1), ("extreme", 2)):
                coordinator.counters.clear()
                _fill_90_days(coordinator, scale)
                await coordinator.store.async_save_data(coordinator.stored)
                sizes[profile] = Path(coordinator.store.path).stat().st_size
            await hass.async_stop(force=True)
    return {
        "events_recorded": count,
        "store_bytes_after_events": one_day,
        "memory_growth_bytes": growth,
        "store_file_bytes_90_busy_days": sizes["busy"],
        "store_file_bytes_90_extreme_days": sizes["extreme"],
    }


async def bench_writes(seconds: float) -> dict[str, float]:
    """(c) Store writes per minute under a continuous burst of events."""
    writes = 0
    original = Store._async_write_data

    async def counting_write(self: Store[Any], path: str, data: dict[str, Any]) -> None:
        nonlocal writes
        if self.key == "usage_stats.data":
            writes += 1
        await original(self, path, data)

    Store._async_write_data = counting_write  # type: ignore[method-assign]
    events = 0
    with tempfile.TemporaryDirectory() as config_dir:
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            entry = await _setup(hass)
            coordinator = entry.runtime_data
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                for _ in range(500):
                    coordinator.record(EVENTS, "custom_burst")
                events += 500
                await asyncio.sleep(0.005)
            await hass.async_stop(force=True)
    Store._async_write_data = original  # type: ignore[method-assign]
    return {
        "burst_seconds": seconds,
        "events_in_burst": events,
        "store_writes": writes,
        "writes_per_minute": writes * 60 / seconds,
    }


async def main(quick: bool) -> None:
    """Run every benchmark and print its figures."""
    scale = 10 if quick else 1
    print("(a) overhead for untracked entities:")
    for key, value in (
        await bench_overhead(200_000 // scale, 3 if not quick else 1)
    ).items():
        print(f"    {key}: {value:.3f}")
    print("(a) cost per recorded event:")
    for key, value in (await bench_record(1_000_000 // scale)).items():
        print(f"    {key}: {value:.3f}")
    print("(b) size and memory:")
    for key, value in (await bench_size(1_000_000 // scale)).items():
        print(f"    {key}: {value:,.0f}")
    print("(c) store writes under a burst:")
    for key, value in (await bench_writes(65.0 / scale)).items():
        print(f"    {key}: {value:,.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    asyncio.run(main(parser.parse_args().quick))

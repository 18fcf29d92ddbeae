"""Benchmark of the panel: how soon it is interactive with 365 days of counters.

A real Home Assistant process (the development configuration on a free port of
127.0.0.1) keeps 365 days of counters; Debian's chromium, driven by Playwright,
opens `/usage-stats`. Prints, in milliseconds (median and worst of the runs):
  (a) full load: a fresh page load of `/usage-stats` (Home Assistant's own
      frontend included) until every chart of the panel is drawn, beside a full
      load of Home Assistant's own profile panel for comparison;
  (b) navigation: from another panel to `/usage-stats` inside the running
      frontend, until every chart is drawn;
  (c) range switch: a click on "All" (365 days) until the charts are redrawn;
and the size of the `usage_stats/days` answer and of the bundle.

Run: .venv/bin/python benchmarks/panel_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime, time as dt_time, timedelta
import gzip
import json
import os
from pathlib import Path
import re
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from tests_e2e.conftest import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    DEV_CONFIG,
    HOST,
    HomeAssistantConfig,
    free_port,
    stop,
    tail,
    wait_for,
)
from tests_e2e.test_panel_browser import (  # noqa: E402
    ADMIN,
    PASSWORD,
    WIDE,
    call_ws,
    log_in,
    onboard,
    seed_store,
    skip_onboarding_but_the_owner,
)

KEPT_DAYS = 365
CHARTS = ("jobs", "durations", "printers", "features", "events")
BUNDLE = (
    ROOT / "custom_components" / "usage_stats" / "frontend" / "usage-stats-panel.js"
)


def make_config(directory: Path) -> HomeAssistantConfig:
    """Copy the development configuration with a free port (as the e2e fixture does)."""
    config_dir = directory / "config"
    config_dir.mkdir()
    port = free_port()
    text = re.sub(
        r"(?m)^([ \t]+server_port:[ \t]*)\d+[ \t]*$",
        rf"\g<1>{port}",
        DEV_CONFIG.read_text(encoding="utf-8"),
    )
    (config_dir / "configuration.yaml").write_text(text, encoding="utf-8")
    (config_dir / "custom_components").symlink_to(ROOT / "custom_components")
    return HomeAssistantConfig(config_dir, port)


def add_entry_keeping_a_year(ha: httpx.Client) -> None:
    """Add the entry at `local`, then keep 365 days (the options flow)."""
    flow = ha.post("/api/config/config_entries/flow", json={"handler": "usage_stats"})
    step = ha.post(
        f"/api/config/config_entries/flow/{flow.json()['flow_id']}",
        json={"consent": "local"},
    ).json()
    assert step["type"] == "create_entry", step
    entry_id = step["result"]["entry_id"]
    options = ha.post(
        "/api/config/config_entries/options/flow", json={"handler": entry_id}
    ).json()
    done = ha.post(
        f"/api/config/config_entries/options/flow/{options['flow_id']}",
        json={"consent": "local", "retention_days": KEPT_DAYS, "format": "json"},
    ).json()
    assert done["type"] == "create_entry", done


def start_onboarded(config: HomeAssistantConfig) -> subprocess.Popen[bytes]:
    """Start Home Assistant again; onboarding is done, so wait for the REST API."""
    with (config.config_dir / "console.log").open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "homeassistant", "--config", str(config.config_dir)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    config.started.append(process)
    wait_for(
        "Home Assistant's HTTP API",
        lambda: httpx.get(f"{config.url}/api/", timeout=5).status_code == 401 or None,
        90,
        process=process,
    )
    return process


def charts_drawn(page: Page) -> None:
    """Wait until every chart of the panel has its canvas."""
    panel = page.locator("usage-stats-panel")
    for chart in CHARTS:
        panel.locator(f"#chart-{chart} canvas").wait_for(state="visible")


def timed(action: Callable[[], None], done: Callable[[], None]) -> float:
    """Return the milliseconds from `action` until `done` returns."""
    start = time.perf_counter()
    action()
    done()
    return (time.perf_counter() - start) * 1000


def summary(values: list[float]) -> str:
    """Return the median and the worst of the runs."""
    return f"median {statistics.median(values):.0f} ms, worst {max(values):.0f} ms"


def measure(page: Page, runs: int) -> dict[str, list[float]]:
    """Measure full loads, in-app navigations and range switches."""
    figures: dict[str, list[float]] = {
        "full": [],
        "baseline": [],
        "navigation": [],
        "range": [],
    }
    panel = page.locator("usage-stats-panel")
    base = page.url.split("/usage-stats")[0]
    for _ in range(runs):
        figures["baseline"].append(
            timed(
                lambda: page.goto(f"{base}/profile/general"),
                lambda: page.locator("ha-panel-profile ha-card").first.wait_for(),
            )
        )
        figures["full"].append(
            timed(lambda: page.goto(f"{base}/usage-stats"), lambda: charts_drawn(page))
        )
        page.evaluate(
            """() => { history.pushState(null, "", "/config/dashboard");
                window.dispatchEvent(new CustomEvent("location-changed")); }"""
        )
        page.locator("usage-stats-panel").wait_for(state="detached")
        figures["navigation"].append(
            timed(
                lambda: page.evaluate(
                    """() => { history.pushState(null, "", "/usage-stats");
                        window.dispatchEvent(new CustomEvent("location-changed")); }"""
                ),
                lambda: charts_drawn(page),
            )
        )
        for name in ("All", "30 days"):
            button = panel.get_by_role("button", name=name)
            figures["range"].append(
                timed(
                    button.click,
                    lambda button=button: page.wait_for_function(
                        """(button) => button.getAttribute("aria-pressed") === "true"
                            && new Promise((done) => requestAnimationFrame(() => done(true)))""",
                        arg=button.element_handle(),
                    ),
                )
            )
    return figures


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as directory:
        config = make_config(Path(directory))
        skip_onboarding_but_the_owner(config.storage_dir)
        try:
            home_assistant = config.start()
            token = onboard(
                home_assistant.url, name="Admin", username=ADMIN, password=PASSWORD
            )
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(
                base_url=home_assistant.url, headers=headers, timeout=30
            ) as ha:
                wait_for(
                    "Home Assistant to be running",
                    lambda: ha.get("/api/config").json()["state"] == "RUNNING" or None,
                    60,
                )
                add_entry_keeping_a_year(ha)
            stop(home_assistant.process)
            today = datetime.now(UTC).date()
            granted = datetime.combine(today, dt_time(0), UTC) - timedelta(days=1)
            seed_store(config.storage_dir, today, granted, kept_days=KEPT_DAYS)
            start_onboarded(config)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                )
                page = browser.new_page(viewport=WIDE)
                page.set_default_timeout(30_000)
                log_in(page, f"http://{HOST}:{config.port}", ADMIN, "/usage-stats")
                charts_drawn(page)
                days = call_ws(page, {"type": "usage_stats/days"})["result"]["days"]
                assert len(days) >= KEPT_DAYS, len(days)
                size = len(json.dumps(days).encode())
                figures = measure(page, args.runs)
                browser.close()
        except BaseException:
            print(tail(config.log), file=sys.stderr)
            raise
        finally:
            for process in config.started:
                stop(process)
    bundle = BUNDLE.read_bytes()
    print(f"days kept: {len(days)}; usage_stats/days answer: {size / 1024:.0f} KiB")
    print(
        f"bundle: {len(bundle) / 1024:.0f} KiB, "
        f"{len(gzip.compress(bundle, 9)) / 1024:.1f} KiB gzipped"
    )
    print(
        f"(a) full load of /usage-stats until charts drawn: {summary(figures['full'])}"
    )
    print(
        "    for comparison, a full load of Home Assistant's own profile panel: "
        + summary(figures["baseline"])
    )
    print(
        f"(b) navigation to the panel until charts drawn: {summary(figures['navigation'])}"
    )
    print(f"(c) range switch (365 days / 30 days) redrawn: {summary(figures['range'])}")


if __name__ == "__main__":
    main()

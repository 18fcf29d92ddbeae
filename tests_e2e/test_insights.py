"""What sharing gives back, end to end: the insight page and the panel's comparison.

A real OctoPrint prints a job through a real Home Assistant that shares with a real
collector. The days Home Assistant recorded are then moved a week back in its store
(with the grant of `share`), so that their week has ended: the counts are the ones
Home Assistant made from the printer, only their dates are earlier. After a restart
the report of that week is sent, the collector publishes the week (no delay), and:

- `/integrations/octoprint` and `/v1/integrations/octoprint` show the installation's
  integration (core `octoprint`, so Home Assistant's version) and its job outcomes;
- the panel's comparison card shows the published numbers beside the local ones
  (that its fetch names nothing of the installation is tested in tests/test_comparison.py).

Screenshots of both go to `USAGE_STATS_SCREENSHOTS` (default: the test's tmp dir).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
import json
import os
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, expect
import pytest

from custom_components.usage_stats.catalogue import PRINTER_INTEGRATIONS
from custom_components.usage_stats.const import STORAGE_KEY
from devtools.octoprint_server import OctoPrintServer, gcode_job

from .conftest import (
    HTTP_TIMEOUT,
    Collector,
    HomeAssistantConfig,
    add_octoprint_entry,
    api_client,
    onboard,
    wait_for,
)
from .test_end_to_end import add_entry_with_share, call_action, iso_week
from .test_octoprint import (
    COMPLETED_FILE,
    COMPLETED_SECONDS,
    HomeAssistantPrinter,
    job_counts,
    settled_export,
    start_job,
    wait_octoprint,
)
from .test_panel_browser import (
    ADMIN,
    PASSWORD,
    UI_TIMEOUT_MS,
    WIDE,
    log_in,
    skip_onboarding_but_the_owner,
)

PUBLISH_TIMEOUT = 30.0
WEEK = timedelta(days=7)


def move_a_week_back(storage_dir: Path) -> list[str]:
    """Date every recorded day, and the grant of `share`, a week earlier.

    Returns the moved days. Only dates change: every count stays as recorded.
    """
    path = storage_dir / STORAGE_KEY
    store = json.loads(path.read_text(encoding="utf-8"))
    data = store["data"]

    def earlier(value: str) -> str:
        if "T" in value:
            return (datetime.fromisoformat(value) - WEEK).isoformat()
        return (date.fromisoformat(value) - WEEK).isoformat()

    counts = data["days"]["counts"]
    data["days"]["counts"] = {earlier(day): value for day, value in counts.items()}
    consent = data["consent"]
    for field in ("changed_at", "share_granted_at"):
        consent[field] = earlier(consent[field])
    submission = data["submission"]
    if submission["baseline"] is not None:
        submission["baseline"]["day"] = earlier(submission["baseline"]["day"])
    path.write_text(json.dumps(store), encoding="utf-8")
    return sorted(data["days"]["counts"])


def published_week(collector: Collector, week: str) -> dict[str, Any] | None:
    """Return a week of `/v1/stats` once the collector published it."""
    stats = httpx.get(f"{collector.url}/v1/stats", timeout=HTTP_TIMEOUT).json()
    return next((w for w in stats["weeks"] if w["week"] == week), None)


def print_one_job(ha: httpx.Client, octoprint: OctoPrintServer) -> None:
    """Print a short job to its end on the real OctoPrint, seen by Home Assistant."""
    octoprint.wait_until_operational()
    add_octoprint_entry(ha, octoprint)
    printer = HomeAssistantPrinter(ha)
    printer.refresh_until(
        "the printer operational", lambda state, _: state == "Operational"
    )
    with octoprint.client() as client:
        client.upload(COMPLETED_FILE, gcode_job(COMPLETED_SECONDS))
        start_job(client, printer, COMPLETED_FILE)
        wait_octoprint(
            client, "done printing", lambda: client.job()["state"] == "Operational"
        )
    printer.refresh_until("the job completed", lambda state, _: state == "Operational")


@pytest.mark.timeout(420)
def test_insight_page_and_comparison_card(
    octoprint: OctoPrintServer,
    publishing_collector: Collector,
    home_assistant_config: HomeAssistantConfig,
    browser: Browser,
    tmp_path: Path,
) -> None:
    """A week of a real printer, published: the author's page and the user's card."""
    screenshots = Path(os.environ.get("USAGE_STATS_SCREENSHOTS", tmp_path))
    screenshots.mkdir(parents=True, exist_ok=True)
    collector = publishing_collector
    storage_dir = home_assistant_config.storage_dir
    skip_onboarding_but_the_owner(storage_dir)
    home_assistant = home_assistant_config.start()
    token = onboard(home_assistant.url, name="Admin", username=ADMIN, password=PASSWORD)
    with api_client(home_assistant, token) as ha:
        ha_version = ha.get("/api/config").json()["version"]
        add_entry_with_share(ha, collector.url)
        print_one_job(ha, octoprint)
        export = settled_export(ha)
        assert job_counts(export) == {"started": 1, "completed": 1}
        today = max(export["days"])
        assert export["days"][today][PRINTER_INTEGRATIONS.name] == {
            f"octoprint/octoprint/{ha_version}": 1
        }
    home_assistant_config.stop()

    days = move_a_week_back(storage_dir)
    week = iso_week(date.fromisoformat(days[-1]))
    assert week != iso_week(datetime.now(UTC).date())

    home_assistant = home_assistant_config.start()
    with api_client(home_assistant, token) as ha:
        # The oldest waiting report goes first: that week's (at most one request an
        # hour is sent, so this week's days wait).
        result = call_action(ha, "submit")
        assert result["outcome"] == "accepted", result
        published = wait_for(
            f"the collector to publish {week}",
            lambda: published_week(collector, week),
            PUBLISH_TIMEOUT,
        )
        assert published["printer_types"]["octoprint"]["installations"] == 1
        assert published["jobs"]["completed"]["octoprint"]["total"] == 1

        check_insight_page(collector, ha_version, browser, screenshots)
        check_comparison_card(
            browser, home_assistant.url, week, ha_version, screenshots
        )
    home_assistant_config.stop()
    assert home_assistant_config.log_problems() == []


def call_action_ws(page: Any) -> dict[str, Any]:
    """Ask for the comparison over the logged-in page's websocket."""
    result: dict[str, Any] = page.evaluate(
        """async () => document.querySelector("home-assistant").hass.callWS(
            {type: "usage_stats/comparison"})"""
    )
    return result


def check_insight_page(
    collector: Collector, ha_version: str, browser: Browser, screenshots: Path
) -> None:
    """The author's page and its JSON: their integration, on Home Assistant's version."""
    insight = httpx.get(
        f"{collector.url}/v1/integrations/octoprint", timeout=HTTP_TIMEOUT
    )
    assert insight.status_code == 200, insight.text
    assert ha_version in insight.text
    page_html = httpx.get(
        f"{collector.url}/integrations/octoprint", timeout=HTTP_TIMEOUT
    )
    assert page_html.status_code == 200, page_html.text
    assert "<script" not in page_html.text.lower()
    assert ha_version in page_html.text
    context = browser.new_context(viewport=WIDE)
    page = context.new_page()
    page.goto(f"{collector.url}/integrations/octoprint")
    page.screenshot(path=screenshots / "insight-octoprint.png", full_page=True)
    context.close()


def check_comparison_card(
    browser: Browser, url: str, week: str, ha_version: str, screenshots: Path
) -> None:
    """The user's card: their numbers beside the published week's."""
    context = browser.new_context(viewport=WIDE)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    log_in(page, url, ADMIN, "/usage-stats")
    card = page.locator("usage-stats-comparison-card")
    expect(card).to_contain_text(week)
    expect(card).to_contain_text(ha_version)
    card.scroll_into_view_if_needed()
    card.screenshot(path=screenshots / "panel-comparison.png")
    comparison = call_action_ws(page)
    assert comparison["status"] == "ok"
    assert comparison["week"] == week
    [printer] = comparison["printers"]
    assert printer["local"]["completion_rate"] == 1.0
    assert printer["community"]["completion_rate"] == 1.0
    assert printer["community"]["version_installations"] == 1
    context.close()

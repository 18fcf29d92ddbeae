"""The log check of the end-to-end tests reads the log formats of every tested release."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import integration_log_problems

REPORT = (
    "WARNING (MainThread) [homeassistant.helpers.frame] Detected that custom integration "
    "'usage_stats' calls async_show_menu without passing a step_id"
)
NOTICE = (
    "WARNING (SyncWorker_0) [homeassistant.loader] We found a custom integration "
    "usage_stats which has not been tested by Home Assistant"
)
OURS = "ERROR (MainThread) [custom_components.usage_stats.outbox] Something failed"
OTHER = "ERROR (MainThread) [haffmpeg.core] FFmpeg fails"


@pytest.mark.parametrize(
    "time",
    ["2025-04-24 09:15:00.123", "2026-12-06 16:48:36.037+00:00"],
    ids=["2025.4", "2026.11"],
)
def test_records_of_this_integration_are_found(tmp_path: Path, time: str) -> None:
    """Reports and records of ours are problems; the loader's notice and others' are not."""
    log = tmp_path / "home-assistant.log"
    log.write_text(
        "\n".join(
            [
                f"{time} {NOTICE}",
                f"{time} {REPORT}",
                f"{time} {OTHER}",
                f"{time} {OURS}",
                "Traceback (most recent call last):",
                f"{time} INFO (MainThread) [custom_components.usage_stats] fine",
            ]
        ),
        encoding="utf-8",
    )
    assert integration_log_problems(log) == [
        f"{time} {REPORT}",
        f"{time} {OURS}\nTraceback (most recent call last):",
    ]

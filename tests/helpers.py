"""Helpers shared by the tests."""

from __future__ import annotations

from datetime import timedelta

from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util


def today(entry: MockConfigEntry, metric: str) -> dict[str, int]:
    """Return today's counts of a metric."""
    day = dt_util.utcnow().date().isoformat()
    return dict(entry.runtime_data.stored["days"].get(day, {}).get(metric, {}))


async def settle(hass: HomeAssistant, freezer: object, seconds: float = 3) -> None:
    """Let debounced work (registry rescans, entity updates) run."""
    await hass.async_block_till_done()
    # The event loop's clock is not frozen: fire as far ahead as time moved.
    freezer.tick(seconds)  # type: ignore[attr-defined]
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))
    await hass.async_block_till_done()

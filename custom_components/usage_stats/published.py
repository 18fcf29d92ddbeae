"""The collector's published statistics, fetched whole and kept for a day.

Only at `share`, and only the public document (`GET <endpoint>/v1/stats`): the
request carries no installation id, no query and nothing naming this installation's
printers, so the collector learns nothing from it but that someone read its page.
A failed fetch is remembered for a while, so an offline collector is not asked on
every panel load, and an earlier document is kept until a new one arrives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
import json
from typing import Any, Final

import aiohttp

from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util import dt as dt_util

from .const import LOGGER
from .endpoint import endpoint_error

STATS_PATH: Final = "/v1/stats"
KEEP_FOR: Final = timedelta(days=1)
RETRY_AFTER_FAILURE: Final = timedelta(minutes=15)
TIMEOUT: Final = aiohttp.ClientTimeout(total=10)
# The published document of 104 weeks is a few MB at most; more is refused.
MAX_BYTES: Final = 16 * 1024 * 1024
# No version, no id: the same for every installation.
USER_AGENT: Final = "HomeAssistant-usage_stats"


@dataclass(frozen=True, slots=True)
class Published:
    """The newest published week with statistics, and when it was fetched."""

    fetched_at: datetime
    week: Mapping[str, Any] | None


class PublishedStats:
    """Fetches `<endpoint>/v1/stats` at most once a day."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Initialize an empty cache."""
        self.hass = hass
        self._published: Published | None = None
        self._endpoint: str | None = None
        self._failed_at: datetime | None = None

    async def async_get(self, endpoint: str) -> Published | None:
        """Return the published statistics of `endpoint`, fetched within a day.

        None when they could not be fetched and none were fetched before.
        """
        now = dt_util.utcnow()
        if endpoint != self._endpoint:
            self._published, self._failed_at = None, None
            self._endpoint = endpoint
        if self._published is not None and now - self._published.fetched_at < KEEP_FOR:
            return self._published
        if self._failed_at is not None and now - self._failed_at < RETRY_AFTER_FAILURE:
            return self._published
        if (document := await self._async_fetch(endpoint)) is None:
            self._failed_at = now
            return self._published
        self._published, self._failed_at = Published(now, newest_week(document)), None
        return self._published

    async def _async_fetch(self, endpoint: str) -> Any:
        url = f"{endpoint}{STATS_PATH}"
        if endpoint_error(url) is not None:
            return None
        session = async_get_clientsession(self.hass)
        try:
            async with session.get(
                url,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                timeout=TIMEOUT,
                allow_redirects=False,
            ) as response:
                if response.status != 200:
                    LOGGER.debug("Published statistics: HTTP %s", response.status)
                    return None
                body = await response.content.read(MAX_BYTES + 1)
        except (TimeoutError, aiohttp.ClientError) as err:
            LOGGER.debug("Published statistics could not be fetched: %s", type(err))
            return None
        if len(body) > MAX_BYTES:
            LOGGER.debug("Published statistics: the document is too large")
            return None
        try:
            return await self.hass.async_add_executor_job(json.loads, body)
        except ValueError:
            LOGGER.debug("Published statistics: not JSON")
            return None


def newest_week(document: Any) -> Mapping[str, Any] | None:
    """Return the newest week of a published document, or None if it has none."""
    if not isinstance(document, dict) or not isinstance(
        weeks := document.get("weeks"), list
    ):
        return None
    published: list[dict[str, Any]] = [
        week
        for week in weeks
        if isinstance(week, dict) and isinstance(week.get("week"), str)
    ]
    if not published:
        return None
    return max(published, key=lambda week: str(week["week"]))

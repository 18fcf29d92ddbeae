"""Sending one message to the endpoint over HTTP; nothing else.

Home Assistant's shared aiohttp session (TLS verified), https only (plain http for
loopback hosts), no redirects followed, a 30 s timeout and a User-Agent naming the
integration. The caller decides what an answer means for its outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Final

import aiohttp

from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util import dt as dt_util

from .endpoint import endpoint_error

TIMEOUT: Final = aiohttp.ClientTimeout(total=30)
REPORTS_PATH: Final = "/v1/reports"
METRICS_PATH: Final = "/v1/metrics"
DELETION_PATH: Final = "/v1/deletion"
RETRYABLE_STATUS: Final = frozenset({408, 429})


class Outcome(StrEnum):
    """What became of a request."""

    ACCEPTED = "accepted"
    RETRY = "retry"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Answer:
    """The endpoint's answer, reduced to what the outbox needs."""

    outcome: Outcome
    status_code: int | None = None
    # How long the endpoint asked us to wait (Retry-After), if it did.
    retry_after: timedelta | None = None
    # The kind of failure without an answer ("timeout", "connection").
    error: str | None = None


class InsecureEndpointError(Exception):
    """The endpoint is not https (nor plain http on a loopback host)."""


def user_agent(version: str) -> str:
    """Return the User-Agent of every request."""
    return f"HomeAssistant-usage_stats/{version}"


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Return the wait a Retry-After header asks for (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(when - now, timedelta(0))


def classify(status: int) -> Outcome:
    """Return what an HTTP status means: 2xx accepted; 408, 429, 5xx retried."""
    if 200 <= status < 300:
        return Outcome.ACCEPTED
    if status in RETRYABLE_STATUS or status >= 500:
        return Outcome.RETRY
    return Outcome.REJECTED


async def async_post(
    hass: HomeAssistant, url: str, body: bytes, version: str
) -> Answer:
    """POST `body` as JSON to `url` and return the answer; never raises for HTTP."""
    if endpoint_error(url) is not None:
        raise InsecureEndpointError(url)
    session = async_get_clientsession(hass)
    try:
        async with session.post(
            url,
            data=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": user_agent(version),
            },
            timeout=TIMEOUT,
            allow_redirects=False,
        ) as response:
            # The answer's body is never needed: the status and Retry-After say it
            # all, and an endpoint cannot make us read a large body.
            return Answer(
                classify(response.status),
                response.status,
                parse_retry_after(
                    response.headers.get("Retry-After"), dt_util.utcnow()
                ),
            )
    except TimeoutError:
        return Answer(Outcome.RETRY, error="timeout")
    except aiohttp.ClientError:
        return Answer(Outcome.RETRY, error="connection")

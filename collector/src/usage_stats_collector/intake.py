"""Reading a request body, strictly: only uncompressed UTF-8 ``application/json``, bounded in size
and time, integers that are integers; and the rules a report's period must follow.

Everything a client can get wrong ends in a :class:`RequestError`, which the application answers
with its status and a short reason (never a 500).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import hdrs, web
from aiohttp.web_protocol import RequestPayloadError

_LOGGER = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024  # bodies up to and including 16 KiB are read
MAX_INTEGER_DIGITS = 18  # every integer of the wire contract fits; int64 does too
MAX_PERIOD_DAYS = 7
MAX_DAYS_AHEAD = 2  # a period may end at most this many days after the receive date (time zones)
JSON_CHARSETS = frozenset({"utf-8", "utf8"})


class RequestError(Exception):
    """A client error: answered with ``status`` and a short ``reason``."""

    def __init__(self, status: int, reason: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason[:200]
        self.headers = dict(headers or {})


class ClientGoneError(Exception):
    """The client closed the connection while sending its body (nothing to answer)."""


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise RequestError(400, f"integers have at most {MAX_INTEGER_DIGITS} digits")
    if text == "-0":
        raise RequestError(400, "-0 is not an integer")
    return int(text)


def _no_float(text: str) -> Any:
    raise RequestError(400, f"numbers must be integers, not {text[:20]}")


def _no_constant(text: str) -> Any:
    raise RequestError(400, f"{text} is not JSON")


def check_headers(request: web.Request) -> None:
    """Refuse compressed bodies and anything but JSON in UTF-8 before a byte of the body is read."""
    if hdrs.CONTENT_ENCODING in request.headers:
        raise RequestError(415, "Content-Encoding is not accepted: send the body uncompressed")
    charset = request.charset
    if request.content_type != "application/json" or (
        charset is not None and charset.lower() not in JSON_CHARSETS
    ):
        raise RequestError(415, "Content-Type must be application/json (UTF-8)")


async def read_json(request: web.Request, *, within: float) -> Any:
    """Read and parse a JSON body within ``within`` seconds, refusing bodies over the limit."""
    check_headers(request)
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=request.content_length)
    try:
        async with asyncio.timeout(within):
            body = await request.read()  # enforces client_max_size for chunked bodies
    except TimeoutError:
        raise RequestError(408, "the body did not arrive in time", {"Connection": "close"}) from None
    except (ConnectionError, RequestPayloadError) as err:
        _LOGGER.debug("The client went away while sending its body (%s)", err.__class__.__name__)
        raise ClientGoneError from None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(400, "body is not UTF-8") from None
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_no_float, parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        raise RequestError(400, f"body is not JSON: {err.msg} at {err.pos}") from None
    except RecursionError:
        raise RequestError(400, "body is nested too deeply") from None
    # A `\ud800` escape decodes to a lone surrogate, which is no character and which no UTF-8
    # store holds. Only escapes make one (the body is valid UTF-8), so most bodies skip the walk.
    if "\\u" in text and _has_lone_surrogate(value):
        raise RequestError(400, "body holds a lone surrogate (\\ud800-\\udfff escape)")
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(value: Any) -> bool:
    """Return True when a string or key in ``value`` holds a lone surrogate.

    A pair of escapes decodes to one character outside that range.
    """
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


def period_problem(period: Mapping[str, Any], today: dt.date, retention_days: float) -> str | None:
    """Why a schema-valid report's period is refused on ``today``, or None.

    The period is consistent (start <= end, ``days`` = its length, at most 7 days) and recent: it
    ends at most two days after the receive date and within the retention period.
    """
    start = dt.date.fromisoformat(period["start"])
    end = dt.date.fromisoformat(period["end"])
    if end < start:
        return "$.period: the end is before its start"
    length = (end - start).days + 1
    if length > MAX_PERIOD_DAYS:
        return f"$.period: longer than {MAX_PERIOD_DAYS} days"
    if period["days"] != length:
        return f"$.period.days: must be {length} for this start and end"
    if (end - today).days > MAX_DAYS_AHEAD:
        return f"$.period.end: more than {MAX_DAYS_AHEAD} days in the future"
    if (today - end).days > retention_days:
        return f"$.period.end: older than the retention period ({retention_days:g} days)"
    return None

"""Helpers shared by the tests: counters, time, the wire contract and a real receiving server."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import json
from pathlib import Path
from typing import Any

from aiohttp import web
from freezegun.api import FrozenDateTimeFactory
from google.protobuf import json_format
from jsonschema import Draft202012Validator
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.usage_stats.catalogue import EVENTS, JOBS, PRINTERS
from custom_components.usage_stats.const import STORAGE_KEY, STORAGE_VERSION
from custom_components.usage_stats.coordinator import UsageStatsCoordinator
from custom_components.usage_stats.schedule import next_occurrence
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

SCHEMAS = Path(__file__).parent.parent / "schemas"


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(
        schema, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


REPORT_SCHEMA = _validator("report-v1.schema.json")


# What each minor revision of schema version 1 added: (object path, property).
REVISION_ADDED: dict[int, tuple[tuple[tuple[str, ...], str], ...]] = {
    1: (((), "schema_minor"), (("jobs",), "interrupted")),
    2: (
        (("printer_fleet",), "integrations"),
        (("printer_fleet",), "models"),
        (("printer_fleet",), "firmware"),
        (("jobs",), "by_model"),
    ),
}


def _receiver_of(revision: int) -> Draft202012Validator:
    """The report schema as a receiver knowing only revisions 0 to `revision` has it.

    Each revision added optional properties to objects that refuse unknown ones,
    so such a receiver rejects any report that carries a later revision's field.
    """
    schema = json.loads((SCHEMAS / "report-v1.schema.json").read_text("utf-8"))
    for later, added in REVISION_ADDED.items():
        if later <= revision:
            continue
        for path, name in added:
            node = schema
            for key in path:
                node = node["properties"][key]
            node["properties"].pop(name, None)
    if "schema_minor" in schema["properties"]:
        schema["properties"]["schema_minor"]["maximum"] = revision
    return Draft202012Validator(
        schema, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


REPORT_SCHEMA_REVISION_0 = _receiver_of(0)
REPORT_SCHEMA_REVISION_1 = _receiver_of(1)
DELETION_SCHEMA = _validator("deletion-v1.schema.json")


def assert_valid_report(body: dict[str, Any]) -> None:
    """Fail with every schema error of a report body."""
    errors = [error.message for error in REPORT_SCHEMA.iter_errors(body)]
    assert not errors, errors


def assert_valid_revision_0_report(body: dict[str, Any]) -> None:
    """Fail unless a receiver that knows only schema revision 0 accepts the body."""
    assert_valid_report(body)
    errors = [error.message for error in REPORT_SCHEMA_REVISION_0.iter_errors(body)]
    assert not errors, errors


def assert_valid_revision_1_report(body: dict[str, Any]) -> None:
    """Fail unless a receiver that knows only schema revisions 0 and 1 accepts it."""
    assert_valid_report(body)
    errors = [error.message for error in REPORT_SCHEMA_REVISION_1.iter_errors(body)]
    assert not errors, errors


def assert_valid_deletion(body: dict[str, Any]) -> None:
    """Fail with every schema error of a deletion request."""
    errors = [error.message for error in DELETION_SCHEMA.iter_errors(body)]
    assert not errors, errors


def parse_otlp(body: bytes | dict[str, Any]) -> ExportMetricsServiceRequest:
    """Parse an OTLP/HTTP JSON body the way a collector would."""
    text = body.decode() if isinstance(body, bytes) else json.dumps(body)
    return json_format.Parse(text, ExportMetricsServiceRequest())


@dataclass
class Received:
    """A request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        """Return the body as JSON."""
        result: dict[str, Any] = json.loads(self.body)
        return result


@dataclass
class Answer:
    """What the receiver answers to the next request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # Never answer (until the test ends), to make the client time out.
    hang: bool = False


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records requests and answers as told."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    # Called with each request while it is being handled (to look at the store then).
    on_request: Any = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        """Record the request and answer with the next planned answer (200 if none)."""
        received = Received(request.path, dict(request.headers), await request.read())
        self.requests.append(received)
        if self.on_request is not None:
            self.on_request(received)
        answer = self.answers.pop(0) if self.answers else Answer()
        if answer.hang:
            await self._release.wait()
        return web.Response(status=answer.status, headers=answer.headers)

    def application(self) -> web.Application:
        """Return an aiohttp application that hands every POST to `handle`."""
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        return app

    def release(self) -> None:
        """Let hanging requests finish."""
        self._release.set()

    def bodies(self, path: str = "/v1/reports") -> list[dict[str, Any]]:
        """Return the JSON bodies received on `path`."""
        return [r.json() for r in self.requests if r.path == path]


# A store file of the next major storage version (a downgrade reads it): left untouched.
NEWER_STORE: dict[str, Any] = {
    "version": STORAGE_VERSION + 1,
    "minor_version": 1,
    "key": STORAGE_KEY,
    "data": {"something": "new"},
}


# A Monday; share is granted at 10:00 UTC.
GRANTED = "2026-11-02T10:00:00+00:00"


def share_with(receiver: Receiver) -> dict[str, Any]:
    """Return entry options that share with the receiver."""
    return {"consent": "share", "endpoint": receiver.url, "retention_days": 90}


def set_schedule(coordinator: UsageStatsCoordinator, second: int) -> None:
    """Give the installation a known second of the weekly window (from Monday 00:00 UTC)."""
    state = coordinator.submission.state
    state["schedule"] = {"second": second}
    state["next_run"] = next_occurrence(state["schedule"], dt_util.utcnow()).isoformat()
    coordinator.async_update_listeners()


async def advance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, to: str | datetime | timedelta
) -> None:
    """Move the clock and let the submission look at it."""
    if isinstance(to, timedelta):
        freezer.tick(to)
    else:
        freezer.move_to(to)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def record_week(
    coordinator: UsageStatsCoordinator, freezer: FrozenDateTimeFactory
) -> None:
    """Record something on each day of the week of the grant (from the grant on)."""
    for day in range(7):
        freezer.move_to(datetime.fromisoformat(GRANTED) + timedelta(days=day))
        coordinator.record(EVENTS, "ha_start")
        coordinator.record(JOBS, "completed", "prusa")
        coordinator.record_snapshot(PRINTERS, {(): day + 1})


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


def seed_store(
    hass_storage: dict[str, Any], days: dict[str, dict[str, dict[str, int]]]
) -> None:
    """Store daily counters as a 1.1 file of an installation at `local` has them."""
    hass_storage["usage_stats.data"] = {
        "version": 1,
        "minor_version": 1,
        "key": "usage_stats.data",
        "data": {
            "consent": {"level": "local", "changed_at": None, "share_granted_at": None},
            "installation_id": None,
            "days": days,
        },
    }

"""Property-based tests: nothing identifying ever reaches the statistics.

Names, serials, hosts, e-mails, IPs, MACs, file paths and exception messages are
generated at random and fed through every collector and the record_event action.
Afterwards no part of any of them longer than three characters may appear in the
store or in what the export and preview actions return, unless that part is also
there for neutral inputs (catalogue names, printer types, dates, versions: the
fixed vocabulary of the statistics).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import random
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.usage_stats.const import DOMAIN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .helpers import settle

WORD = st.from_regex(r"[A-Z][a-z]{2,9}", fullmatch=True)
NAMES = st.lists(WORD, min_size=2, max_size=4).map(" ".join)
SERIALS = st.from_regex(r"[A-Z]{2}[A-Z0-9]{4,8}[0-9]{5,8}", fullmatch=True)
HOSTS = st.from_regex(
    r"[a-z]{3,10}(-[a-z0-9]{2,6})?\.(local|lan|example\.org|fritz\.box)", fullmatch=True
)
EMAILS = st.emails()
IPS = st.ip_addresses().map(str)
MACS = st.from_regex(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", fullmatch=True)
PATHS = st.from_regex(
    r"/(config|media|home)(/[a-z0-9_]{3,12}){1,3}\.(gcode|3mf|stl)", fullmatch=True
)
MESSAGES = st.text(min_size=4, max_size=80)
SECRETS = st.fixed_dictionaries(
    {
        "name": NAMES,
        "serial": SERIALS,
        "host": HOSTS,
        "email": EMAILS,
        "ip": IPS,
        "mac": MACS,
        "path": PATHS,
        "message": MESSAGES,
    }
)  # fmt: skip
SEQUENCE = itertools.count()
NEUTRAL = {
    "name": "Aa Bb",
    "serial": "XX",
    "host": "h",
    "email": "e",
    "ip": "i",
    "mac": "m",
    "path": "p",
    "message": "x",
}


def grams(text: str) -> set[str]:
    """Return every part of `text` of four characters, case-folded."""
    text = text.casefold()
    return {text[i : i + 4] for i in range(len(text) - 3)}


class Fleet:
    """Adds printers named after the secrets and drives them through every collector."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Initialize."""
        self.hass = hass

    async def feed(
        self, secrets: dict[str, str], freezer: FrozenDateTimeFactory
    ) -> None:
        """Feed one set of secrets through registries, states, logging and the action."""
        hass = self.hass
        n = next(SEQUENCE)
        # Hypothesis seeds `random` alike for every example, and the registries
        # make their ids with it: give each example ids of its own.
        random.seed(n)
        device_registry, entity_registry = dr.async_get(hass), er.async_get(hass)
        entry = MockConfigEntry(
            domain="prusalink",
            title=secrets["name"],
            data={"host": secrets["host"], "ip": secrets["ip"], "mac": secrets["mac"]},
        )
        entry.add_to_hass(hass)
        device = device_registry.async_get_or_create(
            config_entry_id=entry.entry_id,
            identifiers={("prusalink", f"{secrets['serial']}-{n}")},
            # The MAC as a connection would merge devices across examples.
            hw_version=secrets["mac"],
            name=secrets["name"],
            model=secrets["name"],
            serial_number=secrets["serial"],
            configuration_url=f"http://{secrets['host']}/",
        )
        status = entity_registry.async_get_or_create(
            "sensor",
            "prusalink",
            f"{secrets['serial']}_{n}_printer.state",
            device_id=device.id,
            config_entry=entry,
            translation_key="printer_state",
            original_name=secrets["name"],
            suggested_object_id=f"{secrets['name']} {n}",
        ).entity_id
        light = entity_registry.async_get_or_create(
            "light",
            "prusalink",
            f"{secrets['serial']}_light_{n}",
            device_id=device.id,
            config_entry=entry,
            original_name=secrets["name"],
        ).entity_id
        # Read the new printer at once (a reload), and start from empty counters.
        usage_entry = hass.config_entries.async_entries(DOMAIN)[0]
        await hass.config_entries.async_reload(usage_entry.entry_id)
        await hass.async_block_till_done()
        usage_entry.runtime_data.counters.clear()
        attributes = {"file": secrets["path"], "friendly_name": secrets["name"]}
        hass.states.async_set(light, "on", attributes)
        for state in ("idle", "printing", "paused", "printing", "finished", "error"):
            hass.states.async_set(status, state, attributes)
            await hass.async_block_till_done()

        for kind in ("name", "host", "ip", "path", "message"):
            try:
                raise ValueError(secrets[kind])  # noqa: TRY301
            except ValueError:
                logging.getLogger(
                    f"custom_components.prusalink.{secrets['serial']}"
                ).exception(secrets[kind])
        # Exception messages only ever reach the statistics through logging.
        for kind, value in secrets.items():
            if kind == "message":
                continue
            for data in (
                {"event_type": f"custom_{value}"},
                {"event_type": "custom_probe", "metadata": {"value": value}},
                {"event_type": "custom_probe", "metadata": {value: True}},
                {"event_type": "filament_change", "metadata": {"material": value}},
            ):
                with contextlib.suppress(ServiceValidationError):
                    await hass.services.async_call(
                        DOMAIN, "record_event", data, blocking=True
                    )
        await settle(hass, freezer)


async def outputs(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    """Return the store and what the export and preview actions return, as JSON."""
    responses = [
        await hass.services.async_call(
            DOMAIN, service, {}, blocking=True, return_response=True
        )
        for service in ("export", "preview")
    ]
    return json.dumps([entry.runtime_data.stored, *responses])


@pytest.fixture
async def baseline(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> set[str]:
    """Return the 4-grams the statistics hold for neutral inputs."""
    freezer.move_to("2026-11-23T12:00:00+00:00")
    await Fleet(hass).feed(NEUTRAL, freezer)
    return grams(await outputs(hass, init_integration))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(secrets=SECRETS)
async def test_nothing_identifying_is_stored(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    baseline: set[str],
    secrets: dict[str, Any],
) -> None:
    """No 4-character part of any secret is stored, exported or previewed."""
    await Fleet(hass).feed(secrets, freezer)
    stored = (await outputs(hass, init_integration)).casefold()
    for kind, value in secrets.items():
        leaked = {part for part in grams(value) - baseline if part in stored}
        assert not leaked, f"{kind} {value!r} leaked {leaked}"
    # The collectors did record: the test would be empty otherwise.
    today = init_integration.runtime_data.stored["days"]["2026-11-23"]
    assert today["jobs"]["completed/prusa"] >= 1
    assert today["errors"]["prusalink/ValueError"] >= 5

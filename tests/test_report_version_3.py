"""Report version 3 end to end: real printers, the re-consent path, a real receiver.

An installation that accepted report version 2 records the printer integrations'
versions, the printers' models and firmware and the jobs per model from its
printers (registries and state machine), but sends none of it until it accepts
version 3, in the repair or with the panel's command; then its next report holds
them, in schema revision 2, as JSON and as OTLP.
"""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from custom_components.usage_stats.const import CONF_FORMAT, DOMAIN, STORAGE_KEY
from custom_components.usage_stats.repairs import ISSUE_REPORT_VERSION
from homeassistant.const import __version__ as ha_version
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, issue_registry as ir

from .helpers import (
    Receiver,
    advance,
    assert_valid_report,
    assert_valid_revision_1_report,
    parse_otlp,
    share_with,
)
from .jobs_fleet import Driver, describe_fleet, setup_entry
from .test_report_version import ADDED_IN_3, _fix_flow, _store
from .test_websocket_api import _result
from .test_websocket_api_share import _client

# Where the fleet's printers are at version 2 and 3 (tests/jobs_fleet.py).
TYPES = {
    "octoprint": 1,
    "prusa": 1,
    "dremel": 1,
    "bambu_lab": 1,
    "klipper": 1,
    "creality": 1,
    "elegoo": 1,
    "anycubic": 1,
    "flashforge": 1,
}
INTEGRATIONS = {
    "octoprint": {"type": "octoprint", "version": ha_version, "printers": 1},
    "prusalink": {"type": "prusa", "version": ha_version, "printers": 1},
    "dremel_3d_printer": {"type": "dremel", "version": ha_version, "printers": 1},
    "bambu_lab": {"type": "bambu_lab", "version": "2.1.9", "printers": 1},
    "moonraker": {"type": "klipper", "version": "1.13.3", "printers": 1},
    "ha_creality_ws": {"type": "creality", "version": "0.9.4", "printers": 1},
    "elegoo_printer": {"type": "elegoo", "version": "2.3.0", "printers": 1},
    "anycubic_cloud": {"type": "anycubic", "version": "0.2.3", "printers": 1},
    "flashforge": {"type": "flashforge", "version": "1.1.0", "printers": 1},
}
MODELS = {
    "dremel": {"3d45": 1},
    "bambu_lab": {"x1c": 1},
    "creality": {"k1c": 1},
    "elegoo": {"centauri_carbon": 1},
    "anycubic": {"anycubic_kobra_3": 1},
    "flashforge": {"adventurer_5m_pro": 1},
}
FIRMWARE = {
    "dremel": {"3.0": 1},
    "bambu_lab": {"1.8": 1},
    "creality": {"1.3": 1},
    "elegoo": {"1.1": 1},
    "anycubic": {"2.4": 1},
    "flashforge": {"2.7": 1},
}
# What version 3 adds to a report, and what a version 2 report must not hold.
NEW_VALUES = ("x1c", "centauri_carbon", "2.1.9", "1.13.3", "by_model", "firmware")


@pytest.fixture
def options(receiver: Receiver) -> dict[str, Any]:
    """Share with the receiver."""
    return share_with(receiver)


async def _set_up_at_version_2(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    drive: Driver,
    device_registry: dr.DeviceRegistry,
) -> MockConfigEntry:
    """Share since Monday 2026-11-02, report version 2 accepted; every printer idle."""
    freezer.move_to("2026-11-03T12:00:00+00:00")
    hass_storage[STORAGE_KEY] = _store(accepted=2)
    await describe_fleet(hass, device_registry, drive.fleet)
    await drive("bambu_lab", "idle", 0)
    await drive("moonraker", "standby", 0)
    return await setup_entry(hass, entry)


async def _print(drive: Driver, *, failed: bool = False) -> None:
    """A Bambu Lab X1C job (completed, or failed) and a Klipper job (completed)."""
    end = "failed" if failed else "finish"
    for status, progress, minutes in (("running", 0, 0), (end, 100, 60)):
        await drive("bambu_lab", status, progress, minutes)
    for status, progress, minutes in (("printing", 0, 0), ("complete", 100, 60)):
        await drive("moonraker", status, progress, minutes)
    await drive.settle()


def _assert_version_2(report: dict[str, Any]) -> None:
    """Revision 1: the jobs with `interrupted`, nothing of version 3."""
    assert report["schema_minor"] == 1
    assert report["printer_fleet"] == {"printers": 9, "types": TYPES}
    assert report["jobs"]["started"] == {"bambu_lab": 1, "klipper": 1}
    assert report["jobs"]["completed"] == {"bambu_lab": 1, "klipper": 1}
    assert "interrupted" in report["jobs"]
    assert "by_model" not in report["jobs"]
    for value in NEW_VALUES:
        assert value not in str(report), value
    assert_valid_revision_1_report(report)


@pytest.mark.parametrize("accept_with", ["repair", "panel"])
async def test_version_2_sends_nothing_new_until_it_accepts(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    drive: Driver,
    device_registry: dr.DeviceRegistry,
    issue_registry: ir.IssueRegistry,
    hass_ws_client: WebSocketGenerator,
    hass_admin_user: MockUser,
    hass_client: ClientSessionGenerator,
    request: pytest.FixtureRequest,
    accept_with: str,
) -> None:
    """Recorded from the first day; sent only from the first report after accepting."""
    entry = await _set_up_at_version_2(
        hass, mock_config_entry, hass_storage, freezer, drive, device_registry
    )
    coordinator = entry.runtime_data
    issue = issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION)
    assert issue is not None
    assert issue.translation_placeholders == {
        "accepted": "2",
        "version": "3",
        "metrics": ADDED_IN_3,
    }
    await _print(drive)
    # Recorded locally all along.
    day = coordinator.stored["days"]["2026-11-03"]
    assert day["printer_models"]["bambu_lab/x1c/1.8"] == 1
    assert day["printer_integrations"]["bambu_lab/bambu_lab/2.1.9"] == 1
    assert day["jobs_by_model"] == {
        "started/bambu_lab/x1c": 1,
        "completed/bambu_lab/x1c": 1,
    }

    # Not in the preview, nor in the weekly report, before accepting.
    await advance(hass, freezer, "2026-11-04T12:00:00+00:00")
    preview = await hass.services.async_call(
        DOMAIN, "preview", {}, blocking=True, return_response=True
    )
    _assert_version_2(preview["payload"])
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    (first,) = receiver.bodies()
    _assert_version_2(first)
    assert first["period"] == {"start": "2026-11-03", "end": "2026-11-08", "days": 6}

    if accept_with == "repair":
        _, result = await _fix_flow(hass, request, "accept")
        assert result["type"] == "create_entry"
    else:
        client = await _client(hass, hass_ws_client, hass_admin_user)
        assert await _result(client, "accept_report_version", version=3) == {
            "accepted": 3
        }
    assert coordinator.consent.report_version == 3
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is None

    # The next week's report holds what version 3 added.
    await advance(hass, freezer, "2026-11-10T12:00:00+00:00")
    await _print(drive, failed=True)
    # The preview before the weekly run is that report.
    await advance(hass, freezer, "2026-11-16T05:00:00+00:00")
    preview = await hass.services.async_call(
        DOMAIN, "preview", {}, blocking=True, return_response=True
    )
    await advance(hass, freezer, "2026-11-16T06:00:30+00:00")
    first_again, second = receiver.bodies()
    assert first_again == first
    assert second["period"] == {"start": "2026-11-09", "end": "2026-11-15", "days": 7}
    assert second["schema_minor"] == 2
    assert second["printer_fleet"] == {
        "printers": 9,
        "types": TYPES,
        "integrations": INTEGRATIONS,
        "models": MODELS,
        "firmware": FIRMWARE,
    }
    assert second["jobs"]["started"] == {"bambu_lab": 1, "klipper": 1}
    assert second["jobs"]["by_model"] == {"bambu_lab.x1c": {"started": 1, "failed": 1}}
    assert_valid_report(second)
    assert preview["payload"] == second


@pytest.mark.parametrize("report_format", ["otlp"])
async def test_otlp_of_version_3(
    hass: HomeAssistant,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    drive: Driver,
    device_registry: dr.DeviceRegistry,
    hass_client: ClientSessionGenerator,
    request: pytest.FixtureRequest,
    report_format: str,
) -> None:
    """The OTLP form: revision 1's metrics before accepting, revision 2's after."""
    entry = MockConfigEntry(
        domain=DOMAIN, options={**share_with(receiver), CONF_FORMAT: report_format}
    )
    await _set_up_at_version_2(
        hass, entry, hass_storage, freezer, drive, device_registry
    )
    await _print(drive)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    _, result = await _fix_flow(hass, request, "accept")
    assert result["type"] == "create_entry"
    await advance(hass, freezer, "2026-11-10T12:00:00+00:00")
    await _print(drive)
    await advance(hass, freezer, "2026-11-16T06:00:30+00:00")

    first, second = (parse_otlp(sent.body) for sent in receiver.requests)
    assert [r.path for r in receiver.requests] == ["/v1/metrics", "/v1/metrics"]

    def points(request: Any) -> dict[str, set[tuple[tuple[str, str], ...]]]:
        resource = request.resource_metrics[0]
        minor = {
            a.key: a.value.int_value
            for a in resource.resource.attributes
            if a.key == "usage_stats.schema_minor"
        }
        return {
            "minor": {(("minor", str(minor["usage_stats.schema_minor"])),)},
            **{
                metric.name: {
                    (
                        *((a.key, a.value.string_value) for a in p.attributes),
                        ("n", str(p.as_int)),
                    )
                    for p in (
                        metric.gauge if metric.HasField("gauge") else metric.sum
                    ).data_points
                }
                for metric in resource.scope_metrics[0].metrics
            },
        }

    before, after = points(first), points(second)
    new = {
        "usage_stats.printers.by_integration",
        "usage_stats.printers.by_model",
        "usage_stats.printers.by_firmware",
        "usage_stats.jobs.by_model",
    }
    assert before["minor"] == {(("minor", "1"),)}
    assert not new & before.keys()
    assert after["minor"] == {(("minor", "2"),)}
    assert new <= after.keys()
    assert (
        ("integration", "bambu_lab"),
        ("type", "bambu_lab"),
        ("version", "2.1.9"),
        ("n", "1"),
    ) in after["usage_stats.printers.by_integration"]
    assert len(after["usage_stats.printers.by_integration"]) == 9
    assert (("type", "bambu_lab"), ("model", "x1c"), ("n", "1")) in after[
        "usage_stats.printers.by_model"
    ]
    assert (("type", "dremel"), ("firmware", "3.0"), ("n", "1")) in after[
        "usage_stats.printers.by_firmware"
    ]
    assert after["usage_stats.jobs.by_model"] == {
        (("outcome", "started"), ("type", "bambu_lab"), ("model", "x1c"), ("n", "1")),
        (("outcome", "completed"), ("type", "bambu_lab"), ("model", "x1c"), ("n", "1")),
    }

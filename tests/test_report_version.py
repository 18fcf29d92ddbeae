"""Report versions and re-consent, through the repairs fix flow and a real receiver.

Report version 2 added the job outcome `interrupted` (schema minor revision 1);
version 3, the current one, added the printer integrations, models and firmware
and the jobs per model (revision 2). An installation that accepted version 1
keeps sending plain revision 0 reports, one that accepted version 2 revision 1
reports, until it accepts version 3. A later change is stood in where needed:
`errors` as introduced by a version 4. (tests/test_report_version_3.py follows
version 3's data from real printers through the same path.)
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import (
    CLIENT_ID,
    MockConfigEntry,
    MockUser,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.usage_stats.catalogue import (
    ERRORS,
    JOBS,
    JOBS_BY_MODEL,
    METRICS,
    describe_added,
    metrics_added,
    report_version,
)
from custom_components.usage_stats.const import (
    CONF_CONSENT,
    CONF_FORMAT,
    DOMAIN,
    STORAGE_KEY,
)
from custom_components.usage_stats.coordinator import UsageStatsCoordinator
from custom_components.usage_stats.repairs import (
    ISSUE_REPORT_VERSION,
    ReportVersionRepairFlow,
)
from homeassistant.const import __version__ as ha_version
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.loader import async_get_integration
from homeassistant.setup import async_setup_component

from .helpers import (
    GRANTED,
    Receiver,
    advance,
    assert_valid_report,
    assert_valid_revision_0_report,
    assert_valid_revision_1_report,
    parse_otlp,
    share_with,
)

INSTALLATION_ID = "9b2f6c1e-7d4a-4e3b-a1c2-d3e4f5a6b7c8"
ADDED_IN_2 = "- `jobs` — `jobs` — `outcome` `interrupted`"
ADDED_IN_3 = (
    "- `printer_integrations` — `printer_fleet` — `integration`, `printer_type`, "
    "`version`\n"
    "- `printer_models` — `printer_fleet` — `printer_type`, `model`, `firmware`\n"
    "- `jobs_by_model` — `jobs` — `outcome`, `printer_type`, `model`"
)
# What version 3 asks of an installation on version 1: all of 2 and 3, in the
# catalogue's order.
ADDED_SINCE_1 = (
    "- `printer_integrations` — `printer_fleet` — `integration`, `printer_type`, "
    "`version`\n"
    "- `printer_models` — `printer_fleet` — `printer_type`, `model`, `firmware`\n"
    "- `jobs` — `jobs` — `outcome` `interrupted`\n"
    "- `jobs_by_model` — `jobs` — `outcome`, `printer_type`, `model`"
)
# What a week of two jobs, one of them interrupted, sends at each version.
JOBS_V1 = {
    "started": {"octoprint": 2},
    "completed": {"octoprint": 1},
    "failed": {},
    "cancelled": {},
    "duration": {},
}
JOBS_V2 = {**JOBS_V1, "interrupted": {"octoprint": 1}}
# OctoPrint reads no model from the printer: no jobs per model.
JOBS_V3 = {**JOBS_V2, "by_model": {}}
FLEET_V1 = {"printers": 1, "types": {"octoprint": 1}}
# A core integration's version is Home Assistant's.
OCTOPRINT = {"type": "octoprint", "version": ha_version, "printers": 1}
FLEET_V3 = {
    **FLEET_V1,
    "integrations": {"octoprint": OCTOPRINT},
    "models": {},
    "firmware": {},
}
# Before accepting version 3, per accepted version: what version 3 adds, the jobs
# and schema revision of the reports, and what a receiver of that revision accepts.
BEFORE_3 = {
    1: (ADDED_SINCE_1, JOBS_V1, None, assert_valid_revision_0_report),
    2: (ADDED_IN_3, JOBS_V2, 1, assert_valid_revision_1_report),
}


@pytest.fixture
def version_4() -> Generator[None]:
    """Stand in a later catalogue whose report version 4 added `errors`."""
    with patch.dict(METRICS, {ERRORS.name: replace(ERRORS, since=4)}):
        yield


@pytest.fixture
def options(receiver: Receiver) -> dict[str, Any]:
    """Share with the receiver."""
    return share_with(receiver)


def _store(level: str = "share", accepted: int | None = None) -> dict[str, Any]:
    """A store file of an installation that shares since GRANTED (or does not).

    Without `accepted`, written before report versions existed (storage 1.4): one
    sharing then had accepted version 1. With it, a 1.6 file whose consent record
    holds that accepted report version.
    """
    granted = GRANTED if level == "share" else None
    consent: dict[str, Any] = {
        "level": level,
        "changed_at": GRANTED,
        "share_granted_at": granted,
    }
    if accepted is not None:
        consent |= {"report_version": accepted, "declined_version": None}
    return {
        "version": 1,
        "minor_version": 4 if accepted is None else 6,
        "key": STORAGE_KEY,
        "data": {
            "consent": consent,
            "installation_id": INSTALLATION_ID if level == "share" else None,
            "days": {"keys": [], "counts": {}},
            "submission": {
                "schedule": {"weekday": 0, "second": 6 * 3600},
                "next_run": "2026-11-09T06:00:00+00:00",
            },
        },
    }


async def _set_up(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    level: str = "share",
    accepted: int | None = None,
) -> UsageStatsCoordinator:
    freezer.move_to("2026-11-03T12:00:00+00:00")
    hass_storage[STORAGE_KEY] = _store(level, accepted)
    await _add_octoprint(hass)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator: UsageStatsCoordinator = entry.runtime_data
    return coordinator


def _record_jobs(coordinator: UsageStatsCoordinator) -> None:
    """Two jobs: one completed, one interrupted (recorded at every version)."""
    for outcome in ("started", "started", "completed", "interrupted"):
        assert coordinator.record(JOBS, outcome, "octoprint")


async def _add_octoprint(hass: HomeAssistant) -> None:
    """An OctoPrint printer, of Home Assistant's core OctoPrint integration.

    Resolved as Home Assistant resolves the integrations of its config entries
    before setting them up. Its version (report version 3) is Home Assistant's;
    it reads no model from the printer, so there are no jobs per model.
    """
    await async_get_integration(hass, "octoprint")
    entry = MockConfigEntry(domain="octoprint", title="OctoPrint")
    entry.add_to_hass(hass)
    dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={("octoprint", "8f1e0c6a-0000-4000-8000-1234567890ab")},
        manufacturer="OctoPrint",
        name="OctoPrint",
    )


async def _fix_flow(
    hass: HomeAssistant, request: pytest.FixtureRequest, choice: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Open the issue's fix flow over the HTTP API and pick `choice` from its menu.

    The client's access token is made now, at the frozen time, so it is valid.
    """
    assert await async_setup_component(hass, "repairs", {})
    hass_client: ClientSessionGenerator = request.getfixturevalue("hass_client")
    user: MockUser = request.getfixturevalue("hass_admin_user")
    refresh_token = await hass.auth.async_create_refresh_token(user, CLIENT_ID)
    client = await hass_client(hass.auth.async_create_access_token(refresh_token))
    response = await client.post(
        "/api/repairs/issues/fix",
        json={"handler": DOMAIN, "issue_id": ISSUE_REPORT_VERSION},
    )
    assert response.status == 200, await response.text()
    shown: dict[str, Any] = await response.json()
    response = await client.post(
        f"/api/repairs/issues/fix/{shown['flow_id']}", json={"next_step_id": choice}
    )
    assert response.status == 200, await response.text()
    return shown, await response.json()


@pytest.mark.parametrize("accepted", [1, 2])
async def test_older_version_store_raises_the_repair_and_accepting_adds_the_rest(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    issue_registry: ir.IssueRegistry,
    hass_client: ClientSessionGenerator,
    request: pytest.FixtureRequest,
    accepted: int,
) -> None:
    """Version 1 or 2 accepted, 3 current: asked; reports keep theirs until accepted."""
    added, jobs, minor, _ = BEFORE_3[accepted]
    coordinator = await _set_up(
        hass, mock_config_entry, hass_storage, freezer, accepted=accepted
    )
    assert coordinator.consent.report_version == accepted
    issue = issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders == {
        "accepted": str(accepted),
        "version": "3",
        "metrics": added,
    }

    # Recording keeps `interrupted`; until the user answers, the preview keeps
    # the accepted version.
    _record_jobs(coordinator)
    assert (
        coordinator.stored["days"]["2026-11-03"]["jobs"]["interrupted/octoprint"] == 1
    )
    freezer.move_to("2026-11-04T12:00:00+00:00")
    preview = await hass.services.async_call(
        DOMAIN, "preview", {}, blocking=True, return_response=True
    )
    assert preview["payload"]["jobs"] == jobs
    assert preview["payload"].get("schema_minor") == minor
    assert preview["payload"]["printer_fleet"] == FLEET_V1

    shown, result = await _fix_flow(hass, request, "accept")
    assert shown["type"] == "menu"
    assert shown["menu_options"] == ["accept", "decline"]
    assert shown["description_placeholders"]["metrics"] == added
    assert result["type"] == "create_entry"
    assert coordinator.consent.report_version == 3
    assert hass_storage[STORAGE_KEY]["data"]["consent"]["report_version"] == 3
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is None

    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    (report,) = receiver.bodies()
    assert report["installation_id"] == INSTALLATION_ID
    assert report["schema_minor"] == 2
    assert report["jobs"] == JOBS_V3
    assert report["printer_fleet"] == FLEET_V3
    assert_valid_report(report)

    # Answered: not asked again after a restart.
    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is None


@pytest.mark.parametrize("accepted", [1, 2])
async def test_unanswered_reports_are_of_the_accepted_revision(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    issue_registry: ir.IssueRegistry,
    accepted: int,
) -> None:
    """Not yet answered: the weekly report is one a receiver of its revision accepts.

    Version 1: revision 0, without `interrupted`; version 2: revision 1. Neither
    has what version 3 added.
    """
    _, jobs, minor, assert_valid_revision = BEFORE_3[accepted]
    coordinator = await _set_up(
        hass, mock_config_entry, hass_storage, freezer, accepted=accepted
    )
    _record_jobs(coordinator)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    (report,) = receiver.bodies()
    assert report.get("schema_minor") == minor
    assert report["jobs"] == jobs
    assert ("interrupted" in str(report)) is (accepted == 2)
    assert report["printer_fleet"] == FLEET_V1
    assert "by_model" not in report["jobs"]
    assert_valid_revision(report)
    # The question is still open.
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is not None


@pytest.mark.parametrize("accepted", [1, 2])
async def test_unanswered_otlp_reports_are_of_the_accepted_revision(
    hass: HomeAssistant,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    accepted: int,
) -> None:
    """The OTLP form follows the same rule: no points or metrics of later versions."""
    entry = MockConfigEntry(
        domain=DOMAIN, options={**share_with(receiver), CONF_FORMAT: "otlp"}
    )
    coordinator = await _set_up(hass, entry, hass_storage, freezer, accepted=accepted)
    _record_jobs(coordinator)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    (sent,) = receiver.requests
    assert sent.path == "/v1/metrics"
    resource_metrics = parse_otlp(sent.body).resource_metrics[0]
    attributes = {
        attribute.key: attribute.value.int_value
        for attribute in resource_metrics.resource.attributes
    }
    assert "usage_stats.schema_version" in attributes
    if accepted == 1:
        assert "usage_stats.schema_minor" not in attributes
    else:
        assert attributes["usage_stats.schema_minor"] == 1
    metrics = {m.name: m for m in resource_metrics.scope_metrics[0].metrics}
    assert list(metrics) == [
        "usage_stats.printers",
        "usage_stats.printers.by_type",
        "usage_stats.features",
        "usage_stats.jobs",
        "usage_stats.jobs.duration",
        "usage_stats.events",
        "usage_stats.errors",
    ]
    outcomes = {
        attribute.value.string_value
        for point in metrics["usage_stats.jobs"].sum.data_points
        for attribute in point.attributes
        if attribute.key == "outcome"
    }
    interrupted = {"interrupted"} if accepted == 2 else set()
    assert outcomes == {"started", "completed"} | interrupted


async def test_declining_keeps_the_additions_out_until_the_next_change(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    issue_registry: ir.IssueRegistry,
    hass_client: ClientSessionGenerator,
    request: pytest.FixtureRequest,
) -> None:
    """Declined: the report keeps version 1; asked again only when version 4 comes."""
    coordinator = await _set_up(hass, mock_config_entry, hass_storage, freezer)
    _record_jobs(coordinator)
    _, result = await _fix_flow(hass, request, "decline")
    assert result["type"] == "abort"
    assert result["reason"] == "declined"
    assert coordinator.consent.report_version == 1
    assert coordinator.consent.declined_version == 3
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is None

    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    (report,) = receiver.bodies()
    assert report["jobs"] == JOBS_V1
    assert "schema_minor" not in report
    assert "interrupted" not in str(report)
    assert report["printer_fleet"] == FLEET_V1
    assert_valid_revision_0_report(report)

    # A restart does not bring the question back.
    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is None

    # The next change (version 4 adds `errors`) asks about all that is not accepted.
    with patch.dict(METRICS, {ERRORS.name: replace(ERRORS, since=4)}):
        await hass.config_entries.async_reload(mock_config_entry.entry_id)
        await hass.async_block_till_done()
        issue = issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION)
        assert issue is not None
        assert issue.translation_placeholders["version"] == "4"
        assert issue.translation_placeholders["metrics"] == (
            f"{ADDED_SINCE_1}\n- `errors` — `errors` — `component`, `error_type`"
        )


async def test_not_sharing_is_not_asked(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """An installation at `local` is never asked about a report version."""
    entry = MockConfigEntry(
        domain=DOMAIN, options={CONF_CONSENT: "local", "retention_days": 90}
    )
    coordinator = await _set_up(hass, entry, hass_storage, freezer, level="local")
    assert coordinator.consent.report_version is None
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is None
    # Below share the preview shows the current version: what sharing would send.
    _record_jobs(coordinator)
    preview = await hass.services.async_call(
        DOMAIN, "preview", {}, blocking=True, return_response=True
    )
    assert preview["payload"]["schema_minor"] == 2
    assert preview["payload"]["jobs"] == JOBS_V3
    assert preview["payload"]["printer_fleet"] == FLEET_V3


async def test_leaving_share_withdraws_the_question_and_a_new_grant_accepts_all(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    issue_registry: ir.IssueRegistry,
) -> None:
    """The open question goes when sharing stops; sharing again accepts the current version."""
    coordinator = await _set_up(hass, mock_config_entry, hass_storage, freezer)
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is not None
    hass.config_entries.async_update_entry(
        mock_config_entry, options={**mock_config_entry.options, CONF_CONSENT: "local"}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is None
    assert mock_config_entry.runtime_data.consent.report_version is None

    hass.config_entries.async_update_entry(
        mock_config_entry, options={**mock_config_entry.options, CONF_CONSENT: "share"}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    coordinator = mock_config_entry.runtime_data
    assert coordinator.consent.report_version == 3
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is None
    freezer.move_to("2026-11-04T12:00:00+00:00")
    _record_jobs(coordinator)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    (report,) = receiver.bodies(path="/v1/reports")
    assert report["schema_minor"] == 2
    assert report["jobs"] == JOBS_V3
    assert report["printer_fleet"] == FLEET_V3


async def test_current_catalogue_is_version_3() -> None:
    """Version 2 added the job outcome `interrupted`, version 3 three metrics."""
    assert report_version() == 3
    assert {metric.since for metric in METRICS.values()} == {1, 3}
    assert [name for name, metric in METRICS.items() if metric.since == 3] == [
        "printer_integrations",
        "printer_models",
        "jobs_by_model",
    ]
    assert describe_added(metrics_added(1, 2)) == ADDED_IN_2
    assert describe_added(metrics_added(2, 3)) == ADDED_IN_3
    assert describe_added(metrics_added(1, 3)) == ADDED_SINCE_1
    assert metrics_added(3, 3) == []
    # Only the values of later versions are left out of an older report.
    assert JOBS.key_since("interrupted/octoprint") == 2
    assert JOBS.key_since("completed/octoprint") == 1
    assert JOBS.key_since("other") == 1
    # A metric of version 3 is of version 3 with every value of its labels.
    assert JOBS_BY_MODEL.key_since("interrupted/bambu_lab/x1c") == 3
    assert JOBS_BY_MODEL.key_since("started/bambu_lab/x1c") == 3
    assert JOBS_BY_MODEL.key_since("other") == 3


@pytest.mark.usefixtures("version_4")
async def test_a_version_4_metric_waits_for_its_acceptance(
    hass: HomeAssistant,
    receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """A whole metric of a later version is left out just as a label value is."""
    entry = MockConfigEntry(domain=DOMAIN, options=share_with(receiver))
    coordinator = await _set_up(hass, entry, hass_storage, freezer)
    assert report_version() == 4
    _record_jobs(coordinator)
    assert coordinator.record(ERRORS, "usage_stats", "RuntimeError")
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    (report,) = receiver.bodies()
    assert report["errors"] == {}
    assert "RuntimeError" not in str(report)
    assert report["jobs"] == JOBS_V1


@pytest.mark.parametrize("choice", ["accept", "decline"])
async def test_answer_while_unloaded_is_refused(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    issue_registry: ir.IssueRegistry,
    hass_client: ClientSessionGenerator,
    request: pytest.FixtureRequest,
    choice: str,
) -> None:
    """An answer given while the entry is not loaded changes nothing; the question stays."""
    await _set_up(hass, mock_config_entry, hass_storage, freezer)
    await hass.config_entries.async_unload(mock_config_entry.entry_id)
    _, result = await _fix_flow(hass, request, choice)
    assert result["type"] == "abort"
    assert result["reason"] == "not_loaded"
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_REPORT_VERSION) is not None
    assert hass_storage[STORAGE_KEY]["data"]["consent"]["report_version"] == 1


async def test_the_menu_names_its_step(hass: HomeAssistant) -> None:
    """The repair's menu passes its step_id itself, as Home Assistant asks since 2026.11.

    Called directly: the flow manager fills in a missing step_id, so only the flow's
    own result shows it (2026.11 reports a menu without one; 2027.5 refuses it).
    """
    flow = ReportVersionRepairFlow("entry", 2)
    flow.hass = hass
    shown = await flow.async_step_init()
    assert shown["type"] == "menu"
    assert shown.get("step_id") == "init"

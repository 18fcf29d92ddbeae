"""Re-consent: a sharing installation is asked before a newer report version is sent.

When an update adds metrics, reports go on with the version the user accepted,
and a repair issue shows exactly what the newer version adds (made from the
catalogue). Accepting adds those metrics to the next report; declining keeps them
out, and the question comes back only when a later version adds more.
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant import data_entry_flow
from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .catalogue import describe_added, metrics_added, report_version
from .const import DOMAIN
from .coordinator import UsageStatsCoordinator

ISSUE_REPORT_VERSION: Final = "report_version"


@callback
def async_check_report_version(coordinator: UsageStatsCoordinator) -> None:
    """Raise the re-consent issue when a newer report version waits for an answer.

    Installations that do not share are not asked (an open question is withdrawn).
    """
    hass = coordinator.hass
    version = report_version()
    consent = coordinator.consent
    if consent.version_to_ask(version) is None or consent.report_version is None:
        ir.async_delete_issue(hass, DOMAIN, ISSUE_REPORT_VERSION)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        ISSUE_REPORT_VERSION,
        is_fixable=True,
        is_persistent=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_REPORT_VERSION,
        translation_placeholders={
            "accepted": str(consent.report_version),
            "version": str(version),
            "metrics": describe_added(metrics_added(consent.report_version, version)),
        },
        data={"entry_id": coordinator.config_entry.entry_id, "version": version},
    )


class ReportVersionRepairFlow(RepairsFlow):
    """Accept or decline the metrics a newer report version adds."""

    def __init__(self, entry_id: str, version: int) -> None:
        """Initialize the flow for the entry and the version asked about."""
        self.entry_id = entry_id
        self.version = version

    def _coordinator(self) -> UsageStatsCoordinator | None:
        entry = self.hass.config_entries.async_get_entry(self.entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return None
        coordinator: UsageStatsCoordinator = entry.runtime_data
        return coordinator

    async def async_step_init(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Show what the new version adds, and ask."""
        issue = ir.async_get(self.hass).async_get_issue(DOMAIN, ISSUE_REPORT_VERSION)
        return self.async_show_menu(
            step_id="init",
            menu_options=["accept", "decline"],
            description_placeholders=issue.translation_placeholders if issue else None,
        )

    async def async_step_accept(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Accept: the next report holds the new metrics."""
        if (coordinator := self._coordinator()) is None:
            return self.async_abort(reason="not_loaded")
        await coordinator.async_answer_report_version(self.version, accept=True)
        return self.async_create_entry(data={})

    async def async_step_decline(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Decline: reports keep the accepted metrics; not asked again for this version."""
        if (coordinator := self._coordinator()) is None:
            return self.async_abort(reason="not_loaded")
        await coordinator.async_answer_report_version(self.version, accept=False)
        ir.async_delete_issue(self.hass, DOMAIN, ISSUE_REPORT_VERSION)
        return self.async_abort(reason="declined")


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, Any] | None
) -> RepairsFlow:
    """Return the fix flow of an issue of this integration."""
    data = data or {}
    return ReportVersionRepairFlow(
        str(data.get("entry_id")), int(data.get("version", 0))
    )

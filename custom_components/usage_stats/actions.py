"""What the actions and the panel's websocket commands do: one code path for both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util.file import write_utf8_file

from .catalogue import Section, metrics_added, report_version
from .comparison import compare
from .consent import shared_sections
from .const import CONF_CONSENT, CONF_ENDPOINT, CONF_SECTIONS, DOMAIN, ConsentLevel
from .coordinator import UsageStatsConfigEntry, UsageStatsCoordinator
from .printers import KNOWN_PRINTER_INTEGRATIONS
from .repairs import ISSUE_REPORT_VERSION, async_check_report_version
from .submission import ISSUES

EXPORT_DIRECTORY: Final = DOMAIN


def loaded_coordinator(hass: HomeAssistant) -> UsageStatsCoordinator:
    """Return the coordinator of the loaded entry, or a translated error."""
    if not (entries := hass.config_entries.async_loaded_entries(DOMAIN)):
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="not_loaded"
        )
    coordinator: UsageStatsCoordinator = entries[0].runtime_data
    return coordinator


def export_path(hass: HomeAssistant, filename: str) -> Path:
    """Return where an export named `filename` goes; refuse anything but a bare name."""
    if (
        not filename
        or filename != filename.strip()
        or "/" in filename
        or "\\" in filename
        or ".." in filename
        or filename.startswith(".")
        or "\0" in filename
    ):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_filename",
            translation_placeholders={"filename": filename},
        )
    return Path(hass.config.path(EXPORT_DIRECTORY)) / filename


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_utf8_file(str(path), text, private=True)


async def async_export(hass: HomeAssistant, filename: str | None) -> dict[str, Any]:
    """Return everything stored locally; also write it to `filename` if given."""
    coordinator = loaded_coordinator(hass)
    text = json.dumps(coordinator.submission.export(), indent=2, sort_keys=True)
    data: dict[str, Any] = json.loads(text)
    if filename is not None:
        path = export_path(hass, filename)
        try:
            await hass.async_add_executor_job(_write, path, text)
        except OSError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="export_failed",
                translation_placeholders={"error": str(err)},
            ) from err
        data["path"] = str(path)
    return data


def preview(hass: HomeAssistant) -> dict[str, Any]:
    """Return what the next submission would send."""
    return loaded_coordinator(hass).submission.preview()


async def async_delete(hass: HomeAssistant) -> dict[str, Any]:
    """Erase the statistics and queue the deletion requests."""
    return await loaded_coordinator(hass).submission.async_delete()


async def async_submit(hass: HomeAssistant) -> dict[str, Any]:
    """Send the oldest waiting message now."""
    return await loaded_coordinator(hass).submission.async_submit()


@callback
def set_consent(hass: HomeAssistant, entry: UsageStatsConfigEntry, level: str) -> None:
    """Change the consent level exactly as the options flow does."""
    if level == ConsentLevel.SHARE and not entry.options.get(CONF_ENDPOINT):
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="endpoint_required"
        )
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_CONSENT: level}
    )


@callback
def set_sections(
    hass: HomeAssistant, entry: UsageStatsConfigEntry, sections: list[str]
) -> list[str]:
    """Choose the report sections to share exactly as the options flow does.

    Unknown names are refused; recording is not affected. Returns the sections
    now shared, in the catalogue's order.
    """
    names = [section.value for section in Section]
    if unknown := sorted(set(sections) - set(names)):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_section",
            translation_placeholders={
                "section": ", ".join(unknown),
                "allowed": ", ".join(names),
            },
        )
    chosen = [name for name in names if name in sections]
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_SECTIONS: chosen}
    )
    return chosen


async def async_accept_report_version(
    hass: HomeAssistant, version: int
) -> dict[str, Any]:
    """Accept a newer report version as the re-consent repair's fix flow does.

    Only a sharing installation accepts, and only the current version newer than
    the one it accepted; the repair issue is then withdrawn.
    """
    coordinator = loaded_coordinator(hass)
    consent = coordinator.consent
    current = report_version()
    if consent.level is not ConsentLevel.SHARE or consent.report_version is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="share_required_to_accept"
        )
    if version != current or version <= consent.report_version:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_report_version",
            translation_placeholders={
                "version": str(version),
                "accepted": str(consent.report_version),
                "current": str(current),
            },
        )
    await coordinator.async_answer_report_version(version, accept=True)
    async_check_report_version(coordinator)
    return {"accepted": version}


def _report_version(coordinator: UsageStatsCoordinator) -> dict[str, Any]:
    """Return the accepted report version and what the current one would add."""
    consent = coordinator.consent
    current = report_version()
    accepted = consent.report_version
    added = metrics_added(accepted, current) if accepted is not None else []
    return {
        "accepted": accepted,
        "current": current,
        "declined": consent.declined_version,
        "added": [
            {
                "metric": item.metric.name,
                "section": str(item.metric.section),
                "label": item.label.name if item.label else None,
                "values": list(item.values),
            }
            for item in added
        ],
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def overview(hass: HomeAssistant) -> dict[str, Any]:
    """Return the consent and submission state the panel shows at the top."""
    coordinator = loaded_coordinator(hass)
    submission = coordinator.submission
    consent = coordinator.consent
    days = sorted(coordinator.stored["days"])
    issues = ir.async_get(hass)
    pending_first = submission.pending_first_day()
    return {
        "consent": {
            "level": consent.level.value,
            "changed_at": _iso(consent.changed_at),
            "share_granted_at": _iso(consent.share_granted_at),
        },
        "levels": [level.value for level in ConsentLevel],
        "report_version": _report_version(coordinator),
        "sections": [
            section.value
            for section in Section
            if section in shared_sections(coordinator.config_entry.options)
        ],
        "all_sections": [section.value for section in Section],
        "endpoint": submission.endpoint,
        "format": submission.report_format.value,
        "retention_days": coordinator.retention_days,
        "days_stored": len(days),
        "first_day": days[0] if days else None,
        "last_day": days[-1] if days else None,
        "pending_first_day": _iso(pending_first),
        "submission": {
            "status": submission.status,
            "reports_waiting": submission.reports_waiting,
            "last_success": _iso(submission.last_success),
            "next_planned": _iso(submission.next_planned),
            "rejected_status": submission.state["rejected_status"],
            "issues": [
                issue
                for issue in (*ISSUES, ISSUE_REPORT_VERSION)
                if issues.async_get_issue(DOMAIN, issue) is not None
            ],
        },
        "printer_integrations": sorted(KNOWN_PRINTER_INTEGRATIONS),
    }


def days(hass: HomeAssistant) -> dict[str, Any]:
    """Return the daily counters of every kept day (UTC days, oldest first)."""
    coordinator = loaded_coordinator(hass)
    stored = coordinator.stored["days"]
    return {
        "retention_days": coordinator.retention_days,
        "days": {day: stored[day] for day in sorted(stored)},
    }


def history(hass: HomeAssistant) -> dict[str, Any]:
    """Return what became of the messages sent, newest first.

    Accepted reports still in the archive carry the body exactly as it was sent.
    """
    return {"history": loaded_coordinator(hass).submission.history()}


async def async_comparison(hass: HomeAssistant) -> dict[str, Any]:
    """Return this installation's printers beside the published statistics.

    Below `share` nothing is fetched: the local numbers only, with `not_shared`.
    """
    coordinator = loaded_coordinator(hass)
    endpoint = coordinator.config_entry.options.get(CONF_ENDPOINT)
    if coordinator.level is not ConsentLevel.SHARE or not endpoint:
        return compare(coordinator.counters, None) | {"status": "not_shared"}
    published = await coordinator.published.async_get(endpoint)
    return compare(coordinator.counters, published)

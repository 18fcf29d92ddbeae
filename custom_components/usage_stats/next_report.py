"""The next report of this installation: which days it covers and what it holds.

Only days from the grant of `share` on are reported (the grant day less what it
had counted before the grant), each day once, and never days older than the
retention. The body is built by report.py from the counters.
"""

from __future__ import annotations

from datetime import date, timedelta
import platform
from typing import Any, Final, Protocol
import uuid

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import __version__ as ha_version
from homeassistant.core import HomeAssistant
from homeassistant.helpers.system_info import async_get_system_info
from homeassistant.util import dt as dt_util

from .catalogue import METRICS, MetricKind, metrics_up_to, report_version
from .consent import ConsentRecord, shared_sections
from .counters import DailyCounters, utc_today
from .report import Period, build_report, period_days
from .store import StoredData, SubmissionData

INSTALLATION_TYPES: Final = frozenset(
    {
        "Home Assistant OS",
        "Home Assistant Container",
        "Home Assistant Supervised",
        "Home Assistant Core",
        "Unsupported Third Party Container",
    }
)


class Owner(Protocol):
    """What reporting needs of the coordinator that owns the store."""

    @property
    def config_entry(self) -> ConfigEntry[Any]:
        """Return the config entry."""

    @property
    def stored(self) -> StoredData:
        """Return the stored data."""

    @property
    def counters(self) -> DailyCounters:
        """Return the daily counters."""

    @property
    def consent(self) -> ConsentRecord:
        """Return the consent record."""

    @property
    def installation_id(self) -> str | None:
        """Return the installation id."""

    @property
    def retention_days(self) -> int:
        """Return how many days of counters are kept."""

    @property
    def integration_version(self) -> str:
        """Return the integration's version."""

    def async_schedule_save(self) -> None:
        """Write the store soon."""

    async def async_save_now(self) -> None:
        """Write the store now."""

    def async_update_listeners(self) -> None:
        """Tell the entities."""


class NextReport:
    """Builds the report of the days not yet reported."""

    def __init__(self, hass: HomeAssistant, owner: Owner) -> None:
        """Initialize; the state lives in the owner's store."""
        self.hass = hass
        self.owner = owner
        self.installation_type = "Unknown"

    @property
    def state(self) -> SubmissionData:
        """Return the submission state (changed in place)."""
        return self.owner.stored["submission"]

    async def async_detect_installation_type(self) -> None:
        """Find out how Home Assistant is installed (one of a fixed list)."""
        try:
            info = await async_get_system_info(self.hass)
        except Exception:  # noqa: BLE001 - statistics never break Home Assistant
            info = {}
        if (kind := info.get("installation_type")) in INSTALLATION_TYPES:
            self.installation_type = kind

    def installation(self) -> dict[str, str]:
        """Return the report's `installation` section."""
        info = {
            "integration_version": self.owner.integration_version,
            "ha_version": ha_version,
            "python_version": platform.python_version(),
            "installation_type": self.installation_type,
        }
        if country := self.hass.config.country:
            info["country_code"] = country
        return info

    def take_baseline(self) -> None:
        """Keep the grant day's counters so far: they are never sent."""
        today = self.owner.counters.today()
        metrics = self.owner.stored["days"].get(today, {})
        self.state["baseline"] = {
            "day": today,
            "metrics": {
                name: dict(labels)
                for name, labels in metrics.items()
                if (metric := METRICS.get(name)) is not None
                and metric.kind is not MetricKind.SNAPSHOT
            },
        }

    def oldest_kept_day(self) -> date:
        """Return the oldest day the retention keeps."""
        return utc_today() - timedelta(days=self.owner.retention_days - 1)

    def first_day(self) -> date | None:
        """Return the first day not yet reported that may be sent, None below share."""
        granted = self.owner.consent.share_granted_at
        if granted is None:
            return None
        grant_day = dt_util.as_utc(granted).date()
        baseline = self.state["baseline"]
        # Without a baseline (data from before it existed) the grant day is skipped.
        first = grant_day
        if baseline is None or baseline["day"] != grant_day.isoformat():
            first += timedelta(days=1)
        if through := self.state["submitted_through"]:
            first = max(first, date.fromisoformat(through) + timedelta(days=1))
        return max(first, self.oldest_kept_day())

    def submission_id(self) -> str:
        """Return the submission_id the next report carries (kept until it is queued)."""
        if (submission_id := self.state["next_submission_id"]) is None:
            submission_id = self.state["next_submission_id"] = str(uuid.uuid4())
            self.owner.async_schedule_save()
        return submission_id

    def build(self, period: Period, installation_id: str) -> dict[str, Any]:
        """Return the body of the report of `period`."""
        # Only metrics of the report version the user accepted (below share, the
        # preview shows what sharing now would send: the current version).
        version = self.owner.consent.report_version or report_version()
        allowed = metrics_up_to(version)
        days = period_days(self.owner.counters, period, self.state["baseline"])
        return build_report(
            {
                day: {
                    name: labels for name, labels in metrics.items() if name in allowed
                }
                for day, metrics in days.items()
            },
            period,
            submission_id=self.submission_id(),
            installation_id=installation_id,
            installation=self.installation(),
            shared=shared_sections(self.owner.config_entry.options),
        )

    def taken(self, last: date) -> None:
        """Note that the days through `last` were queued; the next report gets a new id."""
        self.state["submitted_through"] = last.isoformat()
        self.state["next_submission_id"] = None

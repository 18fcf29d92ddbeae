"""The coordinator: owns the store, the consent record and the local statistics."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .catalogue import Metric, report_version
from .consent import RECORDING_LEVELS, ConsentRecord, leaves_share, new_installation_id
from .const import (
    CONF_CONSENT,
    CONF_RETENTION_DAYS,
    DEFAULT_RETENTION_DAYS,
    DOMAIN,
    LOGGER,
    SAVE_DELAY,
    SIGNAL_UPDATED,
    ConsentLevel,
)
from .counters import DailyCounters
from .published import PublishedStats
from .store import (
    StoredData,
    UnsupportedStorageVersionError,
    UsageStatsStore,
    empty_data,
)
from .submission import Submission

type UsageStatsConfigEntry = ConfigEntry[UsageStatsCoordinator]

# Entities are told about new counts at most this often.
LISTENER_DELAY = 1.0


class UsageStatsCoordinator(DataUpdateCoordinator[None]):
    """Keeps the integration's state; entities listen to it.

    Nothing is polled: collectors push into it, and it tells its listeners.
    """

    config_entry: UsageStatsConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: UsageStatsConfigEntry,
        integration_version: str,
    ) -> None:
        """Initialize the coordinator."""
        super().__init__(hass, LOGGER, config_entry=entry, name=DOMAIN)
        self.integration_version = integration_version
        self.store = UsageStatsStore(hass)
        self.stored: StoredData = empty_data()
        self.consent = ConsentRecord()
        self.counters = DailyCounters(self.stored["days"])
        self.submission = Submission(hass, self)
        self.published = PublishedStats(hass)
        self._unsub_save: CALLBACK_TYPE | None = None
        self._unsub_listener_update: CALLBACK_TYPE | None = None
        # Only data that was loaded may be written back: a store we could not
        # read (for example from a newer version) must stay untouched.
        self._loaded = False

    @property
    def installation_id(self) -> str | None:
        """Return the installation id; None until `share` was first granted."""
        return self.stored["installation_id"]

    async def async_load(self) -> None:
        """Load the store and apply the consent level chosen in the entry."""
        try:
            stored = await self.store.async_load_data()
        except UnsupportedStorageVersionError as err:
            raise ConfigEntryError(
                translation_domain=DOMAIN,
                translation_key="unsupported_storage_version",
                translation_placeholders={"error": str(err)},
            ) from err
        self.stored = stored or empty_data()
        self.counters = DailyCounters(self.stored["days"])
        self._loaded = True
        self.consent = ConsentRecord.from_dict(self.stored["consent"])
        level = ConsentLevel(self.config_entry.options[CONF_CONSENT])
        if stored is None or level != self.consent.level:
            self._apply_consent(level)
        self.async_prune()

    @property
    def _recording_levels(self) -> frozenset[ConsentLevel]:
        """Return the metric levels that the consent in force lets us record."""
        return RECORDING_LEVELS[self.consent.level]

    @callback
    def _apply_consent(self, level: ConsentLevel) -> None:
        """Record a new consent level, dated now."""
        before = self.consent.level
        self.consent = self.consent.with_level(
            level, dt_util.utcnow(), report_version()
        )
        self.stored["consent"] = self.consent.as_dict()
        if level is ConsentLevel.SHARE and self.installation_id is None:
            self.stored["installation_id"] = new_installation_id()
        self.submission.consent_changed(level, left_share=leaves_share(before, level))
        self.async_schedule_save()

    async def async_answer_report_version(self, version: int, *, accept: bool) -> None:
        """Record the user's answer to a newer report version, and write it at once."""
        self.consent = (
            self.consent.accepting(version)
            if accept
            else self.consent.declining(version)
        )
        self.stored["consent"] = self.consent.as_dict()
        await self.async_save_now()
        self.async_update_listeners()

    @property
    def level(self) -> ConsentLevel:
        """Return the consent level in force."""
        return self.consent.level

    @property
    def retention_days(self) -> int:
        """Return how many days of counters are kept."""
        return int(
            self.config_entry.options.get(CONF_RETENTION_DAYS, DEFAULT_RETENTION_DAYS)
        )

    @callback
    def record(self, metric: Metric, *labels: str, amount: int = 1) -> bool:
        """Count `amount` for `labels` of `metric` today; False when refused.

        Refused: consent below the metric's level, or a label the catalogue does
        not allow. This runs for every recorded event, so it stays small.
        """
        if metric.min_consent not in self._recording_levels:
            return False
        if (key := metric.label_key(*labels)) is None:
            LOGGER.debug("Refused a label of metric %s", metric.name)
            return False
        self.counters.add(metric, key, amount)
        if self._unsub_save is None or self._unsub_listener_update is None:
            self.async_changed()
        return True

    @callback
    def record_snapshot(
        self, metric: Metric, values: dict[tuple[str, ...], int]
    ) -> bool:
        """Set today's snapshot of `metric`; labels the catalogue refuses are left out."""
        if metric.min_consent not in self._recording_levels:
            return False
        keys: dict[str, int] = {}
        for labels, value in values.items():
            if (key := metric.label_key(*labels)) is not None:
                keys[key] = value
        self.counters.set(metric, keys)
        self.async_changed()
        return True

    @callback
    def async_prune(self) -> None:
        """Drop the days older than the retention."""
        if self.counters.prune(self.retention_days):
            self.async_changed()

    @callback
    def async_changed(self) -> None:
        """Schedule a store write and an entity update after counts changed."""
        self.async_schedule_save()
        if self._unsub_listener_update is None:
            self._unsub_listener_update = async_call_later(
                self.hass, LISTENER_DELAY, self._async_update_listeners_later
            )

    @callback
    def _async_update_listeners_later(self, _now: object) -> None:
        self._unsub_listener_update = None
        self.async_update_listeners()

    @callback
    def async_schedule_save(self) -> None:
        """Write the store soon; many changes in a row make one write."""
        if self._unsub_save is None and self._loaded:
            self._unsub_save = async_call_later(
                self.hass, SAVE_DELAY, self._async_save_later
            )

    @callback
    def _async_save_later(self, _now: object = None) -> None:
        """Hand a snapshot, taken here on the event loop, to the store."""
        self._cancel_save()
        self.store.async_save_data_soon(self.stored)

    @callback
    def _cancel_save(self) -> None:
        if self._unsub_save is not None:
            self._unsub_save()
            self._unsub_save = None

    @callback
    def async_flush_at_stop(self, _event: object = None) -> None:
        """Write what is pending when Home Assistant stops."""
        if self._unsub_save is not None:
            self._async_save_later()

    @callback
    def async_update_listeners(self) -> None:
        """Tell the entities and any open panel that something changed."""
        super().async_update_listeners()
        async_dispatcher_send(self.hass, SIGNAL_UPDATED)

    async def async_save_now(self) -> None:
        """Write the store at once (the outbox must survive a restart)."""
        self._cancel_save()
        await self.store.async_save_data(self.stored)

    async def async_shutdown(self) -> None:
        """Write what is pending before the entry unloads."""
        await super().async_shutdown()
        if self._unsub_listener_update is not None:
            self._unsub_listener_update()
            self._unsub_listener_update = None
        if self._loaded:
            await self.async_save_now()

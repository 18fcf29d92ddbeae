"""Error types: a logging handler that keeps only the exception class and component.

Only errors logged by the configured printer integrations and by Usage
Statistics itself are counted, by the logger they are logged under
(`homeassistant.components.<domain>…` or `custom_components.<domain>…`). Errors of
any other integration, of Home Assistant core and of libraries are not recorded
at all. The handler runs on whatever thread logs. It never reads the message,
the traceback, the file or the line, never logs itself, and does no more than
count under a lock; the counts are moved into the statistics on the event loop.
"""

from __future__ import annotations

from collections import Counter
import logging
import threading

from homeassistant.core import HomeAssistant, callback

from ..catalogue import ERRORS, OTHER
from ..const import CONF_PRINTER_INTEGRATIONS, DOMAIN
from ..coordinator import UsageStatsCoordinator
from ..printers import DEFAULT_PRINTER_INTEGRATIONS
from ..privacy import safe_class_name

NO_EXCEPTION = "no_exception"
# Logger name prefixes under which an integration's own modules log.
_INTEGRATION_PREFIXES = ("homeassistant.components.", "custom_components.")


class ErrorTypeHandler(logging.Handler):
    """Counts (integration, exception class) of errors and of warnings with an exception.

    Only records of the integrations in `domains` are counted.
    """

    def __init__(self, hass: HomeAssistant, domains: frozenset[str]) -> None:
        """Initialize the handler."""
        super().__init__(logging.WARNING)
        self.hass = hass
        self.domains = domains
        self.pending: Counter[tuple[str, str]] = Counter()
        self._pending_lock = threading.Lock()
        self._drain_scheduled = False
        self.drain_target: UsageStatsCoordinator | None = None

    def handle(self, record: logging.LogRecord) -> bool:
        """Count a record; skips the formatting and locking of logging.Handler."""
        if record.levelno < logging.ERROR and not record.exc_info:
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        """Count the record's component and exception class."""
        try:
            if (component := self.component(record.name)) is None:
                return
            key = (component, _exception_class(record))
            with self._pending_lock:
                self.pending[key] += 1
                schedule = not self._drain_scheduled
                self._drain_scheduled = True
            if schedule:
                self.hass.loop.call_soon_threadsafe(self.drain)
        except Exception:  # noqa: BLE001 - statistics must never break logging
            return

    def component(self, logger_name: str) -> str | None:
        """Return the watched integration a logger belongs to, None for any other."""
        for prefix in _INTEGRATION_PREFIXES:
            if logger_name.startswith(prefix):
                domain = logger_name[len(prefix) :].partition(".")[0]
                return domain if domain in self.domains else None
        return None

    @callback
    def drain(self) -> None:
        """Move the pending counts into the statistics (on the event loop)."""
        with self._pending_lock:
            pending, self.pending = self.pending, Counter()
            self._drain_scheduled = False
        if (target := self.drain_target) is None:
            return
        for (component, error_type), count in pending.items():
            if not target.record(ERRORS, component, error_type, amount=count):
                target.record(ERRORS, OTHER, OTHER, amount=count)


def _exception_class(record: logging.LogRecord) -> str:
    if record.exc_info and (exc_type := record.exc_info[0]) is not None:
        return safe_class_name(exc_type.__name__) or OTHER
    return NO_EXCEPTION


def async_setup_error_collector(coordinator: UsageStatsCoordinator) -> None:
    """Attach the handler to the root logger while the entry is loaded."""
    domains = coordinator.config_entry.options.get(
        CONF_PRINTER_INTEGRATIONS, DEFAULT_PRINTER_INTEGRATIONS
    )
    handler = ErrorTypeHandler(coordinator.hass, frozenset(domains) | {DOMAIN})
    handler.drain_target = coordinator
    root = logging.getLogger()
    root.addHandler(handler)

    @callback
    def _detach() -> None:
        root.removeHandler(handler)
        handler.drain_target = None

    coordinator.config_entry.async_on_unload(_detach)

"""Constants for the Usage Statistics integration."""

from __future__ import annotations

from enum import StrEnum
import logging
from typing import Final

DOMAIN: Final = "usage_stats"
NAME: Final = "Usage Statistics"
LOGGER = logging.getLogger(__package__)

CONF_CONSENT: Final = "consent"
CONF_ENDPOINT: Final = "endpoint"
CONF_RETENTION_DAYS: Final = "retention_days"
CONF_PRINTER_INTEGRATIONS: Final = "printer_integrations"
CONF_FEATURE_ENTITIES: Final = "feature_entities"
CONF_FORMAT: Final = "format"
# The report sections the user shares (all when absent).
CONF_SECTIONS: Final = "sections"

DEFAULT_RETENTION_DAYS: Final = 90
MIN_RETENTION_DAYS: Final = 7
MAX_RETENTION_DAYS: Final = 365

STORAGE_KEY: Final = f"{DOMAIN}.data"
STORAGE_VERSION: Final = 1
STORAGE_MINOR_VERSION: Final = 7
# Debounce for store writes: at most one write per this many seconds.
SAVE_DELAY: Final = 10


# Event fired after every request to the endpoint, with the outcome only.
EVENT_SUBMITTED: Final = f"{DOMAIN}_submitted"


class ReportFormat(StrEnum):
    """The wire format of the weekly report."""

    JSON = "json"
    OTLP = "otlp"


DEFAULT_FORMAT: Final = ReportFormat.JSON


class ConsentLevel(StrEnum):
    """How much the user agreed to: each level includes the ones before it."""

    DISABLED = "disabled"
    LOCAL = "local"
    SHARE = "share"

    def allows(self, required: ConsentLevel) -> bool:
        """Return True when this level includes `required`."""
        levels = list(ConsentLevel)
        return levels.index(self) >= levels.index(required)


# Sent (without arguments) whenever what the panel shows may have changed.
SIGNAL_UPDATED: Final = f"{DOMAIN}_updated"

# The sidebar panel.
PANEL_URL_PATH: Final = "usage-stats"
PANEL_ICON: Final = "mdi:chart-box-outline"
PANEL_ELEMENT: Final = "usage-stats-panel"
PANEL_STATIC_URL: Final = f"/{DOMAIN}_static"
PANEL_BUNDLE: Final = "usage-stats-panel.js"

# The label of a printer's model or firmware its integration does not read from the
# printer (and of a model a printer reports as unknown).
UNKNOWN: Final = "unknown"

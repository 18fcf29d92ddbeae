"""Reference collector for the usage_stats Home Assistant integration."""

__version__ = "0.1.0"

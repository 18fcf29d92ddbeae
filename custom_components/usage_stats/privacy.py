"""Checks that keep free text and identifying values out of the statistics.

Labels are short identifiers. A value is refused when it is not one, or when it
looks like something identifying even though it is made of identifier characters
(a serial number, a long hex string).
"""

from __future__ import annotations

import re
from typing import Final

from .const import UNKNOWN

MAX_LABEL_LENGTH: Final = 32

# What a label may be: lowercase letters, digits and underscores, starting with a letter.
LABEL_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
# Exception class names keep their capitals, but are still plain identifiers.
CLASS_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

# Patterns of identifying values, checked on top of the character set so that the
# reason for a refusal can be named, and so that identifier-shaped secrets
# (serial numbers, hex ids) are refused too.
PII_PATTERNS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("email", re.compile(r"[^@\s]+@[^@\s]+")),
    ("url", re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)),
    ("ip_address", re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b|[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}", re.IGNORECASE)),
    ("mac_address", re.compile(r"\b[0-9a-f]{2}([:-]?[0-9a-f]{2}){5}\b", re.IGNORECASE)),
    ("uuid", re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE)),
    ("path", re.compile(r"[/\\]|^~|\.\.")),
    ("host_name", re.compile(r"\b[a-z0-9-]+(\.[a-z0-9-]+)+\b", re.IGNORECASE)),
    ("serial_number", re.compile(r"\d{5,}|(?=[a-z0-9]*\d)(?=[a-z0-9]*[a-z])[a-z0-9]{10,}|[0-9a-f]{12,}", re.IGNORECASE)),
)  # fmt: skip


def pii_kind(value: str) -> str | None:
    """Return which kind of identifying value `value` looks like, or None."""
    for kind, pattern in PII_PATTERNS:
        if pattern.search(value):
            return kind
    return None


def label_error(value: object) -> str | None:
    """Return why `value` is not an acceptable label, or None when it is."""
    if not isinstance(value, str):
        return "not_text"
    if kind := pii_kind(value):
        return kind
    if len(value) > MAX_LABEL_LENGTH:
        return "too_long"
    if not LABEL_RE.fullmatch(value):
        return "not_identifier"
    return None


# An integration's manifest version (or Home Assistant's): a version string its author
# chose, never typed by the user; AwesomeVersion accepts these forms and more.
VERSION_RE: Final = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+-]{0,31}")
# A printer model as a label: like a label, but it may start with a digit (Dremel's 3D45).
MODEL_RE: Final = re.compile(r"[a-z0-9][a-z0-9_]{0,31}")
FIRMWARE_RE: Final = re.compile(r"[0-9]{1,4}\.[0-9]{1,4}")
_NOT_MODEL_CHARACTERS: Final = re.compile(r"[^a-z0-9]+")
_MAJOR_MINOR: Final = re.compile(r"(?<![0-9])([0-9]{1,4})\.([0-9]{1,4})")


def version_error(value: object) -> str | None:
    """Return why `value` is not an acceptable integration version, or None."""
    if not isinstance(value, str):
        return "not_text"
    if not VERSION_RE.fullmatch(value):
        return "not_version"
    return None


def model_error(value: object) -> str | None:
    """Return why `value` is not an acceptable printer model label, or None."""
    if not isinstance(value, str):
        return "not_text"
    if kind := pii_kind(value):
        return kind
    if not MODEL_RE.fullmatch(value):
        return "not_identifier"
    return None


def firmware_error(value: object) -> str | None:
    """Return why `value` is not an acceptable `major.minor` firmware label, or None."""
    if not isinstance(value, str):
        return "not_text"
    if not FIRMWARE_RE.fullmatch(value):
        return "not_firmware"
    return None


def model_label(model: str | None, *typed: str | None) -> str | None:
    """Return a printer model as a label, or None when it is not one.

    `typed` are the values a person may have typed for the device (its name, the
    name they gave it): a model equal to one of them is refused, because it may be
    a name rather than what the printer reports.
    """
    if not model or pii_kind(model.strip()):
        # Checked as given too: made a label, a host name or an e-mail address
        # would pass as plain words (`printer.local` -> `printer_local`).
        return None
    label = _NOT_MODEL_CHARACTERS.sub("_", model.lower()).strip("_")
    names = {
        _NOT_MODEL_CHARACTERS.sub("_", name.lower()).strip("_")
        for name in typed
        if name
    }
    # A printer that does not know its model (Bambu Lab's "UNKNOWN" for one newer
    # than the integration) has none: not a model called `unknown`.
    if label == UNKNOWN or label in names or model_error(label) is not None:
        return None
    return label


def firmware_label(version: str | None) -> str | None:
    """Return `major.minor` of a firmware version (leading zeros dropped), or None."""
    if not version or not (match := _MAJOR_MINOR.search(version)):
        return None
    label = f"{int(match[1])}.{int(match[2])}"
    return label if firmware_error(label) is None else None


def safe_class_name(value: str) -> str | None:
    """Return an exception class name if it is a plain identifier, else None."""
    if CLASS_NAME_RE.fullmatch(value) and not pii_kind(value):
        return value
    return None

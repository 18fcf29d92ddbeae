"""Validation of events recorded with the `usage_stats.record_event` action.

Everything of a call is checked before anything is recorded, so a refused call
stores nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .catalogue import CUSTOM_EVENT_PREFIX, EVENT_TYPES, number_bucket
from .privacy import MAX_LABEL_LENGTH, label_error

MAX_METADATA_KEYS: Final = 10


@dataclass(slots=True)
class EventRefusedError(Exception):
    """An event was refused; `reason` is a translation key, `placeholders` its values."""

    reason: str
    placeholders: dict[str, str]


def _refuse(reason: str, **placeholders: str) -> EventRefusedError:
    return EventRefusedError(reason, placeholders)


def _check_label(field: str, value: str) -> None:
    if (error := label_error(value)) is None:
        return
    if error == "too_long":
        raise _refuse("value_too_long", field=field, max=str(MAX_LABEL_LENGTH))
    if error == "not_identifier":
        raise _refuse("not_identifier", field=field)
    raise _refuse("identifying_value", field=field, kind=error)


def validate_event(
    event_type: str, metadata: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """Return the (key, value label) pairs to record, or raise EventRefusedError."""
    _check_label("event_type", event_type)
    declared = EVENT_TYPES.get(event_type)
    custom = event_type.startswith(CUSTOM_EVENT_PREFIX) and len(event_type) > len(
        CUSTOM_EVENT_PREFIX
    )
    if declared is None and not custom:
        raise _refuse("unknown_event_type", event_type=event_type)
    if len(metadata) > MAX_METADATA_KEYS:
        raise _refuse("too_much_metadata", max=str(MAX_METADATA_KEYS))
    pairs: list[tuple[str, str]] = []
    for key, value in metadata.items():
        field = f"metadata.{key}"
        if not isinstance(key, str):
            raise _refuse("not_identifier", field="metadata")
        _check_label(field, key)
        if declared is not None:
            pairs.append((key, _declared_value(field, declared.metadata, key, value)))
        else:
            pairs.append((key, _custom_value(field, value)))
    return pairs


def _declared_value(
    field: str, declared: Mapping[str, tuple[str, ...]], key: str, value: Any
) -> str:
    if key not in declared:
        raise _refuse("unknown_metadata_key", field=field)
    allowed = declared[key]
    if not allowed:
        if isinstance(value, bool):
            return str(value).lower()
        raise _refuse("invalid_metadata_value", field=field, allowed="true, false")
    if isinstance(value, str) and value in allowed:
        return value
    raise _refuse("invalid_metadata_value", field=field, allowed=", ".join(allowed))


def _custom_value(field: str, value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        if value != value:  # NaN  # noqa: PLR0124
            raise _refuse("not_identifier", field=field)
        return number_bucket(value)
    if isinstance(value, str):
        _check_label(field, value)
        return value
    raise _refuse("not_identifier", field=field)

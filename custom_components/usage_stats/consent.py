"""The consent record: which level the user chose, and since when."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Self
import uuid

from homeassistant.util import dt as dt_util

from .const import ConsentLevel


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """A dated record of the user's consent.

    `share_granted_at` is the moment `share` was last granted; nothing recorded
    before it is ever sent. It is cleared when consent drops below `share`, so a
    later grant starts a new period.
    """

    level: ConsentLevel = ConsentLevel.DISABLED
    changed_at: datetime | None = None
    share_granted_at: datetime | None = None

    def with_level(self, level: ConsentLevel, now: datetime) -> Self:
        """Return the record after the user chose `level` at `now`."""
        if level == self.level and self.changed_at is not None:
            return self
        granted = now if level is ConsentLevel.SHARE else None
        return replace(self, level=level, changed_at=now, share_granted_at=granted)

    def as_dict(self) -> dict[str, Any]:
        """Return the record in its stored form."""
        return {
            "level": self.level.value,
            "changed_at": _iso(self.changed_at),
            "share_granted_at": _iso(self.share_granted_at),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Return the record from its stored form."""
        return cls(
            level=ConsentLevel(data["level"]),
            changed_at=_parse(data.get("changed_at")),
            share_granted_at=_parse(data.get("share_granted_at")),
        )


def new_installation_id() -> str:
    """Return a new random installation id (never derived from the machine)."""
    return str(uuid.uuid4())


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse(value: str | None) -> datetime | None:
    return dt_util.parse_datetime(value) if value else None

"""Consent: the dated record of what the user chose, and every decision that follows.

Which metrics may be recorded, whether reports may be sent, and what changes when
the user leaves or (re)joins `share` are decided here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final, Self
import uuid

from homeassistant.util import dt as dt_util

from .catalogue import Section
from .const import CONF_SECTIONS, ConsentLevel


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """A dated record of the user's consent.

    `share_granted_at` is the moment `share` was last granted; nothing recorded
    before it is ever sent. It is cleared when consent drops below `share`, so a
    later grant starts a new period. `report_version` is the report version the
    user accepted while sharing (a report holds only metrics of that version or
    older); `declined_version` the newer version the user said no to.
    """

    level: ConsentLevel = ConsentLevel.DISABLED
    changed_at: datetime | None = None
    share_granted_at: datetime | None = None
    report_version: int | None = None
    declined_version: int | None = None

    def with_level(self, level: ConsentLevel, now: datetime, version: int) -> Self:
        """Return the record after the user chose `level` at `now`.

        Granting `share` accepts the current report `version`: the user was shown
        what it holds.
        """
        if level == self.level and self.changed_at is not None:
            return self
        sharing = level is ConsentLevel.SHARE
        return replace(
            self,
            level=level,
            changed_at=now,
            share_granted_at=now if sharing else None,
            report_version=version if sharing else None,
            declined_version=None,
        )

    def accepting(self, version: int) -> Self:
        """Return the record after the user accepted report `version`."""
        return replace(self, report_version=version, declined_version=None)

    def declining(self, version: int) -> Self:
        """Return the record after the user declined report `version`."""
        return replace(self, declined_version=version)

    def version_to_ask(self, version: int) -> int | None:
        """Return the newer report version to ask about, or None.

        Only an installation that shares is asked; a version declined is not
        asked about again, a later one is.
        """
        if self.level is not ConsentLevel.SHARE or self.report_version is None:
            return None
        if version <= self.report_version:
            return None
        if self.declined_version is not None and version <= self.declined_version:
            return None
        return version

    def as_dict(self) -> dict[str, Any]:
        """Return the record in its stored form."""
        return {
            "level": self.level.value,
            "changed_at": _iso(self.changed_at),
            "share_granted_at": _iso(self.share_granted_at),
            "report_version": self.report_version,
            "declined_version": self.declined_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Return the record from its stored form."""
        return cls(
            level=ConsentLevel(data["level"]),
            changed_at=_parse(data.get("changed_at")),
            share_granted_at=_parse(data.get("share_granted_at")),
            report_version=data.get("report_version"),
            declined_version=data.get("declined_version"),
        )


# For each consent level, the metric levels it allows to record.
RECORDING_LEVELS: Final[Mapping[ConsentLevel, frozenset[ConsentLevel]]] = {
    level: frozenset(
        required
        for required in ConsentLevel
        if required is not ConsentLevel.DISABLED and level.allows(required)
    )
    for level in ConsentLevel
}


def may_send_reports(level: ConsentLevel, endpoint: str | None) -> bool:
    """Return True when reports may be sent: `share` and an endpoint.

    Deletion requests are the user's right and are sent at any level.
    """
    return level is ConsentLevel.SHARE and bool(endpoint)


SECTION_NAMES: Final = frozenset(section.value for section in Section)


def shared_sections(options: Mapping[str, Any]) -> frozenset[Section]:
    """Return the report sections the user chose to share (all of them by default).

    Recording is not affected: a section left out is still counted locally.
    """
    chosen = options.get(CONF_SECTIONS)
    if chosen is None:
        return frozenset(Section)
    return frozenset(Section(name) for name in chosen if name in SECTION_NAMES)


def leaves_share(before: ConsentLevel, after: ConsentLevel) -> bool:
    """Return True when consent drops from `share` to a lower level."""
    return before is ConsentLevel.SHARE and after is not ConsentLevel.SHARE


def new_installation_id() -> str:
    """Return a new random installation id (never derived from the machine)."""
    return str(uuid.uuid4())


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse(value: str | None) -> datetime | None:
    return dt_util.parse_datetime(value) if value else None

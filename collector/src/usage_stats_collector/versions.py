"""The order of version strings (integration and firmware versions), newest last.

Versions are compared part by part: numbers as numbers (``1.10`` after ``1.9``), letters as
text, and a pre-release (``1.2.0b1``, ``2025.1.0.dev3``) before its release. Anything the
schema's version pattern allows sorts somewhere, deterministically.
"""

from __future__ import annotations

import re

_PART = re.compile(r"[0-9]+|[A-Za-z]+")
# One part: (rank, number, text). A release ends with rank 0; letters rank below it (a
# pre-release before its release), numbers above (1.2.0.1 after 1.2.0).
Part = tuple[int, int, str]


def version_key(version: str) -> tuple[Part, ...]:
    """A sort key: ``sorted(versions, key=version_key)`` puts the newest last."""
    parts: list[Part] = [
        (1, int(part), "") if part.isdigit() else (-1, 0, part.lower()) for part in _PART.findall(version)
    ]
    parts.append((0, 0, version))  # the end of the version; the text keeps the order total
    return tuple(parts)


def newest_first(versions: list[str]) -> list[str]:
    """The versions, newest first."""
    return sorted(versions, key=version_key, reverse=True)

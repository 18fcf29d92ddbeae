"""Reports carry a random installation id: they are pseudonymous, never called anonymous."""

from __future__ import annotations

from pathlib import Path
import re

import pytest

ROOT = Path(__file__).parent.parent
INTEGRATION = ROOT / "custom_components" / "usage_stats"
COLLECTOR = ROOT / "collector"

# Everything a user reads: documentation, the dialogs and actions, the collector's page.
USER_FACING = (
    ROOT / "README.md",
    INTEGRATION / "translations" / "en.json",
    INTEGRATION / "translations" / "de.json",
    INTEGRATION / "services.yaml",
    COLLECTOR / "README.md",
    COLLECTOR / "pyproject.toml",
    COLLECTOR / "src" / "usage_stats_collector" / "page.py",
)
# "anonymous", "anonymen", "anonym", "Anonymität"..., but not the technical term
# k-anonymity, which describes the published aggregates, not the reports.
ANONYMOUS = re.compile(r"(?<![kK][-_ ])anonym", re.IGNORECASE)


def _lines(path: Path) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}"
        for number, line in enumerate(
            path.read_text(encoding="utf-8").splitlines(), start=1
        )
        if ANONYMOUS.search(line)
    ]


@pytest.mark.parametrize("path", USER_FACING, ids=lambda path: path.name)
def test_reports_never_called_anonymous(path: Path) -> None:
    """No user-facing text calls the reports anonymous (en or de)."""
    assert _lines(path) == []


def test_pattern_finds_the_words() -> None:
    """The check finds the English and German words and spares k-anonymity."""
    for text in ("an anonymous report", "einen anonymen Bericht", "Anonym", "anonym."):
        assert ANONYMOUS.search(text), text
    for text in ("k-anonymous aggregates", "--k-anonymity", "k_anonymity", "pseudonym"):
        assert not ANONYMOUS.search(text), text


@pytest.mark.parametrize(
    ("path", "words"),
    [
        (ROOT / "README.md", ("pseudonymous", "counting", "delet", "derived")),
        (COLLECTOR / "README.md", ("pseudonymous",)),
        (INTEGRATION / "translations" / "en.json", ("pseudonymous", "derived")),
        (INTEGRATION / "translations" / "de.json", ("pseudonym", "abgeleitet")),
        (COLLECTOR / "src" / "usage_stats_collector" / "page.py", ("pseudonymous",)),
    ],
    ids=lambda value: value.name if isinstance(value, Path) else "",
)
def test_pseudonymous_is_explained(path: Path, words: tuple[str, ...]) -> None:
    """Where reports are described, they are called pseudonymous, with what the id is for."""
    text = path.read_text(encoding="utf-8").lower()
    assert [word for word in words if word.lower() not in text] == []

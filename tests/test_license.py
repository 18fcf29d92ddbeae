"""The licence files match the licences the packages declare."""

from __future__ import annotations

from pathlib import Path
import tomllib

ROOT = Path(__file__).parent.parent


def _declared(pyproject: Path) -> str:
    return str(
        tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["license"]
    )


def test_repository_license_is_the_declared_apache_2() -> None:
    """LICENSE holds the full Apache 2.0 text the integration's pyproject declares."""
    assert _declared(ROOT / "pyproject.toml") == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.lstrip().startswith(
        "Apache License\n                           Version 2.0"
    )
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert len(text) > 11_000  # The whole licence, not a reference to it.


def test_collector_license_is_the_declared_mit() -> None:
    """collector/LICENSE holds the MIT text the collector's pyproject declares."""
    assert _declared(ROOT / "collector" / "pyproject.toml") == "MIT"
    text = (ROOT / "collector" / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text

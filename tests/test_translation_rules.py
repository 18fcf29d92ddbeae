"""hassfest's rule for translation values, applied to every string in en and de.

hassfest (script/hassfest/translations.py of Home Assistant core, not part of the
wheel) validates each translated text with `validate_translation_value`: no HTML
(Home Assistant's own `cv.string_with_no_html`, which refuses anything like `<name>`),
no placeholder in single quotes, placeholders that are identifiers, a `[%key:...%]`
reference only as the whole string, no leading or trailing whitespace, and no URL
(links belong in description placeholders). This test states the same checks.
"""

from __future__ import annotations

import json
from pathlib import Path
import re
import string
from typing import Any

import pytest
import voluptuous as vol

from homeassistant.helpers import config_validation as cv

TRANSLATIONS = (
    Path(__file__).parent.parent / "custom_components" / "usage_stats" / "translations"
)

PLACEHOLDER_IN_SINGLE_QUOTES = re.compile(r"'{\w+}'")
# Text around a `[%key:...%]` reference.
COMBINED_REFERENCE = re.compile(r"(.+\[%)|(%\].+)")
# A URL as hassfest sees one: a scheme it knows or `www.`, then a host name with a
# top-level domain of 2 to 5 letters, an optional port and path.
SCHEMES = "ftp|ftps|scp|http|https|mqtt|mqtts|socket|socks5"
URL = re.compile(
    rf"((({SCHEMES}):\/\/|www\.)[a-z0-9]+([\-\.]{{1}}[a-z0-9]+)*\.[a-z]{{2,5}}"
    r"(:[0-9]{1,5})?(\/.*)?)",
    re.IGNORECASE,
)


def check_translation_value(value: Any) -> str:
    """Return the value, or raise vol.Invalid where hassfest would refuse it."""
    text = cv.string_with_no_html(value)
    if PLACEHOLDER_IN_SINGLE_QUOTES.search(text):
        raise vol.Invalid(
            "the string should not contain placeholders inside single quotes"
        )
    for _, field_name, _, _ in string.Formatter().parse(text):
        if field_name and not field_name.isidentifier():
            raise vol.Invalid("placeholders must be valid identifiers")
    if COMBINED_REFERENCE.search(text):
        raise vol.Invalid("the string should not contain combined translations")
    if text != text.strip():
        raise vol.Invalid("the string should not contain leading or trailing spaces")
    if URL.search(text):
        raise vol.Invalid("the string should not contain URLs")
    return text


def _strings(tree: dict[str, Any], prefix: str) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for key, value in tree.items():
        path = f"{prefix}.{key}"
        found += _strings(value, path) if isinstance(value, dict) else [(path, value)]
    return found


ALL_STRINGS = [
    item
    for language in ("en", "de")
    for item in _strings(
        json.loads((TRANSLATIONS / f"{language}.json").read_text(encoding="utf-8")),
        language,
    )
]


def test_every_language_is_checked() -> None:
    """Both translation files are read, with many strings each."""
    languages = {path.split(".", 1)[0] for path, _ in ALL_STRINGS}
    assert languages == {"en", "de"}
    assert len(ALL_STRINGS) > 100


@pytest.mark.parametrize(
    ("path", "value"), ALL_STRINGS, ids=[p for p, _ in ALL_STRINGS]
)
def test_translation_follows_hassfest_rule(path: str, value: Any) -> None:
    """Every translated string passes hassfest's check of translation values."""
    check_translation_value(value)


@pytest.mark.parametrize(
    "value",
    [
        "JSON sends the report to <endpoint>/v1/reports.",
        "Bold <b>text</b>",
        "for example https://stats.example.org.",
        "see www.example.com",
        "mqtt://broker.local:1883/topic",
        "The '{name}' printer",
        "A {0} positional placeholder",
        "Prefix [%key:common::config_flow::data::host%]",
        " leading space",
        "trailing space ",
    ],
)
def test_rule_refuses_what_hassfest_refuses(value: Any) -> None:
    """The check refuses HTML-like text, URLs, bad placeholders and outer spaces."""
    with pytest.raises(vol.Invalid):
        check_translation_value(value)


@pytest.mark.parametrize(
    "value",
    [
        "Sends to the path /v1/reports of the endpoint (https://, or http:// here).",
        "A {named} placeholder and a < b > c comparison",
        "[%key:common::config_flow::data::host%]",
        "Plain http is only accepted for this machine (localhost, 127.0.0.1, ::1).",
    ],
)
def test_rule_accepts_plain_text(value: str) -> None:
    """Text, named placeholders and whole references pass."""
    assert check_translation_value(value) == value

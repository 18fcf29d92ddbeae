"""Checks that every translation exists in English and German."""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

INTEGRATION = Path(__file__).parent.parent / "custom_components" / "usage_stats"


def _load(name: str) -> dict[str, Any]:
    return json.loads((INTEGRATION / name).read_text(encoding="utf-8"))


def _keys(tree: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, value in tree.items():
        path = f"{prefix}{key}"
        keys |= _keys(value, f"{path}.") if isinstance(value, dict) else {path}
    return keys


def test_german_matches_english() -> None:
    """Both languages translate exactly the same keys, none empty."""
    en, de = _load("translations/en.json"), _load("translations/de.json")
    assert _keys(en) == _keys(de)
    for tree in (en, de):
        assert all(_keys(tree)), "empty key"


def test_placeholders_match() -> None:
    """A placeholder used in English is used in German too."""
    en, de = _load("translations/en.json"), _load("translations/de.json")

    def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in tree.items():
            if isinstance(value, dict):
                out |= flatten(value, f"{prefix}{key}.")
            else:
                out[f"{prefix}{key}"] = value
        return out

    german = flatten(de)
    for key, text in flatten(en).items():
        assert set(re.findall(r"{\w+}", text)) == set(
            re.findall(r"{\w+}", german[key])
        ), key


def test_every_translation_key_in_code_is_translated() -> None:
    """Exceptions, issues, entities and form errors used in the code are translated."""
    en = _load("translations/en.json")
    icons = _load("icons.json")
    source = "\n".join(
        path.read_text(encoding="utf-8") for path in INTEGRATION.rglob("*.py")
    )
    used = set(re.findall(r'translation_key="(\w+)"', source))
    entity_keys = {key for platform in en["entity"].values() for key in platform}
    assert used <= set(en["exceptions"]) | set(en["issues"]) | entity_keys
    for key in re.findall(r'return "(\w+_url)"', source):
        assert key in en["config"]["error"]
        assert key in en["options"]["error"]
    for platform, keys in en["entity"].items():
        for key in keys:
            assert key in icons["entity"][platform], f"no icon for {platform}.{key}"


def test_every_service_is_translated_with_an_icon() -> None:
    """Each action of services.yaml and each field has a name, description and icon."""
    from homeassistant.util.yaml import load_yaml_dict

    services = load_yaml_dict(str(INTEGRATION / "services.yaml"))
    en, icons = _load("translations/en.json"), _load("icons.json")
    assert set(services) == set(en["services"]) == set(icons["services"])
    for name, service in services.items():
        fields = (service or {}).get("fields", {})
        assert set(fields) == set(en["services"][name].get("fields", {})), name


def test_every_repair_issue_is_translated() -> None:
    """Each repair issue has a title and a description, or a fix flow that describes it."""
    from custom_components.usage_stats.repairs import ISSUE_REPORT_VERSION
    from custom_components.usage_stats.submission import ISSUES

    for lang in ("en", "de"):
        issues = _load(f"translations/{lang}.json")["issues"]
        assert {*ISSUES, ISSUE_REPORT_VERSION} == set(issues)
        for issue in issues.values():
            assert issue["title"]
            if "fix_flow" in issue:
                step = issue["fix_flow"]["step"]["init"]
                assert step["description"]
                assert set(step["menu_options"]) == {"accept", "decline"}
            else:
                assert issue["description"]

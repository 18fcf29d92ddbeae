"""Checks the integration's quality scale file against the platinum tier."""

from __future__ import annotations

from pathlib import Path

from homeassistant.util.yaml import load_yaml_dict

RULES = {
    # Bronze
    "action-setup", "appropriate-polling", "brands", "common-modules",
    "config-flow-test-coverage", "config-flow", "dependency-transparency",
    "docs-actions", "docs-high-level-description", "docs-installation-instructions",
    "docs-removal-instructions", "entity-event-setup", "entity-unique-id",
    "has-entity-name", "runtime-data", "test-before-configure", "test-before-setup",
    "unique-config-entry",
    # Silver
    "action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
    "docs-installation-parameters", "entity-unavailable", "integration-owner",
    "log-when-unavailable", "parallel-updates", "reauthentication-flow", "test-coverage",
    # Gold
    "devices", "diagnostics", "discovery-update-info", "discovery", "docs-data-update",
    "docs-examples", "docs-known-limitations", "docs-supported-devices",
    "docs-supported-functions", "docs-troubleshooting", "docs-use-cases",
    "dynamic-devices", "entity-category", "entity-device-class",
    "entity-disabled-by-default", "entity-translations", "exception-translations",
    "icon-translations", "reconfiguration-flow", "repair-issues", "stale-devices",
    # Platinum
    "async-dependency", "inject-websession", "strict-typing",
}  # fmt: skip


def test_every_rule_done_or_exempt_with_reason() -> None:
    """Every platinum rule is listed, done, or exempt with a comment."""
    path = (
        Path(__file__).parent.parent
        / "custom_components/usage_stats/quality_scale.yaml"
    )
    rules = load_yaml_dict(str(path))["rules"]
    assert set(rules) == RULES
    for name, rule in rules.items():
        if rule == "done":
            continue
        assert rule["status"] == "exempt", name
        assert len(rule["comment"].strip()) > 20, name

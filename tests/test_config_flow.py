"""Tests for the config, reconfigure and options flows."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.usage_stats.const import (
    CONF_CONSENT,
    CONF_ENDPOINT,
    CONF_FEATURE_ENTITIES,
    CONF_FORMAT,
    CONF_PRINTER_INTEGRATIONS,
    CONF_RETENTION_DAYS,
    CONF_SECTIONS,
    DOMAIN,
)
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from .conftest import ENDPOINT

ALL_SECTIONS = ["printer_fleet", "features", "jobs", "events", "errors"]

pytestmark = pytest.mark.usefixtures("mock_setup_entry")


@pytest.mark.parametrize("consent", ["disabled", "local"])
async def test_user_flow_without_sharing(hass: HomeAssistant, consent: str) -> None:
    """Disabled and local need no endpoint."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] is None
    schema_keys = {str(key): key for key in result["data_schema"].schema}
    assert schema_keys[CONF_CONSENT].description == {"suggested_value": "local"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CONSENT: consent}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Usage Statistics"
    assert result["data"] == {}
    assert result["options"] == {CONF_CONSENT: consent, CONF_RETENTION_DAYS: 90}


async def test_user_flow_share_error_then_recover(hass: HomeAssistant) -> None:
    """A bad endpoint is refused with a form error and can be corrected."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CONSENT: "share"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "share"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENDPOINT: "http://stats.example.org"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_ENDPOINT: "insecure_url"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENDPOINT: "not a url"}
    )
    assert result["errors"] == {CONF_ENDPOINT: "invalid_url"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENDPOINT: f" {ENDPOINT}/ "}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"] == {
        CONF_CONSENT: "share",
        CONF_ENDPOINT: ENDPOINT,
        CONF_RETENTION_DAYS: 90,
        CONF_SECTIONS: ALL_SECTIONS,
    }


async def test_user_flow_share_loopback_http(hass: HomeAssistant) -> None:
    """Plain http is accepted for a collector on this machine."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CONSENT: "share"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENDPOINT: "http://[::1]:8080"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"][CONF_ENDPOINT] == "http://[::1]:8080"


async def test_single_instance(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """A second entry aborts with the standard reason."""
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "single_instance_allowed"


async def test_reconfigure_to_local(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, share_options: Any
) -> None:
    """Reconfigure lowers consent and keeps the endpoint for later."""
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(mock_config_entry, options=share_options)
    result = await mock_config_entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CONSENT: "local"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert mock_config_entry.options == {
        CONF_CONSENT: "local",
        CONF_ENDPOINT: ENDPOINT,
        CONF_RETENTION_DAYS: 90,
    }


async def test_reconfigure_to_share_error_then_recover(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """Reconfigure to share asks for the endpoint and validates it."""
    mock_config_entry.add_to_hass(hass)
    result = await mock_config_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CONSENT: "share"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure_share"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENDPOINT: "ftp://stats.example.org"}
    )
    assert result["errors"] == {CONF_ENDPOINT: "invalid_url"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENDPOINT: "http://localhost:8080/"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert mock_config_entry.options == {
        CONF_CONSENT: "share",
        CONF_ENDPOINT: "http://localhost:8080",
        CONF_RETENTION_DAYS: 90,
        CONF_SECTIONS: ALL_SECTIONS,
    }


async def test_options_flow(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """Options change consent, endpoint and retention, with errors first."""
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_CONSENT: "share", CONF_RETENTION_DAYS: 30}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_ENDPOINT: "endpoint_required"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_CONSENT: "share",
            CONF_ENDPOINT: "http://192.168.1.5",
            CONF_RETENTION_DAYS: 30,
        },
    )
    assert result["errors"] == {CONF_ENDPOINT: "insecure_url"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_CONSENT: "share", CONF_ENDPOINT: ENDPOINT, CONF_RETENTION_DAYS: 30.0},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options == {
        CONF_CONSENT: "share",
        CONF_ENDPOINT: ENDPOINT,
        CONF_RETENTION_DAYS: 30,
        CONF_FORMAT: "json",
        CONF_SECTIONS: ALL_SECTIONS,
    }


async def test_options_flow_clears_endpoint(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, share_options: Any
) -> None:
    """An emptied endpoint is removed when consent no longer needs it."""
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(mock_config_entry, options=share_options)
    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_CONSENT: "local",
            CONF_ENDPOINT: "",
            CONF_RETENTION_DAYS: 365,
            CONF_FORMAT: "otlp",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options == {
        CONF_CONSENT: "local",
        CONF_RETENTION_DAYS: 365,
        CONF_FORMAT: "otlp",
        CONF_SECTIONS: ALL_SECTIONS,
    }


@pytest.mark.parametrize("retention", [6, 366])
async def test_options_flow_retention_bounds(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, retention: int
) -> None:
    """Retention outside 7 to 365 days is refused by the form schema."""
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    with pytest.raises(Exception, match="retention_days"):
        await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_CONSENT: "local", CONF_RETENTION_DAYS: retention}
        )
    assert mock_config_entry.options[CONF_RETENTION_DAYS] == 90


async def test_options_flow_printer_integrations(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """Printer integrations can be added and removed; a bad domain is refused."""
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    schema_keys = {str(key): key for key in result["data_schema"].schema}
    assert (
        "prusalink"
        in schema_keys[CONF_PRINTER_INTEGRATIONS].description["suggested_value"]
    )
    base = {CONF_CONSENT: "local", CONF_RETENTION_DAYS: 90}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {**base, CONF_PRINTER_INTEGRATIONS: ["prusalink", "My Printer"]},
    )
    assert result["errors"] == {CONF_PRINTER_INTEGRATIONS: "invalid_domain"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            **base,
            CONF_PRINTER_INTEGRATIONS: ["prusalink", "my_printer"],
            CONF_FEATURE_ENTITIES: ["switch.enclosure_fan"],
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options == {
        **base,
        CONF_FORMAT: "json",
        CONF_SECTIONS: ALL_SECTIONS,
        CONF_PRINTER_INTEGRATIONS: ["prusalink", "my_printer"],
        CONF_FEATURE_ENTITIES: ["switch.enclosure_fan"],
    }


async def test_share_step_chooses_sections(hass: HomeAssistant) -> None:
    """The share step offers every section, all preselected; the choice is kept."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CONSENT: "share"}
    )
    sections = next(key for key in result["data_schema"].schema if key == CONF_SECTIONS)
    assert sections.default() == ALL_SECTIONS
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENDPOINT: ENDPOINT, CONF_SECTIONS: ["jobs", "errors"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"][CONF_SECTIONS] == ["jobs", "errors"]


async def test_options_flow_changes_sections(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """The options choose the shared sections too; none at all is a choice."""
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_CONSENT: "share",
            CONF_ENDPOINT: ENDPOINT,
            CONF_RETENTION_DAYS: 90,
            CONF_SECTIONS: [],
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options[CONF_SECTIONS] == []

"""Config, reconfigure and options flows: the user's consent and where reports go."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .catalogue import Section
from .const import (
    CONF_CONSENT,
    CONF_ENDPOINT,
    CONF_FEATURE_ENTITIES,
    CONF_FORMAT,
    CONF_PRINTER_INTEGRATIONS,
    CONF_RETENTION_DAYS,
    CONF_SECTIONS,
    DEFAULT_FORMAT,
    DEFAULT_RETENTION_DAYS,
    DOMAIN,
    MAX_RETENTION_DAYS,
    MIN_RETENTION_DAYS,
    NAME,
    ConsentLevel,
    ReportFormat,
)
from .endpoint import endpoint_error, normalize_endpoint
from .printers import DEFAULT_PRINTER_INTEGRATIONS
from .privacy import label_error

CONSENT_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=[level.value for level in ConsentLevel],
        translation_key=CONF_CONSENT,
        mode=SelectSelectorMode.LIST,
    )
)
FORMAT_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=[report_format.value for report_format in ReportFormat],
        translation_key=CONF_FORMAT,
        mode=SelectSelectorMode.DROPDOWN,
    )
)
ENDPOINT_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
ALL_SECTIONS = [section.value for section in Section]
SECTIONS_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=ALL_SECTIONS,
        multiple=True,
        translation_key=CONF_SECTIONS,
        mode=SelectSelectorMode.LIST,
    )
)
RETENTION_SELECTOR = NumberSelector(
    NumberSelectorConfig(
        min=MIN_RETENTION_DAYS,
        max=MAX_RETENTION_DAYS,
        step=1,
        mode=NumberSelectorMode.BOX,
        unit_of_measurement="d",
    )
)
PRINTER_INTEGRATIONS_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=list(DEFAULT_PRINTER_INTEGRATIONS),
        multiple=True,
        custom_value=True,
        sort=True,
        mode=SelectSelectorMode.DROPDOWN,
    )
)
FEATURE_ENTITIES_SELECTOR = EntitySelector(
    EntitySelectorConfig(
        multiple=True,
        domain=["switch", "light", "fan", "siren", "input_boolean", "binary_sensor"],
    )
)

CONSENT_SCHEMA = vol.Schema({vol.Required(CONF_CONSENT): CONSENT_SELECTOR})
ENDPOINT_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_ENDPOINT): ENDPOINT_SELECTOR,
        vol.Required(CONF_SECTIONS, default=ALL_SECTIONS): SECTIONS_SELECTOR,
    }
)
OPTIONS_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_CONSENT): CONSENT_SELECTOR,
        vol.Optional(CONF_ENDPOINT): ENDPOINT_SELECTOR,
        vol.Required(CONF_RETENTION_DAYS): RETENTION_SELECTOR,
        vol.Optional(CONF_PRINTER_INTEGRATIONS): PRINTER_INTEGRATIONS_SELECTOR,
        vol.Optional(CONF_FEATURE_ENTITIES): FEATURE_ENTITIES_SELECTOR,
        vol.Required(CONF_FORMAT, default=DEFAULT_FORMAT.value): FORMAT_SELECTOR,
        vol.Required(CONF_SECTIONS, default=ALL_SECTIONS): SECTIONS_SELECTOR,
    }
)


def _endpoint_errors(user_input: dict[str, Any]) -> dict[str, str]:
    """Return the form errors for the endpoint field of `user_input`."""
    if error := endpoint_error(user_input[CONF_ENDPOINT]):
        return {CONF_ENDPOINT: error}
    return {}


def _share_options(user_input: dict[str, Any]) -> dict[str, Any]:
    """Return the options of the share step: where reports go, which sections."""
    return {
        CONF_ENDPOINT: normalize_endpoint(user_input[CONF_ENDPOINT]),
        CONF_SECTIONS: list(user_input[CONF_SECTIONS]),
    }


class UsageStatsConfigFlow(ConfigFlow, domain=DOMAIN):
    """Ask for consent, and for an endpoint when the user wants to share."""

    VERSION = 1

    def __init__(self) -> None:
        """Initialize the flow."""
        self._consent = ConsentLevel.LOCAL

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> UsageStatsOptionsFlow:
        """Return the options flow."""
        return UsageStatsOptionsFlow()

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the privacy disclosure and ask for the consent level."""
        if user_input is not None:
            self._consent = ConsentLevel(user_input[CONF_CONSENT])
            if self._consent is ConsentLevel.SHARE:
                return await self.async_step_share()
            return self._create_entry({})
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                CONSENT_SCHEMA, {CONF_CONSENT: ConsentLevel.LOCAL.value}
            ),
        )

    async def async_step_share(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask where reports are sent."""
        errors: dict[str, str] = {}
        if user_input is not None and not (errors := _endpoint_errors(user_input)):
            return self._create_entry(_share_options(user_input))
        return self.async_show_form(
            step_id="share",
            data_schema=self.add_suggested_values_to_schema(
                ENDPOINT_SCHEMA, user_input
            ),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the consent level."""
        entry = self._get_reconfigure_entry()
        if user_input is not None:
            self._consent = ConsentLevel(user_input[CONF_CONSENT])
            if self._consent is ConsentLevel.SHARE:
                return await self.async_step_reconfigure_share()
            return self._update_entry(entry, {})
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                CONSENT_SCHEMA, entry.options
            ),
        )

    async def async_step_reconfigure_share(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change where reports are sent."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None and not (errors := _endpoint_errors(user_input)):
            return self._update_entry(entry, _share_options(user_input))
        return self.async_show_form(
            step_id="reconfigure_share",
            data_schema=self.add_suggested_values_to_schema(
                ENDPOINT_SCHEMA, user_input or entry.options
            ),
            errors=errors,
        )

    def _create_entry(self, extra: dict[str, Any]) -> ConfigFlowResult:
        return self.async_create_entry(
            title=NAME,
            data={},
            options={
                CONF_CONSENT: self._consent.value,
                CONF_RETENTION_DAYS: DEFAULT_RETENTION_DAYS,
                **extra,
            },
        )

    def _update_entry(
        self, entry: ConfigEntry, extra: dict[str, Any]
    ) -> ConfigFlowResult:
        # The entry's update listener reloads it, so no reload is scheduled here.
        self.hass.config_entries.async_update_entry(
            entry, options={**entry.options, CONF_CONSENT: self._consent.value, **extra}
        )
        return self.async_abort(reason="reconfigure_successful")


class UsageStatsOptionsFlow(OptionsFlow):
    """Change consent, endpoint, report format and how long counters are kept."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Manage the options."""
        errors: dict[str, str] = {}
        if user_input is not None:
            options = {**self.config_entry.options, **user_input}
            options[CONF_RETENTION_DAYS] = int(user_input[CONF_RETENTION_DAYS])
            if endpoint := user_input.get(CONF_ENDPOINT, "").strip():
                errors = _endpoint_errors(user_input)
                options[CONF_ENDPOINT] = normalize_endpoint(endpoint)
            else:
                options.pop(CONF_ENDPOINT, None)
                if user_input[CONF_CONSENT] == ConsentLevel.SHARE:
                    errors = {CONF_ENDPOINT: "endpoint_required"}
            if any(map(label_error, user_input.get(CONF_PRINTER_INTEGRATIONS, ()))):
                errors[CONF_PRINTER_INTEGRATIONS] = "invalid_domain"
            if not errors:
                return self.async_create_entry(data=options)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                OPTIONS_SCHEMA,
                user_input
                or {
                    CONF_PRINTER_INTEGRATIONS: list(DEFAULT_PRINTER_INTEGRATIONS),
                    **self.config_entry.options,
                },
            ),
            errors=errors,
        )

// At share, inside the consent card: the accepted report version (and what a newer one
// adds, with a button to accept it) and the report sections shared, as checkboxes.
import { css, html, nothing, type TemplateResult } from "lit";
import { property } from "lit/decorators.js";
import { live } from "lit/directives/live.js";
import type { StringKey } from "../localize";
import { sharedStyles } from "../styles";
import type { Overview } from "../types";
import { define, PanelCard } from "./base";

export class SharingOptions extends PanelCard {
  @property({ attribute: false }) overview?: Overview;
  @property({ type: Boolean }) busy = false;
  @property({ attribute: false }) sectionsDraft?: string[];

  static styles = [
    sharedStyles,
    css`
      #sections {
        border: 1px solid var(--divider-color, #e0e0e0);
        border-radius: 8px;
        margin: 12px 0;
        padding: 8px 12px;
      }
      #sections label.section {
        display: block;
        padding: 4px 0;
      }
      #report-version h3 {
        margin-top: 16px;
      }
      ul.added code {
        font-size: 0.9em;
      }
    `,
  ];

  render(): TemplateResult | typeof nothing {
    if (!this.overview) return nothing;
    return html`${this.renderReportVersion(this.overview)}${this.renderSections(this.overview)}`;
  }

  private renderReportVersion(overview: Overview): TemplateResult {
    const l = this.localize;
    const version = overview.report_version;
    const newer = version.added.length > 0;
    return html`<div id="report-version">
      <h3>${l("report_version_title")}</h3>
      <p>
        ${l("report_version_accepted", { accepted: version.accepted ?? "—", current: version.current })}
      </p>
      ${newer
        ? html`<p>${l("report_version_adds", { current: version.current })}</p>
            <ul class="added">
              ${version.added.map(
                (item) => html`<li>
                  <code>${item.metric}</code> (${l(`section_${item.section}` as StringKey)})${item.label
                    ? html`: <code>${item.label}</code> ${item.values.map((value) => html`<code>${value}</code> `)}`
                    : nothing}
                </li>`,
              )}
            </ul>
            ${version.declined === version.current
              ? html`<p class="hint">${l("report_version_declined", { current: version.current })}</p>`
              : nothing}
            <button
              id="accept-version"
              ?disabled=${this.busy}
              @click=${() => this.request({ kind: "accept_report_version", version: version.current })}
            >
              ${l("report_version_accept", { current: version.current })}
            </button>`
        : html`<p class="hint">${l("report_version_current")}</p>`}
    </div>`;
  }

  private renderSections(overview: Overview): TemplateResult {
    const l = this.localize;
    const chosen = new Set(this.sectionsDraft ?? overview.sections);
    const toggle = (section: string, on: boolean) => {
      const sections = overview.all_sections.filter((name) => (name === section ? on : chosen.has(name)));
      this.request({ kind: "set_sections", sections });
    };
    return html`<fieldset id="sections">
      <legend>${l("sections_title")}</legend>
      <p class="hint">${l("sections_hint")}</p>
      ${overview.all_sections.map(
        (section) => html`<label class="section">
          <input
            type="checkbox"
            name="section"
            .value=${section}
            .checked=${live(chosen.has(section))}
            ?disabled=${this.busy}
            @change=${(event: Event) => toggle(section, (event.target as HTMLInputElement).checked)}
          />
          ${l(`section_${section}` as StringKey)}
        </label>`,
      )}
    </fieldset>`;
  }
}

define("usage-stats-sharing-options", SharingOptions);

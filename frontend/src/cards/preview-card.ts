// The preview card: exactly what the next report would hold, and what is never sent.
import { css, html, nothing, type TemplateResult } from "lit";
import { property } from "lit/decorators.js";
import { breakdown } from "../data";
import { sharedStyles } from "../styles";
import type { Overview, Preview } from "../types";
import { define, PanelCard } from "./base";

export class PreviewCard extends PanelCard {
  @property({ attribute: false }) overview?: Overview;
  @property({ attribute: false }) preview?: Preview;

  static styles = [
    sharedStyles,
    css`
      .preview {
        display: grid;
        grid-template-columns: 1fr 1fr;
        gap: 16px;
      }
      :host([narrow]) .preview {
        grid-template-columns: 1fr;
      }
      .preview > div {
        min-width: 0;
      }
      .breakdown th {
        font-family: var(--code-font-family, monospace);
        font-size: 12px;
      }
    `,
  ];

  render(): TemplateResult | typeof nothing {
    const { overview, preview } = this;
    if (!overview || !preview) return nothing;
    const l = this.localize;
    const payload = preview.payload;
    const sharing = overview.consent.level === "share";
    const rows = payload ? breakdown(payload) : [];
    return html`
      <section class="card" id="preview">
        <h2>${l("preview_title")}</h2>
        <p class="hint">${sharing ? l("preview_share") : l("preview_not_share")}</p>
        <ul class="hint">
          <li>${l("excluded_retention", { retention: overview.retention_days })}</li>
          <li>
            ${overview.consent.share_granted_at
              ? l("excluded_before_grant", { time: this.time(overview.consent.share_granted_at) })
              : l("excluded_no_grant")}
          </li>
        </ul>
        ${payload
          ? html`<div class="preview">
              <div>
                <h3>${l("preview_breakdown")}</h3>
                <table class="breakdown">
                  <tbody>
                    ${rows.map(([key, value]) => html`<tr><th>${key}</th><td>${value}</td></tr>`)}
                  </tbody>
                </table>
              </div>
              <div>
                <h3>${l("preview_raw", { format: preview.format })}</h3>
                ${preview.endpoint ? html`<p class="hint">${l("preview_to", { endpoint: preview.endpoint })}</p>` : nothing}
                <pre id="preview-json">${JSON.stringify(payload, null, 2)}</pre>
              </div>
            </div>`
          : html`<p class="empty">${l("preview_nothing")}</p>`}
      </section>
    `;
  }
}

define("usage-stats-preview-card", PreviewCard);

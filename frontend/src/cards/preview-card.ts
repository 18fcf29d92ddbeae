// The preview card: exactly what the next report would hold, and what is never sent.
import { css, html, nothing, type TemplateResult } from "lit";
import { property } from "lit/decorators.js";
import { previewTables, type ReportTable } from "../report-view";
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
      .report-table + .report-table {
        margin-top: 16px;
      }
      h4 {
        margin: 0 0 4px;
        font-size: 14px;
        font-weight: 500;
      }
      h4 code,
      .field {
        font-family: var(--code-font-family, monospace);
        font-size: 12px;
      }
      /* Identifiers and numbers stay whole: a wide table scrolls instead. */
      .columns th,
      .columns td {
        white-space: nowrap;
        overflow-wrap: normal;
      }
      .empty-row {
        color: var(--secondary-text-color, #727272);
      }
      h4 code {
        margin-inline-start: 6px;
        color: var(--secondary-text-color, #727272);
        font-weight: 400;
      }
    `,
  ];

  render(): TemplateResult | typeof nothing {
    const { overview, preview } = this;
    if (!overview || !preview) return nothing;
    const l = this.localize;
    const payload = preview.payload;
    const sharing = overview.consent.level === "share";
    const tables = payload ? previewTables(payload, l) : [];
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
                ${tables.map((table) => this.renderTable(table))}
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

  /** One part of the report; a head-and-value table lists paths, the others have columns. */
  private renderTable(table: ReportTable): TemplateResult {
    const l = this.localize;
    const fields = table.fields ?? false;
    const cell = (value: string, index: number) =>
      index >= table.numbersFrom
        ? html`<td class="num">${value}</td>`
        : fields && index === 0
          ? html`<th class="field" scope="row">${value}</th>`
          : html`<td>${value}</td>`;
    return html`<div class="report-table" data-path=${table.path}>
      <h4>${table.title}${table.path ? html`<code>${table.path}</code>` : nothing}</h4>
      <div class="scroll">
      <table class=${fields ? "fields" : "columns"}>
        ${fields
          ? nothing
          : html`<thead>
              <tr>
                ${table.columns.map((column, index) => html`<th class=${index >= table.numbersFrom ? "num" : ""}>${column}</th>`)}
              </tr>
            </thead>`}
        <tbody>
          ${table.rows.length
            ? table.rows.map((row) => html`<tr>${row.map(cell)}</tr>`)
            : html`<tr><td class="empty-row" colspan=${table.columns.length}>${l("view_empty")}</td></tr>`}
        </tbody>
      </table>
      </div>
    </div>`;
  }
}

define("usage-stats-preview-card", PreviewCard);

// The comparison card: this installation's printers beside the statistics the collector
// publishes (fetched whole by Home Assistant, only at share; see usage_stats/comparison).
import { css, html, nothing, type TemplateResult } from "lit";
import { property } from "lit/decorators.js";
import { communitySize, comparisonRows, DASH, type ComparisonCell } from "../comparison";
import { formatNumber } from "../format";
import { sharedStyles } from "../styles";
import type { Comparison, ComparisonPrinter } from "../types";
import { define, PanelCard } from "./base";

export class ComparisonCard extends PanelCard {
  /** The command's answer; undefined while it is loading. */
  @property({ attribute: false }) comparison?: Comparison;

  static styles = [
    sharedStyles,
    css`
      .printers {
        display: grid;
        grid-template-columns: repeat(auto-fit, minmax(340px, 1fr));
        gap: 16px;
      }
      :host([narrow]) .printers {
        grid-template-columns: 1fr;
      }
      .printer {
        min-width: 0;
      }
      .printer h3 code {
        font-size: 0.9em;
      }
      tbody th {
        color: inherit;
        font-weight: 400;
      }
      .note {
        display: block;
        font-size: 12px;
        color: var(--secondary-text-color, #727272);
      }
    `,
  ];

  render(): TemplateResult {
    const l = this.localize;
    return html`<section class="card" id="comparison">
      <h2>${l("comparison_title")}</h2>
      ${this.renderBody()}
    </section>`;
  }

  private renderBody(): TemplateResult {
    const l = this.localize;
    const comparison = this.comparison;
    if (!comparison) return html`<p class="hint">${l("loading")}</p>`;
    const fetched = comparison.fetched_at
      ? html`<p class="hint" id="comparison-fetched">${l("comparison_fetched", { time: this.time(comparison.fetched_at) })}</p>`
      : nothing;
    switch (comparison.status) {
      case "not_shared":
        return html`<p class="empty" id="comparison-not-shared">${l("comparison_not_shared")}</p>`;
      case "unavailable":
        return html`<p class="empty" id="comparison-unavailable" role="status">${l("comparison_unavailable")}</p>
          ${fetched}`;
      case "ok":
        if (comparison.printers.length) return this.renderPrinters(comparison, fetched);
    }
    return html`<p class="empty" id="comparison-no-data">${l("comparison_no_data")}</p>${fetched}`;
  }

  private renderPrinters(comparison: Comparison, fetched: TemplateResult | typeof nothing): TemplateResult {
    const l = this.localize;
    const installations = comparison.installations;
    return html`${fetched}
      <p class="hint">
        ${l("comparison_week", {
          week: comparison.week ?? DASH,
          installations: installations !== null ? formatNumber(installations, this.language) : DASH,
        })}
        ${l("comparison_yours_hint")}
      </p>
      <div class="printers">${comparison.printers.map((printer) => this.renderPrinter(printer, comparison.week))}</div>`;
  }

  private renderPrinter(printer: ComparisonPrinter, week: string | null): TemplateResult {
    const l = this.localize;
    const rows = comparisonRows(printer, this.language, l);
    return html`<div class="printer" data-printer-type=${printer.printer_type}>
      <h3>
        <code>${printer.printer_type}</code>${printer.integration !== printer.printer_type
          ? html` (${printer.integration})`
          : nothing}
      </h3>
      <p class="hint">${communitySize(printer, this.language, l)}</p>
      <table>
        <thead>
          <tr>
            <th></th>
            <th>${l("comparison_yours")}</th>
            <th>${l("comparison_community", { week: week ?? DASH })}</th>
          </tr>
        </thead>
        <tbody>
          ${rows.map(
            (row) => html`<tr class="row-${row.id}">
              <th scope="row">${row.label}</th>
              <td>${this.cell(row.yours)}</td>
              <td>${this.cell(row.community)}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>`;
  }

  private cell(cell: ComparisonCell): TemplateResult {
    return html`${cell.text}${cell.note ? html`<span class="note">${cell.note}</span>` : nothing}`;
  }
}

define("usage-stats-comparison-card", ComparisonCard);

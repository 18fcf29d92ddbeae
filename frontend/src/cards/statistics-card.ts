// The statistics card: the kept days over a chosen range, as charts and a table of errors.
import { css, html, nothing, type TemplateResult } from "lit";
import { property, state } from "lit/decorators.js";
import "../chart";
import { durationsChart, eventsChart, featuresChart, jobsChart, printersChart, type ChartSpec } from "../chart-specs";
import {
  dayRange,
  durations,
  errors,
  events,
  features,
  fleet,
  jobsPerDay,
  modelText,
  printersByType,
  RANGES,
  type FleetRow,
  type Range,
} from "../data";
import { sharedStyles } from "../styles";
import type { DaysResult, Overview } from "../types";
import { define, PanelCard } from "./base";

export class StatisticsCard extends PanelCard {
  @property({ attribute: false }) overview?: Overview;
  @property({ attribute: false }) days?: DaysResult;
  @property({ type: Boolean }) dark = false;
  @state() private range: Range = 30;

  static styles = [
    sharedStyles,
    css`
      .section-head {
        display: flex;
        flex-wrap: wrap;
        justify-content: space-between;
        align-items: center;
        gap: 8px;
      }
      .ranges {
        display: flex;
        gap: 4px;
      }
      .charts {
        display: grid;
        grid-template-columns: repeat(auto-fit, minmax(340px, 1fr));
        gap: 16px;
      }
      :host([narrow]) .charts {
        grid-template-columns: 1fr;
      }
      .chart-card {
        min-width: 0;
      }
      #fleet {
        margin-top: 16px;
      }
      /* Identifiers and numbers stay whole; the models wrap between words. */
      #fleet th,
      #fleet td:not(.models) {
        white-space: nowrap;
        overflow-wrap: normal;
      }
      #fleet td.models {
        overflow-wrap: normal;
        min-width: 10em;
      }
    `,
  ];

  render(): TemplateResult | typeof nothing {
    const { overview, days: result } = this;
    if (!overview || !result) return nothing;
    const l = this.localize;
    const last = overview.last_day ?? new Date().toISOString().slice(0, 10);
    const days = result.days;
    const range = dayRange(days, this.range, last);
    const labels = range.map((day) => day.slice(5));
    const jobs = jobsPerDay(days, range);
    const anyJobs = Object.values(jobs).some((values) => values.some(Boolean));
    const buckets = durations(days, range);
    const types = printersByType(days, range);
    const featureRows = features(days, range);
    const eventRows = events(days, range);
    const printerEmpty = l("empty_printers", { integrations: overview.printer_integrations.join(", ") });
    return html`
      <section class="card" id="statistics">
        <div class="section-head">
          <h2>${l("statistics_title")}</h2>
          <div class="ranges" role="group" aria-label=${l("range")}>
            ${RANGES.map(
              (value) => html`<button
                class=${this.range === value ? "selected" : ""}
                aria-pressed=${this.range === value}
                @click=${() => (this.range = value)}
              >
                ${value ? l("range_days", { days: value }) : l("range_all")}
              </button>`,
            )}
          </div>
        </div>
        <p class="hint">${l("statistics_hint", { days: overview.days_stored, retention: overview.retention_days })}</p>
        ${overview.consent.level === "disabled" ? html`<p class="hint">${l("disabled_hint")}</p>` : nothing}
        <div class="charts">
          ${this.chartCard("chart-jobs", l("chart_jobs"), l("empty_jobs"), anyJobs, jobsChart(jobs, labels, l))}
          ${this.chartCard(
            "chart-durations",
            l("chart_durations"),
            l("empty_jobs"),
            buckets.some(Boolean),
            durationsChart(buckets, l),
          )}
          ${this.chartCard(
            "chart-printers",
            l("chart_printers"),
            printerEmpty,
            Object.keys(types).length > 0,
            printersChart(types, labels),
          )}
          ${this.chartCard(
            "chart-features",
            l("chart_features"),
            l("empty_features"),
            featureRows.length > 0,
            featuresChart(featureRows, l),
          )}
          ${this.chartCard("chart-events", l("chart_events"), l("empty_events"), eventRows.length > 0, eventsChart(eventRows, l))}
          ${this.renderErrors(range)}
        </div>
        ${this.renderFleet(range)}
      </section>
    `;
  }

  private chartCard(id: string, title: string, empty: string, hasData: boolean, spec: ChartSpec): TemplateResult {
    return html`<div class="chart-card" id=${id}>
      <h3>${title}</h3>
      ${hasData
        ? html`<usage-stats-chart .spec=${spec} .dark=${this.dark} aria-label=${title}></usage-stats-chart>`
        : html`<p class="empty">${empty}</p>`}
    </div>`;
  }

  /**
   * The printer integrations, their versions, and the models and firmware read from the
   * printers: below the charts, the whole width of the card (five columns).
   */
  private renderFleet(range: string[]): TemplateResult {
    const l = this.localize;
    const latest = fleet(this.days?.days ?? {}, range);
    return html`<div class="chart-card" id="fleet">
      <h3>${l("fleet_title")}</h3>
      ${latest
        ? html`<p class="hint">${l("fleet_hint", { day: latest.day })}</p>
            <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th>${l("col_integration")}</th>
                  <th>${l("col_printer_type")}</th>
                  <th>${l("col_version")}</th>
                  <th class="num">${l("col_printers")}</th>
                  <th>${l("col_models")}</th>
                </tr>
              </thead>
              <tbody>
                ${latest.rows.map(
                  (row) => html`<tr data-integration=${row.integration} data-printer-type=${row.printerType}>
                    <td>${row.integration || "—"}</td>
                    <td>${row.printerType}</td>
                    <td>${row.version || "—"}</td>
                    <td class="num">${row.printers}</td>
                    <td class="models">${this.renderModels(row)}</td>
                  </tr>`,
                )}
              </tbody>
            </table>
            </div>`
        : html`<p class="empty">${l("fleet_empty")}</p>`}
    </div>`;
  }

  private renderModels(row: FleetRow): TemplateResult {
    const l = this.localize;
    if (!row.models.length) return html`<span class="hint">${l("fleet_not_read")}</span>`;
    return html`${row.models.map((item, index) => html`${index ? html`<br />` : nothing}${modelText(item, l)}`)}`;
  }

  private renderErrors(range: string[]): TemplateResult {
    const l = this.localize;
    const rows = errors(this.days?.days ?? {}, range);
    return html`<div class="chart-card" id="errors">
      <h3>${l("errors_title")}</h3>
      ${rows.length
        ? html`<table>
            <thead><tr><th>${l("component")}</th><th>${l("error_type")}</th><th class="num">${l("count")}</th></tr></thead>
            <tbody>
              ${rows.map(
                (row) => html`<tr><td>${row.component}</td><td>${row.errorType}</td><td class="num">${row.count}</td></tr>`,
              )}
            </tbody>
          </table>`
        : html`<p class="empty">${l("empty_errors")}</p>`}
    </div>`;
  }
}

define("usage-stats-statistics-card", StatisticsCard);

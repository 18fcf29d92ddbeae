// The history card: what became of the messages sent, newest first, with their details.
import { html, nothing, type TemplateResult } from "lit";
import { property } from "lit/decorators.js";
import type { HistoryEntry } from "../types";
import { define, PanelCard } from "./base";

// History fields shown in the table's columns; anything else is shown as details.
const HISTORY_COLUMNS = new Set(["kind", "finished_at", "period_start", "period_end", "outcome", "status_code"]);

function extraFields(entry: HistoryEntry): [string, unknown][] {
  return Object.entries(entry).filter(([key]) => !HISTORY_COLUMNS.has(key));
}

export class HistoryCard extends PanelCard {
  @property({ attribute: false }) history?: HistoryEntry[];

  render(): TemplateResult | typeof nothing {
    const history = this.history;
    if (!history) return nothing;
    const l = this.localize;
    return html`
      <section class="card" id="history">
        <h2>${l("history_title")}</h2>
        ${history.length
          ? html`<table>
              <thead>
                <tr>
                  <th>${l("history_when")}</th><th>${l("history_kind")}</th><th>${l("history_days")}</th>
                  <th>${l("history_outcome")}</th><th class="num">${l("history_status")}</th>
                </tr>
              </thead>
              <tbody>
                ${history.map((entry) => this.renderEntry(entry))}
              </tbody>
            </table>`
          : html`<p class="empty">${l("history_empty")}</p>`}
      </section>
    `;
  }

  private renderEntry(entry: HistoryEntry): TemplateResult {
    const l = this.localize;
    const extra = extraFields(entry);
    return html`<tr>
        <td>${this.time(entry.finished_at ?? (entry.sent_at as string | undefined))}</td>
        <td>${entry.kind ?? ""}</td>
        <td>${entry.period_start ? `${entry.period_start} – ${entry.period_end ?? ""}` : "—"}</td>
        <td class="outcome-${entry.outcome}">${entry.outcome ?? ""}</td>
        <td class="num">${entry.status_code ?? "—"}</td>
      </tr>
      ${extra.length
        ? html`<tr class="details">
            <td colspan="5">
              <details>
                <summary>${l("history_details")}</summary>
                <pre>${JSON.stringify(Object.fromEntries(extra), null, 2)}</pre>
              </details>
            </td>
          </tr>`
        : nothing}`;
  }
}

define("usage-stats-history-card", HistoryCard);

// The "your data" card: download everything, send now (at share), delete everything.
import { css, html, nothing, type TemplateResult } from "lit";
import { property } from "lit/decorators.js";
import { sharedStyles } from "../styles";
import type { Overview } from "../types";
import { define, PanelCard } from "./base";

export class ActionsCard extends PanelCard {
  @property({ attribute: false }) overview?: Overview;
  @property({ type: Boolean }) busy = false;

  static styles = [
    sharedStyles,
    css`
      #actions .buttons {
        justify-content: flex-start;
      }
    `,
  ];

  render(): TemplateResult | typeof nothing {
    if (!this.overview) return nothing;
    const l = this.localize;
    return html`
      <section class="card" id="actions">
        <h2>${l("actions_title")}</h2>
        <div class="buttons">
          <button id="download" @click=${() => this.request({ kind: "download" })}>${l("download")}</button>
          ${this.overview.consent.level === "share"
            ? html`<button id="submit" ?disabled=${this.busy} @click=${() => this.request({ kind: "submit" })}>
                ${l("submit")}
              </button>`
            : nothing}
          <button id="delete" class="danger" ?disabled=${this.busy} @click=${() => this.request({ kind: "delete" })}>
            ${l("delete")}
          </button>
        </div>
      </section>
    `;
  }
}

define("usage-stats-actions-card", ActionsCard);

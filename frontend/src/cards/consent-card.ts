// The consent card: the three levels, the state of the submission and open repairs; at
// share also the report version and the shared sections (usage-stats-sharing-options).
import { css, html, nothing, type TemplateResult } from "lit";
import { property } from "lit/decorators.js";
import { live } from "lit/directives/live.js";
import type { StringKey } from "../localize";
import { sharedStyles } from "../styles";
import type { Overview } from "../types";
import { define, PanelCard } from "./base";
import "./sharing-options";

// Repair issues with their own text in the panel.
const ISSUES = new Set(["report_rejected", "deletion_rejected", "reports_undelivered", "report_version"]);

export class ConsentCard extends PanelCard {
  @property({ attribute: false }) overview?: Overview;
  @property({ type: Boolean }) busy = false;
  /** The level the user just chose (or is asked to confirm), shown until the overview tells it. */
  @property({ attribute: false }) levelDraft?: string;
  /** The sections the user just chose, shown until the overview tells them. */
  @property({ attribute: false }) sectionsDraft?: string[];

  static styles = [
    sharedStyles,
    css`
      .levels {
        display: grid;
        grid-template-columns: repeat(3, 1fr);
        gap: 8px;
      }
      :host([narrow]) .levels {
        grid-template-columns: 1fr;
      }
      .level {
        display: grid;
        grid-template-columns: auto 1fr;
        gap: 2px 8px;
        padding: 12px;
        border-radius: 8px;
        border: 1px solid var(--divider-color, rgba(0, 0, 0, 0.12));
        cursor: pointer;
      }
      .level.selected {
        border-color: var(--primary-color, #03a9f4);
        box-shadow: inset 0 0 0 1px var(--primary-color, #03a9f4);
      }
      .level input {
        grid-row: span 2;
        accent-color: var(--primary-color, #03a9f4);
      }
      .level-name {
        font-weight: 500;
      }
      .level-text {
        color: var(--secondary-text-color, #727272);
        font-size: 13px;
      }
    `,
  ];

  render(): TemplateResult | typeof nothing {
    const overview = this.overview;
    if (!overview) return nothing;
    const l = this.localize;
    const { consent, submission } = overview;
    const sharing = consent.level === "share";
    return html`
      <section class="card" id="consent">
        <h2>${l("consent_title")}</h2>
        <div class="levels" role="radiogroup" aria-label=${l("consent_title")}>
          ${overview.levels.map(
            (level) => html`<label class="level ${consent.level === level ? "selected" : ""}">
              <input
                type="radio"
                name="consent"
                .value=${level}
                .checked=${live((this.levelDraft ?? consent.level) === level)}
                ?disabled=${this.busy}
                @change=${() => this.request({ kind: "set_consent", level })}
              />
              <span class="level-name">${l(`level_${level}` as StringKey)}</span>
              <span class="level-text">${l(`level_${level}_text` as StringKey)}</span>
            </label>`,
          )}
        </div>
        <dl>
          <dt>${l("consent_since")}</dt>
          <dd>${this.time(consent.changed_at)}</dd>
          ${consent.share_granted_at
            ? html`<dt>${l("share_granted")}</dt><dd>${this.time(consent.share_granted_at)}</dd>`
            : nothing}
          ${sharing
            ? html`
                <dt>${l("endpoint")}</dt><dd>${overview.endpoint}</dd>
                <dt>${l("status")}</dt>
                <dd class="status-${submission.status}">${l(`status_${submission.status}` as StringKey)}</dd>
                <dt>${l("reports_waiting")}</dt><dd>${submission.reports_waiting}</dd>
                <dt>${l("last_success")}</dt><dd>${this.time(submission.last_success)}</dd>
                <dt>${l("next_planned")}</dt><dd>${this.time(submission.next_planned)}</dd>
              `
            : nothing}
        </dl>
        ${sharing
          ? html`<usage-stats-sharing-options
              .language=${this.language}
              .overview=${overview}
              .busy=${this.busy}
              .sectionsDraft=${this.sectionsDraft}
            ></usage-stats-sharing-options>`
          : nothing}
        ${submission.issues.map(
          (issue) => html`<p class="warning" role="alert">
            ${ISSUES.has(issue)
              ? l(`issue_${issue}` as StringKey, { status: String(submission.rejected_status ?? "") })
              : l("issue_other", { issue })}
          </p>`,
        )}
      </section>
    `;
  }
}

define("usage-stats-consent-card", ConsentCard);

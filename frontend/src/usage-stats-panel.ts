// The Usage Statistics sidebar panel: loads the data, passes it to the cards, and runs what
// they ask for (the cards and the dialog send typed events, see events.ts).
import { html, LitElement, nothing, type PropertyValues, type TemplateResult } from "lit";
import { property, state } from "lit/decorators.js";
import * as api from "./api";
import "./cards/actions-card";
import "./cards/comparison-card";
import "./cards/consent-card";
import "./cards/history-card";
import "./cards/preview-card";
import "./cards/statistics-card";
import "./dialogs/confirm-dialog";
import type { Confirmation, DialogClosed, PanelRequest } from "./events";
import { localizer, type Localize, type StringKey } from "./localize";
import { PanelData } from "./panel-data";
import { panelStyles, sharedStyles } from "./styles";
import type { Hass } from "./types";

export class UsageStatsPanel extends LitElement {
  @property({ attribute: false }) hass?: Hass;
  @property({ type: Boolean, reflect: true }) narrow = false;

  @state() private message?: { text: string; error: boolean };
  @state() private busy = false;
  /** Deleting everything, or leaving share, waiting for the user's confirmation. */
  @state() private confirmation?: Confirmation;
  /** What the user just chose, shown until the overview tells it (or the change fails). */
  @state() private levelDraft?: string;
  @state() private sectionsDraft?: string[];
  @state() private language = "";

  private readonly data = new PanelData(this, () => {
    this.levelDraft = undefined;
    this.sectionsDraft = undefined;
  });

  static styles = [sharedStyles, panelStyles];

  private get localize(): Localize {
    return localizer(this.language || "en");
  }

  protected willUpdate(changed: PropertyValues<this>): void {
    if (changed.has("hass") && this.hass) {
      this.language = this.hass.locale?.language ?? this.hass.language ?? "en";
      this.data.setHass(this.hass, this.language);
    }
  }

  /** Run a command; say what it did (its answer fills the text's placeholders) or why not. */
  private async run(command: (hass: Hass) => Promise<object>, done: StringKey): Promise<void> {
    if (!this.hass) return;
    this.busy = true;
    try {
      const result = (await command(this.hass)) as Record<string, string | number> | null;
      this.message = { text: this.localize(done, result ?? {}), error: false };
      this.data.scheduleReload();
    } catch (err) {
      this.message = { text: this.data.errorText(err), error: true };
      this.levelDraft = undefined;
      this.sectionsDraft = undefined;
    } finally {
      this.busy = false;
    }
  }

  private onRequest(request: PanelRequest): void {
    switch (request.kind) {
      case "set_consent":
        // Leaving share withdraws what was sent: the user confirms first.
        if (this.data.overview?.consent.level === "share" && request.level !== "share") {
          this.confirmation = { kind: "leave", level: request.level };
        } else {
          this.setConsent(request.level);
        }
        return;
      case "set_sections":
        this.sectionsDraft = request.sections;
        void this.run((hass) => api.setSections(hass, request.sections), "sections_changed");
        return;
      case "accept_report_version":
        void this.run((hass) => api.acceptReportVersion(hass, request.version), "report_version_done");
        return;
      case "submit":
        void this.run(api.submit, "submitted");
        return;
      case "download":
        void this.download();
        return;
      case "delete":
        this.confirmation = { kind: "delete" };
    }
  }

  private onDialogClosed({ confirmation, confirmed }: DialogClosed): void {
    this.confirmation = undefined;
    if (!confirmed) return;
    if (confirmation.kind === "leave") this.setConsent(confirmation.level);
    else void this.run(api.deleteAll, "deleted");
  }

  private setConsent(level: string): void {
    this.levelDraft = level;
    void this.run((hass) => api.setConsent(hass, level), "consent_changed");
  }

  private async download(): Promise<void> {
    if (!this.hass) return;
    try {
      const data = await api.fetchExport(this.hass);
      const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
      const url = URL.createObjectURL(blob);
      const link = document.createElement("a");
      link.href = url;
      link.download = `usage_stats_export_${new Date().toISOString().slice(0, 10)}.json`;
      link.click();
      URL.revokeObjectURL(url);
    } catch (err) {
      this.message = { text: this.data.errorText(err), error: true };
    }
  }

  render(): TemplateResult {
    const l = this.localize;
    const { language, narrow, busy } = this;
    const { overview, days, preview, history, comparison, loadError } = this.data;
    // While leaving share waits for its confirmation, the level chosen stays shown.
    const levelDraft = this.confirmation?.kind === "leave" ? this.confirmation.level : this.levelDraft;
    return html`
      <div class="toolbar">
        <ha-menu-button .hass=${this.hass} .narrow=${narrow}></ha-menu-button>
        <h1>${l("title")}</h1>
      </div>
      <main @usage-stats-request=${(event: CustomEvent<PanelRequest>) => this.onRequest(event.detail)}>
        ${loadError ? html`<div class="card error" role="alert">${loadError}</div>` : nothing}
        ${this.message
          ? html`<div class="card message ${this.message.error ? "error" : ""}" role="status">
              ${this.message.text}
              <button class="link" @click=${() => (this.message = undefined)}>${l("dismiss")}</button>
            </div>`
          : nothing}
        ${overview
          ? html`<usage-stats-consent-card
              .language=${language}
              ?narrow=${narrow}
              .overview=${overview}
              .busy=${busy}
              .levelDraft=${levelDraft}
              .sectionsDraft=${this.sectionsDraft}
            ></usage-stats-consent-card>`
          : html`<p class="card">${l("loading")}</p>`}
        ${overview && days
          ? html`<usage-stats-statistics-card
              .language=${language}
              ?narrow=${narrow}
              .overview=${overview}
              .days=${days}
              .dark=${Boolean(this.hass?.themes?.darkMode)}
            ></usage-stats-statistics-card>`
          : nothing}
        ${overview
          ? html`<usage-stats-comparison-card
              .language=${language}
              ?narrow=${narrow}
              .comparison=${comparison}
            ></usage-stats-comparison-card>`
          : nothing}
        ${overview && preview
          ? html`<usage-stats-preview-card
              .language=${language}
              ?narrow=${narrow}
              .overview=${overview}
              .preview=${preview}
            ></usage-stats-preview-card>`
          : nothing}
        ${history
          ? html`<usage-stats-history-card .language=${language} .history=${history.history}></usage-stats-history-card>`
          : nothing}
        ${overview
          ? html`<usage-stats-actions-card .language=${language} .overview=${overview} .busy=${busy}></usage-stats-actions-card>`
          : nothing}
      </main>
      ${this.confirmation
        ? html`<usage-stats-confirm-dialog
            .language=${language}
            .confirmation=${this.confirmation}
            @usage-stats-dialog-closed=${(event: CustomEvent<DialogClosed>) => this.onDialogClosed(event.detail)}
          ></usage-stats-confirm-dialog>`
        : nothing}
    `;
  }
}

if (!customElements.get("usage-stats-panel")) {
  customElements.define("usage-stats-panel", UsageStatsPanel);
}

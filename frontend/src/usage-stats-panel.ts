// The Usage Statistics sidebar panel: see, understand and control the statistics.
import { html, LitElement, nothing, type PropertyValues, type TemplateResult } from "lit";
import { property, state } from "lit/decorators.js";
import { live } from "lit/directives/live.js";
import "./chart";
import { PALETTE, type ChartSpec } from "./chart";
import {
  breakdown,
  dayRange,
  DURATION_BUCKETS,
  durations,
  errors,
  events,
  features,
  jobsPerDay,
  printersByType,
  RANGES,
  type Range,
} from "./data";
import { format, localizer, type Localize, type StringKey } from "./localize";
import { styles } from "./styles";
import type { DaysResult, Hass, HistoryEntry, HistoryResult, Overview, Preview } from "./types";

const DOMAIN = "usage_stats";
// Repair issues with their own text in the panel.
const ISSUES = new Set(["report_rejected", "deletion_rejected", "reports_undelivered", "report_version"]);
// History fields shown in the table's columns; anything else is shown as details.
const HISTORY_COLUMNS = new Set(["kind", "finished_at", "period_start", "period_end", "outcome", "status_code"]);

function extraFields(entry: HistoryEntry): [string, unknown][] {
  return Object.entries(entry).filter(([key]) => !HISTORY_COLUMNS.has(key));
}

interface WsError {
  code?: string;
  message?: string;
  translation_key?: string;
  translation_placeholders?: Record<string, string>;
}

export class UsageStatsPanel extends LitElement {
  @property({ attribute: false }) hass?: Hass;
  @property({ type: Boolean, reflect: true }) narrow = false;

  @state() private overview?: Overview;
  @state() private days?: DaysResult;
  @state() private preview?: Preview;
  @state() private history?: HistoryResult;
  @state() private range: Range = 30;
  @state() private message?: { text: string; error: boolean };
  @state() private busy = false;
  @state() private confirming = false;
  /** The level below share waiting for the user's confirmation. */
  @state() private leaving?: string;
  /** What the user just chose, shown until the overview tells it (or the change fails). */
  @state() private levelDraft?: string;
  @state() private sectionsDraft?: string[];
  @state() private loadError?: string;

  private unsubscribe?: Promise<() => Promise<void>>;
  private reloadTimer?: number;
  private exceptions: Record<string, string> = {};
  private language = "";

  static styles = styles;

  private get localize(): Localize {
    return localizer(this.language || "en");
  }

  private get dark(): boolean {
    return Boolean(this.hass?.themes?.darkMode);
  }

  protected willUpdate(changed: PropertyValues<this>): void {
    if (changed.has("hass") && this.hass) {
      const language = this.hass.locale?.language ?? this.hass.language ?? "en";
      if (language !== this.language) {
        this.language = language;
        void this.loadExceptions();
      }
      if (!this.unsubscribe) this.connect();
    }
  }

  disconnectedCallback(): void {
    super.disconnectedCallback();
    void this.unsubscribe?.then((unsub) => unsub()).catch(() => undefined);
    this.unsubscribe = undefined;
    window.clearTimeout(this.reloadTimer);
  }

  connectedCallback(): void {
    super.connectedCallback();
    if (this.hass && !this.unsubscribe) this.connect();
  }

  private connect(): void {
    const hass = this.hass;
    if (!hass) return;
    this.unsubscribe = hass.connection.subscribeMessage<unknown>(() => this.scheduleReload(), {
      type: `${DOMAIN}/subscribe`,
    });
    this.unsubscribe.catch((err: WsError) => {
      this.loadError = this.errorText(err);
      this.unsubscribe = undefined;
    });
    void this.reload();
  }

  private scheduleReload(): void {
    window.clearTimeout(this.reloadTimer);
    this.reloadTimer = window.setTimeout(() => void this.reload(), 250);
  }

  private send<T>(message: Record<string, unknown>): Promise<T> {
    if (!this.hass) return Promise.reject(new Error("not connected"));
    return this.hass.connection.sendMessagePromise<T>(message);
  }

  private ws<T>(command: string, data: Record<string, unknown> = {}): Promise<T> {
    return this.send<T>({ type: `${DOMAIN}/${command}`, ...data });
  }

  private async reload(): Promise<void> {
    try {
      const [overview, days, preview, history] = await Promise.all([
        this.ws<Overview>("overview"),
        this.ws<DaysResult>("days"),
        this.ws<Preview>("preview"),
        this.ws<HistoryResult>("history"),
      ]);
      Object.assign(this, {
        overview,
        days,
        preview,
        history,
        loadError: undefined,
        levelDraft: undefined,
        sectionsDraft: undefined,
      });
    } catch (err) {
      this.loadError = this.errorText(err as WsError);
    }
  }

  private async loadExceptions(): Promise<void> {
    try {
      const result = await this.send<{ resources: Record<string, string> }>({
        type: "frontend/get_translations",
        language: this.language,
        category: "exceptions",
        integration: [DOMAIN],
      });
      this.exceptions = result.resources;
    } catch {
      this.exceptions = {};
    }
  }

  /** The error in the user's language: Home Assistant's translation of the integration. */
  private errorText(err: WsError): string {
    const key = `component.${DOMAIN}.exceptions.${err.translation_key}.message`;
    if (err.translation_key && this.exceptions[key]) {
      return format(this.exceptions[key], err.translation_placeholders ?? {});
    }
    return err.message ?? String(err);
  }

  private async run(command: string, data: Record<string, unknown>, done: StringKey) {
    this.busy = true;
    try {
      const result = await this.ws<Record<string, string | number>>(command, data);
      this.message = { text: this.localize(done, result ?? {}), error: false };
      this.scheduleReload();
    } catch (err) {
      this.message = { text: this.errorText(err as WsError), error: true };
      this.levelDraft = undefined;
      this.sectionsDraft = undefined;
    } finally {
      this.busy = false;
    }
  }

  private async download(): Promise<void> {
    try {
      const data = await this.ws<unknown>("export");
      const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
      const url = URL.createObjectURL(blob);
      const link = document.createElement("a");
      link.href = url;
      link.download = `usage_stats_export_${new Date().toISOString().slice(0, 10)}.json`;
      link.click();
      URL.revokeObjectURL(url);
    } catch (err) {
      this.message = { text: this.errorText(err as WsError), error: true };
    }
  }

  private time(value: string | null | undefined): string {
    if (!value) return this.localize("never");
    return new Date(value).toLocaleString(this.language || undefined, {
      dateStyle: "medium",
      timeStyle: "short",
    });
  }

  render(): TemplateResult {
    const l = this.localize;
    return html`
      <div class="toolbar">
        <ha-menu-button .hass=${this.hass} .narrow=${this.narrow}></ha-menu-button>
        <h1>${l("title")}</h1>
      </div>
      <main>
        ${this.loadError ? html`<div class="card error" role="alert">${this.loadError}</div>` : nothing}
        ${this.message
          ? html`<div class="card message ${this.message.error ? "error" : ""}" role="status">
              ${this.message.text}
              <button class="link" @click=${() => (this.message = undefined)}>${l("dismiss")}</button>
            </div>`
          : nothing}
        ${this.overview ? this.renderConsent(this.overview) : html`<p class="card">${l("loading")}</p>`}
        ${this.overview && this.days ? this.renderStatistics(this.overview, this.days) : nothing}
        ${this.overview && this.preview ? this.renderPreview(this.overview, this.preview) : nothing}
        ${this.history ? this.renderHistory(this.history.history) : nothing}
        ${this.overview ? this.renderActions(this.overview) : nothing}
      </main>
      ${this.confirming ? this.renderConfirm() : nothing}
      ${this.leaving ? this.renderLeave(this.leaving) : nothing}
    `;
  }

  private renderConsent(overview: Overview): TemplateResult {
    const l = this.localize;
    const { consent, submission } = overview;
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
                @change=${() => this.chooseLevel(consent.level, level)}
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
          ${consent.level === "share"
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
        ${consent.level === "share" ? this.renderReportVersion(overview) : nothing}
        ${consent.level === "share" ? this.renderSections(overview) : nothing}
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

  /** Leaving share withdraws what was sent: the user confirms first. */
  private chooseLevel(current: string, level: string): void {
    if (current === "share" && level !== "share") {
      this.leaving = level;
      return;
    }
    this.levelDraft = level;
    void this.run("set_consent", { level }, "consent_changed");
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
              @click=${() => this.run("accept_report_version", { version: version.current }, "report_version_done")}
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
      this.sectionsDraft = sections;
      void this.run("set_sections", { sections }, "sections_changed");
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

  private renderStatistics(overview: Overview, result: DaysResult): TemplateResult {
    const l = this.localize;
    const last = overview.last_day ?? new Date().toISOString().slice(0, 10);
    const range = dayRange(result.days, this.range, last);
    const days = result.days;
    const jobs = jobsPerDay(days, range);
    const anyJobs = Object.values(jobs).some((values) => values.some(Boolean));
    const buckets = durations(days, range);
    const types = printersByType(days, range);
    const featureRows = features(days, range);
    const errorRows = errors(days, range);
    const eventRows = events(days, range);
    const printerEmpty = l("empty_printers", {
      integrations: overview.printer_integrations.join(", "),
    });
    const labels = range.map((day) => day.slice(5));
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
          ${this.chartCard("chart-jobs", l("chart_jobs"), l("empty_jobs"), anyJobs, {
            type: "bar",
            stacked: true,
            data: {
              labels,
              datasets: Object.entries(jobs).map(([outcome, data], index) => ({
                label: l(`outcome_${outcome}` as StringKey) ?? outcome,
                data,
                backgroundColor: PALETTE[index % PALETTE.length],
              })),
            },
          })}
          ${this.chartCard("chart-durations", l("chart_durations"), l("empty_jobs"), buckets.some(Boolean), {
            type: "bar",
            data: {
              labels: DURATION_BUCKETS.map((bucket) => l(`bucket_${bucket}` as StringKey)),
              datasets: [{ label: l("jobs"), data: buckets, backgroundColor: PALETTE[0] }],
            },
          })}
          ${this.chartCard("chart-printers", l("chart_printers"), printerEmpty, Object.keys(types).length > 0, {
            type: "line",
            data: {
              labels,
              datasets: Object.entries(types).map(([type, data], index) => ({
                label: type,
                data,
                borderColor: PALETTE[index % PALETTE.length],
                backgroundColor: PALETTE[index % PALETTE.length],
                spanGaps: true,
              })),
            },
          })}
          ${this.chartCard("chart-features", l("chart_features"), l("empty_features"), featureRows.length > 0, {
            type: "bar",
            stacked: true,
            horizontal: true,
            data: {
              labels: featureRows.map((row) => row.feature),
              datasets: [
                { label: l("on"), data: featureRows.map((row) => row.on), backgroundColor: PALETTE[1] },
                { label: l("off"), data: featureRows.map((row) => row.off), backgroundColor: PALETTE[6] },
              ],
            },
          })}
          ${this.chartCard("chart-events", l("chart_events"), l("empty_events"), eventRows.length > 0, {
            type: "bar",
            data: {
              labels: eventRows.map(([event]) => event),
              datasets: [{ label: l("count"), data: eventRows.map(([, count]) => count), backgroundColor: PALETTE[4] }],
            },
          })}
          <div class="chart-card" id="errors">
            <h3>${l("errors_title")}</h3>
            ${errorRows.length
              ? html`<table>
                  <thead><tr><th>${l("component")}</th><th>${l("error_type")}</th><th class="num">${l("count")}</th></tr></thead>
                  <tbody>
                    ${errorRows.map(
                      (row) => html`<tr><td>${row.component}</td><td>${row.errorType}</td><td class="num">${row.count}</td></tr>`,
                    )}
                  </tbody>
                </table>`
              : html`<p class="empty">${l("empty_errors")}</p>`}
          </div>
        </div>
      </section>
    `;
  }

  private chartCard(id: string, title: string, empty: string, hasData: boolean, spec: ChartSpec) {
    return html`<div class="chart-card" id=${id}>
      <h3>${title}</h3>
      ${hasData
        ? html`<usage-stats-chart .spec=${spec} .dark=${this.dark} aria-label=${title}></usage-stats-chart>`
        : html`<p class="empty">${empty}</p>`}
    </div>`;
  }

  private renderPreview(overview: Overview, preview: Preview): TemplateResult {
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

  private renderHistory(history: HistoryEntry[]): TemplateResult {
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
                ${history.map(
                  (entry) => html`<tr>
                    <td>${this.time(entry.finished_at ?? (entry.sent_at as string | undefined))}</td>
                    <td>${entry.kind ?? ""}</td>
                    <td>${entry.period_start ? `${entry.period_start} – ${entry.period_end ?? ""}` : "—"}</td>
                    <td class="outcome-${entry.outcome}">${entry.outcome ?? ""}</td>
                    <td class="num">${entry.status_code ?? "—"}</td>
                  </tr>
                  ${extraFields(entry).length
                    ? html`<tr class="details">
                        <td colspan="5">
                          <details>
                            <summary>${l("history_details")}</summary>
                            <pre>${JSON.stringify(Object.fromEntries(extraFields(entry)), null, 2)}</pre>
                          </details>
                        </td>
                      </tr>`
                    : nothing}`,
                )}
              </tbody>
            </table>`
          : html`<p class="empty">${l("history_empty")}</p>`}
      </section>
    `;
  }

  private renderActions(overview: Overview): TemplateResult {
    const l = this.localize;
    return html`
      <section class="card" id="actions">
        <h2>${l("actions_title")}</h2>
        <div class="buttons">
          <button id="download" @click=${() => this.download()}>${l("download")}</button>
          ${overview.consent.level === "share"
            ? html`<button id="submit" ?disabled=${this.busy} @click=${() => this.run("submit", {}, "submitted")}>
                ${l("submit")}
              </button>`
            : nothing}
          <button id="delete" class="danger" ?disabled=${this.busy} @click=${() => (this.confirming = true)}>
            ${l("delete")}
          </button>
        </div>
      </section>
    `;
  }

  private renderLeave(level: string): TemplateResult {
    const l = this.localize;
    return html`<div class="backdrop">
      <div class="dialog card" role="alertdialog" aria-modal="true" aria-labelledby="leave-title">
        <h2 id="leave-title">${l("leave_share_title", { level: l(`level_${level}` as StringKey) })}</h2>
        <p>${l("leave_share_text")}</p>
        <div class="buttons">
          <button id="cancel-leave" @click=${() => (this.leaving = undefined)}>${l("cancel")}</button>
          <button
            id="confirm-leave"
            class="danger"
            @click=${async () => {
              this.leaving = undefined;
              this.levelDraft = level;
              await this.run("set_consent", { level }, "consent_changed");
            }}
          >
            ${l("leave_share_confirm")}
          </button>
        </div>
      </div>
    </div>`;
  }

  private renderConfirm(): TemplateResult {
    const l = this.localize;
    return html`<div class="backdrop">
      <div class="dialog card" role="alertdialog" aria-modal="true" aria-labelledby="confirm-title">
        <h2 id="confirm-title">${l("delete_title")}</h2>
        <p>${l("delete_text")}</p>
        <div class="buttons">
          <button id="cancel-delete" @click=${() => (this.confirming = false)}>${l("cancel")}</button>
          <button
            id="confirm-delete"
            class="danger"
            @click=${async () => {
              this.confirming = false;
              await this.run("delete", {}, "deleted");
            }}
          >
            ${l("delete_confirm")}
          </button>
        </div>
      </div>
    </div>`;
  }
}

if (!customElements.get("usage-stats-panel")) {
  customElements.define("usage-stats-panel", UsageStatsPanel);
}

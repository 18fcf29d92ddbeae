// The panel's data: loaded at once, again (debounced) whenever the integration says something
// changed (a websocket subscription, no polling), and the integration's translated errors.
import type { ReactiveController, ReactiveControllerHost } from "lit";
import * as api from "./api";
import { checkComparison, UNAVAILABLE } from "./comparison";
import type { Comparison, DaysResult, Hass, HistoryResult, Overview, Preview, WsError } from "./types";

const RELOAD_DELAY_MS = 250;

export class PanelData implements ReactiveController {
  overview?: Overview;
  days?: DaysResult;
  preview?: Preview;
  history?: HistoryResult;
  /** The comparison with the published statistics; undefined while it loads. */
  comparison?: Comparison;
  /** Why the data could not be loaded (or the subscription failed). */
  loadError?: string;

  private hass?: Hass;
  private language = "";
  private connected = false;
  private unsubscribe?: Promise<() => Promise<void>>;
  private reloadTimer?: number;
  private exceptions: Record<string, string> = {};
  /** The consent level the comparison was asked for at (its answer depends on it). */
  private comparisonLevel?: string;
  private comparisonRequest = 0;

  /** `loaded` is called after each successful load, before the host updates. */
  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly loaded: () => void,
  ) {
    host.addController(this);
  }

  /** The panel got a new `hass` (Home Assistant sets it on every state change). */
  setHass(hass: Hass, language: string): void {
    this.hass = hass;
    if (language !== this.language) {
      this.language = language;
      void this.loadExceptions();
    }
    if (this.connected && !this.unsubscribe) this.connect();
  }

  hostConnected(): void {
    this.connected = true;
    if (this.hass && !this.unsubscribe) this.connect();
  }

  hostDisconnected(): void {
    this.connected = false;
    void this.unsubscribe?.then((unsub) => unsub()).catch(() => undefined);
    this.unsubscribe = undefined;
    window.clearTimeout(this.reloadTimer);
    this.comparisonLevel = undefined; // asked for again when the panel is shown again
  }

  /** The error in the user's language: Home Assistant's translation of the integration. */
  errorText(err: unknown): string {
    return api.errorText(err as WsError, this.exceptions);
  }

  scheduleReload(): void {
    window.clearTimeout(this.reloadTimer);
    this.reloadTimer = window.setTimeout(() => void this.reload(), RELOAD_DELAY_MS);
  }

  private connect(): void {
    if (!this.hass) return;
    this.unsubscribe = api.subscribeUpdates(this.hass, () => this.scheduleReload());
    this.unsubscribe.catch((err: WsError) => {
      this.loadError = this.errorText(err);
      this.unsubscribe = undefined;
      this.host.requestUpdate();
    });
    void this.reload();
  }

  private async reload(): Promise<void> {
    const hass = this.hass;
    if (!hass) return;
    try {
      const [overview, days, preview, history] = await Promise.all([
        api.fetchOverview(hass),
        api.fetchDays(hass),
        api.fetchPreview(hass),
        api.fetchHistory(hass),
      ]);
      Object.assign(this, { overview, days, preview, history, loadError: undefined });
      this.loaded();
      if (overview.consent.level !== this.comparisonLevel) {
        this.comparisonLevel = overview.consent.level;
        void this.loadComparison(hass);
      }
    } catch (err) {
      this.loadError = this.errorText(err);
    }
    this.host.requestUpdate();
  }

  /**
   * Ask for the comparison once, and again when the consent level changes (not on every
   * update: the collector publishes once a week). A failed call, as from an integration
   * without the command, shows as unavailable and touches nothing else.
   */
  private async loadComparison(hass: Hass): Promise<void> {
    const request = ++this.comparisonRequest;
    let comparison: Comparison;
    try {
      comparison = checkComparison(await api.fetchComparison(hass));
    } catch {
      comparison = UNAVAILABLE;
    }
    if (request !== this.comparisonRequest) return;
    this.comparison = comparison;
    this.host.requestUpdate();
  }

  private async loadExceptions(): Promise<void> {
    const hass = this.hass;
    try {
      this.exceptions = hass ? await api.fetchExceptions(hass, this.language) : {};
    } catch {
      this.exceptions = {};
    }
  }
}

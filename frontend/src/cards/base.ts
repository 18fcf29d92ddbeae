// What every card of the panel shares: the user's language, the narrow layout, the way up.
import { LitElement, type CSSResultGroup } from "lit";
import { property } from "lit/decorators.js";
import { fire, type PanelRequest } from "../events";
import { formatTime } from "../format";
import { localizer, type Localize } from "../localize";
import { sharedStyles } from "../styles";

export class PanelCard extends LitElement {
  /** Home Assistant's language ("" until it is known: English). */
  @property({ attribute: false }) language = "";
  @property({ type: Boolean, reflect: true }) narrow = false;

  static styles: CSSResultGroup = sharedStyles;

  protected get localize(): Localize {
    return localizer(this.language || "en");
  }

  /** A date and time in the user's locale, or "never". */
  protected time(value: string | null | undefined): string {
    return formatTime(value, this.language, this.localize("never"));
  }

  /** Ask the panel to run a command (it shows the outcome). */
  protected request(request: PanelRequest): void {
    fire(this, "usage-stats-request", request);
  }
}

/** Define a card's element once (the bundle may be loaded twice). */
export function define(tag: string, element: CustomElementConstructor): void {
  if (!customElements.get(tag)) customElements.define(tag, element);
}

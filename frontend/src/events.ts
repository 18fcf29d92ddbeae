// The events the cards and the dialog send to the panel (bubbling out of their shadow roots).

/** What a card asks the panel to do; the panel calls the websocket command. */
export type PanelRequest =
  | { kind: "set_consent"; level: string }
  | { kind: "set_sections"; sections: string[] }
  | { kind: "accept_report_version"; version: number }
  | { kind: "submit" }
  | { kind: "download" }
  /** Asks for the confirmation first. */
  | { kind: "delete" };

/** What the confirmation dialog asks the user about. */
export type Confirmation = { kind: "delete" } | { kind: "leave"; level: string };

export interface DialogClosed {
  confirmation: Confirmation;
  confirmed: boolean;
}

export interface PanelEvents {
  "usage-stats-request": PanelRequest;
  "usage-stats-dialog-closed": DialogClosed;
}

declare global {
  interface HTMLElementEventMap {
    "usage-stats-request": CustomEvent<PanelRequest>;
    "usage-stats-dialog-closed": CustomEvent<DialogClosed>;
  }
}

/** Send `detail` up to the panel. */
export function fire<K extends keyof PanelEvents>(target: EventTarget, type: K, detail: PanelEvents[K]): void {
  target.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
}

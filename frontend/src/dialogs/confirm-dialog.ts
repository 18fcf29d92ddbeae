// The confirmation before something that cannot be undone: deleting everything, or leaving
// share (which withdraws what was sent). It says what happens; the panel acts on the answer.
import { css, html, LitElement, nothing, type TemplateResult } from "lit";
import { property } from "lit/decorators.js";
import { define } from "../cards/base";
import { fire, type Confirmation } from "../events";
import { localizer, type StringKey } from "../localize";
import { sharedStyles } from "../styles";

export class ConfirmDialog extends LitElement {
  @property({ attribute: false }) confirmation?: Confirmation;
  @property({ attribute: false }) language = "";

  static styles = [
    sharedStyles,
    css`
      .backdrop {
        position: fixed;
        inset: 0;
        display: flex;
        align-items: center;
        justify-content: center;
        background: rgba(0, 0, 0, 0.5);
        z-index: 10;
      }
      .dialog {
        max-width: 520px;
        margin: 16px;
      }
    `,
  ];

  render(): TemplateResult | typeof nothing {
    const confirmation = this.confirmation;
    if (!confirmation) return nothing;
    const l = localizer(this.language || "en");
    // The buttons' ids name what is confirmed: cancel-delete, confirm-leave...
    const [name, title, text, confirm] =
      confirmation.kind === "delete"
        ? ["delete", l("delete_title"), l("delete_text"), l("delete_confirm")]
        : [
            "leave",
            l("leave_share_title", { level: l(`level_${confirmation.level}` as StringKey) }),
            l("leave_share_text"),
            l("leave_share_confirm"),
          ];
    return html`<div class="backdrop">
      <div class="dialog card" role="alertdialog" aria-modal="true" aria-labelledby="${name}-title">
        <h2 id="${name}-title">${title}</h2>
        <p>${text}</p>
        <div class="buttons">
          <button id="cancel-${name}" @click=${() => this.close(confirmation, false)}>${l("cancel")}</button>
          <button id="confirm-${name}" class="danger" @click=${() => this.close(confirmation, true)}>${confirm}</button>
        </div>
      </div>
    </div>`;
  }

  private close(confirmation: Confirmation, confirmed: boolean): void {
    fire(this, "usage-stats-dialog-closed", { confirmation, confirmed });
  }
}

define("usage-stats-confirm-dialog", ConfirmDialog);

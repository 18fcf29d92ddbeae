// Home Assistant's look: its theme variables, so light, dark and custom themes apply.
import { css } from "lit";

/** What every card, the dialog and the panel share. */
export const sharedStyles = css`
  :host {
    display: block;
  }
  .card {
    background: var(--card-background-color, #fff);
    border-radius: var(--ha-card-border-radius, 12px);
    border: 1px solid var(--divider-color, rgba(0, 0, 0, 0.12));
    padding: 16px;
    margin: 0;
  }
  h2 {
    margin: 0 0 12px;
    font-size: 18px;
    font-weight: 500;
  }
  h3 {
    margin: 0 0 8px;
    font-size: 15px;
    font-weight: 500;
  }
  .hint,
  .empty {
    color: var(--secondary-text-color, #727272);
  }
  .empty {
    padding: 24px 8px;
    text-align: center;
  }
  .error {
    color: var(--error-color, #db4437);
  }
  .warning {
    color: var(--warning-color, #ffa600);
  }
  dl {
    display: grid;
    grid-template-columns: max-content 1fr;
    gap: 4px 16px;
    margin: 16px 0 0;
  }
  dt {
    color: var(--secondary-text-color, #727272);
  }
  dd {
    margin: 0;
    overflow-wrap: anywhere;
  }
  button {
    font: inherit;
    padding: 6px 14px;
    border-radius: 18px;
    border: 1px solid var(--divider-color, rgba(0, 0, 0, 0.2));
    background: var(--card-background-color, #fff);
    color: var(--primary-color, #03a9f4);
    cursor: pointer;
  }
  button.selected,
  button:hover:not(:disabled) {
    background: var(--primary-color, #03a9f4);
    color: var(--text-primary-color, #fff);
  }
  button.danger {
    color: var(--error-color, #db4437);
  }
  button.danger:hover:not(:disabled) {
    background: var(--error-color, #db4437);
    color: #fff;
  }
  button.link {
    border: none;
    background: none;
  }
  button:disabled {
    opacity: 0.5;
    cursor: default;
  }
  .buttons {
    display: flex;
    flex-wrap: wrap;
    gap: 8px;
    justify-content: flex-end;
  }
  table {
    width: 100%;
    border-collapse: collapse;
  }
  th,
  td {
    text-align: start;
    padding: 6px 8px;
    border-bottom: 1px solid var(--divider-color, rgba(0, 0, 0, 0.12));
    overflow-wrap: anywhere;
  }
  th {
    font-weight: 500;
    color: var(--secondary-text-color, #727272);
  }
  .num {
    text-align: end;
  }
  /* A wide table scrolls sideways on a narrow screen (its width is the card's, not the table's). */
  .scroll {
    overflow-x: auto;
    contain: inline-size;
  }
  pre {
    margin: 0;
    padding: 12px;
    max-height: 480px;
    overflow: auto;
    font-family: var(--code-font-family, monospace);
    font-size: 12px;
    background: var(--secondary-background-color, #e5e5e5);
    border-radius: 8px;
  }
`;

/** The panel around the cards: the toolbar, the grid of cards, its messages. */
export const panelStyles = css`
  :host {
    display: block;
    min-height: 100vh;
    background: var(--primary-background-color, #fafafa);
    color: var(--primary-text-color, #212121);
    font-family: var(--paper-font-body1_-_font-family, var(--ha-font-family-body, Roboto, sans-serif));
    font-size: 14px;
  }
  .toolbar {
    display: flex;
    align-items: center;
    height: var(--header-height, 56px);
    padding: 0 12px;
    background: var(--app-header-background-color, var(--primary-color, #03a9f4));
    color: var(--app-header-text-color, #fff);
    border-bottom: var(--app-header-border-bottom, none);
    box-sizing: border-box;
  }
  .toolbar h1 {
    margin: 0 0 0 12px;
    font-size: 20px;
    font-weight: 400;
  }
  main {
    max-width: 1200px;
    margin: 0 auto;
    padding: 16px;
    display: grid;
    gap: 16px;
  }
  :host([narrow]) main {
    padding: 8px;
    gap: 8px;
  }
  .message {
    display: flex;
    justify-content: space-between;
    align-items: center;
    gap: 8px;
  }
`;

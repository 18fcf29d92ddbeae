// Home Assistant's look: its theme variables, so light, dark and custom themes apply.
import { css } from "lit";

export const styles = css`
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
  .message {
    display: flex;
    justify-content: space-between;
    align-items: center;
    gap: 8px;
  }
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
  #sections {
    border: 1px solid var(--divider-color, #e0e0e0);
    border-radius: 8px;
    margin: 12px 0;
    padding: 8px 12px;
  }
  #sections label.section {
    display: block;
    padding: 4px 0;
  }
  #report-version h3 {
    margin-top: 16px;
  }
  ul.added code {
    font-size: 0.9em;
  }
  .section-head {
    display: flex;
    flex-wrap: wrap;
    justify-content: space-between;
    align-items: center;
    gap: 8px;
  }
  .ranges {
    display: flex;
    gap: 4px;
  }
  .charts {
    display: grid;
    grid-template-columns: repeat(auto-fit, minmax(340px, 1fr));
    gap: 16px;
  }
  :host([narrow]) .charts {
    grid-template-columns: 1fr;
  }
  .chart-card {
    min-width: 0;
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
  #actions .buttons {
    justify-content: flex-start;
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
  .preview {
    display: grid;
    grid-template-columns: 1fr 1fr;
    gap: 16px;
  }
  :host([narrow]) .preview {
    grid-template-columns: 1fr;
  }
  .preview > div {
    min-width: 0;
  }
  .breakdown th {
    font-family: var(--code-font-family, monospace);
    font-size: 12px;
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
`;

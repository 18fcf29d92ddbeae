// A Lit element around a Chart.js chart; only the parts used are bundled.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartType,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { css, html, LitElement, type PropertyValues } from "lit";
import { property } from "lit/decorators.js";
import type { ChartSpec } from "./chart-specs";

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Legend,
  Tooltip,
);

export class UsageStatsChart extends LitElement {
  @property({ attribute: false }) spec?: ChartSpec;
  @property({ type: Boolean }) dark = false;

  private chart?: Chart<ChartType, (number | null)[], string>;
  private chartType?: string;

  static styles = css`
    :host {
      display: block;
      position: relative;
      height: 240px;
    }
  `;

  render() {
    return html`<canvas role="img"></canvas>`;
  }

  protected updated(changed: PropertyValues<this>): void {
    if (!this.spec) return;
    const canvas = this.renderRoot.querySelector("canvas");
    if (!canvas) return;
    const style = getComputedStyle(this);
    const text = style.getPropertyValue("--primary-text-color").trim() || "#212121";
    const grid = style.getPropertyValue("--divider-color").trim() || "rgba(0,0,0,.12)";
    const { type, data, stacked = false, horizontal = false } = this.spec;
    const scale = { stacked, ticks: { color: text }, grid: { color: grid } };
    const options = {
      animation: false as const,
      responsive: true,
      maintainAspectRatio: false,
      indexAxis: horizontal ? ("y" as const) : ("x" as const),
      plugins: { legend: { labels: { color: text } } },
      scales: { x: { ...scale }, y: { ...scale, beginAtZero: true } },
    };
    if (this.chart && !changed.has("dark") && this.chartType === type) {
      this.chart.data = data;
      this.chart.options = options;
      this.chart.update("none");
      return;
    }
    this.chart?.destroy();
    this.chart = new Chart(canvas, { type, data, options });
    this.chartType = type;
  }

  disconnectedCallback(): void {
    super.disconnectedCallback();
    this.chart?.destroy();
    this.chart = undefined;
  }

  connectedCallback(): void {
    super.connectedCallback();
    if (this.hasUpdated) this.requestUpdate();
  }
}

if (!customElements.get("usage-stats-chart")) {
  customElements.define("usage-stats-chart", UsageStatsChart);
}

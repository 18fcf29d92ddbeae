// What each chart of the statistics card shows, as a Chart.js spec (pure: tested in node).
import type { ChartData } from "chart.js";
import { DURATION_BUCKETS } from "./schema";
import type { Localize, StringKey } from "./localize";

// Readable on light and dark backgrounds.
export const PALETTE = [
  "#4c8bf5",
  "#43a047",
  "#e53935",
  "#fb8c00",
  "#8e24aa",
  "#00897b",
  "#6d4c41",
  "#c0ca33",
];

export interface ChartSpec {
  type: "bar" | "line";
  data: ChartData<"bar" | "line", (number | null)[], string>;
  stacked?: boolean;
  horizontal?: boolean;
}

function color(index: number): string {
  return PALETTE[index % PALETTE.length];
}

/**
 * Jobs per day: the outcomes (completed, failed, cancelled, interrupted) as stacked bars,
 * so a bar is the day's ended jobs, and `started` as a line on the same axis, in a stack of
 * its own (started = the outcomes + the jobs still running, so stacking it counted every
 * job twice).
 */
export function jobsChart(jobs: Record<string, number[]>, labels: string[], l: Localize): ChartSpec {
  const outcomes = Object.keys(jobs);
  const label = (outcome: string) => l(`outcome_${outcome}` as StringKey) ?? outcome;
  const started = jobs.started ?? labels.map(() => 0);
  return {
    type: "bar",
    stacked: true,
    data: {
      labels,
      datasets: [
        {
          type: "line",
          label: label("started"),
          data: started,
          stack: "started",
          borderColor: color(0),
          backgroundColor: color(0),
          borderWidth: 2,
          pointRadius: 2,
        },
        ...outcomes
          .filter((outcome) => outcome !== "started")
          .map((outcome) => ({
            type: "bar" as const,
            label: label(outcome),
            data: jobs[outcome],
            stack: "outcomes",
            backgroundColor: color(outcomes.indexOf(outcome)),
          })),
      ],
    },
  };
}

/** Completed jobs by duration range. */
export function durationsChart(buckets: number[], l: Localize): ChartSpec {
  return {
    type: "bar",
    data: {
      labels: DURATION_BUCKETS.map((bucket) => l(`bucket_${bucket}` as StringKey)),
      datasets: [{ label: l("jobs"), data: buckets, backgroundColor: color(0) }],
    },
  };
}

/** Printers of each type per day, a line each. */
export function printersChart(types: Record<string, (number | null)[]>, labels: string[]): ChartSpec {
  return {
    type: "line",
    data: {
      labels,
      datasets: Object.entries(types).map(([type, data], index) => ({
        label: type,
        data,
        borderColor: color(index),
        backgroundColor: color(index),
        spanGaps: true,
      })),
    },
  };
}

/** Feature entities on and off, a stacked horizontal bar each. */
export function featuresChart(rows: { feature: string; on: number; off: number }[], l: Localize): ChartSpec {
  return {
    type: "bar",
    stacked: true,
    horizontal: true,
    data: {
      labels: rows.map((row) => row.feature),
      datasets: [
        { label: l("on"), data: rows.map((row) => row.on), backgroundColor: color(1) },
        { label: l("off"), data: rows.map((row) => row.off), backgroundColor: color(6) },
      ],
    },
  };
}

/** Events by type. */
export function eventsChart(rows: [string, number][], l: Localize): ChartSpec {
  return {
    type: "bar",
    data: {
      labels: rows.map(([event]) => event),
      datasets: [{ label: l("count"), data: rows.map(([, count]) => count), backgroundColor: color(4) }],
    },
  };
}

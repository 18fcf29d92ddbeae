import assert from "node:assert/strict";
import { test } from "node:test";
import { durationsChart, jobsChart, type ChartSpec } from "../src/chart-specs";
import { dayRange, jobsPerDay } from "../src/data";
import { localizer } from "../src/localize";
import type { Days } from "../src/types";

const l = localizer("en");

const DAYS: Days = {
  "2026-01-01": {
    jobs: { "started/prusa": 5, "completed/prusa": 2, "failed/bambu_lab": 1, "interrupted/prusa": 1 },
  },
  "2026-01-02": { jobs: { "started/prusa": 2, "cancelled/prusa": 1 } },
  "2026-01-03": { jobs: { "started/bambu_lab": 4, "completed/bambu_lab": 4 } },
};

type Dataset = ChartSpec["data"]["datasets"][number];

/** How Chart.js stacks a dataset on a stacked axis: by its `stack`, else its type. */
function stackOf(spec: ChartSpec, dataset: Dataset): string {
  return String(dataset.stack ?? dataset.type ?? spec.type);
}

/** What each stack adds up to per day (the height of its bars or points). */
function stackTotals(spec: ChartSpec): Map<string, number[]> {
  const totals = new Map<string, number[]>();
  for (const dataset of spec.data.datasets) {
    const key = stackOf(spec, dataset);
    const sums = totals.get(key) ?? dataset.data.map(() => 0);
    dataset.data.forEach((value, index) => (sums[index] += value ?? 0));
    totals.set(key, sums);
  }
  return totals;
}

test("jobs per day: the outcomes are stacked, started is a line of its own", () => {
  const range = dayRange(DAYS, 0, "2026-01-03");
  const jobs = jobsPerDay(DAYS, range);
  const spec = jobsChart(jobs, range, l);
  assert.equal(spec.stacked, true);
  // Each bar is the day's ended jobs (the outcomes), not twice the day's jobs: no stack holds
  // both started and an outcome.
  const bars = spec.data.datasets.filter((dataset) => (dataset.type ?? spec.type) === "bar");
  const barStacks = new Set(bars.map((dataset) => stackOf(spec, dataset)));
  assert.equal(barStacks.size, 1);
  assert.deepEqual(stackTotals(spec).get([...barStacks][0]), [4, 1, 4]);
  assert.deepEqual(
    bars.map((dataset) => dataset.label),
    ["Completed", "Failed", "Cancelled", "Interrupted"],
  );
  // Started is a line on the same axis, in a stack of its own.
  const started = spec.data.datasets.filter((dataset) => dataset.label === "Started");
  assert.equal(started.length, 1);
  assert.equal(started[0].type, "line");
  assert.ok(!barStacks.has(stackOf(spec, started[0])));
  assert.deepEqual(stackTotals(spec).get(stackOf(spec, started[0])), [5, 2, 4]);
});

test("jobs per day without a started job draw a flat line", () => {
  const spec = jobsChart({ completed: [1, 2] }, ["01-01", "01-02"], l);
  assert.deepEqual(spec.data.datasets[0].data, [0, 0]);
  assert.equal(spec.data.datasets.length, 2);
});

test("durations are one dataset in the catalogue's bucket order, with translated labels", () => {
  const spec = durationsChart([1, 0, 3, 0, 0, 0, 1], localizer("de"));
  assert.equal(spec.data.labels?.length, 7);
  assert.equal(spec.data.datasets[0].label, "Aufträge");
});

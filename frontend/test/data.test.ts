import assert from "node:assert/strict";
import { test } from "node:test";
import {
  breakdown,
  dayRange,
  durations,
  errors,
  events,
  features,
  jobsPerDay,
  printersByType,
} from "../src/data";
import type { Days } from "../src/types";

const DAYS: Days = {
  "2026-01-01": {
    jobs: { "completed/prusa": 2, "failed/bambu_lab": 1, "started/prusa": 3, "interrupted/prusa": 1 },
    job_duration: { lt_30m: 1, "1h_2h": 2 },
    printers_by_type: { prusa: 2 },
    features: { "prusalink.light/on": 1, "prusalink.light/off": 1 },
    events: { ha_start: 1 },
    errors: { prusalink: 0, "prusalink/TimeoutError": 2 },
  },
  "2026-01-03": {
    jobs: { "completed/bambu_lab": 4 },
    job_duration: { "1h_2h": 1, gt_24h: 1 },
    printers_by_type: { prusa: 2, bambu_lab: 1 },
    events: { ha_start: 2, printer_offline: 5 },
    errors: { "bambu_lab/ConnectionError": 3 },
  },
};

test("ranges count back from the last day; all starts at the oldest day", () => {
  assert.deepEqual(dayRange(DAYS, 7, "2026-01-03"), [
    "2025-12-28",
    "2025-12-29",
    "2025-12-30",
    "2025-12-31",
    "2026-01-01",
    "2026-01-02",
    "2026-01-03",
  ]);
  assert.deepEqual(dayRange(DAYS, 0, "2026-01-03"), ["2026-01-01", "2026-01-02", "2026-01-03"]);
  assert.deepEqual(dayRange({}, 0, "2026-01-03"), ["2026-01-03"]);
  assert.equal(dayRange(DAYS, 90, "2026-03-01").length, 90);
});

test("jobs per day are summed over printer types, by outcome", () => {
  const range = dayRange(DAYS, 0, "2026-01-03");
  assert.deepEqual(jobsPerDay(DAYS, range), {
    started: [3, 0, 0],
    completed: [2, 0, 4],
    failed: [1, 0, 0],
    cancelled: [0, 0, 0],
    interrupted: [1, 0, 0],
  });
});

test("durations follow the catalogue's buckets", () => {
  const range = dayRange(DAYS, 0, "2026-01-03");
  assert.deepEqual(durations(DAYS, range), [1, 0, 3, 0, 0, 0, 1]);
  assert.deepEqual(durations(DAYS, ["2026-01-02"]), [0, 0, 0, 0, 0, 0, 0]);
});

test("printers by type are snapshots: no value on days without one", () => {
  const range = dayRange(DAYS, 0, "2026-01-03");
  assert.deepEqual(printersByType(DAYS, range), {
    prusa: [2, null, 2],
    bambu_lab: [null, null, 1],
  });
});

test("features show the latest day that has them", () => {
  const range = dayRange(DAYS, 0, "2026-01-03");
  assert.deepEqual(features(DAYS, range), [{ feature: "prusalink.light", on: 1, off: 1 }]);
  assert.deepEqual(features(DAYS, ["2026-01-03"]), []);
});

test("errors and events are totals of the range, most first", () => {
  const range = dayRange(DAYS, 0, "2026-01-03");
  assert.deepEqual(errors(DAYS, range), [
    { component: "bambu_lab", errorType: "ConnectionError", count: 3 },
    { component: "prusalink", errorType: "TimeoutError", count: 2 },
    { component: "prusalink", errorType: "", count: 0 },
  ]);
  assert.deepEqual(events(DAYS, range), [
    ["printer_offline", 5],
    ["ha_start", 3],
  ]);
  assert.deepEqual(events(DAYS, ["2026-01-01"]), [["ha_start", 1]]);
});

test("the breakdown lists every value with its path", () => {
  assert.deepEqual(breakdown({ period: { start: "a", days: 2 }, events: {}, list: [1] }), [
    ["period › start", "a"],
    ["period › days", "2"],
    ["events", "—"],
    ["list › 0", "1"],
  ]);
});

test("365 days are summarised quickly", () => {
  const days: Days = {};
  const start = Date.parse("2025-01-01T00:00:00Z");
  for (let index = 0; index < 365; index++) {
    const day = new Date(start + index * 86_400_000).toISOString().slice(0, 10);
    days[day] = { jobs: { "completed/prusa": index }, events: { ha_start: 1 } };
  }
  const range = dayRange(days, 0, "2025-12-31");
  assert.equal(range.length, 365);
  assert.equal(jobsPerDay(days, range).completed.reduce((a, b) => a + b, 0), (364 * 365) / 2);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  breakdown,
  dayRange,
  durations,
  errors,
  events,
  features,
  fleet,
  jobsPerDay,
  modelText,
  printersByType,
} from "../src/data";
import { localizer } from "../src/localize";
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

// The fleet counters as the integration records them (catalogue.py: printer_integrations is
// integration/printer_type/version, printer_models printer_type/model/firmware).
const FLEET: Days = {
  "2026-01-01": {
    printer_integrations: { "prusalink/prusa/2025.4.4": 1 },
    printer_models: { "prusa/unknown/unknown": 1 },
  },
  "2026-01-02": { jobs: { "completed/prusa": 1 } },
  "2026-01-03": {
    printer_integrations: { "prusalink/prusa/2025.4.4": 2, "bambu_lab/bambu_lab/2.1.0": 3 },
    printer_models: {
      "prusa/unknown/unknown": 2,
      "bambu_lab/x1c/1.8": 1,
      "bambu_lab/p1s/1.7": 1,
      "bambu_lab/a1/unknown": 1,
      "creality/k1/unknown": 1,
    },
  },
};

test("the fleet is the latest day's integrations, with the models and firmware of their types", () => {
  const range = dayRange(FLEET, 0, "2026-01-03");
  assert.deepEqual(fleet(FLEET, range), {
    day: "2026-01-03",
    rows: [
      {
        integration: "bambu_lab",
        printerType: "bambu_lab",
        version: "2.1.0",
        printers: 3,
        models: [
          { model: "a1", firmware: null, printers: 1 },
          { model: "p1s", firmware: "1.7", printers: 1 },
          { model: "x1c", firmware: "1.8", printers: 1 },
        ],
      },
      // Model and firmware not read from the printer: none shown.
      { integration: "prusalink", printerType: "prusa", version: "2025.4.4", printers: 2, models: [] },
      // Models of a type without an integration that day: a row of their own.
      {
        integration: "",
        printerType: "creality",
        version: "",
        printers: 1,
        models: [{ model: "k1", firmware: null, printers: 1 }],
      },
    ],
  });
  // The latest day of the range that has them; none in a range without them.
  assert.equal(fleet(FLEET, ["2026-01-01", "2026-01-02"])?.day, "2026-01-01");
  assert.equal(fleet(FLEET, ["2026-01-02"]), null);
  assert.equal(fleet({}, ["2026-01-02"]), null);
});

test("the more printers of a model, the higher it is listed", () => {
  const days: Days = {
    "2026-01-01": { printer_models: { "bambu_lab/x1c/1.8": 1, "bambu_lab/x1c/1.9": 4, "bambu_lab/unknown/1.9": 2 } },
  };
  assert.deepEqual(fleet(days, ["2026-01-01"])?.rows[0].models, [
    { model: "x1c", firmware: "1.9", printers: 4 },
    { model: null, firmware: "1.9", printers: 2 },
    { model: "x1c", firmware: "1.8", printers: 1 },
  ]);
});

test("a model reads the same in both languages' words", () => {
  const en = localizer("en");
  const de = localizer("de");
  assert.equal(modelText({ model: "x1c", firmware: "1.8", printers: 2 }, en), "x1c, firmware 1.8: 2");
  assert.equal(modelText({ model: "a1", firmware: null, printers: 1 }, en), "a1, firmware not known: 1");
  assert.equal(modelText({ model: null, firmware: "1.9", printers: 1 }, en), "model not known, firmware 1.9: 1");
  assert.equal(modelText({ model: "x1c", firmware: "1.8", printers: 2 }, de), "x1c, Firmware 1.8: 2");
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

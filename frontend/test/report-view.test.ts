import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { breakdown } from "../src/data";
import { localizer } from "../src/localize";
import { otlpTables, previewTables, reportTables, type ReportTable } from "../src/report-view";

const l = localizer("en");

// A report of version 3 (schema minor revision 2), valid against report-v1.schema.json, and
// the same report as the integration's to_otlp maps it.
function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`fixtures/${name}`, import.meta.url), "utf8")) as Record<string, unknown>;
}
const REPORT = fixture("report-v3.json");
const OTLP = fixture("report-v3.otlp.json");

function byPath(tables: ReportTable[], path: string): ReportTable {
  const table = tables.find((item) => item.path === path);
  assert.ok(table, path);
  return table;
}

test("a report of version 3: a table for each part, the new fields included", () => {
  const tables = reportTables(REPORT, l);
  assert.deepEqual(
    tables.map((table) => table.path),
    [
      "",
      "printer_fleet.types",
      "printer_fleet.integrations",
      "printer_fleet.models",
      "printer_fleet.firmware",
      "features",
      "jobs",
      "jobs.duration",
      "jobs.by_model",
      "events",
      "errors",
    ],
  );
  const integrations = byPath(tables, "printer_fleet.integrations");
  assert.equal(integrations.title, "Printer integrations and their versions");
  assert.deepEqual(integrations.columns, ["Integration", "Printer type", "Version", "Printers"]);
  assert.equal(integrations.numbersFrom, 3);
  assert.deepEqual(integrations.rows, [
    ["prusalink", "prusa", "2025.4.4", "2"],
    ["bambu_lab", "bambu_lab", "2.1.0", "1"],
  ]);
  assert.deepEqual(byPath(tables, "printer_fleet.models").rows, [["bambu_lab", "x1c", "1"]]);
  assert.deepEqual(byPath(tables, "printer_fleet.firmware").columns, ["Printer type", "Firmware", "Printers"]);
  assert.deepEqual(byPath(tables, "printer_fleet.firmware").rows, [["bambu_lab", "1.8", "1"]]);
  assert.deepEqual(byPath(tables, "printer_fleet.types").rows, [
    ["prusa", "2"],
    ["bambu_lab", "1"],
    ["All printers", "3"],
  ]);
  const byModel = byPath(tables, "jobs.by_model");
  assert.deepEqual(byModel.columns, ["Printer type", "Model", "Started", "Completed", "Cancelled"]);
  assert.deepEqual(byModel.rows, [["bambu_lab", "x1c", "2", "1", "1"]]);
});

test("jobs by type have a column per outcome in the schema's order, durations its buckets", () => {
  const tables = reportTables(REPORT, l);
  const jobs = byPath(tables, "jobs");
  assert.deepEqual(jobs.columns, ["Printer type", "Started", "Completed", "Failed", "Cancelled", "Interrupted"]);
  assert.deepEqual(jobs.rows, [
    ["prusa", "9", "7", "1", "0", "0"],
    ["bambu_lab", "2", "1", "0", "1", "0"],
  ]);
  assert.deepEqual(byPath(tables, "jobs.duration").rows, [
    ["< 30 min", "2"],
    ["1–2 h", "5"],
    ["> 24 h", "1"],
  ]);
  assert.deepEqual(byPath(tables, "errors").rows, [
    ["prusalink", "TimeoutError", "3"],
    ["bambu_lab", "printer_error", "1"],
  ]);
  assert.deepEqual(byPath(tables, "features").rows, [["prusalink.chamber_light", "7", "7"]]);
});

test("every value of the report is shown, the head as paths", () => {
  const tables = reportTables(REPORT, l);
  const head = tables[0];
  assert.ok(head.fields);
  assert.deepEqual(head.rows[0], ["schema_version", "1"]);
  assert.ok(head.rows.some(([path, value]) => path === "installation › ha_version" && value === "2025.4.4"));
  const cells = new Set(tables.flatMap((table) => table.rows.flat()));
  for (const [path, value] of breakdown(REPORT)) {
    if (value !== "—") assert.ok(cells.has(value), `${path}: ${value}`);
  }
  // No table of values the panel does not know.
  assert.ok(!tables.some((table) => table.title === "Other values"));
});

test("what the panel does not know is listed with its path, not left out", () => {
  const report = {
    ...REPORT,
    printer_fleet: { ...(REPORT.printer_fleet as object), integrations: "odd", hubs: { a: 1 } },
    jobs: { ...(REPORT.jobs as object), by_model: { "bambu_lab.x1c": { started: "x" } } },
  };
  const tables = reportTables(report, l);
  const other = tables[tables.length - 1];
  assert.equal(other.title, "Other values");
  assert.deepEqual(other.rows, [
    ["printer_fleet › integrations", "odd"],
    ["printer_fleet › hubs › a", "1"],
    ["jobs › by_model › bambu_lab.x1c › started", "x"],
  ]);
  assert.ok(!tables.some((table) => table.path === "printer_fleet.integrations"));
});

test("a report of version 1: no new fields, no interrupted column; a section left out has no table", () => {
  const rest: Record<string, unknown> = { ...REPORT };
  delete rest.events;
  delete rest.schema_minor;
  const fleetOld = { printers: 3, types: { prusa: 3 } };
  const jobs = { started: { prusa: 2 }, completed: { prusa: 2 }, failed: {}, cancelled: {}, duration: {} };
  const tables = reportTables({ ...rest, printer_fleet: fleetOld, jobs }, l);
  const paths = tables.map((table) => table.path);
  assert.ok(!paths.includes("printer_fleet.integrations"));
  assert.ok(!paths.includes("jobs.by_model"));
  assert.ok(!paths.includes("events"));
  assert.deepEqual(byPath(tables, "jobs").columns, ["Printer type", "Started", "Completed", "Failed", "Cancelled"]);
  assert.deepEqual(byPath(tables, "jobs.duration").rows, []);
  assert.ok(!tables[0].rows.some(([path]) => path === "schema_minor"));
});

test("the OTLP form: the resource's attributes, then a table per metric with its attributes", () => {
  const tables = previewTables(OTLP, l);
  assert.deepEqual(tables, otlpTables(OTLP, l));
  assert.ok(tables[0].rows.some(([key, value]) => key === "usage_stats.schema_minor" && value === "2"));
  const integrations = byPath(tables, "usage_stats.printers.by_integration");
  assert.equal(integrations.title, "Printer integrations and their versions");
  assert.deepEqual(integrations.columns, ["integration", "type", "version", "Value"]);
  assert.deepEqual(
    [...integrations.rows].sort(),
    [
      ["bambu_lab", "bambu_lab", "2.1.0", "1"],
      ["prusalink", "prusa", "2025.4.4", "2"],
    ],
  );
  assert.deepEqual(byPath(tables, "usage_stats.printers.by_firmware").rows, [["bambu_lab", "1.8", "1"]]);
  const byModel = byPath(tables, "usage_stats.jobs.by_model");
  assert.deepEqual(byModel.columns, ["outcome", "type", "model", "Value"]);
  assert.equal(byModel.numbersFrom, 3);
  assert.ok(byModel.rows.some((row) => row.join() === "completed,bambu_lab,x1c,1"));
  assert.deepEqual(byPath(tables, "usage_stats.printers").rows, [["3"]]);
});

test("the JSON form is read as a report, in the user's language", () => {
  const tables = previewTables(REPORT, localizer("de"));
  assert.equal(byPath(tables, "printer_fleet.integrations").title, "Druckerintegrationen und ihre Versionen");
  assert.equal(byPath(tables, "jobs").columns[5], "Unterbrochen");
  assert.equal(tables[0].title, "Bericht");
});

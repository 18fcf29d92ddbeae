import assert from "node:assert/strict";
import { test } from "node:test";
import { checkComparison, communitySize, comparisonRows, DASH, plural, UNAVAILABLE } from "../src/comparison";
import { formatPercent } from "../src/format";
import { localizer } from "../src/localize";
import type { ComparisonPrinter } from "../src/types";

const en = localizer("en");
const de = localizer("de");

const PRINTER: ComparisonPrinter = {
  integration: "octoprint",
  printer_type: "octoprint",
  local: {
    started: 10,
    completed: 7,
    failed: 1,
    cancelled: 1,
    interrupted: 0,
    completion_rate: 0.7,
    failure_rate: 0.1,
    integration_version: "2025.4.4",
    model: "x1c",
    firmware: "1.8",
  },
  community: {
    installations: 40,
    completion_rate: 0.8125,
    failure_rate: 0.05,
    version_installations: 12,
    firmware_share: 0.4,
    newer_firmware: "1.9",
    model_share: 0.3,
  },
};

/** Each row as [id, yours, community], notes in brackets. */
function table(printer: ComparisonPrinter, language = "en", l = en): string[][] {
  const text = (cell: { text: string; note?: string }) => (cell.note ? `${cell.text} [${cell.note}]` : cell.text);
  return comparisonRows(printer, language, l).map((row) => [row.id, text(row.yours), text(row.community)]);
}

test("every row of a printer known to the community, in English", () => {
  assert.deepEqual(table(PRINTER), [
    ["completion", "70% [7 of 10 started]", "81.3%"],
    ["failure", "10% [1 of 10 started]", "5%"],
    ["version", "2025.4.4", "used by 12 installations"],
    ["firmware", "1.8", "40% of this printer type"],
    ["newer_firmware", "", "Yes: 1.9"],
    ["model", "x1c", "30% of this printer type"],
  ]);
  assert.equal(communitySize(PRINTER, "en", en), "40 installations in the community have this printer type.");
});

test("percentages and labels follow the user's locale", () => {
  const rows = table(PRINTER, "de", de);
  // German puts a no-break space before the percent sign.
  assert.deepEqual(rows[0], ["completion", "70\u00a0% [7 von 10 gestarteten]", "81,3\u00a0%"]);
  assert.equal(comparisonRows(PRINTER, "de", de)[0].label, "Abschlussquote");
  assert.equal(rows[4][2], "Ja: 1.9");
  assert.equal(formatPercent(0.5, "de"), "50\u00a0%");
});

test("withheld and unknown numbers show as a dash with a short reason", () => {
  const printer: ComparisonPrinter = {
    ...PRINTER,
    local: { ...PRINTER.local, started: 0, completed: 0, failed: 0, completion_rate: null, failure_rate: null, model: null },
    community: {
      installations: null,
      completion_rate: null,
      failure_rate: null,
      version_installations: null,
      firmware_share: null,
      newer_firmware: null,
      model_share: null,
    },
  };
  assert.deepEqual(table(printer), [
    ["completion", `${DASH} [no job started]`, `${DASH} [withheld: too few installations]`],
    ["failure", `${DASH} [no job started]`, `${DASH} [withheld: too few installations]`],
    ["version", "2025.4.4", `${DASH} [withheld: too few installations]`],
    ["firmware", "1.8", `${DASH} [withheld: too few installations]`],
    ["newer_firmware", "", "No"],
  ]);
  assert.match(communitySize(printer, "en", en), /withheld/);
});

test("without a known firmware or version there is nothing to compare them with", () => {
  const printer: ComparisonPrinter = {
    ...PRINTER,
    local: { ...PRINTER.local, firmware: null, integration_version: null },
    community: { ...PRINTER.community, version_installations: null, firmware_share: null, newer_firmware: null },
  };
  const rows = Object.fromEntries(table(printer).map(([id, yours, community]) => [id, [yours, community]]));
  assert.deepEqual(rows.version, [`${DASH} [not known]`, DASH]);
  assert.deepEqual(rows.firmware, [`${DASH} [not known]`, DASH]);
  assert.deepEqual(rows.newer_firmware, ["", DASH]);
});

test("one installation is singular, in both languages", () => {
  assert.equal(plural(en, "en", "comparison_version_installations", 1), "used by 1 installation");
  assert.equal(plural(de, "de", "comparison_version_installations", 1), "von 1 Installation genutzt");
  assert.equal(plural(de, "de", "comparison_version_installations", 1234), "von 1.234 Installationen genutzt");
});

test("an answer the card does not understand is shown as unavailable", () => {
  assert.equal(checkComparison(null), UNAVAILABLE);
  assert.equal(checkComparison({ status: "later" }), UNAVAILABLE);
  const partial = checkComparison({ status: "ok", week: "2026-W48", printers: [PRINTER, { integration: "x" }] });
  assert.equal(partial.status, "ok");
  assert.equal(partial.fetched_at, null);
  assert.deepEqual(partial.printers, [PRINTER]);
  assert.deepEqual(checkComparison({ status: "not_shared" }).printers, []);
});

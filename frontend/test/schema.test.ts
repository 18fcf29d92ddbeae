import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { DURATION_BUCKETS, JOB_OUTCOMES, SECTIONS } from "../src/schema";

// The wire contract, read as a file (src/schema.ts imports it at build time).
const SCHEMA = JSON.parse(
  readFileSync(new URL("../../schemas/report-v1.schema.json", import.meta.url), "utf8"),
) as { $defs: Record<string, { enum?: string[] }> };

const LISTS: [string, readonly string[], string][] = [
  ["outcome", JOB_OUTCOMES, "outcome_"],
  ["duration_bucket", DURATION_BUCKETS, "bucket_"],
  ["section", SECTIONS, "section_"],
];

test("the panel's outcomes, duration buckets and sections are the report schema's", () => {
  for (const [name, list] of LISTS) {
    const values = SCHEMA.$defs[name].enum;
    assert.ok(values?.length, name);
    assert.deepEqual([...list], values, name);
  }
});

test("every outcome, duration bucket and section of the schema has a text in both languages", () => {
  for (const language of ["en.json", "de.json"]) {
    const strings = JSON.parse(
      readFileSync(new URL(`../src/translations/${language}`, import.meta.url), "utf8"),
    ) as Record<string, string>;
    for (const [name, list, prefix] of LISTS) {
      for (const value of list) assert.ok(strings[`${prefix}${value}`], `${language}: ${name} ${value}`);
    }
  }
});

test("the bundle holds the schema's lists, not the whole schema", () => {
  const bundle = readFileSync(
    new URL("../../custom_components/usage_stats/frontend/usage-stats-panel.js", import.meta.url),
    "utf8",
  );
  const schema = readFileSync(new URL("../../schemas/report-v1.schema.json", import.meta.url), "utf8");
  const title = (JSON.parse(schema) as { title: string }).title;
  assert.ok(!bundle.includes(title), "the schema's title is in the bundle");
  for (const [, list] of LISTS) assert.ok(bundle.includes(JSON.stringify(list)), list.join());
});

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { format, localizer } from "../src/localize";

const DIR = new URL("../src/translations/", import.meta.url);

function load(name: string): Record<string, string> {
  return JSON.parse(readFileSync(new URL(name, DIR), "utf8")) as Record<string, string>;
}

test("every language has exactly the English keys and placeholders", () => {
  const en = load("en.json");
  const files = readdirSync(DIR).filter((name) => name.endsWith(".json"));
  assert.deepEqual(files.sort(), ["de.json", "en.json"]);
  for (const file of files) {
    const strings = load(file);
    assert.deepEqual(Object.keys(strings).sort(), Object.keys(en).sort(), file);
    for (const [key, text] of Object.entries(en)) {
      const placeholders = (value: string) => (value.match(/\{\w+\}/g) ?? []).sort();
      assert.deepEqual(placeholders(strings[key]), placeholders(text), `${file}: ${key}`);
      assert.ok(strings[key].trim(), `${file}: ${key} is empty`);
    }
  }
});

test("the source uses only keys that exist", () => {
  const en = load("en.json");
  const src = new URL("../src/", import.meta.url);
  const files = readdirSync(src, { recursive: true, encoding: "utf8" }).filter((name) => name.endsWith(".ts"));
  const source = files.map((name) => readFileSync(new URL(name, src), "utf8")).join("\n");
  const used = [...source.matchAll(/\bl\("(\w+)"/g)].map((match) => match[1]);
  assert.ok(used.length > 40);
  for (const key of used) assert.ok(key in en, key);
  // Keys built from a level, status, outcome or bucket name.
  for (const prefix of ["level_", "status_", "outcome_", "bucket_", "section_"]) {
    assert.ok(Object.keys(en).some((key) => key.startsWith(prefix)), prefix);
  }
});

test("every report section has the options' text, in both languages", () => {
  for (const name of ["en.json", "de.json"]) {
    const panel = load(name);
    const integration = JSON.parse(
      readFileSync(new URL(`../../custom_components/usage_stats/translations/${name}`, import.meta.url), "utf8"),
    ) as { selector: { sections: { options: Record<string, string> } } };
    const options = integration.selector.sections.options;
    assert.ok(Object.keys(options).length >= 5);
    for (const [section, text] of Object.entries(options)) assert.equal(panel[`section_${section}`], text, name);
  }
});

test("German is used for de and de-CH, English for unknown languages", () => {
  assert.equal(localizer("de")("title"), "Nutzungsstatistik");
  assert.equal(localizer("de-CH")("title"), "Nutzungsstatistik");
  assert.equal(localizer("xx")("title"), "Usage Statistics");
  assert.equal(localizer("en")("range_days", { days: 7 }), "7 days");
});

test("placeholders are filled, unknown ones kept", () => {
  assert.equal(format("{a} and {b}", { a: 1 }), "1 and {b}");
});

// The preview card's readable form of a report: one table per part of it, in the user's
// language (pure: tested in node). Every value of a report in the JSON form is in a table:
// what the panel does not know (a field of a newer revision, an unexpected shape) is listed
// with its path in the last one, so nothing is left out. The OTLP form: its resource's
// attributes, then each metric's data points.
import { breakdown } from "./data";
import type { Localize, StringKey } from "./localize";
import { DURATION_BUCKETS, JOB_OUTCOMES, SECTIONS } from "./schema";

export interface ReportTable {
  /** Where it is in the report: "" for its head, a section, or a section's field ("jobs.by_model"). */
  path: string;
  title: string;
  columns: string[];
  /** Columns from this index on hold numbers. */
  numbersFrom: number;
  rows: string[][];
  /** Paths and their values (the report's head, the values the panel does not know). */
  fields?: boolean;
}

type Obj = Record<string, unknown>;

const isObject = (value: unknown): value is Obj =>
  value !== null && typeof value === "object" && !Array.isArray(value);

const isCounts = (value: unknown): value is Record<string, number> =>
  isObject(value) && Object.values(value).every((count) => typeof count === "number");

const text = (value: unknown): string => (value === undefined || value === null ? "—" : String(value));

/** `{ key: { key: n } }`, as printer_fleet.models and firmware and errors are. */
const isNestedCounts = (value: unknown): value is Record<string, Record<string, number>> =>
  isObject(value) && Object.values(value).every(isCounts);

/** The known outcomes of `keys` in the schema's order, then any others. */
function outcomesOf(keys: Iterable<string>): string[] {
  const present = new Set(keys);
  return [...JOB_OUTCOMES.filter((outcome) => present.has(outcome)), ...[...present].filter((key) => !JOB_OUTCOMES.includes(key))];
}

function outcomeLabel(l: Localize, outcome: string): string {
  return JOB_OUTCOMES.includes(outcome) ? l(`outcome_${outcome}` as StringKey) : outcome;
}

/** Reads a report's parts into tables; what it does not understand goes to `rest`. */
class Reader {
  readonly tables: ReportTable[] = [];
  readonly rest: [string, string][] = [];

  constructor(private readonly l: Localize) {}

  table(path: string, title: StringKey, columns: string[], numbersFrom: number, rows: string[][]): void {
    this.tables.push({ path, title: this.l(title), columns, numbersFrom, rows });
  }

  other(path: string, value: unknown): void {
    this.rest.push(...breakdown(value, path.split(".").join(" › ")));
  }

  printerFleet(fleet: Obj): void {
    const l = this.l;
    const { printers, types, integrations, models, firmware, ...others } = fleet;
    if (printers !== undefined && typeof printers !== "number") this.other("printer_fleet.printers", printers);
    if (types !== undefined && !isCounts(types)) this.other("printer_fleet.types", types);
    if (isCounts(types) || typeof printers === "number") {
      const rows = Object.entries(isCounts(types) ? types : {}).map(([type, count]) => [type, text(count)]);
      if (typeof printers === "number") rows.push([l("view_all_types"), text(printers)]);
      this.table("printer_fleet.types", "view_types", [l("col_printer_type"), l("col_printers")], 1, rows);
    }
    if (integrations !== undefined) {
      if (isObject(integrations) && Object.values(integrations).every(isObject)) {
        this.table(
          "printer_fleet.integrations",
          "view_integrations",
          [l("col_integration"), l("col_printer_type"), l("col_version"), l("col_printers")],
          3,
          Object.entries(integrations as Record<string, Obj>).map(([domain, item]) => [
            domain,
            text(item.type),
            text(item.version),
            text(item.printers),
          ]),
        );
      } else this.other("printer_fleet.integrations", integrations);
    }
    this.perType("printer_fleet.models", "view_models", l("col_model"), models);
    this.perType("printer_fleet.firmware", "view_firmware", l("col_firmware"), firmware);
    for (const [key, value] of Object.entries(others)) this.other(`printer_fleet.${key}`, value);
  }

  /** `{type: {value: n}}`: printers per model or firmware of each printer type. */
  private perType(path: string, title: StringKey, column: string, value: unknown): void {
    if (value === undefined) return;
    if (!isNestedCounts(value)) return this.other(path, value);
    const rows = Object.entries(value).flatMap(([type, counts]) =>
      Object.entries(counts).map(([name, count]) => [type, name, text(count)]),
    );
    this.table(path, title, [this.l("col_printer_type"), column, this.l("col_printers")], 2, rows);
  }

  features(features: Obj): void {
    const l = this.l;
    if (!Object.values(features).every(isCounts)) return this.other("features", features);
    const rows = Object.entries(features as Record<string, Record<string, number>>).map(([feature, states]) => [
      feature,
      text(states.on ?? 0),
      text(states.off ?? 0),
    ]);
    this.table("features", "view_features", [l("col_feature"), l("on"), l("off")], 1, rows);
  }

  jobs(jobs: Obj): void {
    const l = this.l;
    const { duration, by_model: byModel, ...rest } = jobs;
    // The outcomes: {outcome: {type: n}}, one row per printer type.
    const outcomes = outcomesOf(Object.keys(rest).filter((key) => isCounts(rest[key])));
    if (outcomes.length) {
      const types = [...new Set(outcomes.flatMap((outcome) => Object.keys(rest[outcome] as Obj)))];
      this.table(
        "jobs",
        "view_jobs",
        [l("col_printer_type"), ...outcomes.map((outcome) => outcomeLabel(l, outcome))],
        1,
        types.map((type) => [type, ...outcomes.map((outcome) => text((rest[outcome] as Obj)[type] ?? 0))]),
      );
    }
    for (const [key, value] of Object.entries(rest)) {
      if (!outcomes.includes(key)) this.other(`jobs.${key}`, value);
    }
    if (duration !== undefined) {
      if (isCounts(duration)) {
        const keys = [
          ...DURATION_BUCKETS.filter((bucket) => bucket in duration),
          ...Object.keys(duration).filter((key) => !DURATION_BUCKETS.includes(key)),
        ];
        const bucketLabel = (bucket: string) =>
          DURATION_BUCKETS.includes(bucket) ? l(`bucket_${bucket}` as StringKey) : bucket;
        this.table(
          "jobs.duration",
          "view_durations",
          [l("col_duration"), l("jobs")],
          1,
          keys.map((bucket) => [bucketLabel(bucket), text(duration[bucket])]),
        );
      } else this.other("jobs.duration", duration);
    }
    if (byModel !== undefined) {
      if (isNestedCounts(byModel)) {
        const columns = outcomesOf(Object.values(byModel).flatMap((counts) => Object.keys(counts)));
        this.table(
          "jobs.by_model",
          "view_jobs_by_model",
          [l("col_printer_type"), l("col_model"), ...columns.map((outcome) => outcomeLabel(l, outcome))],
          2,
          Object.entries(byModel).map(([key, counts]) => {
            // `<type>.<model>`; the folded rest is `other` (type and model other).
            const dot = key.indexOf(".");
            const [type, model] = dot < 0 ? [key, key] : [key.slice(0, dot), key.slice(dot + 1)];
            return [type, model, ...columns.map((outcome) => text(counts[outcome] ?? 0))];
          }),
        );
      } else this.other("jobs.by_model", byModel);
    }
  }

  events(events: Obj): void {
    if (!isCounts(events)) return this.other("events", events);
    const l = this.l;
    this.table(
      "events",
      "view_events",
      [l("col_event"), l("count")],
      1,
      Object.entries(events).map(([event, count]) => [event, text(count)]),
    );
  }

  errors(errors: Obj): void {
    if (!isNestedCounts(errors)) return this.other("errors", errors);
    const l = this.l;
    const rows = Object.entries(errors).flatMap(([component, counts]) =>
      Object.entries(counts).map(([errorType, count]) => [component, errorType, text(count)]),
    );
    this.table("errors", "view_errors", [l("component"), l("error_type"), l("count")], 2, rows);
  }
}

function fieldTable(l: Localize, title: StringKey, rows: string[][]): ReportTable {
  return { path: "", title: l(title), columns: [l("view_field"), l("view_value")], numbersFrom: 2, rows, fields: true };
}

/** The tables of a report in the JSON form (report-v1.schema.json). */
export function reportTables(report: Obj, l: Localize): ReportTable[] {
  const reader = new Reader(l);
  const head: [string, string][] = [];
  for (const [key, value] of Object.entries(report)) {
    if (!SECTIONS.includes(key)) head.push(...breakdown(value, key));
  }
  for (const section of SECTIONS) {
    const value = report[section];
    if (value === undefined) continue;
    if (!isObject(value)) reader.other(section, value);
    else if (section === "printer_fleet") reader.printerFleet(value);
    else if (section === "features") reader.features(value);
    else if (section === "jobs") reader.jobs(value);
    else if (section === "events") reader.events(value);
    else if (section === "errors") reader.errors(value);
    // A section of a newer schema: as it is.
    else reader.other(section, value);
  }
  return [fieldTable(l, "view_report", head), ...reader.tables, ...(reader.rest.length ? [fieldTable(l, "view_other", reader.rest)] : [])];
}

// The OTLP metrics and the parts of the JSON form they hold (README of schemas/).
const OTLP_TITLES: Record<string, StringKey> = {
  "usage_stats.printers": "view_printers",
  "usage_stats.printers.by_type": "view_types",
  "usage_stats.printers.by_integration": "view_integrations",
  "usage_stats.printers.by_model": "view_models",
  "usage_stats.printers.by_firmware": "view_firmware",
  "usage_stats.features": "view_features",
  "usage_stats.jobs": "view_jobs",
  "usage_stats.jobs.duration": "view_durations",
  "usage_stats.jobs.by_model": "view_jobs_by_model",
  "usage_stats.events": "view_events",
  "usage_stats.errors": "view_errors",
};

interface OtlpAttribute {
  key?: string;
  value?: Record<string, unknown>;
}

function attributeValue(attribute: OtlpAttribute): string {
  const value = attribute.value ?? {};
  return text(value.stringValue ?? value.intValue ?? value.doubleValue ?? value.boolValue);
}

/** The tables of a report in the OTLP form: its resource, then one table per metric. */
export function otlpTables(body: Obj, l: Localize): ReportTable[] {
  const head: string[][] = [];
  const tables: ReportTable[] = [];
  const rest: [string, string][] = [];
  const resources = Array.isArray(body.resourceMetrics) ? (body.resourceMetrics as Obj[]) : [];
  for (const [key, value] of Object.entries(body)) {
    if (key !== "resourceMetrics" || !resources.length) rest.push(...breakdown(value, key));
  }
  for (const resource of resources) {
    const attributes = ((resource.resource as Obj | undefined)?.attributes ?? []) as OtlpAttribute[];
    for (const attribute of attributes) head.push([text(attribute.key), attributeValue(attribute)]);
    for (const scope of (resource.scopeMetrics ?? []) as Obj[]) {
      for (const metric of (scope.metrics ?? []) as Obj[]) {
        const name = text(metric.name);
        const data = (metric.gauge ?? metric.sum) as Obj | undefined;
        const points = (data?.dataPoints ?? []) as Obj[];
        const keys = [
          ...new Set(points.flatMap((point) => ((point.attributes ?? []) as OtlpAttribute[]).map((a) => text(a.key)))),
        ];
        const title = OTLP_TITLES[name];
        tables.push({
          path: name,
          title: title ? l(title) : name,
          columns: [...keys, l("view_value")],
          numbersFrom: keys.length,
          rows: points.map((point) => {
            const attributes = (point.attributes ?? []) as OtlpAttribute[];
            const cells = keys.map((key) => {
              const found = attributes.find((attribute) => attribute.key === key);
              return found ? attributeValue(found) : "—";
            });
            return [...cells, text(point.asInt ?? point.asDouble)];
          }),
        });
      }
    }
  }
  return [fieldTable(l, "view_report", head), ...tables, ...(rest.length ? [fieldTable(l, "view_other", rest)] : [])];
}

/** The readable tables of the preview's payload, in the form it has. */
export function previewTables(payload: Obj, l: Localize): ReportTable[] {
  return "resourceMetrics" in payload ? otlpTables(payload, l) : reportTables(payload, l);
}

// Pure functions that turn the daily counters into what the charts and tables show.
import type { Localize } from "./localize";
import { DURATION_BUCKETS, JOB_OUTCOMES } from "./schema";
import type { Days } from "./types";

export const RANGES = [7, 30, 90, 0] as const; // 0: all kept days
export type Range = (typeof RANGES)[number];

const DAY_MS = 86_400_000;

function isoDay(time: number): string {
  return new Date(time).toISOString().slice(0, 10);
}

/** Return every UTC day of the range ending at `last`, oldest first. */
export function dayRange(days: Days, range: Range, last: string): string[] {
  const end = Date.parse(`${last}T00:00:00Z`);
  let start: number;
  if (range === 0) {
    const keys = Object.keys(days).sort();
    start = keys.length ? Math.min(Date.parse(`${keys[0]}T00:00:00Z`), end) : end;
  } else {
    start = end - (range - 1) * DAY_MS;
  }
  const result: string[] = [];
  for (let time = start; time <= end; time += DAY_MS) {
    result.push(isoDay(time));
  }
  return result;
}

function split(key: string): string[] {
  return key.split("/");
}

/** Jobs per day and outcome, summed over printer types. */
export function jobsPerDay(days: Days, range: string[]): Record<string, number[]> {
  const series: Record<string, number[]> = {};
  for (const outcome of JOB_OUTCOMES) {
    series[outcome] = range.map(() => 0);
  }
  range.forEach((day, index) => {
    for (const [key, value] of Object.entries(days[day]?.jobs ?? {})) {
      const [outcome] = split(key);
      (series[outcome] ??= range.map(() => 0))[index] += value;
    }
  });
  return series;
}

/** Sum of each label key of a metric over the range. */
export function totals(days: Days, range: string[], metric: string): Record<string, number> {
  const result: Record<string, number> = {};
  for (const day of range) {
    for (const [key, value] of Object.entries(days[day]?.[metric] ?? {})) {
      result[key] = (result[key] ?? 0) + value;
    }
  }
  return result;
}

/** Finished jobs by duration bucket, in the catalogue's order. */
export function durations(days: Days, range: string[]): number[] {
  const sums = totals(days, range, "job_duration");
  return DURATION_BUCKETS.map((bucket) => sums[bucket] ?? 0);
}

/** Printers of each type per day (a snapshot: null on days without one). */
export function printersByType(
  days: Days,
  range: string[],
): Record<string, (number | null)[]> {
  const series: Record<string, (number | null)[]> = {};
  range.forEach((day, index) => {
    const snapshot = days[day]?.printers_by_type;
    if (!snapshot) return;
    for (const type of Object.keys(snapshot)) {
      series[type] ??= range.map(() => null);
    }
    for (const [type, values] of Object.entries(series)) {
      values[index] = snapshot[type] ?? 0;
    }
  });
  return series;
}

/** Feature entities on and off on the latest day of the range that has them. */
export function features(
  days: Days,
  range: string[],
): { feature: string; on: number; off: number }[] {
  for (let index = range.length - 1; index >= 0; index--) {
    const snapshot = days[range[index]]?.features;
    if (!snapshot || !Object.keys(snapshot).length) continue;
    const rows: Record<string, { on: number; off: number }> = {};
    for (const [key, value] of Object.entries(snapshot)) {
      const [feature, state] = split(key);
      const row = (rows[feature] ??= { on: 0, off: 0 });
      if (state === "on" || state === "off") row[state] += value;
    }
    return Object.entries(rows)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([feature, row]) => ({ feature, ...row }));
  }
  return [];
}

/** What `printer_models` holds where the integration does not read it from the printer. */
export const UNKNOWN = "unknown";

export interface FleetModel {
  /** null where the integration does not read it from the printer. */
  model: string | null;
  firmware: string | null;
  printers: number;
}

export interface FleetRow {
  integration: string;
  printerType: string;
  version: string;
  printers: number;
  /** Models and firmware of the printer type, most printers first; empty where none is known. */
  models: FleetModel[];
}

/**
 * The printer integrations with their printer type, version and printers, and the models and
 * firmware of each printer type (`printer_integrations` and `printer_models`), on the latest
 * day of the range that has them. A printer type with models but no integration that day
 * gets a row of its own (integration and version empty).
 */
export function fleet(days: Days, range: string[]): { day: string; rows: FleetRow[] } | null {
  for (let index = range.length - 1; index >= 0; index--) {
    const day = range[index];
    const integrations = days[day]?.printer_integrations ?? {};
    const models = days[day]?.printer_models ?? {};
    if (!Object.keys(integrations).length && !Object.keys(models).length) continue;
    const byType: Record<string, FleetModel[]> = {};
    const modelPrinters: Record<string, number> = {};
    for (const [key, printers] of Object.entries(models)) {
      const [printerType, model = UNKNOWN, firmware = UNKNOWN] = split(key);
      modelPrinters[printerType] = (modelPrinters[printerType] ?? 0) + printers;
      if (model === UNKNOWN && firmware === UNKNOWN) continue;
      (byType[printerType] ??= []).push({
        model: model === UNKNOWN ? null : model,
        firmware: firmware === UNKNOWN ? null : firmware,
        printers,
      });
    }
    for (const list of Object.values(byType)) {
      list.sort(
        (a, b) =>
          b.printers - a.printers ||
          (a.model ?? "").localeCompare(b.model ?? "") ||
          (a.firmware ?? "").localeCompare(b.firmware ?? ""),
      );
    }
    const rows: FleetRow[] = Object.entries(integrations)
      .map(([key, printers]) => {
        const [integration, printerType = "", version = ""] = split(key);
        return { integration, printerType, version, printers, models: byType[printerType] ?? [] };
      })
      .sort((a, b) => a.integration.localeCompare(b.integration) || a.printerType.localeCompare(b.printerType));
    const shown = new Set(rows.map((row) => row.printerType));
    for (const printerType of Object.keys(modelPrinters).sort()) {
      if (shown.has(printerType)) continue;
      rows.push({
        integration: "",
        printerType,
        version: "",
        printers: modelPrinters[printerType],
        models: byType[printerType] ?? [],
      });
    }
    return { day, rows };
  }
  return null;
}

/** One model of a printer type, in the user's language ("x1c, firmware 1.8: 2"). */
export function modelText(item: FleetModel, l: Localize): string {
  return l("fleet_model_line", {
    model: item.model ?? l("fleet_model_unknown"),
    firmware: item.firmware ? l("fleet_firmware", { firmware: item.firmware }) : l("fleet_firmware_unknown"),
    printers: item.printers,
  });
}

/** Errors by component and exception class over the range, most first. */
export function errors(
  days: Days,
  range: string[],
): { component: string; errorType: string; count: number }[] {
  return Object.entries(totals(days, range, "errors"))
    .map(([key, count]) => {
      const [component, errorType] = split(key);
      return { component, errorType: errorType ?? "", count };
    })
    .sort((a, b) => b.count - a.count || a.component.localeCompare(b.component));
}

/** Events by type over the range, most first. */
export function events(days: Days, range: string[]): [string, number][] {
  return Object.entries(totals(days, range, "events")).sort(
    (a, b) => b[1] - a[1] || a[0].localeCompare(b[0]),
  );
}

/** One level of a report section as readable rows: path and value. */
export function breakdown(value: unknown, prefix = ""): [string, string][] {
  if (value === null || typeof value !== "object") {
    return [[prefix, String(value)]];
  }
  const entries = Array.isArray(value)
    ? value.map((item, index) => [String(index), item] as const)
    : Object.entries(value as Record<string, unknown>);
  if (!entries.length) return prefix ? [[prefix, "—"]] : [];
  return entries.flatMap(([key, item]) =>
    breakdown(item, prefix ? `${prefix} › ${key}` : key),
  );
}

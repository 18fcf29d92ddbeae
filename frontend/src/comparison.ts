// The comparison card's table: a printer's own numbers beside the community's published ones
// (pure: tested in node). Numbers the collector withheld, or that are not known, show as "–".
import { formatNumber, formatPercent } from "./format";
import type { Localize, StringKey } from "./localize";
import type { Comparison, ComparisonPrinter, ComparisonStatus } from "./types";

export const DASH = "–";

const STATUSES: ComparisonStatus[] = ["ok", "not_shared", "unavailable", "no_data"];

/** What the card shows when the command failed (or is not there: an older integration). */
export const UNAVAILABLE: Comparison = {
  status: "unavailable",
  fetched_at: null,
  week: null,
  installations: null,
  printers: [],
};

/** The command's answer, or UNAVAILABLE when it is not one the card understands. */
export function checkComparison(answer: unknown): Comparison {
  const value = answer as Partial<Comparison> | null;
  if (!value || !STATUSES.includes(value.status as ComparisonStatus)) return UNAVAILABLE;
  return {
    ...UNAVAILABLE,
    ...value,
    printers: Array.isArray(value.printers)
      ? value.printers.filter((printer) => printer && printer.local && printer.community)
      : [],
  } as Comparison;
}

export interface ComparisonCell {
  text: string;
  /** A short explanation: what a rate counts, or why a number is missing. */
  note?: string;
}

export interface ComparisonRow {
  id: "completion" | "failure" | "version" | "firmware" | "newer_firmware" | "model";
  label: string;
  yours: ComparisonCell;
  community: ComparisonCell;
}

/** `key_one` or `key_other` for `count` in the user's language, with `{count}` filled. */
export function plural(l: Localize, language: string, key: string, count: number): string {
  const form = new Intl.PluralRules(language || undefined).select(count) === "one" ? "one" : "other";
  return l(`${key}_${form}` as StringKey, { count: formatNumber(count, language) });
}

/** The rows of one printer type's table, in the user's language and locale. */
export function comparisonRows(printer: ComparisonPrinter, language: string, l: Localize): ComparisonRow[] {
  const { local, community } = printer;
  const percent = (value: number) => formatPercent(value, language);
  const withheld: ComparisonCell = { text: DASH, note: l("comparison_withheld") };
  const unknown: ComparisonCell = { text: DASH, note: l("comparison_unknown") };
  /** The community's share, or why there is none (nothing to compare when yours is unknown). */
  const share = (value: number | null, known: boolean): ComparisonCell =>
    value !== null ? { text: l("comparison_of_printers", { percent: percent(value) }) } : known ? withheld : { text: DASH };
  const rate = (value: number | null, jobs: number): ComparisonCell => {
    if (value !== null) {
      const count = (value: number) => formatNumber(value, language);
      return { text: percent(value), note: l("comparison_of_started", { jobs: count(jobs), started: count(local.started) }) };
    }
    return local.started ? unknown : { text: DASH, note: l("comparison_no_jobs") };
  };
  const rows: ComparisonRow[] = [
    {
      id: "completion",
      label: l("comparison_completion_rate"),
      yours: rate(local.completion_rate, local.completed),
      community: community.completion_rate !== null ? { text: percent(community.completion_rate) } : withheld,
    },
    {
      id: "failure",
      label: l("comparison_failure_rate"),
      yours: rate(local.failure_rate, local.failed),
      community: community.failure_rate !== null ? { text: percent(community.failure_rate) } : withheld,
    },
    {
      id: "version",
      label: l("comparison_version"),
      yours: local.integration_version !== null ? { text: local.integration_version } : unknown,
      community:
        community.version_installations !== null
          ? { text: plural(l, language, "comparison_version_installations", community.version_installations) }
          : local.integration_version !== null
            ? withheld
            : { text: DASH },
    },
    {
      id: "firmware",
      label: l("comparison_firmware"),
      yours: local.firmware !== null ? { text: local.firmware } : unknown,
      community: share(community.firmware_share, local.firmware !== null),
    },
    {
      id: "newer_firmware",
      label: l("comparison_newer_firmware"),
      yours: { text: "" },
      community:
        community.newer_firmware !== null
          ? { text: l("comparison_newer_yes", { version: community.newer_firmware }) }
          : local.firmware !== null
            ? { text: l("comparison_newer_no") }
            : { text: DASH },
    },
  ];
  if (local.model !== null) {
    rows.push({
      id: "model",
      label: l("comparison_model"),
      yours: { text: local.model },
      community: share(community.model_share, true),
    });
  }
  return rows;
}

/** How many installations of the community have this printer type, or that it was withheld. */
export function communitySize(printer: ComparisonPrinter, language: string, l: Localize): string {
  const count = printer.community.installations;
  return count !== null
    ? plural(l, language, "comparison_type_installations", count)
    : l("comparison_type_withheld");
}

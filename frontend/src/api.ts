// The integration's websocket commands, one typed function each (see websocket.py).
import { format } from "./localize";
import type {
  AcceptReportVersionResult,
  Comparison,
  DaysResult,
  DeleteResult,
  ExportResult,
  Hass,
  HistoryResult,
  Overview,
  Preview,
  SetConsentResult,
  SetSectionsResult,
  SubmitResult,
  WsError,
} from "./types";

export const DOMAIN = "usage_stats";

function call<T>(hass: Hass, command: string, data: Record<string, unknown> = {}): Promise<T> {
  return hass.connection.sendMessagePromise<T>({ type: `${DOMAIN}/${command}`, ...data });
}

export const fetchOverview = (hass: Hass) => call<Overview>(hass, "overview");
export const fetchDays = (hass: Hass) => call<DaysResult>(hass, "days");
export const fetchPreview = (hass: Hass) => call<Preview>(hass, "preview");
export const fetchHistory = (hass: Hass) => call<HistoryResult>(hass, "history");
export const fetchExport = (hass: Hass) => call<ExportResult>(hass, "export");
/** The comparison with the collector's published statistics (no parameters). */
export const fetchComparison = (hass: Hass) => call<Comparison>(hass, "comparison");

export const setConsent = (hass: Hass, level: string) =>
  call<SetConsentResult>(hass, "set_consent", { level });
export const setSections = (hass: Hass, sections: string[]) =>
  call<SetSectionsResult>(hass, "set_sections", { sections });
export const acceptReportVersion = (hass: Hass, version: number) =>
  call<AcceptReportVersionResult>(hass, "accept_report_version", { version });
export const submit = (hass: Hass) => call<SubmitResult>(hass, "submit");
export const deleteAll = (hass: Hass) => call<DeleteResult>(hass, "delete");

/** Call `callback` whenever the counters, the consent or the submission change. */
export function subscribeUpdates(hass: Hass, callback: () => void): Promise<() => Promise<void>> {
  return hass.connection.subscribeMessage<unknown>(callback, { type: `${DOMAIN}/subscribe` });
}

/** Home Assistant's translations of the integration's errors in `language`. */
export async function fetchExceptions(hass: Hass, language: string): Promise<Record<string, string>> {
  const result = await hass.connection.sendMessagePromise<{ resources: Record<string, string> }>({
    type: "frontend/get_translations",
    language,
    category: "exceptions",
    integration: [DOMAIN],
  });
  return result.resources;
}

/** The error in the user's language: Home Assistant's translation of the integration. */
export function errorText(err: WsError, exceptions: Record<string, string>): string {
  const key = `component.${DOMAIN}.exceptions.${err.translation_key}.message`;
  if (err.translation_key && exceptions[key]) {
    return format(exceptions[key], err.translation_placeholders ?? {});
  }
  return err.message ?? String(err);
}

// What the websocket commands of the integration take and return (see websocket.py and actions.py).

export type Counters = Record<string, Record<string, number>>;
export type Days = Record<string, Counters>;

export interface Overview {
  consent: {
    level: string;
    changed_at: string | null;
    share_granted_at: string | null;
  };
  levels: string[];
  report_version: {
    accepted: number | null;
    current: number;
    declined: number | null;
    added: { metric: string; section: string; label: string | null; values: string[] }[];
  };
  sections: string[];
  all_sections: string[];
  endpoint: string | null;
  format: string;
  retention_days: number;
  days_stored: number;
  first_day: string | null;
  last_day: string | null;
  pending_first_day: string | null;
  submission: {
    status: string;
    reports_waiting: number;
    last_success: string | null;
    next_planned: string | null;
    rejected_status: number | null;
    issues: string[];
  };
  printer_integrations: string[];
}

export interface DaysResult {
  retention_days: number;
  days: Days;
}

export interface Preview {
  endpoint: string | null;
  format: string;
  payload: Record<string, unknown> | null;
}

export type HistoryEntry = Record<string, unknown> & {
  kind?: string;
  finished_at?: string;
  period_start?: string | null;
  period_end?: string | null;
  outcome?: string;
  status_code?: number | null;
};

export interface HistoryResult {
  history: HistoryEntry[];
}

// The part of Home Assistant's `hass` object the panel uses.
export interface HassConnection {
  sendMessagePromise<T>(message: Record<string, unknown>): Promise<T>;
  subscribeMessage<T>(
    callback: (message: T) => void,
    message: Record<string, unknown>,
  ): Promise<() => Promise<void>>;
}

export interface Hass {
  connection: HassConnection;
  language: string;
  locale?: { language: string };
  themes?: { darkMode?: boolean };
  user?: { is_admin: boolean };
}

/** An error answer of a websocket command (translated by Home Assistant's translations). */
export interface WsError {
  code?: string;
  message?: string;
  translation_key?: string;
  translation_placeholders?: Record<string, string>;
}

// The answers of the commands that change something (see actions.py and submission.py).
export interface SetConsentResult {
  level: string;
}

export interface SetSectionsResult {
  sections: string[];
}

export interface AcceptReportVersionResult {
  accepted: number;
}

export interface SubmitResult {
  outcome: string;
  reports_waiting: number;
  kind?: string;
  id?: string;
  status_code?: number | null;
}

export interface DeleteResult {
  deletion_requests: number;
  reports_waiting: number;
}

/** Everything stored locally, as `usage_stats.export` returns it. */
export type ExportResult = Record<string, unknown>;

// `usage_stats/comparison`: this installation's printers beside the collector's
// published statistics (the published document is fetched whole).
export type ComparisonStatus = "ok" | "not_shared" | "unavailable" | "no_data";

export interface ComparisonLocal {
  started: number;
  completed: number;
  failed: number;
  cancelled: number;
  interrupted: number;
  /** Per started job, over the last 28 days; null without a started job. */
  completion_rate: number | null;
  failure_rate: number | null;
  integration_version: string | null;
  model: string | null;
  firmware: string | null;
}

/** The community's numbers; null where the collector withheld or has none. */
export interface ComparisonCommunity {
  installations: number | null;
  completion_rate: number | null;
  failure_rate: number | null;
  /** Installations on the user's integration version. */
  version_installations: number | null;
  /** Share of this type's printers on the user's firmware. */
  firmware_share: number | null;
  /** A newer firmware in wide use, or null. */
  newer_firmware: string | null;
  /** Share of this type's printers of the user's model. */
  model_share: number | null;
}

export interface ComparisonPrinter {
  integration: string;
  printer_type: string;
  local: ComparisonLocal;
  community: ComparisonCommunity;
}

export interface Comparison {
  status: ComparisonStatus;
  fetched_at: string | null;
  week: string | null;
  installations: number | null;
  printers: ComparisonPrinter[];
}

// What the websocket commands of the integration return (see websocket_api.py).

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

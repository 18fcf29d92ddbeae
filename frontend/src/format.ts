// Dates and numbers in the user's locale (Home Assistant's language).

/** A date and time, or `never` without one. */
export function formatTime(value: string | null | undefined, language: string, never: string): string {
  if (!value) return never;
  return new Date(value).toLocaleString(language || undefined, {
    dateStyle: "medium",
    timeStyle: "short",
  });
}

/** A share (0.7) as a percentage in the user's locale ("70%", "70 %"). */
export function formatPercent(value: number, language: string): string {
  return new Intl.NumberFormat(language || undefined, {
    style: "percent",
    maximumFractionDigits: 1,
  }).format(value);
}

/** A whole number in the user's locale ("1,234", "1.234"). */
export function formatNumber(value: number, language: string): string {
  return new Intl.NumberFormat(language || undefined).format(value);
}

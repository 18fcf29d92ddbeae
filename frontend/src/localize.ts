// The panel's strings, from its translation files (bundled: no request at run time).
import de from "./translations/de.json";
import en from "./translations/en.json";

export type Strings = typeof en;
export type StringKey = keyof Strings;

export const LANGUAGES: Record<string, Partial<Strings>> = { en, de };

/** Fill `{name}` placeholders. */
export function format(text: string, values: Record<string, string | number> = {}): string {
  return text.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in values ? String(values[name]) : whole,
  );
}

/** Return a localizer for `language` (for example `de` or `de-CH`), English as fallback. */
export function localizer(language: string) {
  const strings = LANGUAGES[language] ?? LANGUAGES[language.split("-")[0]] ?? {};
  return (key: StringKey, values?: Record<string, string | number>): string =>
    format(strings[key] ?? en[key], values);
}

export type Localize = ReturnType<typeof localizer>;

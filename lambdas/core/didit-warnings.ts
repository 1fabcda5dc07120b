import type { DiditWarning } from './didit-types';

/**
 * How much of Didit's warnings a check keeps, whoever sent them (the API's answer or a webhook): the documented text
 * fields only, each capped, and a bounded number of warnings. A check record lives in one DynamoDB item (400 KB, with
 * every replaced result in `history`), so what Didit sends cannot be allowed to grow it without bound.
 */
export const WARNING_LIMITS = {
  /** Warnings kept per result; Didit raises a handful. */
  maxWarnings: 20,
  /** `risk`, `log_type` and `feature`: short codes. */
  maxCodeChars: 100,
  /** `short_description` and `long_description`. */
  maxDescriptionChars: 1000,
} as const;

const TEXT_FIELDS = ['log_type', 'short_description', 'long_description', 'feature'] as const;

/** `text`, cut to at most `max` UTF-16 units without leaving half a surrogate pair. */
export function capText(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

/**
 * A warning Didit sent, leniently: a bare risk code or an object with a non-empty string `risk`; other fields are kept
 * when they are strings, capped, and anything else is dropped. Undefined when there is no risk code to keep.
 */
export function storedWarning(value: unknown): DiditWarning | undefined {
  if (typeof value === 'string')
    return value.trim() ? { risk: capText(value, WARNING_LIMITS.maxCodeChars) } : undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const item = value as Record<string, unknown>;
  if (typeof item.risk !== 'string' || item.risk.length === 0) return undefined;
  const warning: { -readonly [K in keyof DiditWarning]: DiditWarning[K] } = {
    risk: capText(item.risk, WARNING_LIMITS.maxCodeChars),
  };
  for (const field of TEXT_FIELDS) {
    const text = item[field];
    if (typeof text !== 'string') continue;
    const max = field.endsWith('_description') ? WARNING_LIMITS.maxDescriptionChars : WARNING_LIMITS.maxCodeChars;
    warning[field] = capText(text, max);
  }
  return warning;
}

/** Every readable warning of a list, in Didit's order, at most `maxWarnings`. */
export function storedWarnings(values: readonly unknown[]): DiditWarning[] {
  const out: DiditWarning[] = [];
  for (const value of values) {
    if (out.length >= WARNING_LIMITS.maxWarnings) break;
    const warning = storedWarning(value);
    if (warning) out.push(warning);
  }
  return out;
}

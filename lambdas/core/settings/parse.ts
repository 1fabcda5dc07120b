import {
  type ChoiceSpec,
  contextRange,
  humanDuration,
  type ListSpec,
  SECONDS_PER,
  type SettingValue,
  type ValueSpec,
} from './kinds';

/**
 * Reading one setting from each place it can come from. Context values arrive as strings (`-c key=value`) or JSON
 * (cdk.json); environment variables as strings; props as typed values. Each reader returns the value or a problem,
 * and the caller words the error (it knows whether to say `context "key"`, `VARIABLE` or `LivenessService: prop`).
 */

/** What is wrong: the end of "<name> must be …", and the offending part when it is not the whole value. */
export interface Problem {
  readonly problem: string;
  readonly got?: unknown;
}

export type Parsed<T> = { readonly value: T } | Problem;

/** Reads a CDK context value (a string from `-c`, or JSON from cdk.json); absent means the default. */
export function fromContext<S extends ValueSpec>(spec: S, raw: unknown): Parsed<SettingValue<S>> {
  return (isAbsent(raw) ? { value: contextDefault(spec) } : parseContext(spec, raw)) as Parsed<SettingValue<S>>;
}

/** Reads a Lambda environment variable; unset or blank means the default (a resource has none: it is required). */
export function fromEnv<S extends ValueSpec>(spec: S, raw: string | undefined): Parsed<SettingValue<S>> {
  const text = raw?.trim() ?? '';
  if (text === '') {
    return (spec.kind === 'resource' ? { problem: 'is required' } : { value: spec.default }) as Parsed<SettingValue<S>>;
  }
  return parseEnv(spec, text) as Parsed<SettingValue<S>>;
}

/**
 * Checks a prop value (durations in seconds). `isUnknown` tells values only known at deploy time (CDK tokens), which
 * are let through unchecked, as are unknown entries of a list.
 */
export function checkPropValue(
  spec: ValueSpec,
  value: unknown,
  isUnknown: (value: unknown) => boolean = () => false,
): Problem | undefined {
  if (isUnknown(value)) return undefined;
  switch (spec.kind) {
    case 'boolean':
      return typeof value === 'boolean' ? undefined : { problem: 'must be true or false' };
    case 'integer':
    case 'number':
      return numberProblem(value, spec.min, spec.max, spec.kind === 'integer');
    case 'duration':
      return typeof value === 'number' && value >= spec.min && value <= spec.max
        ? undefined
        : { problem: `must be from ${humanDuration(spec.min)} to ${humanDuration(spec.max)}` };
    case 'choice':
      return (spec.choices as readonly unknown[]).includes(value) ? undefined : { problem: choiceProblem(spec) };
    case 'url':
      return typeof value === 'string' && normalizeUrl(value, ['https:']) !== undefined
        ? undefined
        : { problem: URL_PROBLEM };
    case 'list':
      return listProblem(spec, value, isUnknown);
    case 'text':
      return (value === undefined && spec.default === undefined) ||
        (typeof value === 'string' && spec.pattern.test(value))
        ? undefined
        : { problem: `must be ${spec.what}` };
    case 'resource':
      return typeof value === 'string' && value !== '' ? undefined : { problem: 'is required' };
  }
}

/** A value as messages show it: durations in words, strings and lists as JSON, numbers as they are. */
export function showValue(spec: ValueSpec, value: unknown): string {
  if (spec.kind === 'duration' && typeof value === 'number') return humanDuration(value);
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

/** The default as context gives it: durations in whole units of the context key. */
export function contextDefault(spec: ValueSpec): unknown {
  if (spec.kind === 'duration') return spec.default / SECONDS_PER[spec.unit];
  return spec.kind === 'resource' ? undefined : spec.default;
}

const URL_PROBLEM = 'must be an https:// URL without credentials';

function parseContext(spec: ValueSpec, raw: unknown): Parsed<unknown> {
  switch (spec.kind) {
    case 'boolean': {
      if (typeof raw === 'boolean') return { value: raw };
      const text = typeof raw === 'string' ? raw.trim().toLowerCase() : '';
      if (text === 'true' || text === 'false') return { value: text === 'true' };
      return { problem: 'must be true or false' };
    }
    case 'integer':
    case 'number':
      return numberFrom(toNumber(raw), spec.min, spec.max, spec.kind === 'integer');
    case 'duration': {
      const { min, max } = contextRange(spec);
      return numberFrom(toNumber(raw), min, max, true);
    }
    case 'choice': {
      const value = typeof spec.choices[0] === 'number' ? toNumber(raw) : raw;
      return (spec.choices as readonly unknown[]).includes(value) ? { value } : { problem: choiceProblem(spec) };
    }
    case 'url': {
      const value = typeof raw === 'string' ? normalizeUrl(raw.trim(), ['https:']) : undefined;
      return value === undefined ? { problem: URL_PROBLEM } : { value };
    }
    case 'list': {
      const list = typeof raw === 'string' ? listFromString(raw) : raw;
      return listProblem(spec, list) ?? { value: list };
    }
    case 'text':
    case 'resource':
      return textFrom(spec, raw);
  }
}

function parseEnv(spec: ValueSpec, text: string): Parsed<unknown> {
  switch (spec.kind) {
    case 'boolean': {
      const lower = text.toLowerCase();
      if (lower === 'true' || lower === '1') return { value: true };
      if (lower === 'false' || lower === '0') return { value: false };
      return { problem: 'must be true or false' };
    }
    case 'integer':
    case 'number':
      return numberFrom(Number(text), spec.min, spec.max, spec.kind === 'integer');
    case 'duration':
      return numberFrom(Number(text), spec.min, spec.max, true);
    case 'url': {
      // Functions also take http: the local stack points them at loopback simulators.
      const value = normalizeUrl(text, ['https:', 'http:']);
      return value === undefined ? { problem: 'must be an http(s) URL without credentials' } : { value };
    }
    default:
      return parseContext(spec, text);
  }
}

function textFrom(spec: ValueSpec & { kind: 'text' | 'resource' }, raw: unknown): Parsed<unknown> {
  const text = typeof raw === 'string' ? raw.trim() : undefined;
  if (spec.kind === 'resource') return text ? { value: text } : { problem: 'is required' };
  return text !== undefined && spec.pattern.test(text) ? { value: text } : { problem: `must be ${spec.what}` };
}

function numberFrom(value: number, min: number, max: number, integer: boolean): Parsed<number> {
  return numberProblem(value, min, max, integer) ?? { value };
}

function numberProblem(value: unknown, min: number, max: number, integer: boolean): Problem | undefined {
  const valid =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    value >= min &&
    value <= max &&
    (!integer || Number.isInteger(value));
  return valid ? undefined : { problem: `must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}` };
}

function choiceProblem(spec: ChoiceSpec): string {
  return typeof spec.choices[0] === 'number'
    ? `must be one of ${spec.choices.join(', ')}`
    : `must be ${spec.choices.map((choice) => JSON.stringify(choice)).join(' or ')}`;
}

function listProblem(
  spec: ListSpec,
  list: unknown,
  isUnknown: (value: unknown) => boolean = () => false,
): Problem | undefined {
  const sizeOk = Array.isArray(list) && (list.length > 0 || spec.mayBeEmpty === true);
  if (!sizeOk || !list.every((item) => typeof item === 'string' || isUnknown(item))) {
    return { problem: `must be a ${spec.mayBeEmpty ? '' : 'non-empty '}list of ${spec.of}` };
  }
  for (const item of list) {
    if (!isUnknown(item) && item !== spec.wildcard && !spec.item.pattern.test(item)) {
      const allowed =
        spec.wildcard === undefined ? spec.item.what : `${JSON.stringify(spec.wildcard)} or ${spec.item.what}`;
      return { problem: `entries must be ${allowed}`, got: item };
    }
  }
  if (spec.wildcard !== undefined && list.includes(spec.wildcard) && list.length > 1) {
    return {
      problem: `${JSON.stringify(spec.wildcard)} already allows all ${spec.of} and cannot be combined with others`,
    };
  }
  return undefined;
}

/** A JSON array (`["a","b"]`) or a comma-separated list (`a,b`), as `-c key=value` passes it. */
function listFromString(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  if (!trimmed.startsWith('[')) return trimmed.split(',').map((item) => item.trim());
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    return undefined;
  }
}

function toNumber(raw: unknown): number {
  if (typeof raw === 'number') return raw;
  return typeof raw === 'string' && raw.trim() !== '' ? Number(raw.trim()) : Number.NaN;
}

/** The URL without trailing slashes, or undefined when it is not a URL of these protocols without credentials. */
function normalizeUrl(text: string, protocols: readonly string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (!protocols.includes(url.protocol) || url.username !== '' || url.password !== '') return undefined;
  return text.replace(/\/+$/, '');
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

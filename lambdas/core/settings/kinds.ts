/**
 * The kinds of value a setting can hold, and where it can be set. Pure types and unit arithmetic: lib/ (CDK context,
 * construct props), lambdas/config.ts (Lambda environment) and the docs generator all read the same entries.
 */

/** The service's functions, by role (the keys of `LivenessService.functions`). */
export type FunctionRole =
  | 'createCheck'
  | 'getCheck'
  | 'deleteCheck'
  | 'processUpload'
  | 'sweepChecks'
  | 'deliverWebhook'
  | 'diditWebhook';

/**
 * A Lambda environment variable a setting travels in. `setBy` says who writes it: `stack` (the construct, always),
 * `local` (only the local stack and tests; the default holds in AWS), or absent (nobody: the default holds unless an
 * operator overrides the variable by hand).
 */
export interface EnvBinding {
  readonly name: string;
  readonly readBy: readonly FunctionRole[];
  readonly setBy?: 'stack' | 'local';
}

/** Where a setting can be given, and its one line of documentation. */
interface Exposure {
  /** One line for docs/operations.md: what the setting does, and why when it is not obvious. */
  readonly doc: string;
  /** The cdk.json / `-c` context key; absent when the setting cannot be given as context. */
  readonly context?: string;
  /** True when `LivenessServiceProps` has a prop of the setting's name. */
  readonly prop?: boolean;
  /** For the docs: how the construct expresses a context-only setting (e.g. "`alarmTopic`"). */
  readonly propNote?: string;
  /** The Lambda environment variable functions read it from. */
  readonly env?: EnvBinding;
  /** For the docs, when the default is not a value (e.g. "— (no notifications)"). */
  readonly defaultText?: string;
}

export interface BooleanSpec extends Exposure {
  readonly kind: 'boolean';
  readonly default: boolean;
}

/** A number in [min, max]; `integer` ones must be whole. `unit` is for the docs (days, MiB, ms …). */
export interface NumberSpec extends Exposure {
  readonly kind: 'integer' | 'number';
  readonly default: number;
  readonly min: number;
  readonly max: number;
  readonly unit?: string;
}

/**
 * A span of time whose construct prop is a CDK `Duration`. Default and range are in seconds; the context key takes
 * whole `unit`s (its name ends with the unit), the environment variable whole seconds (its name ends in _SECONDS).
 */
export interface DurationSpec extends Exposure {
  readonly kind: 'duration';
  readonly default: number;
  readonly min: number;
  readonly max: number;
  readonly unit: DurationUnit;
}

/** One of a fixed set of values. */
export interface ChoiceSpec extends Exposure {
  readonly kind: 'choice';
  readonly choices: readonly string[] | readonly number[];
  readonly default: string | number;
}

/** An https origin without credentials (functions also take http, for the loopback simulators). */
export interface UrlSpec extends Exposure {
  readonly kind: 'url';
  readonly default: string;
}

/**
 * A list of strings, each matching `item` or being the `wildcard` (if it has one), which must then stand alone.
 * Non-empty unless `mayBeEmpty`.
 */
export interface ListSpec extends Exposure {
  readonly kind: 'list';
  readonly default: readonly string[];
  /** What the list holds, plural (for messages). */
  readonly of: string;
  readonly item: { readonly pattern: RegExp; readonly what: string };
  readonly wildcard?: string;
  /** An empty list is a value (`[]`, or an empty string from the environment). @default false */
  readonly mayBeEmpty?: boolean;
}

/** A string matching `pattern`; without a default it is optional (undefined when not given). */
export interface TextSpec extends Exposure {
  readonly kind: 'text';
  readonly default?: string;
  readonly pattern: RegExp;
  /** What a valid value is, as the end of "must be …". */
  readonly what: string;
}

/** The name or ARN of a resource the stack creates and hands to functions; required, no default. */
export interface ResourceSpec extends Exposure {
  readonly kind: 'resource';
  readonly env: EnvBinding;
}

/** A prop the construct uses as given (a construct, a secret, a name): documented here, checked by the construct. */
export interface OpaqueSpec extends Exposure {
  readonly kind: 'opaque';
  readonly defaultText: string;
}

export type ValueSpec =
  | BooleanSpec
  | NumberSpec
  | DurationSpec
  | ChoiceSpec
  | UrlSpec
  | ListSpec
  | TextSpec
  | ResourceSpec;
export type SettingSpec = ValueSpec | OpaqueSpec;

/** The plain value a setting holds (durations in seconds, or in the context unit when read from context). */
export type SettingValue<S> = S extends { kind: 'boolean' }
  ? boolean
  : S extends { kind: 'integer' | 'number' | 'duration' }
    ? number
    : S extends { kind: 'choice'; choices: readonly (infer C)[] }
      ? C extends number
        ? number // numeric choices (log retention days) stay plain numbers, as they always were
        : C
      : S extends { kind: 'url' | 'resource' }
        ? string
        : S extends { kind: 'list' }
          ? readonly string[]
          : S extends { kind: 'text'; default: string }
            ? string
            : S extends { kind: 'text' }
              ? string | undefined
              : never;

export type DurationUnit = 'seconds' | 'minutes' | 'hours';

export const SECONDS_PER: Readonly<Record<DurationUnit | 'days', number>> = {
  seconds: 1,
  minutes: 60,
  hours: 3600,
  days: 86_400,
};

/** The whole numbers of its unit a duration's context key accepts: the seconds range, rounded inwards. */
export function contextRange(spec: DurationSpec): { min: number; max: number } {
  const per = SECONDS_PER[spec.unit];
  return { min: Math.ceil(spec.min / per), max: Math.floor(spec.max / per) };
}

/** "5 minutes", "24 hours", "7 days": the largest unit that divides the span (days from two on). */
export function humanDuration(seconds: number): string {
  const units: Array<[string, number]> = [
    ['day', SECONDS_PER.days],
    ['hour', SECONDS_PER.hours],
    ['minute', SECONDS_PER.minutes],
  ];
  for (const [name, per] of units) {
    const count = seconds / per;
    if (Number.isInteger(count) && count >= (name === 'day' ? 2 : 1))
      return `${count} ${name}${count === 1 ? '' : 's'}`;
  }
  return `${seconds} second${seconds === 1 ? '' : 's'}`;
}

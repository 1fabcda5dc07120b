import { CONSTRUCT_PROPS } from './construct-props';
import { FUNCTION_RESOURCES, FUNCTION_SETTINGS } from './function-settings';
import type { SettingSpec, SettingValue, ValueSpec } from './kinds';
import { STACK_SETTINGS } from './stack-settings';

/**
 * Every setting of the service, once: what it is, its default and range, and where it can be given (CDK context,
 * construct prop, Lambda environment). lib/settings.ts parses context with it, lib/prop-settings.ts validates props
 * (and maps context to props), lambdas/config.ts reads each function's environment, the parts of lib/ name the
 * variables they set from it, and scripts/generate-settings-doc.ts writes the docs' tables.
 *
 * To add a setting, write one entry — in stack-settings.ts (a context key, usually a prop too), construct-props.ts
 * (props only) or function-settings.ts (function internals, env only) — then wire it where it is used:
 * - a prop: add it to `LivenessServiceProps` (a test fails until you do) and read it from the resolved props; context
 *   keys reach the construct on their own (propsFromSettings), and a prop typed with a CDK class other than
 *   Duration needs a form in lib/prop-settings.ts;
 * - a function reads it: set `env` (name, readBy, setBy), pass `[SETTINGS.x.env.name]: String(value)` in the part's
 *   `environment`, and add `read(env, SETTINGS.x)` to the loader in lambdas/config.ts (tests check both ends);
 * - then `npm run docs:settings`. A rule across settings goes in rules.ts.
 * Kinds: boolean, integer/number with a range, duration (prop `Duration`, context in whole `unit`s, env in seconds),
 * choice, url, list, text with a pattern, resource (env only), opaque (a prop used as given).
 */
export const SETTINGS = { ...STACK_SETTINGS, ...CONSTRUCT_PROPS, ...FUNCTION_RESOURCES, ...FUNCTION_SETTINGS } as const;

export type Settings = typeof SETTINGS;
export type SettingName = keyof Settings;

type NamesWhere<Condition> = { [N in SettingName]: Settings[N] extends Condition ? N : never }[SettingName];

/** Settings the construct takes as props (opaque ones included). */
export type PropName = NamesWhere<{ prop: true }>;
/** Settings the construct takes as props and validates against the schema. */
export type PropSettingName = NamesWhere<{ prop: true; kind: ValueSpec['kind'] }>;
/** Settings given as CDK context. */
export type ContextSettingName = NamesWhere<{ context: string }>;
/** Settings a function reads from its environment. */
export type EnvSettingName = NamesWhere<{ env: object }>;

type ContextKeyOf<N extends SettingName> = Settings[N] extends { context: infer K extends string } ? K : never;

/** Settings as CDK context gives them: keyed by context key, durations in whole units of the key. */
export type ContextSettings = {
  readonly [N in ContextSettingName as ContextKeyOf<N>]: SettingValue<Settings[N]>;
};

/** Every entry with its name, in schema order. */
export function settingEntries(): Array<[SettingName, SettingSpec]> {
  return Object.entries(SETTINGS) as Array<[SettingName, SettingSpec]>;
}

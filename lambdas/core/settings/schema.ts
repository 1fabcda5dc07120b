import { FUNCTION_RESOURCES, FUNCTION_SETTINGS } from './function-settings';
import type { SettingSpec, SettingValue, ValueSpec } from './kinds';
import { STACK_SETTINGS } from './stack-settings';

/**
 * Every setting of the service, once: what it is, its default and range, and where it can be given (CDK context,
 * construct prop, Lambda environment). lib/settings.ts parses context with it, lib/prop-settings.ts validates props,
 * lambdas/config.ts reads each function's environment, and scripts/generate-settings-doc.ts writes the docs' tables.
 *
 * To add a setting: one entry in stack-settings.ts (operator-facing) or function-settings.ts (function internals),
 * then its wiring — the prop in `LivenessServiceProps` and where the construct uses it, the loader line in
 * lambdas/config.ts if a function reads it — and `npm run docs:settings`. Cross-field rules go in rules.ts.
 */
export const SETTINGS = { ...STACK_SETTINGS, ...FUNCTION_RESOURCES, ...FUNCTION_SETTINGS } as const;

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

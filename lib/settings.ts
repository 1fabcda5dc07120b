import type { Node } from 'constructs';
import {
  contextRange,
  type DurationSpec,
  SECONDS_PER,
  type TextSpec,
  type ValueSpec,
} from '../lambdas/core/settings/kinds';
import { contextDefault, fromContext } from '../lambdas/core/settings/parse';
import { firstViolation } from '../lambdas/core/settings/rules';
import {
  type ContextSettingName,
  type ContextSettings,
  type SettingName,
  type Settings,
  settingEntries,
} from '../lambdas/core/settings/schema';

/**
 * Stack-level configuration read from CDK context, validated once before any construct is created. Values come, in
 * this order of precedence, from `cdk synth -c key=value` (or a top-level `cdk.json` context key), from the entry of
 * `cdk.json`'s `environments` selected with `-c env=<name>`, and from the schema's defaults. Values from `-c` always
 * arrive as strings, so every reader accepts the string form too. What each key means, its default and range live in
 * one place, lambdas/core/settings; docs/operations.md has the table generated from it.
 */

/** Every context setting, keyed by its context key (durations in whole units of the key). */
export type LivenessSettings = ContextSettings;
export type LambdaArchitecture = LivenessSettings['architecture'];
export type AuthorizationSetting = LivenessSettings['authorization'];
export type RemovalPolicySetting = LivenessSettings['removalPolicy'];

type ContextSpec = ValueSpec & { readonly context: string };

/** The settings CDK context can give, in schema order. */
function contextEntries(): Array<[ContextSettingName, ContextSpec]> {
  return settingEntries().filter((entry): entry is [ContextSettingName, ContextSpec] => {
    const spec = entry[1];
    return spec.kind !== 'opaque' && spec.context !== undefined;
  });
}

export const DEFAULT_SETTINGS: LivenessSettings = Object.fromEntries(
  contextEntries().map(([, spec]) => [spec.context, contextDefault(spec)]),
) as unknown as LivenessSettings;

type RangedContextName = {
  [N in ContextSettingName]: Settings[N] extends { kind: 'integer' | 'number' | 'duration' } ? N : never;
}[ContextSettingName];
type ContextKeyOf<N extends SettingName> = Settings[N] extends { context: infer K extends string } ? K : never;

/**
 * The range of every numeric context key (durations in whole units of the key), from the schema. Kept for importers
 * of the package; new code reads SETTINGS.
 */
export const LIMITS = Object.fromEntries(
  contextEntries().flatMap(([, spec]) => {
    if (spec.kind === 'duration') return [[spec.context, contextRange(spec as DurationSpec)]];
    return spec.kind === 'integer' || spec.kind === 'number' ? [[spec.context, { min: spec.min, max: spec.max }]] : [];
  }),
) as { readonly [N in RangedContextName as ContextKeyOf<N>]: { readonly min: number; readonly max: number } };

/** Context key naming the `environments` entry to use. */
export const ENVIRONMENT_KEY = 'env';
/** Context key holding the named environments (`cdk.json`). */
export const ENVIRONMENTS_KEY = 'environments';

/** Where an environment entry deploys; account and region may be pinned in it (prod, usually). */
export interface DeploymentTarget {
  /** The `environments` entry selected with `-c env=<name>`; undefined when none is. */
  readonly name: string | undefined;
  /** 12-digit AWS account id pinned by the entry. */
  readonly account: string | undefined;
  /** AWS region pinned by the entry. */
  readonly region: string | undefined;
}

/** Thrown when a context value is missing its expected shape; the message names the key and the value received. */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

type ContextNode = Pick<Node, 'tryGetContext'>;

/** Reads every setting from the construct tree's context and the selected environment, falling back to defaults. */
export function readSettings(node: ContextNode): LivenessSettings {
  const environment = selectedEnvironment(node).values;
  const settings: Record<string, unknown> = {};
  // The cross-field rules read values by setting name, durations in seconds.
  const plain: Partial<Record<SettingName, unknown>> = {};
  const keyOf: Partial<Record<SettingName, string>> = {};
  for (const [name, spec] of contextEntries()) {
    const given = node.tryGetContext(spec.context) as unknown;
    const raw = isAbsent(given) ? environment[spec.context] : given;
    const value = readValue(spec.context, spec, raw);
    settings[spec.context] = value;
    plain[name] = spec.kind === 'duration' ? (value as number) * SECONDS_PER[spec.unit] : value;
    keyOf[name] = spec.context;
  }
  const violation = firstViolation(plain, {
    name: (setting) => JSON.stringify(keyOf[setting]),
    value: (setting) => JSON.stringify(settings[keyOf[setting] ?? '']),
  });
  if (violation) throw new SettingsError(`context ${violation}`);
  return settings as unknown as LivenessSettings;
}

/** The selected environment's name and pinned account/region (all undefined without `-c env=`). */
export function readDeploymentTarget(node: ContextNode): DeploymentTarget {
  const { name, values } = selectedEnvironment(node);
  const prefix = `${ENVIRONMENTS_KEY}.${name}`;
  const account = readValue(`${prefix}.account`, pinned(/^\d{12}$/, 'a 12-digit id'), values.account);
  const region = readValue(
    `${prefix}.region`,
    pinned(/^[a-z]{2}(-[a-z]+)+-\d$/, 'a region like "eu-west-1"'),
    values.region,
  );
  return { name, account: account as string | undefined, region: region as string | undefined };
}

function pinned(pattern: RegExp, what: string): TextSpec {
  return { kind: 'text', pattern, what, doc: '' };
}

function readValue(key: string, spec: ValueSpec, raw: unknown): unknown {
  const parsed = fromContext(spec, raw);
  if ('problem' in parsed) {
    throw new SettingsError(`context "${key}" ${parsed.problem}, got ${JSON.stringify(parsed.got ?? raw)}`);
  }
  return parsed.value;
}

/** The `environments` entry named by `-c env=`, checked for unknown keys (a typo would otherwise be ignored). */
function selectedEnvironment(node: ContextNode): { name: string | undefined; values: Record<string, unknown> } {
  const name = node.tryGetContext(ENVIRONMENT_KEY) as unknown;
  if (isAbsent(name)) return { name: undefined, values: {} };
  const environments = node.tryGetContext(ENVIRONMENTS_KEY) as unknown;
  const known = isRecord(environments) ? Object.keys(environments) : [];
  if (typeof name !== 'string' || !isRecord(environments) || !isRecord(environments[name])) {
    throw new SettingsError(
      `context "${ENVIRONMENT_KEY}" must name an entry of "${ENVIRONMENTS_KEY}" in cdk.json ` +
        `(${known.map((k) => JSON.stringify(k)).join(', ') || 'none defined'}), got ${JSON.stringify(name)}`,
    );
  }
  const values = environments[name] as Record<string, unknown>;
  const allowed = new Set<string>([...contextEntries().map(([, spec]) => spec.context), 'account', 'region']);
  const unknown = Object.keys(values).filter((key) => !allowed.has(key));
  if (unknown.length > 0) {
    throw new SettingsError(
      `${ENVIRONMENTS_KEY}.${name} has unknown keys ${unknown.map((k) => JSON.stringify(k)).join(', ')}; ` +
        `known: ${[...allowed].join(', ')}`,
    );
  }
  return { name, values };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isAbsent(value: unknown): value is undefined | null | '' {
  return value === undefined || value === null || value === '';
}

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_METRICS_NAMESPACE } from '../../lambdas/core/metrics';
import { CONSTRUCT_PROPS } from '../../lambdas/core/settings/construct-props';
import { FUNCTION_RESOURCES, FUNCTION_SETTINGS } from '../../lambdas/core/settings/function-settings';
import {
  type BooleanSpec,
  contextRange,
  type DurationSpec,
  humanDuration,
  type NumberSpec,
  SECONDS_PER,
  type ValueSpec,
} from '../../lambdas/core/settings/kinds';
import { checkPropValue, contextDefault, fromContext, fromEnv } from '../../lambdas/core/settings/parse';
import { firstViolation, SETTINGS_RULES } from '../../lambdas/core/settings/rules';
import { SETTINGS, type SettingName, settingEntries } from '../../lambdas/core/settings/schema';
import { STACK_SETTINGS } from '../../lambdas/core/settings/stack-settings';

const entries = settingEntries();
const valueEntries = entries.filter((entry): entry is [SettingName, ValueSpec] => entry[1].kind !== 'opaque');

function camelCase(variable: string): string {
  return variable.toLowerCase().replace(/_([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}

describe('the settings schema', () => {
  it('holds each name once across its parts (a duplicate would silently replace an entry)', () => {
    const parts = [STACK_SETTINGS, CONSTRUCT_PROPS, FUNCTION_RESOURCES, FUNCTION_SETTINGS].flatMap((part) =>
      Object.keys(part),
    );
    expect(parts).toHaveLength(entries.length);
  });

  it('names each entry after its prop, else its context key, else its variable', () => {
    for (const [name, spec] of entries) {
      if (spec.prop) continue;
      expect(name).toBe(spec.context ?? camelCase(spec.env?.name ?? ''));
    }
  });

  it('uses each context key and each environment variable once', () => {
    const contexts = entries.flatMap(([, spec]) => (spec.context ? [spec.context] : []));
    const variables = entries.flatMap(([, spec]) => (spec.env ? [spec.env.name] : []));
    expect(new Set(contexts).size).toBe(contexts.length);
    expect(new Set(variables).size).toBe(variables.length);
  });

  it.each(valueEntries.filter(([, spec]) => spec.kind !== 'resource'))(
    'defaults %s to a value in its range',
    (_name, spec) => {
      expect(checkPropValue(spec, 'default' in spec ? spec.default : undefined)).toBeUndefined();
      if (spec.context) expect(fromContext(spec, undefined)).toEqual({ value: contextDefault(spec) });
      if (spec.env) expect(fromEnv(spec, undefined)).toEqual({ value: 'default' in spec ? spec.default : undefined });
    },
  );

  it.each(valueEntries.filter((entry): entry is [SettingName, DurationSpec] => entry[1].kind === 'duration'))(
    'gives duration %s a context key and variable that say their unit',
    (_name, spec) => {
      const { min, max } = contextRange(spec);
      expect(min).toBeLessThanOrEqual(max);
      // The default must be a whole number of the context key's unit, or context could not restate it.
      expect(Number.isInteger(spec.default / SECONDS_PER[spec.unit])).toBe(true);
      if (spec.context) expect(spec.context.toLowerCase().endsWith(spec.unit)).toBe(true);
      if (spec.env) expect(spec.env.name.endsWith('_SECONDS')).toBe(true);
    },
  );

  it('marks every setting a function reads with who reads it, and the operator-facing ones as set by the stack', () => {
    for (const [name, spec] of entries) {
      if (!spec.env) continue;
      expect(spec.env.readBy.length, name).toBeGreaterThan(0);
      if (spec.context || spec.prop || spec.kind === 'resource') expect(spec.env.setBy, name).toBe('stack');
    }
  });

  it('is pure: it imports only its own files and lambdas/core (lib/ and the functions both import it)', () => {
    const folder = new URL('../../lambdas/core/settings/', import.meta.url);
    for (const file of readdirSync(folder)) {
      const source = readFileSync(new URL(file, folder), 'utf8');
      for (const [, specifier] of source.matchAll(/from '([^']+)'/g)) {
        expect(specifier, file).toMatch(/^\.\/[\w-]+$|^\.\.\/[\w-]+$/);
      }
    }
  });

  it('repeats the metrics module’s default namespace exactly', () => {
    expect(SETTINGS.metricsNamespace.default).toBe(DEFAULT_METRICS_NAMESPACE);
  });
});

describe('the cross-field rules', () => {
  it('name only settings of the schema', () => {
    for (const rule of SETTINGS_RULES) {
      for (const setting of rule.settings) expect(Object.keys(SETTINGS)).toContain(setting);
    }
  });

  it.each<[string, Partial<Record<SettingName, unknown>>, RegExp | undefined]>([
    ['agreeing values', { checkRetentionDays: 30, uploadRetentionDays: 1 }, undefined],
    ['checks kept shorter than images', { checkRetentionDays: 3, uploadRetentionDays: 7 }, /checkRetentionDays \(3\)/],
    ['inverted retry delays', { diditRetryBaseDelay: 30, diditRetryMaxDelay: 10 }, /diditRetryMaxDelay \(10\)/],
    ['cognito without a pool', { authorization: 'cognito', cognitoUserPoolArn: undefined }, /must name the user pool/],
    ['a pool without cognito', { authorization: 'iam', cognitoUserPoolArn: 'arn' }, /authorization is iam/],
    // A rule whose settings are not all known (a context-only one, on props) does not run.
    ['cognito with the pool unknown', { authorization: 'cognito' }, undefined],
  ])('report %s', (_name, values, message) => {
    const violation = firstViolation(values, {
      name: (setting) => setting,
      value: (setting) => String(values[setting]),
    });
    if (message) expect(violation).toMatch(message);
    else expect(violation).toBeUndefined();
  });
});

describe('each kind of setting', () => {
  // Shapes the coming settings take (requests per minute, a failure horizon, a boolean switch).
  const perMinute: NumberSpec = { kind: 'integer', default: 280, min: 1, max: 10_000, doc: '' };
  const horizon: DurationSpec = { kind: 'duration', default: 3600, min: 60, max: 86_400, unit: 'minutes', doc: '' };
  const flag: BooleanSpec = { kind: 'boolean', default: false, doc: '' };

  it('reads a whole number from context strings, JSON numbers and the environment', () => {
    expect(fromContext(perMinute, ' 120 ')).toEqual({ value: 120 });
    expect(fromContext(perMinute, 120)).toEqual({ value: 120 });
    expect(fromEnv(perMinute, '120')).toEqual({ value: 120 });
    expect(fromContext(perMinute, '1.5')).toEqual({ problem: 'must be a whole number from 1 to 10000' });
    expect(fromEnv(perMinute, '0')).toEqual({ problem: 'must be a whole number from 1 to 10000' });
    expect(checkPropValue(perMinute, 20_000)).toEqual({ problem: 'must be a whole number from 1 to 10000' });
  });

  it('reads a duration in its context unit, in seconds from the environment, and as seconds from a prop', () => {
    expect(contextDefault(horizon)).toBe(60);
    expect(fromContext(horizon, '90')).toEqual({ value: 90 });
    expect(fromContext(horizon, '0')).toEqual({ problem: 'must be a whole number from 1 to 1440' });
    expect(fromEnv(horizon, '5400')).toEqual({ value: 5400 });
    expect(checkPropValue(horizon, 30)).toEqual({ problem: 'must be from 1 minute to 24 hours' });
    expect(checkPropValue(horizon, 90.5)).toBeUndefined();
  });

  it('reads a boolean as true/false from context, and also 1/0 from the environment', () => {
    expect(fromContext(flag, 'TRUE')).toEqual({ value: true });
    expect(fromContext(flag, false)).toEqual({ value: false });
    expect(fromContext(flag, '1')).toEqual({ problem: 'must be true or false' });
    expect(fromEnv(flag, '1')).toEqual({ value: true });
    expect(fromEnv(flag, 'no')).toEqual({ problem: 'must be true or false' });
  });

  it('reads a list as JSON, a JSON string or comma-separated, each entry checked and the wildcard alone', () => {
    const origins = SETTINGS.corsAllowedOrigins;
    expect(fromContext(origins, 'https://a.example, https://b.example')).toEqual({
      value: ['https://a.example', 'https://b.example'],
    });
    expect(fromContext(origins, '["https://a.example"]')).toEqual({ value: ['https://a.example'] });
    expect(fromContext(origins, ['*'])).toEqual({ value: ['*'] });
    expect(fromContext(origins, 'https://a.example/path')).toMatchObject({ got: 'https://a.example/path' });
    expect(fromContext(origins, '*,https://a.example')).toMatchObject({
      problem: expect.stringMatching(/alone|combined/),
    });
    // An entry known only at deploy time is let through; the rest of the list is still checked.
    const token = 'TOKEN-KNOWN-AT-DEPLOY-TIME';
    const unknown = (value: unknown) => value === token;
    expect(checkPropValue(origins, [token, 'https://b.example'], unknown)).toBeUndefined();
    expect(checkPropValue(origins, [token, 'ftp://b'], unknown)).toMatchObject({ got: 'ftp://b' });
  });

  it('reads a URL without its trailing slash, https only from context, http too from the environment', () => {
    const url = SETTINGS.diditBaseUrl;
    expect(fromContext(url, 'https://didit.example.com/')).toEqual({ value: 'https://didit.example.com' });
    expect(fromContext(url, 'http://didit.example.com')).toMatchObject({ problem: expect.stringMatching(/https/) });
    expect(fromContext(url, 'https://user:pw@didit.example.com')).toMatchObject({ problem: expect.any(String) });
    expect(fromEnv(url, 'http://127.0.0.1:4010/')).toEqual({ value: 'http://127.0.0.1:4010' });
  });

  it('reads a numeric choice from a string, and names every choice when it is not one', () => {
    expect(fromContext(SETTINGS.logRetention, ' 90 ')).toEqual({ value: 90 });
    expect(fromContext(SETTINGS.architecture, 'arm64')).toEqual({ value: 'arm64' });
    expect(fromContext(SETTINGS.architecture, 'ARM64')).toEqual({ problem: 'must be "arm64" or "x86_64"' });
  });

  it('requires a resource variable and leaves an optional text setting undefined', () => {
    expect(fromEnv(SETTINGS.tableName, ' ')).toEqual({ problem: 'is required' });
    expect(fromContext(SETTINGS.alarmEmail, undefined)).toEqual({ value: undefined });
    expect(fromContext(SETTINGS.alarmEmail, ' ops@example.com ')).toEqual({ value: 'ops@example.com' });
  });

  it('words durations for people', () => {
    expect([1, 60, 90, 300, 3600, 86_400, 7 * 86_400].map(humanDuration)).toEqual([
      '1 second',
      '1 minute',
      '90 seconds',
      '5 minutes',
      '1 hour',
      '24 hours',
      '7 days',
    ]);
  });
});

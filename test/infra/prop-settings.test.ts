import { readFileSync } from 'node:fs';
import { Duration, Lazy, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { humanDuration, SECONDS_PER, type ValueSpec } from '../../lambdas/core/settings/kinds';
import { type PropName, SETTINGS, type SettingName, settingEntries } from '../../lambdas/core/settings/schema';
import { LOG_RETENTION_DAYS } from '../../lambdas/core/settings/stack-settings';
import type { LivenessServiceProps } from '../../lib/liveness-service';
import { propsFromSettings, resolveProps } from '../../lib/prop-settings';
import { DEFAULT_SETTINGS, LIMITS, readSettings } from '../../lib/settings';

const propEntries = settingEntries().filter(
  (entry): entry is [SettingName, Exclude<ValueSpec, { kind: 'resource' }>] =>
    entry[1].kind !== 'opaque' && entry[1].kind !== 'resource' && entry[1].prop === true,
);

describe('the schema and the construct', () => {
  it('cover the same props: a new prop needs a schema entry, and every prop entry a prop', () => {
    expectTypeOf<Exclude<keyof LivenessServiceProps, PropName>>().toEqualTypeOf<never>();
    expectTypeOf<Exclude<PropName, keyof LivenessServiceProps>>().toEqualTypeOf<never>();
  });

  it('allow the log retentions CloudWatch Logs does (INFINITE only as a prop)', () => {
    const cdk = Object.values(logs.RetentionDays).filter((days) => typeof days === 'number');
    expect([...LOG_RETENTION_DAYS, logs.RetentionDays.INFINITE]).toEqual(cdk);
  });

  it('resolve the same defaults from empty props as from empty context', () => {
    expect(resolveProps(propsFromSettings(DEFAULT_SETTINGS))).toEqual(resolveProps({}));
    expect(resolveProps({})).toMatchObject({
      architecture: lambda.Architecture.ARM_64,
      diditRetryBaseDelay: Duration.seconds(5),
      webhookRetryHorizon: Duration.hours(24),
      stuckCheckThreshold: Duration.minutes(15),
      logRetention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
      corsAllowedOrigins: ['*'],
    });
  });

  it('turn context values into props in the context key’s unit', () => {
    const settings = readSettings({
      tryGetContext: (key: string) =>
        ({
          webhookRetryHorizonHours: '6',
          stuckCheckMinutes: '30',
          architecture: 'x86_64',
          removalPolicy: 'destroy',
          logRetentionDays: '7',
          authorization: 'iam',
        })[key],
    });
    const props = propsFromSettings(settings);
    expect(props).toMatchObject({
      webhookRetryHorizon: Duration.hours(6),
      stuckCheckThreshold: Duration.minutes(30),
      architecture: lambda.Architecture.X86_64,
      removalPolicy: RemovalPolicy.DESTROY,
      logRetention: logs.RetentionDays.ONE_WEEK,
    });
    expect(props.authorization?.mode).toBe('IAM');
  });

  it('keep the LIMITS importers of the package read', () => {
    expect(LIMITS).toMatchObject({
      defaultDeclineThreshold: { min: 0, max: 100 },
      uploadRetentionDays: { min: 1, max: 365 },
      uploadUrlTtlSeconds: { min: 30, max: 300 },
      checkRetentionDays: { min: 1, max: 3650 },
      processorMemorySize: { min: 512, max: 10_240 },
      memorySize: { min: 128, max: 10_240 },
      diditRequestsPerMinute: { min: 1, max: 100_000 },
      throttlingRateLimit: { min: 1, max: 10_000 },
      throttlingBurstLimit: { min: 1, max: 5_000 },
      stuckCheckMinutes: { min: 5, max: 1440 },
    });
  });
});

describe('resolveProps', () => {
  /** What the cross-field rules need around a setting at an end of its range, so only the range is tested. */
  const ROOM: Partial<Record<SettingName, LivenessServiceProps>> = {
    uploadRetentionDays: { checkRetentionDays: 3650 },
    diditRetryBaseDelay: { diditRetryMaxDelay: Duration.hours(1) },
    diditRetryMaxDelay: { diditRetryBaseDelay: Duration.seconds(1) },
  };
  const numeric = propEntries.filter(([, spec]) => spec.kind === 'integer' || spec.kind === 'number') as Array<
    [SettingName, { min: number; max: number; kind: 'integer' | 'number' }]
  >;

  it.each(numeric)(
    'takes %s at both ends of its range and rejects it just outside, naming prop and value',
    (name, spec) => {
      expect(() => resolveProps({ ...ROOM[name], [name]: spec.min })).not.toThrow();
      expect(() => resolveProps({ ...ROOM[name], [name]: spec.max })).not.toThrow();
      const outside = spec.kind === 'integer' ? 1 : 0.5;
      expect(() => resolveProps({ [name]: spec.min - outside })).toThrow(
        new RegExp(`^LivenessService: ${name} must be .* from ${spec.min} to ${spec.max}, got ${spec.min - outside}$`),
      );
      expect(() => resolveProps({ [name]: spec.max + outside })).toThrow(`${name} must be`);
    },
  );

  it.each(
    propEntries.filter(([, spec]) => spec.kind === 'duration') as Array<[SettingName, { min: number; max: number }]>,
  )('takes duration %s at both ends of its range and rejects it outside', (name, spec) => {
    expect(() => resolveProps({ ...ROOM[name], [name]: Duration.seconds(spec.min) })).not.toThrow();
    expect(() => resolveProps({ ...ROOM[name], [name]: Duration.seconds(spec.max) })).not.toThrow();
    expect(() => resolveProps({ [name]: Duration.seconds(spec.max + 1) })).toThrow(
      `${name} must be from ${humanDuration(spec.min)} to ${humanDuration(spec.max)}, got ${humanDuration(spec.max + 1)}`,
    );
  });

  it('leaves values known only at deploy time (tokens) unchecked', () => {
    const later = (value: number) => Lazy.number({ produce: () => value });
    expect(() =>
      resolveProps({
        defaultDeclineThreshold: later(500),
        checkRetentionDays: later(1),
        uploadRetentionDays: 7,
        diditBaseUrl: Lazy.string({ produce: () => 'http://not-checked' }),
        webhookRetryHorizon: Duration.seconds(later(1)),
        corsAllowedOrigins: [Lazy.string({ produce: () => 'https://app.example.com' })],
      }),
    ).not.toThrow();
  });

  it('takes the defaults another module owns', () => {
    expect(resolveProps({}, { metricsNamespace: 'Elsewhere' }).metricsNamespace).toBe('Elsewhere');
    expect(resolveProps({ metricsNamespace: 'Mine' }, { metricsNamespace: 'Elsewhere' }).metricsNamespace).toBe('Mine');
  });

  it.each<[string, LivenessServiceProps, RegExp]>([
    ['an origin with a path', { corsAllowedOrigins: ['https://a.example.com/app'] }, /corsAllowedOrigins entries/],
    ['a Didit URL with credentials', { diditBaseUrl: 'https://u:p@didit.example.com' }, /diditBaseUrl .*credentials/],
    ['a log retention CloudWatch does not have', { logRetention: 8 as logs.RetentionDays }, /logRetention .* got 8/],
    ['a base delay over 5 minutes', { diditRetryBaseDelay: Duration.minutes(6) }, /diditRetryBaseDelay .* 6 minutes/],
  ])('throws on %s', (_name, props, message) => {
    expect(() => resolveProps(props)).toThrow(message);
  });

  it('takes RETAIN_ON_UPDATE_OR_DELETE and an INFINITE log retention, which context cannot name', () => {
    expect(() =>
      resolveProps({
        removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        logRetention: logs.RetentionDays.INFINITE,
      }),
    ).not.toThrow();
  });
});

describe('the props documentation (TSDoc of LivenessServiceProps)', () => {
  const source = readFileSync(new URL('../../lib/liveness-service.ts', import.meta.url), 'utf8');
  const docs = new Map(
    [...source.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*readonly (\w+)\?:/g)].map((match) => [
      match[2] ?? '',
      (match[1] ?? '').replace(/\s*\n\s*\*\s*/g, ' '),
    ]),
  );
  /** Defaults of props typed with CDK classes, as TSDoc writes them. */
  const CDK_DEFAULTS: Partial<Record<SettingName, string>> = {
    architecture: 'lambda.Architecture.ARM_64',
    authorization: 'LivenessAuthorization.apiKey()',
    removalPolicy: 'RemovalPolicy.RETAIN',
    logRetention: 'logs.RetentionDays.ONE_MONTH',
  };

  function expectedDefault(name: SettingName, spec: ValueSpec): string {
    if (CDK_DEFAULTS[name]) return CDK_DEFAULTS[name];
    if (spec.kind === 'duration') return `Duration.${spec.unit}(${spec.default / SECONDS_PER[spec.unit]})`;
    if (spec.kind === 'resource') return '';
    // An optional text prop (an ARN) has no value to state; TSDoc says what happens without it.
    if (spec.kind === 'text' && spec.default === undefined) return '- ';
    return JSON.stringify(spec.default).replaceAll('"', "'");
  }

  it.each(propEntries)('states the schema’s default and range for %s', (name, spec) => {
    const doc = docs.get(name) ?? '';
    expect(doc).toContain(`@default ${expectedDefault(name, spec)}`);
    if (spec.kind === 'integer' || spec.kind === 'number') {
      for (const [, min, max] of doc.matchAll(/\((\d+)–(\d+)/g))
        expect(`${min}–${max}`).toBe(`${spec.min}–${spec.max}`);
    }
  });

  it('documents every prop', () => {
    expect([...docs.keys()].sort()).toEqual(
      settingEntries()
        .filter(([, spec]) => spec.prop)
        .map(([name]) => name)
        .sort(),
    );
    expect(SETTINGS.prescreen.prop).toBe(true);
  });
});

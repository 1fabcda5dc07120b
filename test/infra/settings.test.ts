import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { LivenessService, type LivenessServiceProps } from '../../lib/liveness-service';
import { DEFAULT_SETTINGS, readDeploymentTarget, readSettings, SettingsError } from '../../lib/settings';
import { buildLivenessStack } from '../helpers/cdk';

/** A stand-in for `app.node`: context exactly as given, as `-c key=value` or cdk.json would set it. */
function contextOf(values: Record<string, unknown>) {
  return { tryGetContext: (key: string): unknown => values[key] };
}

describe('readSettings', () => {
  it('falls back to the defaults when the context is empty', () => {
    expect(readSettings(contextOf({}))).toEqual(DEFAULT_SETTINGS);
  });

  it('matches the defaults written in cdk.json', () => {
    const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'));
    expect(readSettings(contextOf(cdkJson.context))).toEqual(DEFAULT_SETTINGS);
  });

  it('parses the string values `cdk synth -c key=value` passes', () => {
    expect(
      readSettings(
        contextOf({
          prescreen: 'true',
          defaultDeclineThreshold: '42.5',
          uploadRetentionDays: '2',
          architecture: 'x86_64',
          diditBaseUrl: 'https://didit.example.com/',
          uploadUrlTtlSeconds: '60',
          checkRetentionDays: '90',
          corsAllowedOrigins: 'https://a.example.com, https://b.example.com',
        }),
      ),
    ).toEqual({
      ...DEFAULT_SETTINGS,
      prescreen: true,
      defaultDeclineThreshold: 42.5,
      uploadRetentionDays: 2,
      architecture: 'x86_64',
      diditBaseUrl: 'https://didit.example.com',
      uploadUrlTtlSeconds: 60,
      checkRetentionDays: 90,
      corsAllowedOrigins: ['https://a.example.com', 'https://b.example.com'],
    });
  });

  it('accepts origins as a JSON array string', () => {
    expect(readSettings(contextOf({ corsAllowedOrigins: '["https://a.example.com"]' })).corsAllowedOrigins).toEqual([
      'https://a.example.com',
    ]);
  });

  it.each([
    ['defaultDeclineThreshold', '101', /defaultDeclineThreshold.*0 to 100.*"101"/],
    ['defaultDeclineThreshold', 'abc', /defaultDeclineThreshold/],
    ['architecture', 'sparc', /architecture.*"arm64" or "x86_64".*"sparc"/],
    ['uploadRetentionDays', '0', /uploadRetentionDays.*whole number from 1/],
    ['uploadRetentionDays', '1.5', /uploadRetentionDays.*whole number/],
    ['uploadUrlTtlSeconds', '301', /uploadUrlTtlSeconds.*30 to 300/],
    ['uploadUrlTtlSeconds', '10', /uploadUrlTtlSeconds.*30 to 300/],
    ['checkRetentionDays', '0', /checkRetentionDays/],
    ['prescreen', 'yes', /prescreen.*true or false/],
    ['diditBaseUrl', 'http://verification.didit.me', /diditBaseUrl.*https/],
    ['diditBaseUrl', 'not a url', /diditBaseUrl/],
    ['corsAllowedOrigins', 'https://app.example.com/path', /corsAllowedOrigins.*no path/],
    ['corsAllowedOrigins', '[]', /corsAllowedOrigins.*non-empty/],
    ['authorization', 'oauth', /authorization.*"apiKey" or "iam" or "cognito".*"oauth"/],
    ['cognitoUserPoolArn', 'pool-1', /cognitoUserPoolArn.*Cognito user pool ARN/],
    ['alarmEmail', 'ops at example', /alarmEmail.*email address/],
    ['processorMemorySize', '256', /processorMemorySize.*512 to 10240/],
    ['memorySize', '64', /memorySize.*128 to 10240/],
    ['diditRequestsPerMinute', '0', /diditRequestsPerMinute.*1 to 100000/],
    ['diditFailureHorizonMinutes', '0', /diditFailureHorizonMinutes.*1 to 1440/],
    ['diditCircuitProbeIntervalSeconds', '0', /diditCircuitProbeIntervalSeconds.*1 to 3600/],
    ['processorReservedConcurrency', '-1', /processorReservedConcurrency.*0 to 10000/],
    ['diditRetryBaseDelaySeconds', '0', /diditRetryBaseDelaySeconds.*1 to 300/],
    ['webhookRetryHorizonHours', '200', /webhookRetryHorizonHours.*1 to 168/],
    ['removalPolicy', 'snapshot', /removalPolicy.*"retain" or "destroy"/],
    ['logRetentionDays', '8', /logRetentionDays.*one of 1, 3, 5, 7, 14/],
    ['stuckCheckMinutes', '1', /stuckCheckMinutes.*5 to 1440/],
  ])('rejects %s=%s with a message naming the key', (key, value, message) => {
    expect(() => readSettings(contextOf({ [key]: value }))).toThrow(SettingsError);
    expect(() => readSettings(contextOf({ [key]: value }))).toThrow(message);
  });

  it('parses the new operational settings from strings', () => {
    expect(
      readSettings(
        contextOf({
          authorization: 'cognito',
          cognitoUserPoolArn: 'arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_Abc123',
          alarmEmail: 'oncall@example.com',
          processorMemorySize: '2048',
          memorySize: '512',
          diditRequestsPerMinute: '120',
          diditFailureHorizonMinutes: '30',
          diditCircuitProbeIntervalSeconds: '15',
          processorReservedConcurrency: '50',
          diditRetryBaseDelaySeconds: '2',
          diditRetryMaxDelaySeconds: '30',
          webhookRetryHorizonHours: '6',
          removalPolicy: 'destroy',
          logRetentionDays: '90',
          stuckCheckMinutes: '30',
          throttlingRateLimit: '2.5',
          throttlingBurstLimit: '5',
        }),
      ),
    ).toEqual({
      ...DEFAULT_SETTINGS,
      authorization: 'cognito',
      cognitoUserPoolArn: 'arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_Abc123',
      alarmEmail: 'oncall@example.com',
      processorMemorySize: 2048,
      memorySize: 512,
      diditRequestsPerMinute: 120,
      diditFailureHorizonMinutes: 30,
      diditCircuitProbeIntervalSeconds: 15,
      processorReservedConcurrency: 50,
      diditRetryBaseDelaySeconds: 2,
      diditRetryMaxDelaySeconds: 30,
      webhookRetryHorizonHours: 6,
      removalPolicy: 'destroy',
      logRetentionDays: 90,
      stuckCheckMinutes: 30,
      throttlingRateLimit: 2.5,
      throttlingBurstLimit: 5,
    });
  });

  it.each([
    [{ authorization: 'cognito' }, /"authorization" is "cognito", so "cognitoUserPoolArn" must name the user pool/],
    [
      { cognitoUserPoolArn: 'arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_Abc123' },
      /"cognitoUserPoolArn" is set but "authorization" is "apiKey"/,
    ],
    [
      { diditRetryBaseDelaySeconds: '30', diditRetryMaxDelaySeconds: '10' },
      /"diditRetryMaxDelaySeconds" \(10\) must be at least "diditRetryBaseDelaySeconds" \(30\)/,
    ],
    [{ uploadRetentionDays: '7', checkRetentionDays: '3' }, /"checkRetentionDays" \(3\) must be at least/],
  ])('rejects the combination %j', (context, message) => {
    expect(() => readSettings(contextOf(context))).toThrow(SettingsError);
    expect(() => readSettings(contextOf(context))).toThrow(message);
  });

  it('stops the stack from being built on bad context', () => {
    expect(() => buildLivenessStack({ defaultDeclineThreshold: 101 })).toThrow(/defaultDeclineThreshold/);
    expect(() => buildLivenessStack({ architecture: 'sparc' })).toThrow(/architecture/);
    expect(() => buildLivenessStack({ uploadRetentionDays: 0 })).toThrow(/uploadRetentionDays/);
  });
});

describe('environments', () => {
  const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    context: Record<string, unknown>;
  };
  const environments = {
    dev: { removalPolicy: 'destroy', logRetentionDays: 7, prescreen: false },
    prod: { removalPolicy: 'retain', prescreen: true, account: '111122223333', region: 'eu-west-1' },
  };

  it('uses the defaults without -c env, whatever environments cdk.json defines', () => {
    expect(readSettings(contextOf({ environments }))).toEqual(DEFAULT_SETTINGS);
    expect(readDeploymentTarget(contextOf({ environments }))).toEqual({
      name: undefined,
      account: undefined,
      region: undefined,
    });
  });

  it('applies the entry -c env selects over the defaults', () => {
    expect(readSettings(contextOf({ environments, env: 'dev' }))).toEqual({
      ...DEFAULT_SETTINGS,
      removalPolicy: 'destroy',
      logRetentionDays: 7,
    });
  });

  it('lets -c key=value override the selected entry', () => {
    expect(readSettings(contextOf({ environments, env: 'prod', prescreen: 'false' })).prescreen).toBe(false);
  });

  it('pins the account and region an entry names', () => {
    expect(readDeploymentTarget(contextOf({ environments, env: 'prod' }))).toEqual({
      name: 'prod',
      account: '111122223333',
      region: 'eu-west-1',
    });
  });

  it('rejects an environment cdk.json does not define, naming the ones it does', () => {
    expect(() => readSettings(contextOf({ environments, env: 'staging' }))).toThrow(
      /"env" must name an entry of "environments" in cdk.json \("dev", "prod"\), got "staging"/,
    );
  });

  it('rejects a misspelt key in an entry instead of ignoring it', () => {
    expect(() => readSettings(contextOf({ environments: { dev: { prescren: true } }, env: 'dev' }))).toThrow(
      /environments.dev has unknown keys "prescren"/,
    );
  });

  it.each(['dev', 'prod'])('cdk.json defines a valid %s environment', (env) => {
    const context = { ...cdkJson.context, env };
    expect(() => readSettings(contextOf(context))).not.toThrow();
    expect(readSettings(contextOf(context))).not.toEqual(DEFAULT_SETTINGS);
  });

  it('builds prod from cdk.json with its larger processor and retained data', () => {
    const prod = buildLivenessStack({ env: 'prod' });
    expect(
      (prod.template.toJSON().Resources as Record<string, { Properties: { MemorySize?: number } }>)[
        prod.stack.getLogicalId(prod.stack.service.functions.processUpload.node.defaultChild as never)
      ]?.Properties.MemorySize,
    ).toBe(1536);
  });
});

describe('LivenessService props', () => {
  function build(props: LivenessServiceProps): LivenessService {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    return new LivenessService(new Stack(app, 'Props'), 'Liveness', props);
  }

  it('builds with no props at all', () => {
    expect(build({}).functions.processUpload).toBeDefined();
  });

  it.each<[string, LivenessServiceProps, RegExp]>([
    [
      'a threshold above 100',
      { defaultDeclineThreshold: 101 },
      /defaultDeclineThreshold must be a number from 0 to 100/,
    ],
    ['zero upload retention', { uploadRetentionDays: 0 }, /uploadRetentionDays must be a whole number from 1/],
    ['fractional upload retention', { uploadRetentionDays: 0.5 }, /uploadRetentionDays must be a whole number/],
    ['a presigned-URL lifetime over 5 minutes', { uploadUrlTtlSeconds: 600 }, /uploadUrlTtlSeconds .* 30 to 300/],
    ['an http Didit URL', { diditBaseUrl: 'http://verification.didit.me' }, /diditBaseUrl must be an https/],
    [
      '"*" mixed with other origins',
      { corsAllowedOrigins: ['*', 'https://a.example.com'] },
      /"\*" .* cannot be combined/,
    ],
    ['no origins', { corsAllowedOrigins: [] }, /corsAllowedOrigins must be a non-empty list of origins, got \[\]/],
    [
      'checks kept shorter than their images',
      { uploadRetentionDays: 7, checkRetentionDays: 3 },
      /checkRetentionDays \(3\) must be at least uploadRetentionDays \(7\)/,
    ],
    ['a zero throttling rate', { throttlingRateLimit: 0 }, /throttlingRateLimit/],
    [
      'an unsupported architecture',
      { architecture: lambda.Architecture.custom('riscv64') },
      /architecture must be "arm64" or "x86_64", got "riscv64"/,
    ],
  ])('throws on %s', (_name, props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});

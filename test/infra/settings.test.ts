import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { LivenessService, type LivenessServiceProps } from '../../lib/liveness-service';
import { DEFAULT_SETTINGS, readSettings, SettingsError } from '../../lib/settings';
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
  ])('rejects %s=%s with a message naming the key', (key, value, message) => {
    expect(() => readSettings(contextOf({ [key]: value }))).toThrow(SettingsError);
    expect(() => readSettings(contextOf({ [key]: value }))).toThrow(message);
  });

  it('stops the stack from being built on bad context', () => {
    expect(() => buildLivenessStack({ defaultDeclineThreshold: 101 })).toThrow(/defaultDeclineThreshold/);
    expect(() => buildLivenessStack({ architecture: 'sparc' })).toThrow(/architecture/);
    expect(() => buildLivenessStack({ uploadRetentionDays: 0 })).toThrow(/uploadRetentionDays/);
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
    ['no origins', { corsAllowedOrigins: [] }, /corsAllowedOrigins must name at least one origin/],
    [
      'checks kept shorter than their images',
      { uploadRetentionDays: 7, checkRetentionDays: 3 },
      /checkRetentionDays \(3\) must be at least uploadRetentionDays \(7\)/,
    ],
    ['a zero throttling rate', { throttlingRateLimit: 0 }, /throttlingRateLimit/],
    [
      'an unsupported architecture',
      { architecture: lambda.Architecture.custom('riscv64') },
      /architecture must be ARM_64 or X86_64/,
    ],
  ])('throws on %s', (_name, props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});

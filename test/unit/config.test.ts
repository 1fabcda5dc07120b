import { describe, expect, it } from 'vitest';
import {
  loadCreateCheckConfig,
  loadDeleteCheckConfig,
  loadDiditWebhookConfig,
  loadGetCheckConfig,
  loadProcessorConfig,
  loadSweeperConfig,
  loadWebhookDeliveryConfig,
} from '../../lambdas/config';
import type { FunctionRole } from '../../lambdas/core/settings/kinds';
import { SETTINGS, settingEntries } from '../../lambdas/core/settings/schema';
import { ConfigError } from '../../lambdas/errors';

type Env = Record<string, string | undefined>;

/** Each function's loader, by the role the schema's `readBy` names. */
const LOADERS: Record<FunctionRole, (env: Env) => unknown> = {
  createCheck: loadCreateCheckConfig,
  getCheck: loadGetCheckConfig,
  deleteCheck: loadDeleteCheckConfig,
  processUpload: loadProcessorConfig,
  sweepChecks: loadSweeperConfig,
  deliverWebhook: loadWebhookDeliveryConfig,
  diditWebhook: loadDiditWebhookConfig,
};
const roles = Object.keys(LOADERS) as FunctionRole[];

/** Every resource variable set, as the stack sets them. */
const RESOURCES: Env = Object.fromEntries(
  settingEntries().flatMap(([name, spec]) => (spec.kind === 'resource' ? [[spec.env.name, `${name}-value`]] : [])),
);

/** The variables a loader reads, found by handing it an environment that records every lookup. */
function variablesRead(role: FunctionRole): string[] {
  const read = new Set<string>();
  const env = new Proxy(RESOURCES, {
    get: (target, name) => {
      if (typeof name === 'string') read.add(name);
      return target[name as string];
    },
  });
  LOADERS[role](env);
  return [...read].sort();
}

function variablesFor(role: FunctionRole): string[] {
  return settingEntries()
    .flatMap(([, spec]) => (spec.env?.readBy.includes(role) ? [spec.env.name] : []))
    .sort();
}

describe.each(roles)('the %s loader', (role) => {
  it('reads exactly the variables the schema says it reads', () => {
    expect(variablesRead(role)).toEqual(variablesFor(role));
  });

  it('throws ConfigError naming each missing resource variable', () => {
    for (const name of variablesFor(role).filter((variable) => variable in RESOURCES)) {
      expect(() => LOADERS[role]({ ...RESOURCES, [name]: undefined }), name).toThrow(
        new ConfigError(`${name} is required`),
      );
    }
  });
});

describe('function config', () => {
  it('falls back to the schema defaults when only the resources are set', () => {
    const processor = loadProcessorConfig(RESOURCES);
    expect(processor).toMatchObject({
      uploadPrefix: SETTINGS.uploadPrefix.default,
      prescreenEnabled: SETTINGS.prescreen.default,
      claimLeaseSeconds: SETTINGS.claimLeaseSeconds.default,
      didit: { baseUrl: SETTINGS.diditBaseUrl.default, headersTimeoutMs: SETTINGS.diditHeadersTimeoutMs.default },
      image: { maxLongEdge: SETTINGS.imageMaxLongEdge.default },
    });
    expect(loadCreateCheckConfig(RESOURCES)).toMatchObject({
      uploadUrlTtlSeconds: 300,
      defaultDeclineThreshold: 30,
      checkRetentionDays: 30,
      allowInsecureCallbacks: false,
    });
    expect(loadWebhookDeliveryConfig(RESOURCES)).toMatchObject({ horizonSeconds: 86_400, maxAttempts: 60 });
  });

  it('parses what the stack and the local stack set', () => {
    const config = loadProcessorConfig({
      ...RESOURCES,
      PRESCREEN_ENABLED: 'true',
      S3_FORCE_PATH_STYLE: '1',
      DIDIT_BASE_URL: 'http://127.0.0.1:4010/',
      IMAGE_MAX_LONG_EDGE: ' 1344 ',
    });
    expect(config).toMatchObject({
      prescreenEnabled: true,
      s3ForcePathStyle: true,
      didit: { baseUrl: 'http://127.0.0.1:4010' },
      image: { maxLongEdge: 1344 },
    });
    expect(loadWebhookDeliveryConfig({ ...RESOURCES, WEBHOOK_HORIZON_SECONDS: '3600' }).horizonSeconds).toBe(3600);
  });

  it.each([
    ['DEFAULT_DECLINE_THRESHOLD', '101', /DEFAULT_DECLINE_THRESHOLD must be a number from 0 to 100, got "101"/],
    ['UPLOAD_URL_TTL_SECONDS', '29', /UPLOAD_URL_TTL_SECONDS must be a whole number from 30 to 300, got "29"/],
    ['CHECK_RETENTION_DAYS', '1.5', /CHECK_RETENTION_DAYS must be a whole number from 1 to 3650, got "1.5"/],
    ['ALLOW_INSECURE_CALLBACKS', 'yes', /ALLOW_INSECURE_CALLBACKS must be true or false, got "yes"/],
    ['UPLOAD_PREFIX', 'Uploads', /UPLOAD_PREFIX must be a lowercase prefix ending in "\/".*got "Uploads"/],
  ])('rejects %s=%s at cold start, naming the variable and the value', (name, value, message) => {
    expect(() => loadCreateCheckConfig({ ...RESOURCES, [name]: value })).toThrow(ConfigError);
    expect(() => loadCreateCheckConfig({ ...RESOURCES, [name]: value })).toThrow(message);
  });

  it.each([
    ['DIDIT_BASE_URL', 'ftp://didit.example.com', /DIDIT_BASE_URL must be an http\(s\) URL/],
    ['CLAIM_LEASE_SECONDS', '4', /CLAIM_LEASE_SECONDS must be a whole number from 5 to 3600, got "4"/],
    ['IMAGE_MAX_INPUT_PIXELS', '999', /IMAGE_MAX_INPUT_PIXELS must be a whole number from 1000000/],
  ])('rejects processor %s=%s', (name, value, message) => {
    expect(() => loadProcessorConfig({ ...RESOURCES, [name]: value })).toThrow(message);
  });

  it('rejects a webhook horizon outside the construct prop’s range', () => {
    expect(() => loadWebhookDeliveryConfig({ ...RESOURCES, WEBHOOK_HORIZON_SECONDS: '59' })).toThrow(
      /WEBHOOK_HORIZON_SECONDS must be a whole number from 60 to 604800/,
    );
  });
});

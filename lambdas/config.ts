import { UPLOAD_PREFIX } from './core/upload-rules';
import { ConfigError } from './errors';

/**
 * Every setting a function reads, validated once at cold start. A missing or malformed variable throws ConfigError
 * before the first event is handled, so a bad deployment fails loudly instead of failing checks one by one.
 */

type Env = Record<string, string | undefined>;

export { MAX_UPLOAD_BYTES } from './core/upload-rules';

export interface StorageConfig {
  readonly tableName: string;
  readonly bucketName: string;
  readonly uploadPrefix: string;
  /** Path-style S3 URLs; only for emulators, which have no virtual-host DNS. */
  readonly s3ForcePathStyle: boolean;
}

export interface CreateCheckConfig extends StorageConfig {
  readonly uploadUrlTtlSeconds: number;
  readonly defaultDeclineThreshold: number;
  readonly checkRetentionDays: number;
  /** Allow `http://` and loopback callback URLs (the local stack only). */
  readonly allowInsecureCallbacks: boolean;
}

export type GetCheckConfig = Pick<StorageConfig, 'tableName'>;

export interface DiditConfig {
  readonly baseUrl: string;
  readonly apiKeySecretId: string;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
}

export interface ImageConfig {
  readonly maxLongEdge: number;
  readonly maxOutputBytes: number;
  readonly maxInputPixels: number;
}

export interface ProcessorConfig extends StorageConfig {
  readonly eventBusName: string;
  readonly prescreenEnabled: boolean;
  /** How long a claim keeps other processors off a check; must outlast the function timeout. */
  readonly claimLeaseSeconds: number;
  /** How long the Didit API key is cached before Secrets Manager is asked again (rotation pick-up). */
  readonly secretCacheSeconds: number;
  /** The Step Functions state machine that owns retries. */
  readonly retryStateMachineArn: string;
  /** How long a RETRYING check may stay quiet before the sweeper restarts its round. */
  readonly retryDueSeconds: number;
  readonly didit: DiditConfig;
  readonly image: ImageConfig;
}

export interface SweeperConfig {
  readonly tableName: string;
  readonly eventBusName: string;
  readonly retryStateMachineArn: string;
  readonly claimLeaseSeconds: number;
  readonly retryDueSeconds: number;
  readonly batchSize: number;
}

export function loadSweeperConfig(env: Env = process.env): SweeperConfig {
  return {
    tableName: required(env, 'TABLE_NAME'),
    eventBusName: required(env, 'EVENT_BUS_NAME'),
    retryStateMachineArn: required(env, 'RETRY_STATE_MACHINE_ARN'),
    claimLeaseSeconds: integer(env, 'CLAIM_LEASE_SECONDS', { default: 180, min: 5, max: 3600 }),
    retryDueSeconds: integer(env, 'RETRY_DUE_SECONDS', { default: 900, min: 60, max: 86_400 }),
    batchSize: integer(env, 'SWEEP_BATCH_SIZE', { default: 100, min: 1, max: 1000 }),
  };
}

export interface DiditWebhookConfig {
  readonly tableName: string;
  readonly eventBusName: string;
  readonly diditWebhookSecretId: string;
  readonly secretCacheSeconds: number;
}

export function loadDiditWebhookConfig(env: Env = process.env): DiditWebhookConfig {
  return {
    tableName: required(env, 'TABLE_NAME'),
    eventBusName: required(env, 'EVENT_BUS_NAME'),
    diditWebhookSecretId: required(env, 'DIDIT_WEBHOOK_SECRET_ID'),
    secretCacheSeconds: integer(env, 'SECRET_CACHE_SECONDS', { default: 300, min: 0, max: 3600 }),
  };
}

export interface WebhookDeliveryConfig {
  readonly tableName: string;
  readonly eventBusName: string;
  readonly signingSecretId: string;
  readonly secretCacheSeconds: number;
  readonly horizonSeconds: number;
  readonly maxAttempts: number;
  readonly allowInsecureCallbacks: boolean;
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
}

export function loadWebhookDeliveryConfig(env: Env = process.env): WebhookDeliveryConfig {
  return {
    tableName: required(env, 'TABLE_NAME'),
    eventBusName: required(env, 'EVENT_BUS_NAME'),
    signingSecretId: required(env, 'WEBHOOK_SIGNING_SECRET_ID'),
    secretCacheSeconds: integer(env, 'SECRET_CACHE_SECONDS', { default: 300, min: 0, max: 3600 }),
    horizonSeconds: integer(env, 'WEBHOOK_HORIZON_SECONDS', { default: 86_400, min: 60, max: 7 * 86_400 }),
    maxAttempts: integer(env, 'WEBHOOK_MAX_ATTEMPTS', { default: 60, min: 1, max: 1000 }),
    allowInsecureCallbacks: boolean(env, 'ALLOW_INSECURE_CALLBACKS', false),
    connectTimeoutMs: integer(env, 'WEBHOOK_CONNECT_TIMEOUT_MS', { default: 5_000, min: 100, max: 30_000 }),
    responseTimeoutMs: integer(env, 'WEBHOOK_RESPONSE_TIMEOUT_MS', { default: 10_000, min: 100, max: 60_000 }),
  };
}

export function loadCreateCheckConfig(env: Env = process.env): CreateCheckConfig {
  return {
    ...loadStorageConfig(env),
    uploadUrlTtlSeconds: integer(env, 'UPLOAD_URL_TTL_SECONDS', { default: 300, min: 30, max: 300 }),
    defaultDeclineThreshold: number(env, 'DEFAULT_DECLINE_THRESHOLD', { default: 30, min: 0, max: 100 }),
    checkRetentionDays: integer(env, 'CHECK_RETENTION_DAYS', { default: 30, min: 1, max: 3650 }),
    allowInsecureCallbacks: boolean(env, 'ALLOW_INSECURE_CALLBACKS', false),
  };
}

export function loadGetCheckConfig(env: Env = process.env): GetCheckConfig {
  return { tableName: required(env, 'TABLE_NAME') };
}

export function loadProcessorConfig(env: Env = process.env): ProcessorConfig {
  return {
    ...loadStorageConfig(env),
    eventBusName: required(env, 'EVENT_BUS_NAME'),
    prescreenEnabled: boolean(env, 'PRESCREEN_ENABLED', false),
    claimLeaseSeconds: integer(env, 'CLAIM_LEASE_SECONDS', { default: 180, min: 5, max: 3600 }),
    secretCacheSeconds: integer(env, 'SECRET_CACHE_SECONDS', { default: 300, min: 0, max: 3600 }),
    retryStateMachineArn: required(env, 'RETRY_STATE_MACHINE_ARN'),
    retryDueSeconds: integer(env, 'RETRY_DUE_SECONDS', { default: 900, min: 60, max: 86_400 }),
    didit: {
      baseUrl: url(env, 'DIDIT_BASE_URL', 'https://verification.didit.me'),
      apiKeySecretId: required(env, 'DIDIT_API_KEY_SECRET_ID'),
      connectTimeoutMs: integer(env, 'DIDIT_CONNECT_TIMEOUT_MS', { default: 5_000, min: 100, max: 60_000 }),
      headersTimeoutMs: integer(env, 'DIDIT_HEADERS_TIMEOUT_MS', { default: 30_000, min: 100, max: 120_000 }),
      bodyTimeoutMs: integer(env, 'DIDIT_BODY_TIMEOUT_MS', { default: 10_000, min: 100, max: 120_000 }),
    },
    image: {
      maxLongEdge: integer(env, 'IMAGE_MAX_LONG_EDGE', { default: 1920, min: 256, max: 4096 }),
      maxOutputBytes: integer(env, 'IMAGE_MAX_OUTPUT_BYTES', { default: 500_000, min: 50_000, max: 5_000_000 }),
      maxInputPixels: integer(env, 'IMAGE_MAX_INPUT_PIXELS', { default: 40_000_000, min: 1_000_000, max: 268_402_689 }),
    },
  };
}

function loadStorageConfig(env: Env): StorageConfig {
  const uploadPrefix = env.UPLOAD_PREFIX ?? UPLOAD_PREFIX;
  if (!/^[a-z0-9-]+\/$/.test(uploadPrefix)) {
    throw new ConfigError(`UPLOAD_PREFIX must look like "uploads/", got "${uploadPrefix}"`);
  }
  return {
    tableName: required(env, 'TABLE_NAME'),
    bucketName: required(env, 'BUCKET_NAME'),
    uploadPrefix,
    s3ForcePathStyle: boolean(env, 'S3_FORCE_PATH_STYLE', false),
  };
}

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`${name} is required`);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const value = env[name]?.trim().toLowerCase();
  if (value === undefined || value === '') return fallback;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

function number(env: Env, name: string, opts: { default: number; min: number; max: number }): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return opts.default;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < opts.min || value > opts.max) {
    throw new ConfigError(`${name} must be a number from ${opts.min} to ${opts.max}, got "${raw}"`);
  }
  return value;
}

function integer(env: Env, name: string, opts: { default: number; min: number; max: number }): number {
  const value = number(env, name, opts);
  if (!Number.isInteger(value)) throw new ConfigError(`${name} must be a whole number, got "${env[name]}"`);
  return value;
}

function url(env: Env, name: string, fallback: string): string {
  const raw = env[name]?.trim() || fallback;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be an absolute URL, got "${raw}"`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new ConfigError(`${name} must be an http(s) URL, got "${raw}"`);
  }
  return raw.replace(/\/+$/, '');
}

import { type ClientAppKeys, parseClientAppKeys } from './core/caller';
import type { ImageConfig } from './core/image-pipeline';
import type { EnvBinding, SettingValue, ValueSpec } from './core/settings/kinds';
import { fromEnv } from './core/settings/parse';
import { SETTINGS } from './core/settings/schema';
import { ConfigError } from './errors';

/**
 * Every setting a function reads, validated once at cold start. A missing or malformed variable throws ConfigError
 * before the first event is handled, so a bad deployment fails loudly instead of failing checks one by one. Variable
 * names, defaults and ranges come from the settings schema (lambdas/core/settings), which the construct also uses to
 * name the variables it sets.
 */

type Env = Record<string, string | undefined>;

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
  /** Origins whose callbacks may use a port other than 443. */
  readonly callbackAllowedOrigins: readonly string[];
  /** API key id → client app: the owner of checks created with that key. */
  readonly clientAppKeys: ClientAppKeys;
}

export interface GetCheckConfig extends Pick<StorageConfig, 'tableName'> {
  readonly clientAppKeys: ClientAppKeys;
  /** Return Didit's age/gender/race estimates (only stored at all when this is on). */
  readonly storeFaceAttributes: boolean;
}

export interface DeleteCheckConfig extends StorageConfig {
  readonly eventBusName: string;
  /** How long the eraser may still be finishing a deletion before the sweeper takes over. */
  readonly claimLeaseSeconds: number;
  readonly clientAppKeys: ClientAppKeys;
}

export interface DiditConfig {
  readonly baseUrl: string;
  readonly apiKeySecretId: string;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
}

export type { ImageConfig };

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
  /** How long past its resume time a WAITING check may stay quiet before the sweeper restarts its round. */
  readonly waitDueGraceSeconds: number;
  readonly didit: DiditConfig;
  readonly image: ImageConfig;
  /** Keep an ended check's upload until the lifecycle rule instead of deleting it (audits). */
  readonly keepUploadsUntilLifecycle: boolean;
  /** Store Didit's age/gender/race estimates with results. */
  readonly storeFaceAttributes: boolean;
  /** The shared Didit budget and what ends a check Didit keeps failing. */
  readonly pacing: {
    readonly requestsPerMinute: number;
    readonly failureHorizonSeconds: number;
    readonly probeIntervalSeconds: number;
  };
}

export interface SweeperConfig extends StorageConfig {
  readonly keepUploadsUntilLifecycle: boolean;
  /** Didit, for erasing the sessions of deleted checks. */
  readonly didit: DiditConfig;
  readonly secretCacheSeconds: number;
  readonly eventBusName: string;
  readonly retryStateMachineArn: string;
  readonly claimLeaseSeconds: number;
  readonly retryDueSeconds: number;
  readonly batchSize: number;
  /** The shared Didit budget the erasure calls take permits from. */
  readonly pacing: {
    readonly requestsPerMinute: number;
    readonly probeIntervalSeconds: number;
  };
}

/** The shared Didit budget every function that calls Didit takes permits from (processor, sweeper). */
function loadDiditBudget(env: Env): { readonly requestsPerMinute: number; readonly probeIntervalSeconds: number } {
  return {
    requestsPerMinute: read(env, SETTINGS.diditRequestsPerMinute),
    probeIntervalSeconds: read(env, SETTINGS.diditCircuitProbeInterval),
  };
}

export function loadSweeperConfig(env: Env = process.env): SweeperConfig {
  return {
    ...loadStorageConfig(env),
    keepUploadsUntilLifecycle: read(env, SETTINGS.keepUploadsUntilLifecycle),
    didit: loadDiditConfig(env),
    secretCacheSeconds: read(env, SETTINGS.secretCacheSeconds),
    eventBusName: read(env, SETTINGS.eventBusName),
    retryStateMachineArn: read(env, SETTINGS.retryStateMachineArn),
    claimLeaseSeconds: read(env, SETTINGS.claimLeaseSeconds),
    retryDueSeconds: read(env, SETTINGS.retryDueSeconds),
    batchSize: read(env, SETTINGS.sweepBatchSize),
    // Erasing a session at Didit is a Didit call like any other: it takes a permit from the same budget.
    pacing: loadDiditBudget(env),
  };
}

export interface DiditWebhookConfig {
  readonly tableName: string;
  readonly eventBusName: string;
  readonly diditWebhookSecretId: string;
  readonly secretCacheSeconds: number;
  /** Least time between two reads of the secret past its cache (a signature that matched no cached secret). */
  readonly secretRefreshSeconds: number;
}

export function loadDiditWebhookConfig(env: Env = process.env): DiditWebhookConfig {
  return {
    tableName: read(env, SETTINGS.tableName),
    eventBusName: read(env, SETTINGS.eventBusName),
    diditWebhookSecretId: read(env, SETTINGS.diditWebhookSecretId),
    secretCacheSeconds: read(env, SETTINGS.secretCacheSeconds),
    secretRefreshSeconds: read(env, SETTINGS.secretRefreshSeconds),
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
  readonly callbackAllowedOrigins: readonly string[];
  /** Client app → the ARN of its signing secret; owners that are no client app use `signingSecretId`. */
  readonly signingSecretIdsByApp: ReadonlyMap<string, string>;
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
}

export function loadWebhookDeliveryConfig(env: Env = process.env): WebhookDeliveryConfig {
  return {
    tableName: read(env, SETTINGS.tableName),
    eventBusName: read(env, SETTINGS.eventBusName),
    signingSecretId: read(env, SETTINGS.webhookSigningSecretId),
    secretCacheSeconds: read(env, SETTINGS.secretCacheSeconds),
    horizonSeconds: read(env, SETTINGS.webhookRetryHorizon),
    maxAttempts: read(env, SETTINGS.webhookMaxAttempts),
    allowInsecureCallbacks: read(env, SETTINGS.allowInsecureCallbacks),
    callbackAllowedOrigins: read(env, SETTINGS.callbackAllowedOrigins),
    signingSecretIdsByApp: appMap(env, SETTINGS.webhookSigningSecretIds),
    connectTimeoutMs: read(env, SETTINGS.webhookConnectTimeoutMs),
    responseTimeoutMs: read(env, SETTINGS.webhookResponseTimeoutMs),
  };
}

export function loadCreateCheckConfig(env: Env = process.env): CreateCheckConfig {
  return {
    ...loadStorageConfig(env),
    uploadUrlTtlSeconds: read(env, SETTINGS.uploadUrlTtlSeconds),
    defaultDeclineThreshold: read(env, SETTINGS.defaultDeclineThreshold),
    checkRetentionDays: read(env, SETTINGS.checkRetentionDays),
    allowInsecureCallbacks: read(env, SETTINGS.allowInsecureCallbacks),
    callbackAllowedOrigins: read(env, SETTINGS.callbackAllowedOrigins),
    clientAppKeys: clientAppKeys(env),
  };
}

export function loadGetCheckConfig(env: Env = process.env): GetCheckConfig {
  return {
    tableName: read(env, SETTINGS.tableName),
    clientAppKeys: clientAppKeys(env),
    storeFaceAttributes: read(env, SETTINGS.storeFaceAttributes),
  };
}

export function loadDeleteCheckConfig(env: Env = process.env): DeleteCheckConfig {
  return {
    ...loadStorageConfig(env),
    eventBusName: read(env, SETTINGS.eventBusName),
    claimLeaseSeconds: read(env, SETTINGS.claimLeaseSeconds),
    clientAppKeys: clientAppKeys(env),
  };
}

function clientAppKeys(env: Env): ClientAppKeys {
  // The map is key id → app; the variable lists app=key id.
  const byApp = appMap(env, SETTINGS.clientAppApiKeyIds);
  return new Map([...byApp].map(([app, keyId]) => [keyId, app]));
}

/** `app=value,…` → app → value; a malformed list throws ConfigError naming the variable. */
function appMap(env: Env, spec: typeof SETTINGS.clientAppApiKeyIds | typeof SETTINGS.webhookSigningSecretIds) {
  const text = read(env, spec);
  try {
    // parseClientAppKeys maps the right-hand side to the app; turn it back into app → value.
    return new Map([...parseClientAppKeys(text)].map(([value, app]) => [app, value]));
  } catch (error) {
    throw new ConfigError(`${spec.env.name} ${(error as Error).message}`);
  }
}

export function loadProcessorConfig(env: Env = process.env): ProcessorConfig {
  return {
    ...loadStorageConfig(env),
    eventBusName: read(env, SETTINGS.eventBusName),
    prescreenEnabled: read(env, SETTINGS.prescreen),
    claimLeaseSeconds: read(env, SETTINGS.claimLeaseSeconds),
    secretCacheSeconds: read(env, SETTINGS.secretCacheSeconds),
    retryStateMachineArn: read(env, SETTINGS.retryStateMachineArn),
    retryDueSeconds: read(env, SETTINGS.retryDueSeconds),
    waitDueGraceSeconds: read(env, SETTINGS.waitDueGraceSeconds),
    keepUploadsUntilLifecycle: read(env, SETTINGS.keepUploadsUntilLifecycle),
    storeFaceAttributes: read(env, SETTINGS.storeFaceAttributes),
    pacing: { ...loadDiditBudget(env), failureHorizonSeconds: read(env, SETTINGS.diditFailureHorizon) },
    didit: loadDiditConfig(env),
    image: {
      maxLongEdge: read(env, SETTINGS.imageMaxLongEdge),
      maxOutputBytes: read(env, SETTINGS.imageMaxOutputBytes),
      maxInputPixels: read(env, SETTINGS.imageMaxInputPixels),
    },
  };
}

function loadDiditConfig(env: Env): DiditConfig {
  return {
    baseUrl: read(env, SETTINGS.diditBaseUrl),
    apiKeySecretId: read(env, SETTINGS.diditApiKeySecretId),
    connectTimeoutMs: read(env, SETTINGS.diditConnectTimeoutMs),
    headersTimeoutMs: read(env, SETTINGS.diditHeadersTimeoutMs),
    bodyTimeoutMs: read(env, SETTINGS.diditBodyTimeoutMs),
  };
}

function loadStorageConfig(env: Env): StorageConfig {
  return {
    tableName: read(env, SETTINGS.tableName),
    bucketName: read(env, SETTINGS.bucketName),
    uploadPrefix: read(env, SETTINGS.uploadPrefix),
    s3ForcePathStyle: read(env, SETTINGS.s3ForcePathStyle),
  };
}

/** One variable, parsed and checked against its schema entry (name, default, range). */
function read<S extends ValueSpec & { readonly env: EnvBinding }>(env: Env, spec: S): SettingValue<S> {
  const raw = env[spec.env.name];
  const parsed = fromEnv(spec, raw);
  if ('problem' in parsed) {
    const got = parsed.got ?? raw;
    throw new ConfigError(`${spec.env.name} ${parsed.problem}${got === undefined ? '' : `, got "${got}"`}`);
  }
  return parsed.value;
}

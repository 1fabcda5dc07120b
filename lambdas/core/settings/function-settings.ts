import { UPLOAD_PREFIX } from '../upload-rules';
import type { SettingSpec } from './kinds';

/**
 * What only functions read: the resources the stack hands them, and knobs that are deliberately not props or context
 * (they tune one function's internals, and their defaults are part of the design: timeouts, leases, batch sizes, image
 * limits). An operator can still override a knob on one function's environment; the stack never sets one. The entry's
 * name is the camelCase of its variable.
 */

export const FUNCTION_RESOURCES = {
  tableName: {
    kind: 'resource',
    env: {
      name: 'TABLE_NAME',
      readBy: [
        'createCheck',
        'getCheck',
        'deleteCheck',
        'processUpload',
        'sweepChecks',
        'deliverWebhook',
        'diditWebhook',
      ],
      setBy: 'stack',
    },
    doc: 'the checks table',
  },
  bucketName: {
    kind: 'resource',
    env: {
      name: 'BUCKET_NAME',
      readBy: ['createCheck', 'processUpload', 'sweepChecks', 'deleteCheck'],
      setBy: 'stack',
    },
    doc: 'the uploads bucket',
  },
  eventBusName: {
    kind: 'resource',
    env: {
      name: 'EVENT_BUS_NAME',
      readBy: ['deleteCheck', 'processUpload', 'sweepChecks', 'deliverWebhook', 'diditWebhook'],
      setBy: 'stack',
    },
    doc: 'the bus check events go to',
  },
  retryStateMachineArn: {
    kind: 'resource',
    env: { name: 'RETRY_STATE_MACHINE_ARN', readBy: ['processUpload', 'sweepChecks'], setBy: 'stack' },
    doc: 'the Step Functions state machine that owns Didit retries',
  },
  diditApiKeySecretId: {
    kind: 'resource',
    env: { name: 'DIDIT_API_KEY_SECRET_ID', readBy: ['processUpload', 'sweepChecks'], setBy: 'stack' },
    doc: 'ARN of the secret holding the Didit API key (never the key itself)',
  },
  diditWebhookSecretId: {
    kind: 'resource',
    env: { name: 'DIDIT_WEBHOOK_SECRET_ID', readBy: ['diditWebhook'], setBy: 'stack' },
    doc: "ARN of the secret holding Didit's webhook secret_shared_key",
  },
  webhookSigningSecretId: {
    kind: 'resource',
    env: { name: 'WEBHOOK_SIGNING_SECRET_ID', readBy: ['deliverWebhook'], setBy: 'stack' },
    doc: 'ARN of the secret holding the whsec_ callback signing secret(s)',
  },
  webhookSigningSecretIds: {
    kind: 'text',
    default: '',
    pattern: /^$|^[a-z0-9][a-z0-9-]*=[^,=\s]+(,[a-z0-9][a-z0-9-]*=[^,=\s]+)*$/,
    what: 'a list "<client app>=<secret ARN>,…"',
    env: { name: 'WEBHOOK_SIGNING_SECRET_IDS', readBy: ['deliverWebhook'], setBy: 'stack' },
    doc: "each API-key client app's whsec_ signing secret (ARN); other owners' checks use WEBHOOK_SIGNING_SECRET_ID",
  },
  clientAppApiKeyIds: {
    kind: 'text',
    default: '',
    pattern: /^$|^[a-z0-9][a-z0-9-]*=[^,=\s]+(,[a-z0-9][a-z0-9-]*=[^,=\s]+)*$/,
    what: 'a list "<client app>=<API key id>,…"',
    env: { name: 'CLIENT_APP_API_KEY_IDS', readBy: ['createCheck', 'getCheck', 'deleteCheck'], setBy: 'stack' },
    doc: 'which client app each API key belongs to: the owner of the checks created with it',
  },
} as const satisfies Record<string, SettingSpec>;

const ms = 'ms';

export const FUNCTION_SETTINGS = {
  uploadPrefix: {
    kind: 'text',
    default: UPLOAD_PREFIX,
    pattern: /^[a-z0-9-]+\/$/,
    what: 'a lowercase prefix ending in "/", like "uploads/"',
    env: {
      name: 'UPLOAD_PREFIX',
      readBy: ['createCheck', 'deleteCheck', 'processUpload', 'sweepChecks'],
      setBy: 'stack',
    },
    doc: 'key prefix of uploads: the presigned POST allows it, the trigger and the lifecycle rule match it',
  },
  webhookMaxAttempts: {
    kind: 'integer',
    default: 60,
    min: 1,
    max: 1000,
    env: { name: 'WEBHOOK_MAX_ATTEMPTS', readBy: ['deliverWebhook'], setBy: 'stack' },
    doc: 'delivery attempts within the horizon; the stack derives it from the backoff schedule',
  },
  s3ForcePathStyle: {
    kind: 'boolean',
    default: false,
    env: {
      name: 'S3_FORCE_PATH_STYLE',
      readBy: ['createCheck', 'deleteCheck', 'processUpload', 'sweepChecks'],
      setBy: 'local',
    },
    doc: 'path-style S3 URLs, for emulators without virtual-host DNS',
  },
  allowInsecureCallbacks: {
    kind: 'boolean',
    default: false,
    env: { name: 'ALLOW_INSECURE_CALLBACKS', readBy: ['createCheck', 'deliverWebhook'], setBy: 'local' },
    doc: 'accept `http://` and loopback callback URLs (the local stack only)',
  },
  claimLeaseSeconds: {
    kind: 'integer',
    default: 180,
    min: 5,
    max: 3600,
    unit: 'seconds',
    env: { name: 'CLAIM_LEASE_SECONDS', readBy: ['deleteCheck', 'processUpload', 'sweepChecks'] },
    doc: 'how long a claim keeps other processors off a check; must outlast the processor timeout (90 s)',
  },
  retryDueSeconds: {
    kind: 'integer',
    default: 900,
    min: 60,
    max: 86_400,
    unit: 'seconds',
    env: { name: 'RETRY_DUE_SECONDS', readBy: ['processUpload', 'sweepChecks'] },
    doc: 'how long a RETRYING check may stay quiet before the sweeper restarts its round',
  },
  waitDueGraceSeconds: {
    kind: 'integer',
    default: 300,
    min: 30,
    max: 3600,
    unit: 'seconds',
    env: { name: 'WAIT_DUE_GRACE_SECONDS', readBy: ['processUpload'] },
    doc: 'how long past its resume time a WAITING check may stay quiet before the sweeper restarts its round',
  },
  sweepBatchSize: {
    kind: 'integer',
    default: 100,
    min: 1,
    max: 1000,
    unit: 'checks',
    env: { name: 'SWEEP_BATCH_SIZE', readBy: ['sweepChecks'] },
    doc: 'checks one sweep reads per due-index query',
  },
  secretCacheSeconds: {
    kind: 'integer',
    default: 300,
    min: 0,
    max: 3600,
    unit: 'seconds',
    env: { name: 'SECRET_CACHE_SECONDS', readBy: ['processUpload', 'sweepChecks', 'deliverWebhook', 'diditWebhook'] },
    doc: 'how long a secret is cached before Secrets Manager is asked again (rotation pick-up)',
  },
  secretRefreshSeconds: {
    kind: 'integer',
    default: 30,
    min: 0,
    max: 3600,
    unit: 'seconds',
    env: { name: 'SECRET_REFRESH_SECONDS', readBy: ['diditWebhook'] },
    doc: "least time between two reads of Didit's webhook secret past its cache, on a signature that does not match",
  },
  webhookConnectTimeoutMs: {
    kind: 'integer',
    default: 5_000,
    min: 100,
    max: 30_000,
    unit: ms,
    env: { name: 'WEBHOOK_CONNECT_TIMEOUT_MS', readBy: ['deliverWebhook'] },
    doc: 'connect timeout of one callback delivery',
  },
  webhookResponseTimeoutMs: {
    kind: 'integer',
    default: 10_000,
    min: 100,
    max: 60_000,
    unit: ms,
    env: { name: 'WEBHOOK_RESPONSE_TIMEOUT_MS', readBy: ['deliverWebhook'] },
    doc: 'time a receiver has to send its response headers, and longest pause in its body',
  },
  diditConnectTimeoutMs: {
    kind: 'integer',
    default: 5_000,
    min: 100,
    max: 60_000,
    unit: ms,
    env: { name: 'DIDIT_CONNECT_TIMEOUT_MS', readBy: ['processUpload', 'sweepChecks'] },
    doc: 'connect timeout of the Didit call (the processor timeout covers connect + headers + body)',
  },
  diditHeadersTimeoutMs: {
    kind: 'integer',
    default: 30_000,
    min: 100,
    max: 120_000,
    unit: ms,
    env: { name: 'DIDIT_HEADERS_TIMEOUT_MS', readBy: ['processUpload', 'sweepChecks'] },
    doc: 'time Didit has to send its response headers',
  },
  diditBodyTimeoutMs: {
    kind: 'integer',
    default: 10_000,
    min: 100,
    max: 120_000,
    unit: ms,
    env: { name: 'DIDIT_BODY_TIMEOUT_MS', readBy: ['processUpload', 'sweepChecks'] },
    doc: "longest pause while reading Didit's answer",
  },
  imageMaxLongEdge: {
    kind: 'integer',
    default: 1920,
    min: 256,
    max: 4096,
    unit: 'px',
    env: { name: 'IMAGE_MAX_LONG_EDGE', readBy: ['processUpload'] },
    doc: 'the image sent to Didit is resized to fit this, never enlarged',
  },
  imageMaxOutputBytes: {
    kind: 'integer',
    default: 500_000,
    min: 50_000,
    max: 5_000_000,
    unit: 'bytes',
    env: { name: 'IMAGE_MAX_OUTPUT_BYTES', readBy: ['processUpload'] },
    doc: 'largest JPEG sent to Didit (quality is lowered until it fits)',
  },
  imageMaxInputPixels: {
    kind: 'integer',
    default: 40_000_000,
    min: 1_000_000,
    // libvips' own ceiling (16383 × 16383).
    max: 268_402_689,
    unit: 'pixels',
    env: { name: 'IMAGE_MAX_INPUT_PIXELS', readBy: ['processUpload'] },
    doc: 'larger uploads are refused before decoding (decompression bombs); the processor memory is sized for it',
  },
} as const satisfies Record<string, SettingSpec>;

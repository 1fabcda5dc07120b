import { Duration, Token, Validations } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CheckEvents } from './parts/events';
import type { NodeFunction } from './parts/node-function';
import { Processor } from './parts/processor';
import { RetryWorkflow } from './parts/retry-workflow';
import { Storage } from './parts/storage';
import { Sweeper } from './parts/sweeper';
import { UploadApi } from './parts/upload-api';
import { Webhooks } from './parts/webhooks';

/** Objects under this prefix are uploads: the presigned POST allows it, the trigger and the lifecycle rule match it. */
export const UPLOAD_PREFIX = 'uploads/';

/** Limits shared by props validation and the CDK-context settings (and by lambdas/config.ts on the function side). */
export const LIMITS = {
  defaultDeclineThreshold: { min: 0, max: 100 },
  uploadRetentionDays: { min: 1, max: 365 },
  uploadUrlTtlSeconds: { min: 30, max: 300 },
  checkRetentionDays: { min: 1, max: 3650 },
} as const;

export interface LivenessServiceProps {
  /** Run Rekognition DetectFaces on each image before Didit; grants the processor that one action. @default false */
  readonly prescreen?: boolean;
  /** Didit score (0–100) under which a check is declined when the create request names no threshold. @default 30 */
  readonly defaultDeclineThreshold?: number;
  /** Whole days S3 keeps an uploaded image before its lifecycle rule deletes it (at least 1). @default 1 */
  readonly uploadRetentionDays?: number;
  /** CPU architecture of every function; sharp's binary is installed to match. @default lambda.Architecture.ARM_64 */
  readonly architecture?: lambda.Architecture;
  /** Didit API origin the processor calls; must be https. @default 'https://verification.didit.me' */
  readonly diditBaseUrl?: string;
  /** Seconds a presigned upload POST stays valid (30–300). @default 300 */
  readonly uploadUrlTtlSeconds?: number;
  /** Days a check record is kept before DynamoDB TTL deletes it; not shorter than uploadRetentionDays. @default 30 */
  readonly checkRetentionDays?: number;
  /** Browser origins allowed to POST uploads to the bucket; `*` must stand alone. @default ['*'] */
  readonly corsAllowedOrigins?: string[];
  /** Existing secret holding the Didit API key as a plain string. @default - a new secret, to be set after deploy */
  readonly diditApiKeySecret?: secretsmanager.ISecret;
  /** Steady-state requests per second allowed per API key and per stage. @default 10 */
  readonly throttlingRateLimit?: number;
  /** Request burst allowed per API key and per stage. @default 20 */
  readonly throttlingBurstLimit?: number;
  /** How long CloudWatch keeps function and API access logs. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Create API Gateway's account-wide CloudWatch Logs role; set false if the account already has one. @default true */
  readonly apiCloudWatchRole?: boolean;
  /** Cap of the first wait before retrying Didit; later caps double (FULL jitter below each cap). @default Duration.seconds(5) */
  readonly diditRetryBaseDelay?: Duration;
  /** No wait before retrying Didit is capped above this. @default Duration.seconds(60) */
  readonly diditRetryMaxDelay?: Duration;
  /** Didit attempts per check, the first one included, before it fails with DIDIT_UNAVAILABLE. @default 5 */
  readonly diditMaxAttempts?: number;
  /** How long one webhook delivery to a callback_url keeps retrying. @default Duration.hours(24) */
  readonly webhookRetryHorizon?: Duration;
  /** Existing secret with Didit's webhook secret_shared_key. @default - a new secret, to be set after deploy */
  readonly diditWebhookSecret?: secretsmanager.ISecret;
  /** Existing secret with the whsec_ callback signing secret(s). @default - a new generated secret */
  readonly webhookSigningSecret?: secretsmanager.ISecret;
}

/** The functions the service runs, by role. */
export interface LivenessFunctions {
  readonly createCheck: NodeFunction;
  readonly getCheck: NodeFunction;
  readonly processUpload: NodeFunction;
  readonly sweepChecks: NodeFunction;
  readonly deliverWebhook: NodeFunction;
  readonly diditWebhook: NodeFunction;
}

/**
 * A deployable Didit passive-liveness back end: a REST API (API key) that creates checks and hands out presigned
 * uploads, a private uploads bucket that triggers a processor (sharp, optional Rekognition pre-screen, Didit), a
 * checks table and an EventBridge bus for results.
 */
export class LivenessService extends Construct {
  public readonly api: apigateway.RestApi;
  public readonly apiKey: apigateway.IApiKey;
  public readonly bucket: s3.Bucket;
  public readonly table: dynamodb.Table;
  public readonly eventBus: events.EventBus;
  public readonly diditApiKeySecret: secretsmanager.ISecret;
  public readonly functions: LivenessFunctions;
  public readonly retryWorkflow: RetryWorkflow;
  public readonly webhooks: Webhooks;

  constructor(scope: Construct, id: string, props: LivenessServiceProps = {}) {
    super(scope, id);
    const config = resolveProps(props);

    const storage = new Storage(this, 'Storage', {
      uploadPrefix: UPLOAD_PREFIX,
      uploadRetentionDays: config.uploadRetentionDays,
      corsAllowedOrigins: config.corsAllowedOrigins,
    });
    const checkEvents = new CheckEvents(this, 'Events');

    if (props.diditApiKeySecret) {
      this.diditApiKeySecret = props.diditApiKeySecret;
    } else {
      const secret = new secretsmanager.Secret(this, 'DiditApiKey', {
        description:
          'Didit API key used by the liveness processor. Replace the generated placeholder after deploying: ' +
          'aws secretsmanager put-secret-value --secret-id <this secret ARN> --secret-string <your Didit API key>',
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'The value is an API key issued by Didit; only Didit can mint a new one, so Secrets Manager cannot ' +
          'rotate it. Rotate it in the Didit console and put the new value here.',
      });
      this.diditApiKeySecret = secret;
    }

    const api = new UploadApi(this, 'Api', {
      table: storage.table,
      bucket: storage.bucket,
      uploadPrefix: UPLOAD_PREFIX,
      uploadUrlTtlSeconds: config.uploadUrlTtlSeconds,
      defaultDeclineThreshold: config.defaultDeclineThreshold,
      checkRetentionDays: config.checkRetentionDays,
      architecture: config.architecture,
      throttlingRateLimit: config.throttlingRateLimit,
      throttlingBurstLimit: config.throttlingBurstLimit,
      logRetention: config.logRetention,
      cloudWatchRole: config.apiCloudWatchRole,
    });

    const processor = new Processor(this, 'Processor', {
      table: storage.table,
      bucket: storage.bucket,
      uploadPrefix: UPLOAD_PREFIX,
      eventBus: checkEvents.eventBus,
      diditApiKeySecret: this.diditApiKeySecret,
      diditBaseUrl: config.diditBaseUrl,
      prescreen: config.prescreen,
      architecture: config.architecture,
      logRetention: config.logRetention,
    });

    this.retryWorkflow = new RetryWorkflow(this, 'RetryWorkflow', {
      processor: processor.function,
      backoff: {
        baseSeconds: config.diditRetryBaseDelay.toSeconds(),
        maxDelaySeconds: config.diditRetryMaxDelay.toSeconds(),
      },
      maxAttempts: config.diditMaxAttempts,
      logRetention: config.logRetention,
    });
    // The ARN is a formatted string, not a reference, so processor → state machine → processor is no cycle.
    processor.function.addEnvironment('RETRY_STATE_MACHINE_ARN', this.retryWorkflow.stateMachineArn);
    this.retryWorkflow.grantStartRound(processor.function);

    const sweeper = new Sweeper(this, 'Sweeper', {
      table: storage.table,
      eventBus: checkEvents.eventBus,
      retryWorkflow: this.retryWorkflow,
      architecture: config.architecture,
      logRetention: config.logRetention,
    });

    this.webhooks = new Webhooks(this, 'Webhooks', {
      table: storage.table,
      eventBus: checkEvents.eventBus,
      api: api.api,
      architecture: config.architecture,
      logRetention: config.logRetention,
      horizon: config.webhookRetryHorizon,
      backoff: { baseSeconds: 30, maxDelaySeconds: 3600 },
      ...(props.diditWebhookSecret ? { diditWebhookSecret: props.diditWebhookSecret } : {}),
      ...(props.webhookSigningSecret ? { signingSecret: props.webhookSigningSecret } : {}),
    });

    this.api = api.api;
    this.apiKey = api.apiKey;
    this.bucket = storage.bucket;
    this.table = storage.table;
    this.eventBus = checkEvents.eventBus;
    this.functions = {
      createCheck: api.createCheckFunction,
      getCheck: api.getCheckFunction,
      processUpload: processor.function,
      sweepChecks: sweeper.function,
      deliverWebhook: this.webhooks.deliverFunction,
      diditWebhook: this.webhooks.diditWebhookFunction,
    };
  }
}

type ResolvedProps = Required<
  Omit<LivenessServiceProps, 'diditApiKeySecret' | 'diditWebhookSecret' | 'webhookSigningSecret'>
>;

/** Applies defaults and rejects values (or combinations) the service cannot run with. Tokens are not checked. */
function resolveProps(props: LivenessServiceProps): ResolvedProps {
  const config: ResolvedProps = {
    prescreen: props.prescreen ?? false,
    defaultDeclineThreshold: props.defaultDeclineThreshold ?? 30,
    uploadRetentionDays: props.uploadRetentionDays ?? 1,
    architecture: props.architecture ?? lambda.Architecture.ARM_64,
    diditBaseUrl: props.diditBaseUrl ?? 'https://verification.didit.me',
    uploadUrlTtlSeconds: props.uploadUrlTtlSeconds ?? 300,
    checkRetentionDays: props.checkRetentionDays ?? 30,
    corsAllowedOrigins: props.corsAllowedOrigins ?? ['*'],
    throttlingRateLimit: props.throttlingRateLimit ?? 10,
    throttlingBurstLimit: props.throttlingBurstLimit ?? 20,
    logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    apiCloudWatchRole: props.apiCloudWatchRole ?? true,
    diditRetryBaseDelay: props.diditRetryBaseDelay ?? Duration.seconds(5),
    diditRetryMaxDelay: props.diditRetryMaxDelay ?? Duration.seconds(60),
    diditMaxAttempts: props.diditMaxAttempts ?? 5,
    webhookRetryHorizon: props.webhookRetryHorizon ?? Duration.hours(24),
  };

  checkRange('defaultDeclineThreshold', config.defaultDeclineThreshold, { ...LIMITS.defaultDeclineThreshold });
  checkRange('uploadRetentionDays', config.uploadRetentionDays, { ...LIMITS.uploadRetentionDays, integer: true });
  checkRange('uploadUrlTtlSeconds', config.uploadUrlTtlSeconds, { ...LIMITS.uploadUrlTtlSeconds, integer: true });
  checkRange('checkRetentionDays', config.checkRetentionDays, { ...LIMITS.checkRetentionDays, integer: true });
  checkRange('throttlingRateLimit', config.throttlingRateLimit, { min: 1, max: 10_000 });
  checkRange('throttlingBurstLimit', config.throttlingBurstLimit, { min: 1, max: 5_000, integer: true });

  if (config.webhookRetryHorizon.toSeconds() < 60 || config.webhookRetryHorizon.toSeconds() > 7 * 86_400) {
    throw new Error('LivenessService: webhookRetryHorizon must be from 1 minute to 7 days');
  }
  checkRange('diditMaxAttempts', config.diditMaxAttempts, { min: 2, max: 20, integer: true });
  if (
    config.diditRetryBaseDelay.toSeconds() < 1 ||
    config.diditRetryMaxDelay.toSeconds() < config.diditRetryBaseDelay.toSeconds()
  ) {
    throw new Error('LivenessService: diditRetryBaseDelay must be at least 1 s and at most diditRetryMaxDelay');
  }

  const arch = config.architecture.name;
  if (arch !== lambda.Architecture.ARM_64.name && arch !== lambda.Architecture.X86_64.name) {
    throw new Error(`LivenessService: architecture must be ARM_64 or X86_64, got "${arch}"`);
  }
  if (!Token.isUnresolved(config.diditBaseUrl) && !/^https:\/\/[^/\s]+/.test(config.diditBaseUrl)) {
    throw new Error(`LivenessService: diditBaseUrl must be an https:// URL, got "${config.diditBaseUrl}"`);
  }
  const origins = config.corsAllowedOrigins;
  if (origins.length === 0) {
    throw new Error('LivenessService: corsAllowedOrigins must name at least one origin (or "*")');
  }
  if (origins.includes('*') && origins.length > 1) {
    throw new Error(
      'LivenessService: corsAllowedOrigins "*" already allows every origin and cannot be combined with others, ' +
        `got ${JSON.stringify(origins)}`,
    );
  }
  if (
    !Token.isUnresolved(config.checkRetentionDays) &&
    !Token.isUnresolved(config.uploadRetentionDays) &&
    config.checkRetentionDays < config.uploadRetentionDays
  ) {
    // An image must never outlive the check that explains why it was collected.
    throw new Error(
      `LivenessService: checkRetentionDays (${config.checkRetentionDays}) must be at least ` +
        `uploadRetentionDays (${config.uploadRetentionDays})`,
    );
  }
  return config;
}

function checkRange(name: string, value: number, opts: { min: number; max: number; integer?: boolean }): void {
  if (Token.isUnresolved(value)) return;
  if (!Number.isFinite(value) || value < opts.min || value > opts.max || (opts.integer && !Number.isInteger(value))) {
    const kind = opts.integer ? 'a whole number' : 'a number';
    throw new Error(`LivenessService: ${name} must be ${kind} from ${opts.min} to ${opts.max}, got ${value}`);
  }
}

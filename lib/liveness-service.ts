import { CfnResource, type Duration, Names, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import { EVENT_SOURCE } from '../lambdas/core/check-events';
import { DEFAULT_METRICS_NAMESPACE } from '../lambdas/core/metrics';
import { SETTINGS } from '../lambdas/core/settings/schema';
import type { LivenessAuthorization } from './authorization';
import { deadLetterQueue } from './parts/dead-letter-queue';
import { EventSchemas } from './parts/event-schemas';
import { CheckEvents } from './parts/events';
import type { NodeFunction } from './parts/node-function';
import { type LivenessAlarms, Observability } from './parts/observability';
import { Processor } from './parts/processor';
import { RetryWorkflow } from './parts/retry-workflow';
import { Storage } from './parts/storage';
import { Sweeper } from './parts/sweeper';
import { STAGE_NAME, UploadApi } from './parts/upload-api';
import { Webhooks } from './parts/webhooks';
import {
  acknowledgeDeployTimeFunctions,
  acknowledgeFinding,
  acknowledgePurposeConflicts,
} from './profile/acknowledgements';
import { writeAcknowledgementsToTemplate } from './profile/nag-metadata';
import { LivenessProfile } from './profile/regulated-profile';
import { resolveProps } from './prop-settings';

/** Objects under this prefix are uploads: the presigned POST allows it, the trigger and the lifecycle rule match it. */
export { UPLOAD_PREFIX } from '../lambdas/core/upload-rules';

import { UPLOAD_PREFIX } from '../lambdas/core/upload-rules';

/** CloudFormation types the removal policy applies to: the ones that hold data or that consumers build on. */
const STATEFUL_TYPES = new Set([
  'AWS::S3::Bucket',
  'AWS::DynamoDB::Table',
  'AWS::SecretsManager::Secret',
  'AWS::Events::EventBus',
  'AWS::Logs::LogGroup',
  'AWS::SQS::Queue',
]);

export interface LivenessServiceProps {
  /** Run Rekognition DetectFaces on each image before Didit; grants the processor that one action. @default false */
  readonly prescreen?: boolean;
  /** Didit score (0–100) under which a check is declined when the create request names no threshold. @default 30 */
  readonly defaultDeclineThreshold?: number;
  /** Whole days S3 keeps an uploaded image before its lifecycle rule deletes it (at least 1). @default 1 */
  readonly uploadRetentionDays?: number;
  /**
   * Keep each selfie until the lifecycle rule (`uploadRetentionDays`) instead of deleting it when its check ends, for
   * customers who must audit the image; `DELETE` removes it either way. @default false
   */
  readonly keepUploadsUntilLifecycle?: boolean;
  /** Store and return Didit's age, gender and race/ethnicity estimates per face. @default false */
  readonly storeFaceAttributes?: boolean;
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
  /** How long CloudWatch keeps function, API access and state-machine logs. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Create API Gateway's account-wide CloudWatch Logs role; set false if the account already has one. @default true */
  readonly apiCloudWatchRole?: boolean;
  /**
   * Cap of the first wait before retrying Didit (1 s–5 min); later caps double (FULL jitter below each cap).
   * @default Duration.seconds(5)
   */
  readonly diditRetryBaseDelay?: Duration;
  /** No wait before retrying Didit is capped above this (1 s–1 h; not below diditRetryBaseDelay). @default Duration.seconds(60) */
  readonly diditRetryMaxDelay?: Duration;
  /**
   * The budget every Didit call takes a permit from, all functions together (1–100000 calls per minute); raise it
   * after Didit raises your application's limit.
   * @default 280
   */
  readonly diditRequestsPerMinute?: number;
  /**
   * A check that Didit keeps failing (5xx, timeouts, resets, no credits), or a throttled AWS dependency holds up, for
   * this long ends FAILED (1 minute–24 hours). Waiting for the budget or a 429 never fails a check.
   * @default Duration.minutes(60)
   */
  readonly diditFailureHorizon?: Duration;
  /** While Didit is out of credits, one probe call per this interval (1 s–1 h); the other checks wait. @default Duration.seconds(60) */
  readonly diditCircuitProbeInterval?: Duration;
  /**
   * Reserved concurrency of the image processor (0–10000; 0 reserves none): caps a burst's concurrent invocations,
   * whose S3 events then wait in Lambda's async queue (up to 6 hours).
   * @default 0
   */
  readonly processorReservedConcurrency?: number;
  /** How long one webhook delivery to a callback_url keeps retrying. @default Duration.hours(24) */
  readonly webhookRetryHorizon?: Duration;
  /** Existing secret with Didit's webhook secret_shared_key. @default - a new secret, to be set after deploy */
  readonly diditWebhookSecret?: secretsmanager.ISecret;
  /**
   * Source addresses (IPv4 or CIDR) allowed to call `POST /v1/webhooks/didit`, enforced by an API Gateway resource
   * policy; Didit publishes 18.203.201.92. `['*']` alone leaves the route open (its HMAC signatures still decide).
   * @default ['*']
   */
  readonly diditWebhookSourceIps?: string[];
  /** Existing secret with the whsec_ callback signing secret(s). @default - a new generated secret */
  readonly webhookSigningSecret?: secretsmanager.ISecret;
  /** Existing bus the check events go to (your rules stay yours). @default - a new bus for the service */
  readonly eventBus?: events.IEventBus;
  /**
   * Existing checks table: partition key `id` (S), TTL on `expires_at`, GSIs `by-due` (`due_shard` S + `due_at` N,
   * projection ALL) and `by-didit-session` (`didit_session_id` S). A `dynamodb.Table` of this app is checked at synth.
   * @default - a new table
   */
  readonly table?: dynamodb.ITable;
  /**
   * Existing uploads bucket; must be an `s3.Bucket` of this app (the service adds its lifecycle, CORS and
   * notification rules; an imported bucket throws). Keep it private, TLS-only and encrypted. @default - a new bucket
   */
  readonly bucket?: s3.IBucket;
  /** How callers of the check API authenticate. @default LivenessAuthorization.apiKey() */
  readonly authorization?: LivenessAuthorization;
  /**
   * The client apps of the API (lowercase names, letters, digits and "-"). With API keys each gets its own key in the
   * usage plan: the checks created with it are its own (GET and list by another app answer 404). Each gets its own
   * `whsec_` webhook signing secret, so its receivers verify only its own webhooks. The first app keeps the construct
   * ids of the single key and secret earlier versions created.
   * @default ['default']
   */
  readonly clientApps?: string[];
  /**
   * Origins (`https://host:port`) whose callback URLs may use a port other than 443; every other callback must be
   * https on port 443. Addresses are checked as always (public only).
   * @default []
   */
  readonly callbackAllowedOrigins?: string[];
  /** Memory of the image processor in MiB (512–10240; also buys CPU for sharp). @default 1024 */
  readonly processorMemorySize?: number;
  /** Memory of every other function in MiB (128–10240). @default 256 */
  readonly memorySize?: number;
  /**
   * Topic every alarm notifies (alarm and OK).
   * @default - alarms are created without actions; with `regulated`, a new encrypted topic to subscribe to
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * What happens to the buckets, table, secrets, bus, queue and log groups this construct creates when they leave the
   * stack; DESTROY empties the buckets first. @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /** How far past its due time a check may be before the stuck-checks alarm fires (5 min–24 h). @default Duration.minutes(15) */
  readonly stuckCheckThreshold?: Duration;
  /** CloudWatch namespace of the custom metrics (not starting with "AWS/"). @default 'Liveness' */
  readonly metricsNamespace?: string;
  /**
   * Powertools service name: the `service` key of every log line and metric dimension; unique per deployment.
   * @default - derived from the construct path
   */
  readonly serviceName?: string;
  /**
   * Publish the JSON Schemas of every event to an EventBridge schema registry (code bindings for subscribers).
   * @default false
   */
  readonly eventSchemaRegistry?: boolean;
  /**
   * The profile for regulated customers: turns on `encryptionKey` (a new key), `webAcl` and `backupPlan`, requires
   * alarm actions (creates a topic without `alarmTopic`), versions the buckets (non-current versions expire after a
   * day), reserves concurrency, gives every function a dead-letter queue and replaces inline IAM policies with
   * managed ones. VPC placement stays opt-in (`vpcSubnets`). docs/operations.md, "Regulated profile".
   * @default false
   */
  readonly regulated?: boolean;
  /**
   * Customer-managed KMS key for the bucket(s), table, secrets, queues, log groups, bus, backups and alarm topic the
   * service creates. A key of this app gets a key policy naming the functions' roles and the services that use it; an
   * imported key's policy is yours to write (docs/operations.md).
   * @default - a new key with `regulated`, else AWS-owned and AWS-managed keys
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Associate a WAFv2 web ACL with the API stage: the one `webAclArn` names, else a new one (AWS managed common and
   * known-bad-inputs rules, `wafRateLimit`, stricter rules for the Didit webhook route).
   * @default - the value of `regulated`
   */
  readonly webAcl?: boolean;
  /**
   * Existing regional web ACL to associate with the API stage instead of creating one.
   * @default - a new web ACL when `webAcl` (or `regulated`) is on
   */
  readonly webAclArn?: string;
  /** Requests one IP may send in 5 minutes before the created web ACL blocks it (10–2000000000). @default 3000 */
  readonly wafRateLimit?: number;
  /** The same limit for `POST /v1/webhooks/didit`, per source IP (10–2000000000). @default 300 */
  readonly diditWebhookRateLimit?: number;
  /** A daily AWS Backup plan for the service's tables. @default - the value of `regulated` */
  readonly backupPlan?: boolean;
  /** Days AWS Backup keeps each daily recovery point (1–35: not past the PITR window). @default 35 */
  readonly backupRetentionDays?: number;
  /** With `regulated`: reserved concurrency of every other function but the sweeper (1–1000). @default 20 */
  readonly reservedConcurrency?: number;
  /**
   * Subnets every function runs in (private, with a route to Didit and to callback URLs through NAT or an egress
   * proxy, and to the AWS APIs). Needs `securityGroups`.
   * @default - the functions run outside a VPC
   */
  readonly vpcSubnets?: ec2.ISubnet[];
  /** Security groups of the functions placed in `vpcSubnets` (1–5); they need outbound HTTPS. @default - none */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/** The functions the service runs, by role. */
export interface LivenessFunctions {
  readonly createCheck: NodeFunction;
  readonly getCheck: NodeFunction;
  readonly deleteCheck: NodeFunction;
  readonly processUpload: NodeFunction;
  readonly sweepChecks: NodeFunction;
  readonly deliverWebhook: NodeFunction;
  readonly diditWebhook: NodeFunction;
}

/**
 * A deployable Didit passive-liveness back end: a REST API (API key, IAM or Cognito) that creates checks and hands out
 * presigned uploads, a private uploads bucket that triggers a processor (sharp, optional Rekognition pre-screen,
 * Didit), a checks table, an EventBridge bus for results, Step Functions retries and webhooks, and the alarms and
 * dashboard to run it.
 */
export class LivenessService extends Construct {
  public readonly api: apigateway.RestApi;
  /** The generated API key of the first client app; only with API key authorization. */
  public readonly apiKey: apigateway.IApiKey | undefined;
  /** Every client app's API key, by app; empty unless API key authorization. */
  public readonly apiKeys: Readonly<Record<string, apigateway.IApiKey>>;
  /** Every client app's webhook signing secret, by app (the first one is `webhookSigningSecret`). */
  public readonly webhookSigningSecrets: Readonly<Record<string, secretsmanager.ISecret>>;
  /** The client apps, first one first. */
  public readonly clientApps: readonly string[];
  public readonly authorization: LivenessAuthorization;
  public readonly bucket: s3.IBucket;
  public readonly table: dynamodb.ITable;
  public readonly eventBus: events.IEventBus;
  public readonly diditApiKeySecret: secretsmanager.ISecret;
  public readonly diditWebhookSecret: secretsmanager.ISecret;
  public readonly webhookSigningSecret: secretsmanager.ISecret;
  public readonly functions: LivenessFunctions;
  public readonly retryWorkflow: RetryWorkflow;
  public readonly webhooks: Webhooks;
  /** Asynchronous invocations of any function that failed after Lambda's retries (an S3 event, a sweeper tick). */
  public readonly deadLetterQueue: sqs.IQueue;
  /** Events EventBridge could not deliver to a target (the delivery workflow, the sweeper) within 24 hours. */
  public readonly undeliveredEvents: sqs.IQueue;
  public readonly alarms: LivenessAlarms;
  public readonly dashboard: cloudwatch.Dashboard;
  /** The `service` dimension of this deployment's metrics. */
  public readonly serviceName: string;
  public readonly metricsNamespace: string;
  /** Present when `eventSchemaRegistry` is on. */
  public readonly eventSchemas?: EventSchemas;
  /** The regulated profile and its parts; present when `regulated` or any of its parts is on. */
  public readonly profile: LivenessProfile | undefined;
  /** The customer-managed key the service's data is encrypted with, if any: grant your readers `kms:Decrypt` on it. */
  public readonly encryptionKey: kms.IKey | undefined;
  /** The topic every alarm notifies, if any (with `regulated` and no `alarmTopic`, one the service created). */
  public readonly alarmTopic: sns.ITopic | undefined;

  constructor(scope: Construct, id: string, props: LivenessServiceProps = {}) {
    super(scope, id);
    const config = resolveProps(props, { metricsNamespace: DEFAULT_METRICS_NAMESPACE });
    this.authorization = config.authorization;
    this.serviceName = props.serviceName ?? Names.uniqueResourceName(this, { maxLength: 64, separator: '-' });
    this.metricsNamespace = config.metricsNamespace;
    this.profile = LivenessProfile.isWanted({ ...props, regulated: config.regulated })
      ? new LivenessProfile(this, 'Profile', {
          ...props,
          regulated: config.regulated,
          wafRateLimit: config.wafRateLimit,
          diditWebhookRateLimit: config.diditWebhookRateLimit,
          diditWebhookSourceIps: config.diditWebhookSourceIps,
          backupRetentionDays: config.backupRetentionDays,
          processorReservedConcurrency: config.processorReservedConcurrency,
          reservedConcurrency: config.reservedConcurrency,
          logRetention: config.logRetention,
          removalPolicy: config.removalPolicy,
        })
      : undefined;
    this.encryptionKey = this.profile?.encryptionKey;
    this.alarmTopic = props.alarmTopic ?? this.profile?.alarmTopic;

    const storage = new Storage(this, 'Storage', {
      uploadPrefix: UPLOAD_PREFIX,
      uploadRetentionDays: config.uploadRetentionDays,
      corsAllowedOrigins: config.corsAllowedOrigins,
      removalPolicy: config.removalPolicy,
      ...(props.bucket ? { bucket: props.bucket } : {}),
      ...(props.table ? { table: props.table } : {}),
    });
    const eventBus = props.eventBus ?? new CheckEvents(this, 'Events').eventBus;

    if (props.diditApiKeySecret) {
      this.diditApiKeySecret = props.diditApiKeySecret;
    } else {
      const secret = new secretsmanager.Secret(this, 'DiditApiKey', {
        description:
          'Didit API key used by the liveness processor. Replace the generated placeholder after deploying: ' +
          'aws secretsmanager put-secret-value --secret-id <this secret ARN> --secret-string <your Didit API key>',
      });
      acknowledgeFinding(
        secret,
        'secretRotation',
        'The value is an API key issued by Didit; only Didit can mint a new one, so Secrets Manager cannot ' +
          'rotate it. It is rotated by hand: docs/operations.md, "Rotating secrets by hand".',
      );
      this.diditApiKeySecret = secret;
    }

    const api = new UploadApi(this, 'Api', {
      table: storage.table,
      bucket: storage.bucket,
      uploadPrefix: UPLOAD_PREFIX,
      uploadUrlTtlSeconds: config.uploadUrlTtlSeconds,
      defaultDeclineThreshold: config.defaultDeclineThreshold,
      checkRetentionDays: config.checkRetentionDays,
      storeFaceAttributes: config.storeFaceAttributes,
      eventBus,
      architecture: config.architecture,
      throttlingRateLimit: config.throttlingRateLimit,
      throttlingBurstLimit: config.throttlingBurstLimit,
      logRetention: config.logRetention,
      cloudWatchRole: config.apiCloudWatchRole,
      authorization: config.authorization,
      memorySize: config.memorySize,
      clientApps: config.clientApps,
      callbackAllowedOrigins: config.callbackAllowedOrigins,
    });

    const processor = new Processor(this, 'Processor', {
      table: storage.table,
      bucket: storage.bucket,
      uploadPrefix: UPLOAD_PREFIX,
      eventBus,
      diditApiKeySecret: this.diditApiKeySecret,
      diditBaseUrl: config.diditBaseUrl,
      prescreen: config.prescreen,
      keepUploadsUntilLifecycle: config.keepUploadsUntilLifecycle,
      storeFaceAttributes: config.storeFaceAttributes,
      architecture: config.architecture,
      logRetention: config.logRetention,
      memorySize: config.processorMemorySize,
      diditRequestsPerMinute: config.diditRequestsPerMinute,
      failureHorizon: config.diditFailureHorizon,
      circuitProbeInterval: config.diditCircuitProbeInterval,
      reservedConcurrency: config.processorReservedConcurrency,
    });

    this.retryWorkflow = new RetryWorkflow(this, 'RetryWorkflow', {
      processor: processor.function,
      backoff: {
        baseSeconds: config.diditRetryBaseDelay.toSeconds(),
        maxDelaySeconds: config.diditRetryMaxDelay.toSeconds(),
      },
      logRetention: config.logRetention,
    });
    // The ARN is a formatted string, not a reference, so processor → state machine → processor is no cycle.
    processor.function.addEnvironment(SETTINGS.retryStateMachineArn.env.name, this.retryWorkflow.stateMachineArn);
    this.retryWorkflow.grantStartRound(processor.function);

    // EventBridge keeps retrying a target for up to 24 h; what it still cannot deliver lands here, never dropped.
    const undeliveredEvents = deadLetterQueue(this, 'UndeliveredEvents', 'events EventBridge could not deliver');

    const sweeper = new Sweeper(this, 'Sweeper', {
      table: storage.table,
      bucket: storage.bucket,
      uploadPrefix: UPLOAD_PREFIX,
      keepUploadsUntilLifecycle: config.keepUploadsUntilLifecycle,
      diditApiKeySecret: this.diditApiKeySecret,
      diditBaseUrl: config.diditBaseUrl,
      diditRequestsPerMinute: config.diditRequestsPerMinute,
      circuitProbeInterval: config.diditCircuitProbeInterval,
      undeliveredEvents,
      eventBus,
      retryWorkflow: this.retryWorkflow,
      architecture: config.architecture,
      logRetention: config.logRetention,
      memorySize: config.memorySize,
    });

    this.webhooks = new Webhooks(this, 'Webhooks', {
      table: storage.table,
      undeliveredEvents,
      eventBus,
      api: api.api,
      architecture: config.architecture,
      logRetention: config.logRetention,
      horizon: config.webhookRetryHorizon,
      backoff: { baseSeconds: 30, maxDelaySeconds: 3600 },
      memorySize: config.memorySize,
      diditWebhookSourceIps: config.diditWebhookSourceIps,
      authorization: config.authorization,
      clientApps: config.clientApps,
      callbackAllowedOrigins: config.callbackAllowedOrigins,
      ...(props.diditWebhookSecret ? { diditWebhookSecret: props.diditWebhookSecret } : {}),
      ...(props.webhookSigningSecret ? { signingSecret: props.webhookSigningSecret } : {}),
    });

    // Only the service's own roles may put events that claim to come from it. A bus passed in keeps the policy its
    // owner gives it (docs/operations.md shows the statement to add).
    if (!props.eventBus && eventBus instanceof events.EventBus) {
      restrictServiceEvents(eventBus, [
        processor.function,
        api.deleteCheckFunction,
        sweeper.function,
        this.webhooks.deliverFunction,
        this.webhooks.diditWebhookFunction,
      ]);
    }

    if (props.eventSchemaRegistry) {
      this.eventSchemas = new EventSchemas(this, 'EventSchemas', {
        description: 'Events of the Didit liveness service (source liveness.service)',
      });
    }

    this.api = api.api;
    this.apiKey = api.apiKey;
    this.apiKeys = api.apiKeys;
    this.clientApps = [...config.clientApps];
    this.webhookSigningSecrets = this.webhooks.signingSecrets;
    this.bucket = storage.bucket;
    this.table = storage.table;
    this.eventBus = eventBus;
    this.diditWebhookSecret = this.webhooks.diditWebhookSecret;
    this.webhookSigningSecret = this.webhooks.signingSecret;
    this.deadLetterQueue = processor.deadLetterQueue;
    this.undeliveredEvents = undeliveredEvents;
    this.functions = {
      createCheck: api.createCheckFunction,
      getCheck: api.getCheckFunction,
      deleteCheck: api.deleteCheckFunction,
      processUpload: processor.function,
      sweepChecks: sweeper.function,
      deliverWebhook: this.webhooks.deliverFunction,
      diditWebhook: this.webhooks.diditWebhookFunction,
    };
    for (const fn of Object.values(this.functions)) {
      // Read by lambdas/observability.ts: log `service` key, metrics namespace and `service` dimension.
      fn.addEnvironment('POWERTOOLS_SERVICE_NAME', this.serviceName);
      fn.addEnvironment('POWERTOOLS_METRICS_NAMESPACE', this.metricsNamespace);
    }
    // The functions invoked asynchronously (S3 → processor, EventBridge → sweeper) keep an invocation that still
    // fails after Lambda's retries in the one dead-letter queue; the others are only ever invoked synchronously.
    useDeadLetterQueue(sweeper.function, processor.deadLetterQueue);
    for (const fn of [
      api.createCheckFunction,
      api.getCheckFunction,
      api.deleteCheckFunction,
      this.webhooks.diditWebhookFunction,
    ]) {
      acknowledgeSynchronousOnly(fn, 'API Gateway (a Lambda proxy integration)');
    }
    acknowledgeSynchronousOnly(this.webhooks.deliverFunction, 'the webhook delivery workflow (a Step Functions task)');

    const observability = new Observability(this, 'Observability', {
      namespace: this.metricsNamespace,
      serviceName: this.serviceName,
      api: this.api,
      processor: processor.function,
      functions: { ...this.functions },
      retryStateMachine: this.retryWorkflow.stateMachine,
      deliveryStateMachine: this.webhooks.deliveryStateMachine,
      deadLetterQueue: processor.deadLetterQueue,
      undeliveredEvents,
      stuckCheckThreshold: config.stuckCheckThreshold,
      failureHorizon: config.diditFailureHorizon,
      ...(this.alarmTopic ? { alarmTopic: this.alarmTopic } : {}),
    });
    this.alarms = observability.alarms;
    this.dashboard = observability.dashboard;

    this.profile?.apply({
      owner: this,
      api: this.api,
      processor: processor.function,
      deadLetterQueue: processor.deadLetterQueue,
      table: storage.table,
    });
    acknowledgePurposeConflicts(this, this.api.deploymentStage);
    acknowledgeDeployTimeFunctions(Stack.of(this));
    writeAcknowledgementsToTemplate(this);
    applyRemovalPolicy(this, config.removalPolicy);
  }

  /**
   * Lets a principal call the check routes — create, list, read and erase (DELETE, for erasure requests) its own
   * checks — with `execute-api:Invoke` on them, nothing else. Needed with `LivenessAuthorization.iam()`; harmless
   * otherwise.
   */
  grantInvoke(grantee: iam.IGrantable): iam.Grant {
    const perCheckArns = (['GET', 'DELETE'] as const).map((method) =>
      this.api.arnForExecuteApi(method, '/v1/liveness-checks/*', STAGE_NAME),
    );
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: [
        this.api.arnForExecuteApi('POST', '/v1/liveness-checks', STAGE_NAME),
        this.api.arnForExecuteApi('GET', '/v1/liveness-checks', STAGE_NAME),
        ...perCheckArns,
      ],
    });
    if (Construct.isConstruct(grantee)) {
      for (const arn of perCheckArns) {
        Validations.of(grantee).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${nagResourceName(Stack.of(this).resolve(arn))}]`,
          reason:
            'GET and DELETE /v1/liveness-checks/{id} take a new check id per request, so the grant covers each of ' +
            'those routes with any id (execute-api:Invoke only, on this API and stage; the owner rule still applies).',
        });
      }
    }
    return grant;
  }
}

/**
 * The bus's resource policy: a PutEvents claiming `source: liveness.service` from any principal but the service's own
 * function roles is denied, whatever that principal's IAM policies allow. An event anyone else puts could otherwise
 * start a webhook delivery or reach the customer's subscribers as if the service had sent it.
 */
function restrictServiceEvents(bus: events.EventBus, writers: readonly lambda.IFunction[]): void {
  bus.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'OnlyTheServicePutsServiceEvents',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['events:PutEvents'],
      resources: [bus.eventBusArn],
      conditions: {
        StringEquals: { 'events:source': EVENT_SOURCE },
        ArnNotEquals: {
          'aws:PrincipalArn': writers.map((fn) => {
            if (!fn.role) throw new Error('LivenessService: every event writer needs a role');
            return fn.role.roleArn;
          }),
        },
      },
    }),
  );
}

/** The function's DeadLetterConfig, as the `deadLetterQueue` prop would have set it, for a function built already. */
function useDeadLetterQueue(fn: lambda.Function, queue: sqs.IQueue): void {
  (fn.node.defaultChild as lambda.CfnFunction).deadLetterConfig = { targetArn: queue.queueArn };
  queue.grantSendMessages(fn);
}

/** A function nothing invokes asynchronously has no use for a dead-letter queue (nor for the right to send to one). */
function acknowledgeSynchronousOnly(fn: lambda.Function, caller: string): void {
  Validations.of(fn).acknowledge({
    id: 'Serverless-LambdaDLQ',
    reason:
      `Invoked only synchronously, by ${caller}: a failure goes back to the caller, which retries or answers. A ` +
      'Lambda dead-letter queue only receives failed asynchronous invocations, which this function never gets.',
  });
}

/** How cdk-nag prints a resolved ARN in a finding id: tokens as `<LogicalId>`, `<LogicalId.Attr>`, `<AWS::Region>`. */
function nagResourceName(resolved: unknown): string {
  if (typeof resolved === 'string') return resolved;
  const token = resolved as { Ref?: string; 'Fn::GetAtt'?: string[]; 'Fn::Join'?: [string, unknown[]] };
  if (token.Ref) return `<${token.Ref}>`;
  if (token['Fn::GetAtt']) return `<${token['Fn::GetAtt'].join('.')}>`;
  if (token['Fn::Join']) return token['Fn::Join'][1].map(nagResourceName).join(token['Fn::Join'][0]);
  throw new Error(`cannot name ${JSON.stringify(resolved)} for cdk-nag`);
}

/** Every stateful resource this construct created (never one passed in: those live outside its scope). */
function applyRemovalPolicy(root: IConstruct, policy: RemovalPolicy): void {
  for (const child of root.node.findAll()) {
    if (child instanceof CfnResource && STATEFUL_TYPES.has(child.cfnResourceType)) child.applyRemovalPolicy(policy);
  }
}

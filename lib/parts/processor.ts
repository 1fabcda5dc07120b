import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SETTINGS } from '../../lambdas/core/settings/schema';
import { deadLetterQueue } from './dead-letter-queue';
import { NodeFunction } from './node-function';
import { bucketPrefixWildcardFinding, grantKeyUse } from './storage';

export const PROCESS_UPLOAD_ENTRY = 'lambdas/handlers/process-upload.ts';

/** Memory also buys CPU: sharp's decode + resize of a 5 MB photo is CPU-bound. */
export const PROCESSOR_MEMORY_MIB = SETTINGS.processorMemorySize.default;
/** Below this sharp's decode of a 40 MP image (the pixel limit) risks running out of memory. */
export const PROCESSOR_MIN_MEMORY_MIB = SETTINGS.processorMemorySize.min;
/** Lambda's own retries of a failed S3-triggered invocation before it goes to the dead-letter queue. */
export const PROCESSOR_ASYNC_RETRIES = 2;
/** Covers image work plus Didit's slowest answer (default timeouts: 5 s connect + 30 s headers + 10 s body) with room. */
export const PROCESSOR_TIMEOUT = Duration.seconds(90);

/** Id CDK gives the singleton function that writes S3 bucket notification configurations. */
const BUCKET_NOTIFICATIONS_HANDLER_ID = 'BucketNotificationsHandler050a0587b7544547bf325f094a3db834';

export interface ProcessorProps {
  readonly table: dynamodb.ITable;
  readonly bucket: s3.IBucket;
  /** Only objects created under this prefix trigger the processor. */
  readonly uploadPrefix: string;
  readonly eventBus: events.IEventBus;
  readonly diditApiKeySecret: secretsmanager.ISecret;
  readonly diditBaseUrl: string;
  readonly prescreen: boolean;
  /** Keep an ended check's upload until the bucket's lifecycle rule instead of deleting it. */
  readonly keepUploadsUntilLifecycle: boolean;
  /** Store Didit's age/gender/race estimates with results. */
  readonly storeFaceAttributes: boolean;
  readonly architecture: lambda.Architecture;
  readonly logRetention: logs.RetentionDays;
  /** Memory in MiB (also buys CPU). @default PROCESSOR_MEMORY_MIB */
  readonly memorySize?: number;
  /** The shared Didit budget, calls per minute. */
  readonly diditRequestsPerMinute: number;
  /** How long Didit may keep failing a check before it ends FAILED. */
  readonly failureHorizon: Duration;
  /** One probe call per this interval while Didit is out of credits. */
  readonly circuitProbeInterval: Duration;
  /** Reserved concurrency; 0 reserves none. @default 0 */
  readonly reservedConcurrency?: number;
}

/**
 * Processes each uploaded image: S3 `ObjectCreated` under the uploads prefix invokes the function, which normalizes
 * the image with sharp, optionally pre-screens it with Rekognition, asks Didit for a decision, records it in the table
 * and publishes the result on the bus.
 */
export class Processor extends Construct {
  public readonly function: NodeFunction;
  /**
   * Where asynchronous invocations land after Lambda's retries failed (the functions' dead-letter queue): the event
   * (an S3 event, a sweeper tick) with the error in the message attributes, never an image. Every function of the
   * service uses it; API and workflow invocations are synchronous and never reach it.
   */
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ProcessorProps) {
    super(scope, id);

    this.deadLetterQueue = deadLetterQueue(this, 'FailedInvocations', 'failed asynchronous function invocations');

    this.function = new NodeFunction(this, 'ProcessUpload', {
      entry: PROCESS_UPLOAD_ENTRY,
      description: 'S3 upload -> sharp -> [Rekognition] -> Didit -> DynamoDB + EventBridge',
      architecture: props.architecture,
      includeSharp: true,
      memorySize: props.memorySize ?? PROCESSOR_MEMORY_MIB,
      timeout: PROCESSOR_TIMEOUT,
      retryAttempts: PROCESSOR_ASYNC_RETRIES,
      // Both, to the same queue: the destination's record carries the error with the event; the dead-letter config
      // covers what the destination cannot (and is what every other function of the service uses).
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
      deadLetterQueue: this.deadLetterQueue,
      logRetention: props.logRetention,
      ...(props.reservedConcurrency ? { reservedConcurrentExecutions: props.reservedConcurrency } : {}),
      environment: {
        [SETTINGS.tableName.env.name]: props.table.tableName,
        [SETTINGS.bucketName.env.name]: props.bucket.bucketName,
        [SETTINGS.uploadPrefix.env.name]: props.uploadPrefix,
        [SETTINGS.eventBusName.env.name]: props.eventBus.eventBusName,
        [SETTINGS.prescreen.env.name]: String(props.prescreen),
        [SETTINGS.keepUploadsUntilLifecycle.env.name]: String(props.keepUploadsUntilLifecycle),
        [SETTINGS.storeFaceAttributes.env.name]: String(props.storeFaceAttributes),
        [SETTINGS.diditBaseUrl.env.name]: props.diditBaseUrl,
        // The ARN, never the value: the function reads the key from Secrets Manager at run time.
        [SETTINGS.diditApiKeySecretId.env.name]: props.diditApiKeySecret.secretArn,
        [SETTINGS.diditRequestsPerMinute.env.name]: String(props.diditRequestsPerMinute),
        [SETTINGS.diditFailureHorizon.env.name]: String(props.failureHorizon.toSeconds()),
        [SETTINGS.diditCircuitProbeInterval.env.name]: String(props.circuitProbeInterval.toSeconds()),
      },
    });
    const fn = this.function;

    // CheckStore.get/execute and the Didit budget record (PacerStateStore): consistent reads and conditional updates,
    // nothing else (no Scan, Query, Delete or batch calls). Add an action here when the store starts using one.
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      resourceArns: [props.table.tableArn],
    });
    grantKeyUse(props.table, fn, 'write');
    grantKeyUse(props.bucket, fn, 'read');
    props.eventBus.grantPutEventsTo(fn);
    props.diditApiKeySecret.grantRead(fn);
    // Only GetObject (which also answers HeadObject) and DeleteObject (an ended check's selfie, an upload for a deleted
    // check), only under the uploads prefix; bucket.grantRead/grantDelete would add s3:List* and s3:GetBucket* on the
    // whole bucket.
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ['s3:GetObject', 's3:DeleteObject'],
      resourceArns: [props.bucket.arnForObjects(`${props.uploadPrefix}*`)],
    });
    Validations.of(fn.role ?? fn).acknowledge({
      id: bucketPrefixWildcardFinding(props.bucket, props.uploadPrefix),
      reason:
        'Each check uploads to its own key under the uploads prefix, unknown at deploy time; s3:GetObject and ' +
        's3:DeleteObject are scoped to that prefix and nothing else in the bucket.',
    });

    if (props.prescreen) {
      // A separate policy so the "*" acknowledged below covers this one statement and nothing else.
      const prescreenPolicy = new iam.Policy(this, 'PrescreenPolicy', {
        statements: [new iam.PolicyStatement({ actions: ['rekognition:DetectFaces'], resources: ['*'] })],
      });
      fn.role?.attachInlinePolicy(prescreenPolicy);
      Validations.of(prescreenPolicy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'rekognition:DetectFaces analyses image bytes sent in the request and has no resource type, so IAM ' +
          'accepts only Resource "*" for it; the policy holds that single action.',
      });
    }

    props.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(fn), {
      prefix: props.uploadPrefix,
    });
    acknowledgeBucketNotificationsHandler(Stack.of(this));
  }
}

/**
 * CDK writes the bucket's notification configuration with a singleton custom-resource function (one per stack) whose
 * role carries the AWS managed basic-execution policy. It is CDK's own code, runs only during deployments and its role
 * is not configurable, so that finding is acknowledged where the function is created. (Its s3:PutBucketNotification
 * statement is already scoped to the uploads bucket.)
 */
function acknowledgeBucketNotificationsHandler(stack: Stack): void {
  const handler = stack.node.tryFindChild(BUCKET_NOTIFICATIONS_HANDLER_ID);
  if (!handler) return;
  Validations.of(handler).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason:
      "CDK's bucket-notifications custom resource creates its own role with the basic execution policy (log " +
      'writing only); the role is not configurable and the function runs only during deployments.',
  });
}

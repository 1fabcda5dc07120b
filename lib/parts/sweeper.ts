import { Duration, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DUE_INDEX_NAME, WAITING_INDEX_NAME } from '../../lambdas/core/check';
import { SETTINGS } from '../../lambdas/core/settings/schema';
import { NodeFunction } from './node-function';
import type { RetryWorkflow } from './retry-workflow';
import { bucketPrefixWildcardFinding, grantKeyUse } from './storage';

export const SWEEP_CHECKS_ENTRY = 'lambdas/handlers/sweep-checks.ts';

export interface SweeperProps {
  readonly table: dynamodb.ITable;
  /** The uploads bucket: the sweeper deletes ended and deleted checks' uploads under `uploadPrefix`. */
  readonly bucket: s3.IBucket;
  readonly uploadPrefix: string;
  readonly keepUploadsUntilLifecycle: boolean;
  /** Didit, to erase the saved sessions of deleted checks (`DELETE /v3/session/{id}/delete/`). */
  readonly diditApiKeySecret: secretsmanager.ISecret;
  readonly diditBaseUrl: string;
  /** The shared Didit budget erasure calls take permits from (the processor's setting). */
  readonly diditRequestsPerMinute: number;
  readonly circuitProbeInterval: Duration;
  /** Where a schedule tick EventBridge could not deliver to the function (after 24 h of retries) is kept. */
  readonly undeliveredEvents: sqs.IQueue;
  readonly eventBus: events.IEventBus;
  readonly retryWorkflow: RetryWorkflow;
  readonly architecture: lambda.Architecture;
  readonly logRetention: logs.RetentionDays;
  /** How often the sweeper runs. @default Duration.minutes(1) */
  readonly interval?: Duration;
  /** Memory in MiB. @default 256 */
  readonly memorySize?: number;
}

/**
 * The scheduled safety net: expires checks whose upload never came, hands quiet PROCESSING/RETRYING checks to a new
 * retry round, and republishes terminal events whose writer died.
 */
export class Sweeper extends Construct {
  public readonly function: NodeFunction;

  constructor(scope: Construct, id: string, props: SweeperProps) {
    super(scope, id);
    this.function = new NodeFunction(this, 'SweepChecks', {
      entry: SWEEP_CHECKS_ENTRY,
      description: 'Expires abandoned checks, restarts quiet rounds, republishes lost events, erases at Didit',
      architecture: props.architecture,
      memorySize: props.memorySize ?? SETTINGS.memorySize.default,
      timeout: Duration.seconds(60),
      logRetention: props.logRetention,
      // One sweep at a time: two would race for the same checks (harmlessly, but for nothing).
      reservedConcurrentExecutions: 1,
      environment: {
        [SETTINGS.tableName.env.name]: props.table.tableName,
        [SETTINGS.eventBusName.env.name]: props.eventBus.eventBusName,
        [SETTINGS.retryStateMachineArn.env.name]: props.retryWorkflow.stateMachineArn,
        [SETTINGS.bucketName.env.name]: props.bucket.bucketName,
        [SETTINGS.uploadPrefix.env.name]: props.uploadPrefix,
        [SETTINGS.keepUploadsUntilLifecycle.env.name]: String(props.keepUploadsUntilLifecycle),
        [SETTINGS.diditBaseUrl.env.name]: props.diditBaseUrl,
        // The ARN, never the value: read from Secrets Manager when a Didit session must be erased.
        [SETTINGS.diditApiKeySecretId.env.name]: props.diditApiKeySecret.secretArn,
        [SETTINGS.diditRequestsPerMinute.env.name]: String(props.diditRequestsPerMinute),
        [SETTINGS.diditCircuitProbeInterval.env.name]: String(props.circuitProbeInterval.toSeconds()),
      },
    });
    const fn = this.function;
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ['dynamodb:Query'],
      resourceArns: [
        `${props.table.tableArn}/index/${DUE_INDEX_NAME}`,
        `${props.table.tableArn}/index/${WAITING_INDEX_NAME}`,
      ],
    });
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      resourceArns: [props.table.tableArn],
    });
    grantKeyUse(props.table, fn, 'write');
    props.eventBus.grantPutEventsTo(fn);
    props.retryWorkflow.grantStartRound(fn);
    props.diditApiKeySecret.grantRead(fn);
    // Deletes only (never reads or lists) under the uploads prefix: the uploads of ended checks whose event it
    // republishes, and of deleted checks whose eraser died.
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ['s3:DeleteObject'],
      resourceArns: [props.bucket.arnForObjects(`${props.uploadPrefix}*`)],
    });
    Validations.of(fn.role ?? fn).acknowledge({
      id: bucketPrefixWildcardFinding(props.bucket, props.uploadPrefix),
      reason:
        'Each check uploads to its own key under the uploads prefix, unknown at deploy time; s3:DeleteObject is ' +
        'scoped to that prefix and nothing else in the bucket.',
    });

    new events.Rule(this, 'Schedule', {
      description: 'Runs the liveness check sweeper',
      schedule: events.Schedule.rate(props.interval ?? Duration.minutes(1)),
      targets: [
        new targets.LambdaFunction(fn, {
          retryAttempts: 2,
          maxEventAge: Duration.hours(1),
          deadLetterQueue: props.undeliveredEvents,
        }),
      ],
    });
  }
}

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { CheckStore } from '../adapters/check-store';
import { DiditSessionEraser } from '../adapters/didit-session-eraser';
import { EventPublisher } from '../adapters/event-publisher';
import { IdempotencyStore } from '../adapters/idempotency-store';
import { PacerStateStore } from '../adapters/pacer-state-store';
import { RetryWorkflow } from '../adapters/retry-workflow';
import { cachedSecret } from '../adapters/secret-value';
import { UploadRemover } from '../adapters/upload-reader';
import { loadSweeperConfig } from '../config';
import { instrumented, metricsPort, tracer } from '../observability';
import { CheckSweeper, type SweepAction } from '../services/check-sweeper';
import { DiditPacer } from '../services/didit-pacer';

const config = loadSweeperConfig();
const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({}));
const pacerState = new PacerStateStore(dynamo, config.tableName);
const sweeper = new CheckSweeper(
  {
    store: new CheckStore(dynamo, config.tableName),
    idempotency: new IdempotencyStore(dynamo, config.tableName),
    pacerState,
    diditPacer: new DiditPacer(pacerState, {
      requestsPerMinute: config.pacing.requestsPerMinute,
      probeIntervalMs: config.pacing.probeIntervalSeconds * 1000,
    }),
    events: new EventPublisher(tracer.captureAWSv3Client(new EventBridgeClient({})), config.eventBusName),
    retries: new RetryWorkflow(tracer.captureAWSv3Client(new SFNClient({})), config.retryStateMachineArn),
    uploads: new UploadRemover(
      tracer.captureAWSv3Client(new S3Client({ forcePathStyle: config.s3ForcePathStyle })),
      config.bucketName,
    ),
    diditSessions: new DiditSessionEraser(
      config.didit,
      cachedSecret(
        tracer.captureAWSv3Client(new SecretsManagerClient({})),
        config.didit.apiKeySecretId,
        config.secretCacheSeconds,
      ),
    ),
    clock: () => new Date(),
    metrics: metricsPort,
  },
  {
    batchSize: config.batchSize,
    leaseSeconds: config.claimLeaseSeconds,
    retryDueSeconds: config.retryDueSeconds,
    uploadPrefix: config.uploadPrefix,
    keepUploadsUntilLifecycle: config.keepUploadsUntilLifecycle,
  },
);

/**
 * Scheduled every minute: expires abandoned checks, restarts quiet rounds, republishes lost events, finishes deletions
 * and erases deleted checks' sessions at Didit until Didit confirms, and reports the waiting checks and Didit's
 * out-of-credits circuit.
 */
export const handler = instrumented(async (): Promise<Record<SweepAction, number>> => sweeper.sweep());

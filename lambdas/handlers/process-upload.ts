import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { RekognitionClient } from '@aws-sdk/client-rekognition';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { S3Event } from 'aws-lambda';
import { CheckStore } from '../adapters/check-store';
import { DiditClient } from '../adapters/didit-client';
import { EventPublisher } from '../adapters/event-publisher';
import { RekognitionFaceDetector } from '../adapters/face-detector';
import { PacerStateStore } from '../adapters/pacer-state-store';
import { RetryWorkflow } from '../adapters/retry-workflow';
import { cachedSecret } from '../adapters/secret-value';
import { UploadReader, UploadRemover } from '../adapters/upload-reader';
import { loadProcessorConfig } from '../config';
import { isCheckId } from '../core/check';
import { prepareImageForDidit } from '../core/image-pipeline';
import type { AttemptResult } from '../core/retry-round';
import { instrumented, logger, metricsPort, tracer } from '../observability';
import { CheckProcessor } from '../services/check-processor';
import { DiditPacer } from '../services/didit-pacer';

const config = loadProcessorConfig();
const s3 = tracer.captureAWSv3Client(new S3Client({ forcePathStyle: config.s3ForcePathStyle }));
const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({}));
const probeIntervalMs = config.pacing.probeIntervalSeconds * 1000;
const processor = new CheckProcessor(
  {
    store: new CheckStore(dynamo, config.tableName),
    pacer: new DiditPacer(new PacerStateStore(dynamo, config.tableName), {
      requestsPerMinute: config.pacing.requestsPerMinute,
      probeIntervalMs,
    }),
    uploads: new UploadReader(s3, config.bucketName),
    uploadRemover: new UploadRemover(s3, config.bucketName),
    prepareImage: prepareImageForDidit,
    faces: config.prescreenEnabled
      ? new RekognitionFaceDetector(tracer.captureAWSv3Client(new RekognitionClient({})))
      : undefined,
    didit: new DiditClient(
      config.didit,
      cachedSecret(
        tracer.captureAWSv3Client(new SecretsManagerClient({})),
        config.didit.apiKeySecretId,
        config.secretCacheSeconds,
      ),
    ),
    events: new EventPublisher(tracer.captureAWSv3Client(new EventBridgeClient({})), config.eventBusName),
    retries: new RetryWorkflow(tracer.captureAWSv3Client(new SFNClient({})), config.retryStateMachineArn),
    clock: () => new Date(),
    newToken: randomUUID,
    metrics: metricsPort,
  },
  {
    uploadPrefix: config.uploadPrefix,
    image: config.image,
    leaseSeconds: config.claimLeaseSeconds,
    retryDueSeconds: config.retryDueSeconds,
    failureHorizonSeconds: config.pacing.failureHorizonSeconds,
    probeIntervalMs,
    waitDueGraceSeconds: config.waitDueGraceSeconds,
    keepUploadsUntilLifecycle: config.keepUploadsUntilLifecycle,
    storeFaceAttributes: config.storeFaceAttributes,
  },
);

/** Tasks of the retry workflow (lib/parts/retry-workflow.ts) invoke the same function with one of these. */
type WorkflowTask =
  | {
      action: 'attempt';
      check_id: string;
      round: number;
      attempt: number;
      retry_after_seconds: number;
    }
  | { action: 'give_up'; check_id: string; round: number };

/**
 * One function, two callers: S3 ObjectCreated (the first attempt) and the retry workflow's tasks. An S3 event throws
 * only to make Lambda retry it; a workflow task throws only for errors the state machine's Retry should see.
 */
export const handler = instrumented(
  async (event: S3Event | WorkflowTask): Promise<AttemptResult | { outcome: string } | undefined> => {
    if ('Records' in event) return handleS3Event(event);
    const task = parseWorkflowTask(event);
    if (task.action === 'attempt') return processor.attempt(task);
    return processor.giveUp(task);
  },
);

async function handleS3Event(event: S3Event): Promise<undefined> {
  const failures: unknown[] = [];
  for (const record of event.Records ?? []) {
    if (!record.eventName?.startsWith('ObjectCreated')) continue;
    // S3 event keys are URL-encoded with '+' for spaces.
    const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
    try {
      // The ETag pins every read to the object this event announced (a re-upload cannot swap the image).
      const outcome = await processor.processUpload(key, record.s3.object.eTag || undefined);
      logger.info('Upload processed', { outcome });
    } catch (error) {
      logger.error('Upload processing will be retried', { errorName: error instanceof Error ? error.name : 'unknown' });
      failures.push(error);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, `${failures.length} upload(s) failed; retrying`);
  return undefined;
}

function parseWorkflowTask(event: unknown): WorkflowTask {
  const task = event as Partial<WorkflowTask> & Record<string, unknown>;
  const valid =
    typeof task.check_id === 'string' &&
    isCheckId(task.check_id) &&
    Number.isInteger(task.round) &&
    (task.action === 'give_up' ||
      (task.action === 'attempt' && Number.isInteger(task.attempt) && typeof task.retry_after_seconds === 'number'));
  if (!valid) throw new TypeError('Unrecognised event: neither an S3 event nor a retry workflow task');
  return task as WorkflowTask;
}

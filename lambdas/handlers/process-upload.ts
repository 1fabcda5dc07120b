import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { RekognitionClient } from '@aws-sdk/client-rekognition';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { S3Event } from 'aws-lambda';
import { CheckStore } from '../adapters/check-store';
import { DiditClient } from '../adapters/didit-client';
import { EventPublisher } from '../adapters/event-publisher';
import { RekognitionFaceDetector } from '../adapters/face-detector';
import { cachedSecret } from '../adapters/secret-value';
import { UploadReader } from '../adapters/upload-reader';
import { loadProcessorConfig } from '../config';
import { prepareImageForDidit } from '../core/image-pipeline';
import { logger } from '../observability';
import { CheckProcessor } from '../services/check-processor';

const config = loadProcessorConfig();
const s3 = new S3Client({ forcePathStyle: config.s3ForcePathStyle });
const processor = new CheckProcessor(
  {
    store: new CheckStore(new DynamoDBClient({}), config.tableName),
    uploads: new UploadReader(s3, config.bucketName),
    prepareImage: prepareImageForDidit,
    faces: config.prescreenEnabled ? new RekognitionFaceDetector(new RekognitionClient({})) : undefined,
    didit: new DiditClient(
      config.didit,
      cachedSecret(new SecretsManagerClient({}), config.didit.apiKeySecretId, config.secretCacheSeconds),
    ),
    events: new EventPublisher(new EventBridgeClient({}), config.eventBusName),
    clock: () => new Date(),
    newToken: randomUUID,
  },
  { uploadPrefix: config.uploadPrefix, image: config.image, leaseSeconds: config.claimLeaseSeconds },
);

/** S3 ObjectCreated → one terminal check per uploaded object. Throws only to make Lambda retry the whole event. */
export const handler = async (event: S3Event): Promise<void> => {
  const failures: unknown[] = [];
  for (const record of event.Records ?? []) {
    if (!record.eventName?.startsWith('ObjectCreated')) continue;
    // S3 event keys are URL-encoded with '+' for spaces.
    const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
    try {
      const outcome = await processor.processUpload(key);
      logger.info('Upload processed', { outcome });
    } catch (error) {
      logger.error('Upload processing will be retried', { errorName: error instanceof Error ? error.name : 'unknown' });
      failures.push(error);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, `${failures.length} upload(s) failed; retrying`);
};

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { CheckStore } from '../adapters/check-store';
import { EventPublisher } from '../adapters/event-publisher';
import { IdempotencyStore } from '../adapters/idempotency-store';
import { UploadRemover } from '../adapters/upload-reader';
import { loadDeleteCheckConfig } from '../config';
import { isCheckId } from '../core/check';
import { RequestValidationError } from '../errors';
import { instrumented, logger, tracer } from '../observability';
import { CheckEraser } from '../services/check-eraser';
import { callerOf, checkNotFound, responseForError } from './http';

const config = loadDeleteCheckConfig();
const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({}));
const eraser = new CheckEraser(
  {
    store: new CheckStore(dynamo, config.tableName),
    idempotency: new IdempotencyStore(dynamo, config.tableName),
    uploads: new UploadRemover(
      tracer.captureAWSv3Client(new S3Client({ forcePathStyle: config.s3ForcePathStyle })),
      config.bucketName,
    ),
    events: new EventPublisher(tracer.captureAWSv3Client(new EventBridgeClient({})), config.eventBusName),
    clock: () => new Date(),
  },
  { uploadPrefix: config.uploadPrefix, leaseSeconds: config.claimLeaseSeconds },
);

/**
 * DELETE /v1/liveness-checks/{id}: erases the check (its record becomes a tombstone, its upload is deleted, Didit's
 * copy is erased by the sweeper). 204 when it is gone, also for a second DELETE while the tombstone lasts (DELETE is
 * idempotent: a client that retries after a lost answer sees success); 404 when there is no such check for the caller
 * (none, or another owner's: the same finder as GET decides).
 */
export const handler = instrumented(async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  try {
    const id = event.pathParameters?.id ?? '';
    if (!isCheckId(id)) throw new RequestValidationError([{ field: 'id', message: 'must be a check id (a UUID)' }]);
    // Another owner's check answers exactly like a missing one (the finder GET uses).
    const outcome = await eraser.erase(id, callerOf(event, config.clientAppKeys));
    logger.info('Delete requested', { checkId: id, outcome });
    if (outcome === 'NOT_FOUND') return checkNotFound();
    return { statusCode: 204, headers: { 'cache-control': 'no-store' }, body: '' };
  } catch (error) {
    return responseForError(error);
  }
});

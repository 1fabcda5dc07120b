import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { CheckStore } from '../adapters/check-store';
import { IdempotencyStore } from '../adapters/idempotency-store';
import { UploadPresigner } from '../adapters/upload-presigner';
import { loadCreateCheckConfig } from '../config';
import { IDEMPOTENCY_HEADER, isIdempotencyKey } from '../core/idempotency';
import { METRICS } from '../core/metrics';
import { RequestValidationError } from '../errors';
import { instrumented, logger, metricsPort, tracer } from '../observability';
import { CheckCreator } from '../services/check-creator';
import { bodyText, callerOf, header, json, responseForError } from './http';

const config = loadCreateCheckConfig();
const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({}));
const creator = new CheckCreator(
  {
    store: new CheckStore(dynamo, config.tableName),
    presigner: new UploadPresigner(
      tracer.captureAWSv3Client(new S3Client({ forcePathStyle: config.s3ForcePathStyle })),
      config.bucketName,
    ),
    idempotency: new IdempotencyStore(dynamo, config.tableName),
  },
  config,
);

/** POST /v1/liveness-checks */
export const handler = instrumented(async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  try {
    const idempotencyKey = header(event, IDEMPOTENCY_HEADER);
    if (idempotencyKey !== undefined && !isIdempotencyKey(idempotencyKey)) {
      throw new RequestValidationError([
        { field: 'Idempotency-Key', message: 'must be 1 to 255 printable ASCII characters (a UUID, say)' },
      ]);
    }
    const outcome = await creator.create(bodyText(event), {
      caller: callerOf(event, config.clientAppKeys),
      idempotencyKey,
    });
    if (outcome.kind === 'replayed-check') {
      logger.info('Create replayed: the check already has its upload', { checkId: outcome.check.id });
      return json(200, outcome.check, { 'idempotent-replayed': 'true' });
    }
    const { created } = outcome;
    const replayed = outcome.kind === 'replayed';
    logger.info(replayed ? 'Create replayed with a fresh upload URL' : 'Check created', { checkId: created.id });
    if (!replayed) metricsPort.record(METRICS.checksCreated, 1);
    return json(201, created, {
      location: `/v1/liveness-checks/${created.id}`,
      ...(replayed ? { 'idempotent-replayed': 'true' } : {}),
    });
  } catch (error) {
    return responseForError(error);
  }
});

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { CheckStore } from '../adapters/check-store';
import { UploadPresigner } from '../adapters/upload-presigner';
import { loadCreateCheckConfig } from '../config';
import { METRICS } from '../core/metrics';
import { instrumented, logger, metricsPort, tracer } from '../observability';
import { CheckCreator } from '../services/check-creator';
import { bodyText, json, responseForError } from './http';

const config = loadCreateCheckConfig();
const creator = new CheckCreator(
  new CheckStore(tracer.captureAWSv3Client(new DynamoDBClient({})), config.tableName),
  new UploadPresigner(
    tracer.captureAWSv3Client(new S3Client({ forcePathStyle: config.s3ForcePathStyle })),
    config.bucketName,
  ),
  config,
);

/** POST /v1/liveness-checks */
export const handler = instrumented(async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  try {
    const created = await creator.create(bodyText(event));
    logger.info('Check created', { checkId: created.id });
    metricsPort.record(METRICS.checksCreated, 1);
    return json(201, created, { location: `/v1/liveness-checks/${created.id}` });
  } catch (error) {
    return responseForError(error);
  }
});

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { CheckStore } from '../adapters/check-store';
import { UploadPresigner } from '../adapters/upload-presigner';
import { loadCreateCheckConfig } from '../config';
import { logger } from '../observability';
import { CheckCreator } from '../services/check-creator';
import { bodyText, json, responseForError } from './http';

const config = loadCreateCheckConfig();
const creator = new CheckCreator(
  new CheckStore(new DynamoDBClient({}), config.tableName),
  new UploadPresigner(new S3Client({ forcePathStyle: config.s3ForcePathStyle }), config.bucketName),
  config,
);

/** POST /v1/liveness-checks */
export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  try {
    const created = await creator.create(bodyText(event));
    logger.info('Check created', { checkId: created.id });
    return json(201, created, { location: `/v1/liveness-checks/${created.id}` });
  } catch (error) {
    return responseForError(error);
  }
};

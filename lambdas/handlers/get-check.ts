import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { CheckStore } from '../adapters/check-store';
import { loadGetCheckConfig } from '../config';
import { isCheckId } from '../core/check';
import { toCheckView } from '../core/check-view';
import { RequestValidationError } from '../errors';
import { instrumented, tracer } from '../observability';
import { errorResponse, json, responseForError } from './http';

const config = loadGetCheckConfig();
const store = new CheckStore(tracer.captureAWSv3Client(new DynamoDBClient({})), config.tableName);

/** GET /v1/liveness-checks/{id} */
export const handler = instrumented(async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  try {
    const id = event.pathParameters?.id ?? '';
    if (!isCheckId(id)) throw new RequestValidationError([{ field: 'id', message: 'must be a check id (a UUID)' }]);
    const record = await store.get(id);
    if (!record) return errorResponse(404, 'NOT_FOUND', 'No liveness check with this id');
    return json(200, toCheckView(record));
  } catch (error) {
    return responseForError(error);
  }
});

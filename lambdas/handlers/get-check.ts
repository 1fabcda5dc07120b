import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { CheckStore } from '../adapters/check-store';
import { loadGetCheckConfig } from '../config';
import { isCheckId } from '../core/check';
import { toCheckView } from '../core/check-view';
import { RequestValidationError } from '../errors';
import { instrumented, tracer } from '../observability';
import { CheckFinder } from '../services/check-finder';
import { callerOf, checkNotFound, json, responseForError } from './http';
import { listChecks } from './list-checks';

const config = loadGetCheckConfig();
const store = new CheckStore(tracer.captureAWSv3Client(new DynamoDBClient({})), config.tableName);
const finder = new CheckFinder({ store, lister: store });

/** The list route's resource; every other event is `GET /v1/liveness-checks/{id}`. */
export const LIST_RESOURCE = '/v1/liveness-checks';

/** GET /v1/liveness-checks/{id} (the caller's own check) and GET /v1/liveness-checks (list-checks.ts). */
export const handler = instrumented(async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  try {
    if (event.resource === LIST_RESOURCE) {
      return await listChecks(event, finder, config.clientAppKeys, { faceAttributes: config.storeFaceAttributes });
    }
    const id = event.pathParameters?.id ?? '';
    if (!isCheckId(id)) throw new RequestValidationError([{ field: 'id', message: 'must be a check id (a UUID)' }]);
    const owner = callerOf(event, config.clientAppKeys);
    // Another owner's check answers exactly like a missing one.
    const record = await finder.find(id, owner);
    if (!record) return checkNotFound();
    return json(200, toCheckView(record, { faceAttributes: config.storeFaceAttributes }));
  } catch (error) {
    return responseForError(error);
  }
});

import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { type ClientAppKeys, type Owner, ownerOf } from '../core/caller';
import {
  CallerUnknownError,
  DependencyThrottledError,
  IdempotencyConflictError,
  RequestValidationError,
} from '../errors';
import { logger } from '../observability';

const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

export function errorResponse(
  statusCode: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): APIGatewayProxyResult {
  return json(statusCode, { error: { code, message, ...extra } });
}

/** Maps what a handler threw to the API's error contract; unknown errors are logged by name only. */
export function responseForError(error: unknown): APIGatewayProxyResult {
  if (error instanceof RequestValidationError) {
    return errorResponse(400, 'VALIDATION_FAILED', 'The request is invalid', { fields: error.fields });
  }
  if (error instanceof IdempotencyConflictError) {
    return errorResponse(409, 'IDEMPOTENCY_KEY_REUSED', error.message, {
      fields: [{ field: 'Idempotency-Key', message: 'was used with a different request body in the last 24 hours' }],
    });
  }
  if (error instanceof CallerUnknownError) {
    return errorResponse(401, 'UNAUTHORIZED', 'The request is not authenticated.');
  }
  if (error instanceof DependencyThrottledError) {
    logger.warn('Dependency throttled', { errorName: error.name });
    return json(
      503,
      { error: { code: 'SERVICE_UNAVAILABLE', message: 'Please retry shortly' } },
      { 'retry-after': '1' },
    );
  }
  logger.error('Unhandled error', { errorName: error instanceof Error ? error.name : typeof error, error });
  return errorResponse(500, 'INTERNAL_ERROR', 'Internal error');
}

/**
 * The owner the request acts as (core/caller.ts): the client app of its API key, the IAM principal or the Cognito
 * identity, as API Gateway authenticated it. Never the secret itself. CallerUnknownError (401) when there is none.
 */
export function callerOf(event: Pick<APIGatewayProxyEvent, 'requestContext'>, appKeys: ClientAppKeys): Owner {
  const owner = ownerOf(event.requestContext, appKeys);
  if (owner === undefined) throw new CallerUnknownError('The request carries no authenticated identity');
  return owner;
}

/** A request header by name, whatever its case. */
export function header(event: Pick<APIGatewayProxyEvent, 'headers'>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  }
  return undefined;
}

/** The `404` every read of a check answers when it does not exist or belongs to someone else. */
export function checkNotFound(): APIGatewayProxyResult {
  return errorResponse(404, 'NOT_FOUND', 'No liveness check with this id');
}

/** API Gateway may hand the body over base64-encoded. */
export function bodyText(event: { body: string | null; isBase64Encoded: boolean }): string | null {
  if (event.body === null) return null;
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

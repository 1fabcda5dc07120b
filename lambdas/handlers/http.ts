import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { DependencyThrottledError, IdempotencyConflictError, RequestValidationError } from '../errors';
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
 * Who is calling, as API Gateway authenticated them: the API key's id, the Cognito user (`sub`), or the IAM principal.
 * Never the secret itself.
 */
export function callerOf(event: Pick<APIGatewayProxyEvent, 'requestContext'>): string {
  const { identity, authorizer } = event.requestContext ?? {};
  const claims = (authorizer as { claims?: Record<string, unknown> } | null)?.claims;
  if (typeof claims?.sub === 'string') return `cognito:${claims.sub}`;
  if (identity?.userArn) return `iam:${identity.userArn}`;
  if (identity?.apiKeyId) return `apikey:${identity.apiKeyId}`;
  return 'anonymous';
}

/** A request header by name, whatever its case. */
export function header(event: Pick<APIGatewayProxyEvent, 'headers'>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  }
  return undefined;
}

/** API Gateway may hand the body over base64-encoded. */
export function bodyText(event: { body: string | null; isBase64Encoded: boolean }): string | null {
  if (event.body === null) return null;
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

import { DependencyThrottledError } from '../errors';

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'ThrottledException',
  'LimitExceededException',
  'SlowDown',
  'InternalServerError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
]);

/** AWS SDK errors that mean "try again later" become DependencyThrottledError; everything else passes through. */
export function classifyAwsError(error: unknown, what: string): unknown {
  if (!(error instanceof Error)) return error;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const retryable = (error as { $retryable?: unknown }).$retryable !== undefined;
  if (THROTTLING.has(error.name) || retryable || (status !== undefined && status >= 500)) {
    return new DependencyThrottledError(`${what} is throttling or unavailable (${error.name})`, { cause: error });
  }
  return error;
}

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { CheckStore } from '../adapters/check-store';
import { EventPublisher } from '../adapters/event-publisher';
import { cachedSecret } from '../adapters/secret-value';
import { loadDiditWebhookConfig } from '../config';
import { DiditWebhookMalformedError, DiditWebhookSignatureError } from '../core/didit-webhook';
import { instrumented, logger, tracer } from '../observability';
import { DiditUpdateConflictError, DiditWebhookReceiver } from '../services/didit-webhook-receiver';
import { bodyText, errorResponse, json, responseForError } from './http';

const config = loadDiditWebhookConfig();
const receiver = new DiditWebhookReceiver({
  store: new CheckStore(tracer.captureAWSv3Client(new DynamoDBClient({})), config.tableName),
  events: new EventPublisher(tracer.captureAWSv3Client(new EventBridgeClient({})), config.eventBusName),
  secret: cachedSecret(
    tracer.captureAWSv3Client(new SecretsManagerClient({})),
    config.diditWebhookSecretId,
    config.secretCacheSeconds,
    config.secretRefreshSeconds,
  ),
  clock: () => new Date(),
});

/**
 * POST /v1/webhooks/didit — no API key: Didit's HMAC signatures authenticate it. Didit resends a delivery only after a
 * 5xx or a 404, so every failure that may pass (a concurrent update, throttling, the bus down, anything unexpected)
 * is a 5xx; only a final outcome is a 2xx, and only a request that can never be right a 400/401.
 */
export const handler = instrumented(async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  try {
    const outcome = await receiver.receive(bodyText(event) ?? '', event.headers ?? {});
    return json(200, { received: true, outcome });
  } catch (error) {
    if (error instanceof DiditWebhookMalformedError) {
      return errorResponse(400, 'MALFORMED_WEBHOOK', 'The webhook body is not a Didit webhook');
    }
    if (error instanceof DiditWebhookSignatureError) {
      return errorResponse(401, 'INVALID_SIGNATURE', 'The webhook signature or timestamp is invalid');
    }
    if (error instanceof DiditUpdateConflictError) {
      logger.warn('Didit webhook raced another update; Didit will retry', { errorName: error.name });
      return json(
        503,
        { error: { code: 'SERVICE_UNAVAILABLE', message: 'Please retry shortly' } },
        { 'retry-after': '1' },
      );
    }
    return responseForError(error);
  }
});

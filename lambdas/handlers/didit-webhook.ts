import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { CheckStore } from '../adapters/check-store';
import { EventPublisher } from '../adapters/event-publisher';
import { cachedSecret } from '../adapters/secret-value';
import { loadDiditWebhookConfig } from '../config';
import { DiditWebhookMalformedError, DiditWebhookSignatureError } from '../core/didit-webhook';
import { instrumented, tracer } from '../observability';
import { DiditWebhookReceiver } from '../services/didit-webhook-receiver';
import { bodyText, errorResponse, json, responseForError } from './http';

const config = loadDiditWebhookConfig();
const receiver = new DiditWebhookReceiver({
  store: new CheckStore(tracer.captureAWSv3Client(new DynamoDBClient({})), config.tableName),
  events: new EventPublisher(tracer.captureAWSv3Client(new EventBridgeClient({})), config.eventBusName),
  secret: cachedSecret(
    tracer.captureAWSv3Client(new SecretsManagerClient({})),
    config.diditWebhookSecretId,
    config.secretCacheSeconds,
  ),
  clock: () => new Date(),
});

/** POST /v1/webhooks/didit — no API key: Didit's HMAC signatures authenticate it. */
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
    return responseForError(error);
  }
});

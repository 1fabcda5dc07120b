import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CallbackRefusedError } from '../adapters/callback-guard';
import { CheckStore } from '../adapters/check-store';
import { EventPublisher } from '../adapters/event-publisher';
import { cachedSecret } from '../adapters/secret-value';
import { classifyDelivery, WebhookSender, WebhookTransportError } from '../adapters/webhook-sender';
import { loadWebhookDeliveryConfig } from '../config';
import { instrumented, logger, metricsPort, tracer } from '../observability';
import { type BusEvent, type DeliveryState, WebhookDeliverer } from '../services/webhook-deliverer';

const config = loadWebhookDeliveryConfig();
const signingSecret = cachedSecret(
  tracer.captureAWSv3Client(new SecretsManagerClient({})),
  config.signingSecretId,
  config.secretCacheSeconds,
);
const deliverer = new WebhookDeliverer(
  {
    store: new CheckStore(tracer.captureAWSv3Client(new DynamoDBClient({})), config.tableName),
    sender: new WebhookSender({
      allowLoopbackHttp: config.allowInsecureCallbacks,
      connectTimeoutMs: config.connectTimeoutMs,
      headersTimeoutMs: config.responseTimeoutMs,
      bodyTimeoutMs: config.responseTimeoutMs,
    }),
    // The secret holds the current signing secret, then (during a rotation) the previous one. Like the Standard Webhooks
    // libraries, a base64 key without the `whsec_` prefix is accepted (the stack generates one that way).
    signingSecrets: async () =>
      (await signingSecret())
        .split(/\s+/)
        .filter(Boolean)
        .map((secret) => (secret.startsWith('whsec_') ? secret : `whsec_${secret}`)),
    transportErrorCode: (error) => (error instanceof WebhookTransportError ? error.code : undefined),
    isRefusedCallback: (error) => error instanceof CallbackRefusedError,
    classify: classifyDelivery,
    events: new EventPublisher(tracer.captureAWSv3Client(new EventBridgeClient({})), config.eventBusName),
    clock: () => new Date(),
    metrics: metricsPort,
  },
  { horizonSeconds: config.horizonSeconds, maxAttempts: config.maxAttempts },
);

/** Tasks of the delivery workflow (lib/parts/webhooks.ts). */
type DeliveryTask = { action: 'prepare'; event: BusEvent } | ({ action: 'attempt' | 'report' } & DeliveryState);

export const handler = instrumented(async (task: DeliveryTask): Promise<DeliveryState> => {
  if (!task || typeof task !== 'object' || !task.event?.detail?.id || typeof task.event.id !== 'string') {
    throw new TypeError('Unrecognised webhook delivery task');
  }
  logger.appendKeys({ checkId: task.event.detail.id });
  switch (task.action) {
    case 'prepare':
      return deliverer.prepare(task.event);
    case 'attempt':
      return deliverer.attempt(task);
    case 'report':
      return deliverer.report(task);
    default:
      throw new TypeError('Unrecognised webhook delivery action');
  }
});

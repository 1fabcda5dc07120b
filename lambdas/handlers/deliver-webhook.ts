import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CallbackRefusedError } from '../adapters/callback-guard';
import { CheckStore } from '../adapters/check-store';
import { EventPublisher } from '../adapters/event-publisher';
import { cachedSecret } from '../adapters/secret-value';
import { classifyDelivery, WebhookSender, WebhookTransportError } from '../adapters/webhook-sender';
import { loadWebhookDeliveryConfig } from '../config';
import { clientAppOf } from '../core/caller';
import { instrumented, logger, metricsPort, tracer } from '../observability';
import { type BusEvent, type DeliveryState, WebhookDeliverer } from '../services/webhook-deliverer';

const config = loadWebhookDeliveryConfig();
const secretsManager = tracer.captureAWSv3Client(new SecretsManagerClient({}));
const secretSources = new Map<string, ReturnType<typeof cachedSecret>>();
/** The signing secret of one secret id, cached per id. */
const secretOf = (secretId: string) => {
  let source = secretSources.get(secretId);
  if (!source) {
    source = cachedSecret(secretsManager, secretId, config.secretCacheSeconds);
    secretSources.set(secretId, source);
  }
  return source;
};
// The secret holds the current signing secret, then (during a rotation) the previous one. Like the Standard Webhooks
// libraries, a base64 key without the `whsec_` prefix is accepted (the stack generates one that way).
const signingSecrets = async (secretId: string) =>
  (await secretOf(secretId)())
    .split(/\s+/)
    .filter(Boolean)
    .map((secret) => (secret.startsWith('whsec_') ? secret : `whsec_${secret}`));
const deliverer = new WebhookDeliverer(
  {
    store: new CheckStore(tracer.captureAWSv3Client(new DynamoDBClient({})), config.tableName),
    sender: new WebhookSender({
      allowLoopbackHttp: config.allowInsecureCallbacks,
      allowedOrigins: config.callbackAllowedOrigins,
      connectTimeoutMs: config.connectTimeoutMs,
      headersTimeoutMs: config.responseTimeoutMs,
      bodyTimeoutMs: config.responseTimeoutMs,
    }),
    signingSecrets: () => signingSecrets(config.signingSecretId),
    // Each API-key client app signs with its own secret, so its receivers verify only its own webhooks; other owners
    // (IAM, Cognito, checks stored before owners existed) use the default secret.
    signingSecretsFor: (check) => {
      const app = clientAppOf(check.owner);
      return signingSecrets((app && config.signingSecretIdsByApp.get(app)) || config.signingSecretId);
    },
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

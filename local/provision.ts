import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateEventBusCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import {
  CreateBucketCommand,
  PutBucketCorsCommand,
  PutBucketNotificationConfigurationCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DIDIT_SESSION_INDEX_NAME,
  DUE_INDEX_NAME,
  OWNER_VENDOR_INDEX_NAME,
  WAITING_INDEX_NAME,
} from '../lambdas/core/check';
import { EVENT_SOURCE, WEBHOOK_DELIVERY_PATTERN } from '../lambdas/core/check-events';
import { generateWebhookSecret } from '../lambdas/core/standard-webhooks';
import { emulatorClientConfig } from './aws-env';

/** Names of everything one local stack (or one test file) owns inside the shared emulator. */
export interface LocalResources {
  readonly bucketName: string;
  readonly tableName: string;
  readonly eventBusName: string;
  readonly diditApiKeySecretId: string;
  /** SQS queue that receives the bucket's ObjectCreated notifications (stands in for S3 → Lambda). */
  readonly uploadQueueUrl: string;
  /** SQS queue that receives every event on the bus, so the local stack and tests can see them. */
  readonly eventQueueUrl: string;
  /** SQS queue fed by the webhook-delivery rule (the same pattern as the stack's rule → state machine). */
  readonly deliveryQueueUrl: string;
  readonly diditWebhookSecretId: string;
  readonly webhookSigningSecretId: string;
  /** One signing secret per further client app (`webhookSigningSecrets`), by app. */
  readonly webhookSigningSecretIds: Readonly<Record<string, string>>;
}

export { UPLOAD_PREFIX } from '../lambdas/core/upload-rules';

import { UPLOAD_PREFIX } from '../lambdas/core/upload-rules';

/**
 * Creates what the CDK stack creates, in moto: the uploads bucket (CORS for browser POSTs, ObjectCreated on the
 * upload prefix → a queue), the checks table with TTL, the custom bus (every event → a queue), and the Didit API
 * key secret.
 */
export async function provisionLocalResources(
  endpoint: string,
  options: {
    prefix: string;
    diditApiKey: string;
    diditWebhookSecret?: string;
    webhookSigningSecret?: string;
    /** Client app → its own whsec_ secret (the stack's per-app signing secrets). */
    webhookSigningSecrets?: Readonly<Record<string, string>>;
  },
): Promise<LocalResources> {
  const config = emulatorClientConfig(endpoint);
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  const ddb = new DynamoDBClient(config);
  const events = new EventBridgeClient(config);
  const sqs = new SQSClient(config);
  const secrets = new SecretsManagerClient(config);
  const name = (suffix: string) => `${options.prefix}-${suffix}`;

  const uploadQueue = await createQueue(sqs, name('uploads-events'));
  const eventQueue = await createQueue(sqs, name('bus-events'));
  const deliveryQueue = await createQueue(sqs, name('webhook-deliveries'));

  const bucketName = name('uploads');
  await s3.send(new CreateBucketCommand({ Bucket: bucketName }));
  await s3.send(
    new PutBucketCorsCommand({
      Bucket: bucketName,
      CORSConfiguration: {
        CORSRules: [{ AllowedMethods: ['POST'], AllowedOrigins: ['*'], AllowedHeaders: ['*'], MaxAgeSeconds: 3000 }],
      },
    }),
  );
  await s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucketName,
      NotificationConfiguration: {
        QueueConfigurations: [
          {
            QueueArn: uploadQueue.arn,
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: UPLOAD_PREFIX }] } },
          },
        ],
      },
    }),
  );

  const tableName = name('checks');
  await ddb.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'id', AttributeType: 'S' },
        { AttributeName: 'due_shard', AttributeType: 'S' },
        { AttributeName: 'due_at', AttributeType: 'N' },
        { AttributeName: 'didit_session_id', AttributeType: 'S' },
        { AttributeName: 'waiting_shard', AttributeType: 'S' },
        { AttributeName: 'wait_since', AttributeType: 'S' },
        { AttributeName: 'owner_vendor_key', AttributeType: 'S' },
        { AttributeName: 'created_at', AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: DUE_INDEX_NAME,
          KeySchema: [
            { AttributeName: 'due_shard', KeyType: 'HASH' },
            { AttributeName: 'due_at', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
        {
          IndexName: DIDIT_SESSION_INDEX_NAME,
          KeySchema: [{ AttributeName: 'didit_session_id', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
        {
          IndexName: WAITING_INDEX_NAME,
          KeySchema: [
            { AttributeName: 'waiting_shard', KeyType: 'HASH' },
            { AttributeName: 'wait_since', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
        {
          IndexName: OWNER_VENDOR_INDEX_NAME,
          KeySchema: [
            { AttributeName: 'owner_vendor_key', KeyType: 'HASH' },
            { AttributeName: 'created_at', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
  await ddb.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
    }),
  );

  const eventBusName = name('bus');
  await events.send(new CreateEventBusCommand({ Name: eventBusName }));
  await events.send(
    new PutRuleCommand({
      Name: name('all-events'),
      EventBusName: eventBusName,
      EventPattern: JSON.stringify({ source: [EVENT_SOURCE] }),
    }),
  );
  await events.send(
    new PutTargetsCommand({
      Rule: name('all-events'),
      EventBusName: eventBusName,
      Targets: [{ Id: 'tail', Arn: eventQueue.arn }],
    }),
  );

  await events.send(
    new PutRuleCommand({
      Name: name('deliver-check-events'),
      EventBusName: eventBusName,
      EventPattern: JSON.stringify(WEBHOOK_DELIVERY_PATTERN),
    }),
  );
  await events.send(
    new PutTargetsCommand({
      Rule: name('deliver-check-events'),
      EventBusName: eventBusName,
      Targets: [{ Id: 'deliveries', Arn: deliveryQueue.arn }],
    }),
  );

  const secret = await secrets.send(
    new CreateSecretCommand({ Name: name('didit-api-key'), SecretString: options.diditApiKey }),
  );
  const diditWebhookSecret = await secrets.send(
    new CreateSecretCommand({
      Name: name('didit-webhook-secret'),
      SecretString: options.diditWebhookSecret ?? 'unset',
    }),
  );
  const signingSecret = await secrets.send(
    new CreateSecretCommand({
      Name: name('webhook-signing-secret'),
      SecretString: options.webhookSigningSecret ?? generateWebhookSecret(),
    }),
  );

  const webhookSigningSecretIds: Record<string, string> = {};
  for (const [app, value] of Object.entries(options.webhookSigningSecrets ?? {})) {
    const created = await secrets.send(
      new CreateSecretCommand({ Name: name(`webhook-signing-secret-${app}`), SecretString: value }),
    );
    webhookSigningSecretIds[app] = created.ARN ?? name(`webhook-signing-secret-${app}`);
  }

  for (const client of [s3, ddb, events, sqs, secrets]) client.destroy();
  return {
    bucketName,
    tableName,
    eventBusName,
    diditApiKeySecretId: secret.ARN ?? name('didit-api-key'),
    uploadQueueUrl: uploadQueue.url,
    eventQueueUrl: eventQueue.url,
    deliveryQueueUrl: deliveryQueue.url,
    diditWebhookSecretId: diditWebhookSecret.ARN ?? name('didit-webhook-secret'),
    webhookSigningSecretId: signingSecret.ARN ?? name('webhook-signing-secret'),
    webhookSigningSecretIds,
  };
}

async function createQueue(sqs: SQSClient, queueName: string): Promise<{ url: string; arn: string }> {
  const created = await sqs.send(new CreateQueueCommand({ QueueName: queueName }));
  const url = created.QueueUrl ?? '';
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return { url, arn: attrs.Attributes?.QueueArn ?? '' };
}

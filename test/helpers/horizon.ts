import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { emulatorClientConfig } from '../../local/aws-env';
import type { LocalStack } from '../../local/local-stack';
import type { ApiClient } from './api-client';
import { eventually } from './eventually';

/**
 * Lets the failure horizon (an hour of real failures) pass for one check only: once the check is RETRYING, its outage
 * is made to have begun two hours ago, so the workflow's next attempt ends it. Time compression does not reach the
 * horizon, which is measured on the real clock like Didit's own outages.
 */
export async function passFailureHorizon(stack: LocalStack, api: ApiClient, checkId: string): Promise<void> {
  await eventually(
    `check ${checkId} to be RETRYING`,
    async () => (await api.getCheck(checkId)).body.status === 'RETRYING',
  );
  const documents = DynamoDBDocumentClient.from(new DynamoDBClient(emulatorClientConfig(stack.motoEndpoint)));
  try {
    await documents.send(
      new UpdateCommand({
        TableName: stack.resources.tableName,
        Key: { id: checkId },
        UpdateExpression: 'SET outage_since = :past',
        ExpressionAttributeValues: { ':past': new Date(Date.now() - 2 * 3600_000).toISOString() },
      }),
    );
  } finally {
    documents.destroy();
  }
}

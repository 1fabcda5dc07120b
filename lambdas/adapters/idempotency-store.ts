import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { ERASED_FINGERPRINT, type IdempotencyRecord } from '../core/idempotency';
import type { IdempotencyStorePort } from '../core/ports';
import { classifyAwsError } from './aws-errors';

/**
 * Idempotency records beside the checks in the one table (`idem#…` ids: never a check, in no index); DynamoDB's TTL
 * on `expires_at` removes them after the window. A record past its window but not yet removed counts as absent.
 */
export class IdempotencyStore implements IdempotencyStorePort {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client);
  }

  async claim(record: IdempotencyRecord, now: Date) {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: record,
          ConditionExpression: 'attribute_not_exists(id) OR expires_at < :now',
          ExpressionAttributeValues: { ':now': Math.floor(now.getTime() / 1000) },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { claimed: true as const };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException && error.Item) {
        return { claimed: false as const, current: unmarshall(error.Item) as IdempotencyRecord };
      }
      throw classifyAwsError(error, 'DynamoDB');
    }
  }

  async forgetRequest(recordId: string, checkId: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { id: recordId },
          UpdateExpression: 'SET fingerprint = :erased',
          ConditionExpression: 'check_id = :check',
          ExpressionAttributeValues: { ':erased': ERASED_FINGERPRINT, ':check': checkId },
        }),
      );
    } catch (error) {
      // Gone (TTL) or another check's by now: nothing of this check is left in it.
      if (error instanceof ConditionalCheckFailedException) return;
      throw classifyAwsError(error, 'DynamoDB');
    }
  }
}

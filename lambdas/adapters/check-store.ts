import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { CheckError, CheckRecord, CheckResult, CheckStatus } from '../core/check';
import { classifyAwsError } from './aws-errors';

export type ClaimOutcome =
  | { readonly claimed: true; readonly record: CheckRecord }
  | { readonly claimed: false; readonly current: CheckRecord | undefined };

/**
 * Checks in DynamoDB. Every state change is a conditional write on the current status (and, while processing, on the
 * claim token), so a duplicate or late event can never move a check backwards or finish it twice.
 */
export class CheckStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  async create(record: CheckRecord): Promise<void> {
    await this.send('create check', () =>
      this.doc.send(
        new PutCommand({ TableName: this.tableName, Item: record, ConditionExpression: 'attribute_not_exists(id)' }),
      ),
    );
  }

  async get(id: string): Promise<CheckRecord | undefined> {
    const out = await this.send('read check', () =>
      this.doc.send(new GetCommand({ TableName: this.tableName, Key: { id }, ConsistentRead: true })),
    );
    return out.Item as CheckRecord | undefined;
  }

  /**
   * Moves AWAITING_UPLOAD → PROCESSING under a lease. A PROCESSING check whose lease ran out (its processor died) may
   * be taken over. Returns the current record when the claim is refused.
   */
  async claim(id: string, token: string, now: Date, leaseSeconds: number): Promise<ClaimOutcome> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { id },
          UpdateExpression:
            'SET #status = :processing, claim_token = :token, claim_expires_at = :lease, updated_at = :now',
          ConditionExpression:
            'attribute_exists(id) AND (#status = :awaiting OR (#status = :processing AND claim_expires_at < :nowEpoch))',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':processing': 'PROCESSING',
            ':awaiting': 'AWAITING_UPLOAD',
            ':token': token,
            ':lease': Math.floor(now.getTime() / 1000) + leaseSeconds,
            ':now': now.toISOString(),
            ':nowEpoch': Math.floor(now.getTime() / 1000),
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { claimed: true, record: out.Attributes as CheckRecord };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        // ALL_OLD hands back the item that refused the claim without a second read; none means no such check.
        const current = error.Item ? (unmarshall(error.Item) as CheckRecord) : undefined;
        return { claimed: false, current };
      }
      throw classifyAwsError(error, 'DynamoDB');
    }
  }

  /** PROCESSING → COMPLETED for the attempt holding the claim; marks the terminal event as pending. */
  complete(id: string, token: string, result: CheckResult, now: Date): Promise<CheckRecord> {
    return this.finish(id, token, now, 'COMPLETED', { result });
  }

  /** PROCESSING → FAILED for the attempt holding the claim; marks the terminal event as pending. */
  fail(id: string, token: string, error: CheckError, now: Date): Promise<CheckRecord> {
    return this.finish(id, token, now, 'FAILED', { error });
  }

  /**
   * Lets one later delivery take over publishing a terminal event that its writer never confirmed. Only after the
   * writer's lease has run out (it must be dead by then), and only one taker per lease.
   */
  async claimPendingEvent(id: string, status: CheckStatus, now: Date, leaseSeconds: number): Promise<boolean> {
    const nowEpoch = Math.floor(now.getTime() / 1000);
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { id },
          UpdateExpression: 'SET event_claimed_until = :until',
          ConditionExpression:
            'event_pending = :true AND #status = :status AND updated_at < :cutoff AND ' +
            '(attribute_not_exists(event_claimed_until) OR event_claimed_until < :nowEpoch)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':true': true,
            ':status': status,
            ':cutoff': new Date(now.getTime() - leaseSeconds * 1000).toISOString(),
            ':nowEpoch': nowEpoch,
            ':until': nowEpoch + leaseSeconds,
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw classifyAwsError(error, 'DynamoDB');
    }
  }

  /** Clears the outbox flag once the terminal event is on the bus. */
  async markEventPublished(id: string, status: CheckStatus): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { id },
          UpdateExpression: 'REMOVE event_pending, event_claimed_until',
          ConditionExpression: '#status = :status',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':status': status },
        }),
      );
    } catch (error) {
      // The status moved on (e.g. a later update); the newer state owns its own event.
      if (error instanceof ConditionalCheckFailedException) return;
      throw classifyAwsError(error, 'DynamoDB');
    }
  }

  private async finish(
    id: string,
    token: string,
    now: Date,
    status: 'COMPLETED' | 'FAILED',
    fields: { result?: CheckResult; error?: CheckError },
  ): Promise<CheckRecord> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = {
      ':status': status,
      ':processing': 'PROCESSING',
      ':token': token,
      ':now': now.toISOString(),
      ':pending': true,
    };
    const sets = ['#status = :status', 'updated_at = :now', 'event_pending = :pending'];
    for (const [key, value] of Object.entries(fields)) {
      names[`#${key}`] = key;
      values[`:${key}`] = value;
      sets.push(`#${key} = :${key}`);
    }
    const out = await this.send('finish check', () =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { id },
          UpdateExpression: `SET ${sets.join(', ')} REMOVE claim_token, claim_expires_at`,
          ConditionExpression: '#status = :processing AND claim_token = :token',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return out.Attributes as CheckRecord;
  }

  private async send<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new ClaimLostError(what, { cause: error });
      throw classifyAwsError(error, 'DynamoDB');
    }
  }
}

/** A conditional write lost: another attempt owns the check or it already moved on. */
export class ClaimLostError extends Error {
  override readonly name = 'ClaimLostError';
  constructor(what: string, options?: { cause?: unknown }) {
    super(`${what}: the check is no longer in the expected state`, options);
  }
}

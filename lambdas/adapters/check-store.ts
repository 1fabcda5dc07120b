import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { CheckRecord } from '../core/check';
import {
  DIDIT_SESSION_INDEX_NAME,
  DUE_INDEX_NAME,
  DUE_SHARD,
  OWNER_VENDOR_INDEX_NAME,
  WAITING_INDEX_NAME,
  WAITING_SHARD,
} from '../core/check';
import { CheckConflictError, type ConflictKind, conflictFor } from '../core/lifecycle/conflicts';
import { CREATION, epochSeconds, type Step } from '../core/lifecycle/transitions';
import type { ListPosition } from '../core/list-request';
import type { Attempted, CheckListerPort, CheckPage, CheckStorePort, WaitingSummary } from '../core/ports';
import { classifyAwsError } from './aws-errors';
import { compile } from './dynamo-expressions';

/**
 * Checks in DynamoDB. The store executes and decides nothing: every change is a transition from the table in
 * lambdas/core/lifecycle, run as one conditional UpdateItem. A refused condition becomes the transition's named
 * conflict here and nowhere else, with the item as it was (ReturnValuesOnConditionCheckFailure) and no second read.
 */
export class CheckStore implements CheckStorePort, CheckListerPort {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  async create(record: CheckRecord): Promise<void> {
    const { ConditionExpression, ExpressionAttributeNames } = compile(CREATION.condition);
    await this.write('create', CREATION.refusal, () =>
      this.doc.send(
        new PutCommand({ TableName: this.tableName, Item: record, ConditionExpression, ExpressionAttributeNames }),
      ),
    );
  }

  async get(id: string): Promise<CheckRecord | undefined> {
    const out = await this.read(() =>
      this.doc.send(new GetCommand({ TableName: this.tableName, Key: { id }, ConsistentRead: true })),
    );
    return out.Item as CheckRecord | undefined;
  }

  async execute(id: string, step: Step): Promise<CheckRecord> {
    if (step.changes.replace) return this.replace(id, step, step.changes.replace);
    const out = await this.write(step.transition, step.refusal, () =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { id },
          ...compile(step.condition, step.changes),
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    return out.Attributes as CheckRecord;
  }

  /** A transition that leaves only the attributes it names (a tombstone): one conditional PutItem. */
  private async replace(id: string, step: Step, attributes: Record<string, unknown>): Promise<CheckRecord> {
    const { ConditionExpression, ExpressionAttributeNames, ExpressionAttributeValues } = compile(step.condition);
    const item = { ...attributes, id };
    await this.write(step.transition, step.refusal, () =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression,
          ExpressionAttributeNames,
          ExpressionAttributeValues,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    return item as unknown as CheckRecord;
  }

  async attempt(id: string, step: Step): Promise<Attempted> {
    try {
      return { applied: true, record: await this.execute(id, step) };
    } catch (error) {
      if (error instanceof CheckConflictError) return { applied: false, current: error.current };
      throw error;
    }
  }

  async findDue(now: Date, limit: number): Promise<CheckRecord[]> {
    const out = await this.read(() =>
      this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: DUE_INDEX_NAME,
          KeyConditionExpression: 'due_shard = :shard AND due_at <= :now',
          ExpressionAttributeValues: { ':shard': DUE_SHARD, ':now': epochSeconds(now) },
          Limit: limit,
        }),
      ),
    );
    return (out.Items ?? []) as CheckRecord[];
  }

  async findBySessionId(sessionId: string): Promise<string | undefined> {
    const out = await this.read(() =>
      this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: DIDIT_SESSION_INDEX_NAME,
          KeyConditionExpression: 'didit_session_id = :sid',
          ExpressionAttributeValues: { ':sid': sessionId },
          Limit: 1,
        }),
      ),
    );
    return out.Items?.[0]?.id as string | undefined;
  }

  async listByOwnerVendor(ownerVendorKey: string, limit: number, after: ListPosition | undefined): Promise<CheckPage> {
    const out = await this.read(() =>
      this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: OWNER_VENDOR_INDEX_NAME,
          KeyConditionExpression: 'owner_vendor_key = :key',
          ExpressionAttributeValues: { ':key': ownerVendorKey },
          ScanIndexForward: false,
          Limit: limit,
          // The start key is rebuilt from the caller's own partition: a cursor never names an index key.
          ...(after ? { ExclusiveStartKey: { owner_vendor_key: ownerVendorKey, ...after } } : {}),
        }),
      ),
    );
    const records = (out.Items ?? []) as CheckRecord[];
    const last = records.at(-1);
    return {
      records,
      next: out.LastEvaluatedKey && last ? { created_at: last.created_at, id: last.id } : undefined,
    };
  }

  async waitingSummary(countLimit: number): Promise<WaitingSummary> {
    const key = { ':shard': WAITING_SHARD };
    const oldest = await this.read(() =>
      this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: WAITING_INDEX_NAME,
          KeyConditionExpression: 'waiting_shard = :shard',
          ExpressionAttributeValues: key,
          ScanIndexForward: true,
          Limit: 1,
        }),
      ),
    );
    let count = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.read(() =>
        this.doc.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: WAITING_INDEX_NAME,
            KeyConditionExpression: 'waiting_shard = :shard',
            ExpressionAttributeValues: key,
            Select: 'COUNT',
            ExclusiveStartKey: start,
          }),
        ),
      );
      count += page.Count ?? 0;
      start = page.LastEvaluatedKey;
    } while (start && count < countLimit);
    return {
      count: Math.min(count, countLimit),
      capped: count >= countLimit && start !== undefined,
      oldestSince: oldest.Items?.[0]?.wait_since as string | undefined,
    };
  }

  private async read<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw classifyAwsError(error, 'DynamoDB');
    }
  }

  /** The one place a DynamoDB refusal becomes a named conflict; anything else is classified as AWS errors are. */
  private async write<T>(transition: string, refusal: ConflictKind, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        const current = error.Item ? (unmarshall(error.Item) as CheckRecord) : undefined;
        throw conflictFor(transition, refusal, current, { cause: error });
      }
      throw classifyAwsError(error, 'DynamoDB');
    }
  }
}

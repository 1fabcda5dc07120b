import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { INITIAL_PACER_STATE, type PacerState } from '../core/pacing/pacer';
import type { PacerStatePort } from '../core/ports';
import { classifyAwsError } from './aws-errors';

/** The pacer's record in the checks table; not a check (no status, no index attributes), never returned by the API. */
export const PACER_ITEM_ID = 'pacer#didit';

const OPTIONAL: ReadonlyArray<keyof PacerState> = ['circuit_opened_at_ms', 'probe_at_ms'];

/**
 * The shared Didit budget's state as one DynamoDB item, replaced only over the version that was read. A lost race
 * costs no extra read: the refusal hands back the stored item (ReturnValuesOnConditionCheckFailure).
 */
export class PacerStateStore implements PacerStatePort {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    /** The record's id; one budget per id. @default PACER_ITEM_ID */
    private readonly itemId: string = PACER_ITEM_ID,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  async read(): Promise<PacerState> {
    try {
      const out = await this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: { id: this.itemId }, ConsistentRead: true }),
      );
      return out.Item ? toState(out.Item) : INITIAL_PACER_STATE;
    } catch (error) {
      throw classifyAwsError(error, 'DynamoDB');
    }
  }

  async replace(
    next: PacerState,
    expectedVersion: number,
  ): Promise<{ written: true } | { written: false; current: PacerState }> {
    // Every name aliased: some (version) are DynamoDB reserved words.
    const names: Record<string, string> = { '#version': 'version', ...(expectedVersion === 0 ? { '#id': 'id' } : {}) };
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    const removes: string[] = [];
    for (const [key, value] of Object.entries(next)) {
      names[`#${key}`] = key;
      values[`:${key}`] = value;
      sets.push(`#${key} = :${key}`);
    }
    for (const key of OPTIONAL) {
      if (next[key] !== undefined) continue;
      names[`#${key}`] = key;
      removes.push(`#${key}`);
    }
    values[':expected'] = expectedVersion;
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { id: this.itemId },
          UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression:
            expectedVersion === 0 ? 'attribute_not_exists(#id) OR #version = :expected' : '#version = :expected',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { written: true };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        return { written: false, current: error.Item ? toState(unmarshall(error.Item)) : INITIAL_PACER_STATE };
      }
      throw classifyAwsError(error, 'DynamoDB');
    }
  }
}

function toState(item: Record<string, unknown>): PacerState {
  const number = (key: string) => (typeof item[key] === 'number' ? (item[key] as number) : undefined);
  return {
    next_slot_ms: number('next_slot_ms') ?? 0,
    paused_until_ms: number('paused_until_ms') ?? 0,
    epoch: number('epoch') ?? 0,
    circuit: item.circuit === 'open' ? 'open' : 'closed',
    version: number('version') ?? 0,
    ...(number('circuit_opened_at_ms') !== undefined ? { circuit_opened_at_ms: number('circuit_opened_at_ms') } : {}),
    ...(number('probe_at_ms') !== undefined ? { probe_at_ms: number('probe_at_ms') } : {}),
  } as PacerState;
}

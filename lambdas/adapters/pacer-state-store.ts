import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { INITIAL_PACER_STATE, type PacerChange, type PacerState } from '../core/pacing/pacer';
import type { PacerChangeResult, PacerStatePort } from '../core/ports';
import { classifyAwsError } from './aws-errors';

/** The pacer's record in the checks table; not a check (no status, no index attributes), never returned by the API. */
export const PACER_ITEM_ID = 'pacer#didit';

/**
 * The shared Didit budget's state as one DynamoDB item. Tickets come from an atomic ADD (any number of callers at
 * once, none refused); every other change is conditional on what its caller saw, and a refused one hands back the
 * item as stored (ReturnValuesOnConditionCheckFailure), so a lost race costs no extra read.
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

  async takeTicket(): Promise<{ ticket: number; state: PacerState }> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { id: this.itemId },
          UpdateExpression: 'ADD #ticket :one SET #circuit = if_not_exists(#circuit, :closed)',
          ExpressionAttributeNames: { '#ticket': 'ticket', '#circuit': 'circuit' },
          ExpressionAttributeValues: { ':one': 1, ':closed': 'closed' },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const state = toState(out.Attributes ?? {});
      return { ticket: state.ticket, state };
    } catch (error) {
      throw classifyAwsError(error, 'DynamoDB');
    }
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

  async change(change: PacerChange): Promise<PacerChangeResult> {
    // Every name aliased, expectations as `:e_*`, new values as `:s_*`.
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const conditions: string[] = [];
    for (const [key, expected] of Object.entries(change.expect)) {
      names[`#${key}`] = key;
      const absentMeans = INITIAL_PACER_STATE[key as keyof PacerState];
      if (expected === undefined) {
        conditions.push(`attribute_not_exists(#${key})`);
        continue;
      }
      values[`:e_${key}`] = expected;
      // An item not written yet holds the initial state.
      conditions.push(
        expected === absentMeans ? `(attribute_not_exists(#${key}) OR #${key} = :e_${key})` : `#${key} = :e_${key}`,
      );
    }
    const sets = Object.entries(change.set).map(([key, value]) => {
      names[`#${key}`] = key;
      values[`:s_${key}`] = value;
      return `#${key} = :s_${key}`;
    });
    const removes = (change.remove ?? []).map((key) => {
      names[`#${key}`] = key;
      return `#${key}`;
    });
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { id: this.itemId },
          UpdateExpression: [
            sets.length > 0 ? `SET ${sets.join(', ')}` : '',
            removes.length > 0 ? `REMOVE ${removes.join(', ')}` : '',
          ]
            .filter(Boolean)
            .join(' '),
          ...(conditions.length > 0 ? { ConditionExpression: conditions.join(' AND ') } : {}),
          ExpressionAttributeNames: names,
          ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { ok: true, state: toState(out.Attributes ?? {}) };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        return { ok: false, current: error.Item ? toState(unmarshall(error.Item)) : INITIAL_PACER_STATE };
      }
      throw classifyAwsError(error, 'DynamoDB');
    }
  }
}

function toState(item: Record<string, unknown>): PacerState {
  const number = (key: keyof PacerState) => (typeof item[key] === 'number' ? (item[key] as number) : undefined);
  const optional = (key: keyof PacerState) => (number(key) !== undefined ? { [key]: number(key) } : {});
  return {
    ticket: number('ticket') ?? 0,
    circuit: item.circuit === 'open' ? 'open' : 'closed',
    ...optional('anchor_ms'),
    ...optional('paused_until_ms'),
    ...optional('circuit_opened_at_ms'),
    ...optional('probe_at_ms'),
  };
}

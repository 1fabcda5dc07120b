import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { CheckError, CheckRecord, CheckResult, CheckStatus, DeliveryAttempt, HistoryEntry } from '../core/check';
import { DIDIT_SESSION_INDEX_NAME, DUE_INDEX_NAME, DUE_SHARD } from '../core/check';
import { DETAIL_TYPES } from '../core/check-events';
import { classifyAwsError } from './aws-errors';

export type ClaimOutcome =
  | { readonly claimed: true; readonly record: CheckRecord }
  | { readonly claimed: false; readonly current: CheckRecord | undefined };

/**
 * Attributes that keep a check in the sparse "due" index. A terminal check stays there until its event is on the
 * bus, so the sweeper can republish an event whose writer died; markEventPublished takes it out.
 */
const LEAVE_DUE_INDEX = 'due_shard, due_at';
/** A terminal check whose event is still pending is due for the sweeper after this long. */
const PENDING_EVENT_DUE_SECONDS = 300;
const RELEASE_CLAIM = 'claim_token, claim_expires_at';

interface Transition {
  readonly set: Record<string, unknown>;
  readonly remove?: readonly string[];
  readonly condition: string;
  readonly values?: Record<string, unknown>;
  /** Adds 1 to retry_attempt (a further attempt in the same workflow round). */
  readonly incrementAttempt?: boolean;
}

/**
 * Checks in DynamoDB. Every state change is a conditional write on the current status (and, while processing, on the
 * claim token), so a duplicate or late event can never move a check backwards, finish it twice or call Didit twice.
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
   * S3 path: AWAITING_UPLOAD → PROCESSING under a lease. A PROCESSING check whose lease ran out (its processor died)
   * may be taken over. Returns the current record when the claim is refused.
   */
  claim(id: string, token: string, now: Date, leaseSeconds: number): Promise<ClaimOutcome> {
    return this.tryClaim(id, token, now, leaseSeconds, {
      condition:
        'attribute_exists(id) AND (#status = :awaiting OR (#status = :processing AND claim_expires_at < :nowEpoch))',
      values: { ':awaiting': 'AWAITING_UPLOAD' },
    });
  }

  /** Workflow path: RETRYING (this round) → PROCESSING, or take over this round's attempt whose lease ran out. */
  claimRetry(id: string, round: number, token: string, now: Date, leaseSeconds: number): Promise<ClaimOutcome> {
    return this.tryClaim(id, token, now, leaseSeconds, {
      condition:
        'retry_round = :round AND (#status = :retrying OR (#status = :processing AND claim_expires_at < :nowEpoch))',
      values: { ':retrying': 'RETRYING', ':round': round },
    });
  }

  /**
   * Keeps Didit's answer on the check the moment it arrives, before anything else can fail: an attempt that dies
   * after this point is finished by the next one without calling Didit again.
   */
  async saveDiditAnswer(id: string, token: string, result: CheckResult, now: Date): Promise<void> {
    await this.transition(id, now, {
      set: { pending_result: result },
      condition: '#status = :processing AND claim_token = :token',
      values: { ':processing': 'PROCESSING', ':token': token },
    });
  }

  /** PROCESSING → COMPLETED for the attempt holding the claim; marks the terminal event as pending. */
  complete(id: string, token: string, result: CheckResult, now: Date): Promise<CheckRecord> {
    return this.finishClaimed(id, token, now, 'COMPLETED', {
      result,
      didit_session_id: result.request_id ?? undefined,
    });
  }

  /** PROCESSING → FAILED for the attempt holding the claim; marks the terminal event as pending. */
  fail(id: string, token: string, error: CheckError, now: Date): Promise<CheckRecord> {
    return this.finishClaimed(id, token, now, 'FAILED', { error });
  }

  /**
   * PROCESSING → RETRYING after a retryable failure: the workflow's next attempt claims it again. `newRound` starts
   * a new workflow execution (the S3 path); otherwise the running round continues. The check stays in the due index
   * so the sweeper can restart a round that died.
   */
  deferRetry(
    id: string,
    token: string,
    failure: { error: CheckError; retryAfterSeconds: number | undefined; newRound: boolean },
    now: Date,
    dueInSeconds: number,
  ): Promise<CheckRecord> {
    return this.transition(id, now, {
      set: {
        '#status': 'RETRYING',
        last_error: failure.error,
        retry_after_seconds: failure.retryAfterSeconds ?? 0,
        due_at: epoch(now) + dueInSeconds,
        ...(failure.newRound ? { retry_round: { increment: true }, retry_attempt: 1 } : {}),
      },
      remove: [RELEASE_CLAIM],
      condition: '#status = :processing AND claim_token = :token',
      values: { ':processing': 'PROCESSING', ':token': token },
      incrementAttempt: !failure.newRound,
    });
  }

  /** RETRYING (this round) → FAILED with the last retryable error: the schedule is exhausted. */
  giveUp(id: string, round: number, now: Date): Promise<CheckRecord> {
    return this.transition(id, now, {
      set: {
        '#status': 'FAILED',
        '#error': { copyFrom: 'last_error' },
        event_pending: true,
        due_at: epoch(now) + PENDING_EVENT_DUE_SECONDS,
      },
      remove: [RELEASE_CLAIM],
      condition: '#status = :retrying AND retry_round = :round',
      values: { ':retrying': 'RETRYING', ':round': round },
    });
  }

  /** AWAITING_UPLOAD → EXPIRED once the presigned POST can no longer be used (the sweeper calls this). */
  expire(id: string, now: Date): Promise<CheckRecord> {
    return this.transition(id, now, {
      set: {
        '#status': 'EXPIRED',
        '#error': { code: 'UPLOAD_EXPIRED', message: 'No image was uploaded before the upload URL expired' },
        event_pending: true,
        due_at: epoch(now) + PENDING_EVENT_DUE_SECONDS,
      },
      condition: '#status = :awaiting AND upload_expires_at < :nowIso',
      values: { ':awaiting': 'AWAITING_UPLOAD', ':nowIso': now.toISOString() },
    });
  }

  /**
   * Sweeper: a RETRYING check whose round went quiet, or a PROCESSING check whose processor died, is handed to a new
   * workflow round. Conditional on the state the sweeper saw, so two sweepers cannot both start a round.
   */
  handOff(seen: CheckRecord, now: Date, dueInSeconds: number): Promise<CheckRecord> {
    const values: Record<string, unknown> = { ':seenStatus': seen.status, ':nowEpoch': epoch(now) };
    let condition = '#status = :seenStatus AND due_at < :nowEpoch';
    if (seen.retry_round === undefined) condition += ' AND attribute_not_exists(retry_round)';
    else {
      condition += ' AND retry_round = :seenRound';
      values[':seenRound'] = seen.retry_round;
    }
    return this.transition(seen.id, now, {
      set: {
        '#status': 'RETRYING',
        retry_round: { increment: true },
        retry_attempt: 1,
        last_error: seen.last_error ?? {
          code: 'INTERNAL_ERROR',
          message: 'The processing attempt stopped without an outcome',
        },
        retry_after_seconds: 0,
        due_at: epoch(now) + dueInSeconds,
      },
      remove: [RELEASE_CLAIM],
      condition,
      values,
    });
  }

  /** Checks the sweeper should look at: non-terminal and past their due time, oldest first. */
  async findDue(now: Date, limit: number): Promise<CheckRecord[]> {
    const out = await this.send('find due checks', () =>
      this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: DUE_INDEX_NAME,
          KeyConditionExpression: 'due_shard = :shard AND due_at <= :now',
          ExpressionAttributeValues: { ':shard': DUE_SHARD, ':now': epoch(now) },
          Limit: limit,
        }),
      ),
    );
    return (out.Items ?? []) as CheckRecord[];
  }

  /**
   * Lets one later delivery take over publishing a terminal event that its writer never confirmed. Only after the
   * writer's lease has run out (it must be dead by then), and only one taker per lease.
   */
  async claimPendingEvent(id: string, status: CheckStatus, now: Date, leaseSeconds: number): Promise<boolean> {
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
            ':nowEpoch': epoch(now),
            ':until': epoch(now) + leaseSeconds,
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
          UpdateExpression: `REMOVE event_pending, event_claimed_until, pending_event_type, ${LEAVE_DUE_INDEX}`,
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

  /** The check a Didit session belongs to, through the session index. */
  async findBySessionId(sessionId: string): Promise<string | undefined> {
    const out = await this.send('find check by Didit session', () =>
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

  /**
   * A Didit `status.updated` replaces the result of a COMPLETED check; the replaced result goes to `history`. Applied
   * at most once per Didit event id, and only onto the version of the check it was computed from.
   */
  async applyDiditUpdate(seen: CheckRecord, eventId: string, result: CheckResult, now: Date): Promise<CheckRecord> {
    const replaced: HistoryEntry = {
      replaced_at: now.toISOString(),
      replaced_by: 'didit:status.updated',
      result: seen.result as CheckResult,
    };
    return this.transition(seen.id, now, {
      set: {
        '#result': result,
        history: { append: [replaced] },
        didit_event_ids: { append: [eventId] },
        event_pending: true,
        pending_event_type: DETAIL_TYPES.updated,
        due_shard: DUE_SHARD,
        due_at: epoch(now) + PENDING_EVENT_DUE_SECONDS,
      },
      condition: '#status = :completed AND updated_at = :seenUpdatedAt',
      values: { ':completed': 'COMPLETED', ':seenUpdatedAt': seen.updated_at },
    });
  }

  /** Appends one webhook delivery attempt to the check (visible in GET). */
  async recordDelivery(id: string, attempt: DeliveryAttempt): Promise<void> {
    await this.send('record delivery', () =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { id },
          UpdateExpression: 'SET deliveries = list_append(if_not_exists(deliveries, :empty), :attempt)',
          ConditionExpression: 'attribute_exists(id)',
          ExpressionAttributeValues: { ':empty': [], ':attempt': [attempt] },
        }),
      ),
    );
  }

  private async tryClaim(
    id: string,
    token: string,
    now: Date,
    leaseSeconds: number,
    guard: { condition: string; values: Record<string, unknown> },
  ): Promise<ClaimOutcome> {
    const leaseEnd = epoch(now) + leaseSeconds;
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { id },
          UpdateExpression:
            'SET #status = :processing, claim_token = :token, claim_expires_at = :lease, updated_at = :now, ' +
            'due_at = :due',
          ConditionExpression: guard.condition,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':processing': 'PROCESSING',
            ':token': token,
            ':lease': leaseEnd,
            // The sweeper looks again shortly after the lease: a dead processor is taken over then.
            ':due': leaseEnd + 30,
            ':now': now.toISOString(),
            ':nowEpoch': epoch(now),
            ...guard.values,
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

  private finishClaimed(
    id: string,
    token: string,
    now: Date,
    status: 'COMPLETED' | 'FAILED',
    fields: Record<string, unknown>,
  ): Promise<CheckRecord> {
    const set: Record<string, unknown> = {
      '#status': status,
      event_pending: true,
      due_at: epoch(now) + PENDING_EVENT_DUE_SECONDS,
    };
    for (const [key, value] of Object.entries(fields)) if (value !== undefined) set[`#${key}`] = value;
    return this.transition(id, now, {
      set,
      remove: [RELEASE_CLAIM, 'pending_result'],
      condition: '#status = :processing AND claim_token = :token',
      values: { ':processing': 'PROCESSING', ':token': token },
    });
  }

  /**
   * One conditional UpdateItem. `set` keys starting with `#` are attribute names (aliased); a value
   * `{ increment: true }` adds 1 (from 0), `{ append: [...] }` appends to a list, `{ copyFrom: attr }` copies another
   * attribute.
   */
  private async transition(id: string, now: Date, t: Transition): Promise<CheckRecord> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = { ':updatedAt': now.toISOString(), ...t.values };
    const sets = ['updated_at = :updatedAt'];
    let i = 0;
    for (const [rawKey, value] of Object.entries(t.set)) {
      const name = rawKey.startsWith('#') ? rawKey : `#a${i}`;
      names[name] = rawKey.startsWith('#') ? rawKey.slice(1) : rawKey;
      if (value && typeof value === 'object' && 'increment' in value) {
        values[':zero'] = 0;
        values[':one'] = 1;
        sets.push(`${name} = if_not_exists(${name}, :zero) + :one`);
      } else if (value && typeof value === 'object' && 'append' in value) {
        values[':emptyList'] = [];
        values[`:v${i}`] = (value as { append: unknown[] }).append;
        sets.push(`${name} = list_append(if_not_exists(${name}, :emptyList), :v${i})`);
      } else if (value && typeof value === 'object' && 'copyFrom' in value) {
        sets.push(`${name} = ${String((value as { copyFrom: string }).copyFrom)}`);
      } else {
        values[`:v${i}`] = value;
        sets.push(`${name} = :v${i}`);
      }
      i++;
    }
    if (t.incrementAttempt) {
      values[':zero'] = 0;
      values[':one'] = 1;
      sets.push('retry_attempt = if_not_exists(retry_attempt, :zero) + :one');
    }
    const remove = t.remove && t.remove.length > 0 ? ` REMOVE ${t.remove.join(', ')}` : '';
    const out = await this.send('update check', () =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { id },
          UpdateExpression: `SET ${sets.join(', ')}${remove}`,
          ConditionExpression: t.condition,
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

function epoch(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

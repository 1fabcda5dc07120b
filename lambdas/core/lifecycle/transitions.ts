import type { CheckError, CheckRecord, CheckResult, CheckStatus, DeliveryAttempt, HistoryEntry } from '../check';
import {
  DELIVERIES_CAP,
  DIDIT_EVENT_IDS_CAP,
  DUE_SHARD,
  HISTORY_CAP,
  LIVE_STATUSES,
  TERMINAL_STATUSES,
  WAITING_SHARD,
} from '../check';
import { DETAIL_TYPES } from '../check-events';
import type { WaitReason } from '../pacing/pacer';
import type { ConflictKind } from './conflicts';
import { and, type Changes, type Condition, eq, exists, type Field, isIn, lt, lte, notExists, or } from './expressions';

/**
 * A check's life, in one table. Each row is one transition: the statuses it may start from, the guard beyond the
 * status, the fields it sets or removes, the status it leads to, and the conflict a refused attempt raises. The row's
 * `step` computes, from the caller's parameters, the condition the stored check must satisfy and the changes to make;
 * the store executes that as one conditional write, so a duplicate or late event can never move a check backwards,
 * finish it twice or call Didit twice. Adding a status means adding it to CHECK_STATUSES and to the rows that lead
 * into and out of it, then their tests (test/unit/lifecycle-transitions.test.ts).
 *
 * Longer than the house limit of ~300 lines on purpose: the point of this file is that the whole life cycle reads in
 * one place; the row builders it needs are the only other code in it.
 */

/** One conditional write, ready for the store. */
export interface Step {
  readonly transition: TransitionName;
  readonly condition: Condition;
  readonly changes: Changes;
  readonly refusal: ConflictKind;
}

export interface TransitionRow<P> {
  /** Statuses the transition may start from (the guard may narrow further). */
  readonly from: readonly CheckStatus[];
  /** The resulting status; `same` leaves the status as it was. */
  readonly to: CheckStatus | 'same';
  /** What else must hold, in words (the `step`'s condition says it in full). */
  readonly guard: string;
  /** Every field the transition sets, increments, appends to, copies into or removes. */
  readonly fields: readonly Field[];
  readonly refusal: ConflictKind;
  readonly step: (params: P) => Pick<Step, 'condition' | 'changes'>;
}

/** A terminal check whose event is still pending is due for the sweeper after this long. */
export const PENDING_EVENT_DUE_SECONDS = 300;
/**
 * A tombstone that owes Didit an erasure lasts at least this long after the deletion (its check's own expiry, if later),
 * so the sweeper keeps asking for a month (about 720 hourly tries, the DiditErasuresFailing alarm paging within the
 * first hour) even when the check was deleted on the eve of its expiry.
 */
export const DIDIT_ERASURE_WINDOW_SECONDS = 30 * 86_400;

function tombstoneExpiryOwingErasure(expiresAt: number | undefined, now: Date): number {
  return Math.max(expiresAt ?? 0, epochSeconds(now) + DIDIT_ERASURE_WINDOW_SECONDS);
}
/** After a claim's lease ends, the sweeper looks again this much later: a dead processor is taken over then. */
export const CLAIM_DUE_GRACE_SECONDS = 30;

const RELEASE_CLAIM: Field[] = ['claim_token', 'claim_expires_at'];
/** What only a WAITING check carries; `wait_since` and `outage_since` stay (the horizon and the API read them). */
const WAIT_STATE: Field[] = ['wait_reason', 'resume_at', 'wait_ticket', 'waiting_shard'];
const CLAIM_FIELDS: Field[] = ['status', 'claim_token', 'claim_expires_at', 'updated_at', 'due_at', 'waiting_shard'];
const FINISH_FIELDS: Field[] = [
  'status',
  'event_pending',
  'due_at',
  'updated_at',
  ...RELEASE_CLAIM,
  'pending_result',
  ...WAIT_STATE,
];

export function epochSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

const heldBy = (token: string): Condition => and(eq('status', 'PROCESSING'), eq('claim_token', token));
const leaseLapsed = (now: Date): Condition =>
  and(eq('status', 'PROCESSING'), lt('claim_expires_at', epochSeconds(now)));

function claimChanges(token: string, now: Date, leaseSeconds: number): Changes {
  const leaseEnd = epochSeconds(now) + leaseSeconds;
  return {
    set: {
      status: 'PROCESSING',
      claim_token: token,
      claim_expires_at: leaseEnd,
      updated_at: now.toISOString(),
      due_at: leaseEnd + CLAIM_DUE_GRACE_SECONDS,
    },
    remove: ['waiting_shard'],
  };
}

/** The attempt holding the claim ends the check; its terminal event becomes pending (the outbox). */
function finish(status: 'COMPLETED' | 'FAILED', now: Date, fields: Partial<Record<Field, unknown>>): Changes {
  return {
    set: {
      status,
      event_pending: true,
      due_at: epochSeconds(now) + PENDING_EVENT_DUE_SECONDS,
      updated_at: now.toISOString(),
      ...fields,
    },
    remove: [...RELEASE_CLAIM, 'pending_result', ...WAIT_STATE],
  };
}

interface Claim {
  readonly token: string;
  readonly now: Date;
  readonly leaseSeconds: number;
}

export const TRANSITIONS = {
  /**
   * A client's retried create (the same Idempotency-Key and body) gets a fresh presigned POST for the same key; the
   * check stays due for expiry shortly after the new one expires.
   */
  renewUpload: {
    from: ['AWAITING_UPLOAD'],
    to: 'same',
    guard: 'still waiting for its upload',
    fields: ['upload_expires_at', 'due_at', 'updated_at'],
    refusal: 'changed',
    step: ({ uploadExpiresAt, graceSeconds, now }: { uploadExpiresAt: string; graceSeconds: number; now: Date }) => ({
      condition: eq('status', 'AWAITING_UPLOAD'),
      changes: {
        set: {
          upload_expires_at: uploadExpiresAt,
          due_at: epochSeconds(new Date(uploadExpiresAt)) + graceSeconds,
          updated_at: now.toISOString(),
        },
      },
    }),
  },
  /** The S3 path: the first attempt claims a freshly uploaded check, or takes over one whose processor died. */
  claimUpload: {
    from: ['AWAITING_UPLOAD', 'PROCESSING'],
    to: 'PROCESSING',
    guard: 'PROCESSING only once its claim has lapsed',
    fields: [...CLAIM_FIELDS, 'upload_etag'],
    refusal: 'claim',
    step: ({ token, now, leaseSeconds, etag }: Claim & { etag?: string }) => {
      const changes = claimChanges(token, now, leaseSeconds);
      return {
        condition: and(exists('id'), or(eq('status', 'AWAITING_UPLOAD'), leaseLapsed(now))),
        // The first claim pins the upload the S3 event announced; a takeover keeps the pinned one.
        changes: etag ? { ...changes, setIfAbsent: { upload_etag: etag } } : changes,
      };
    },
  },
  /** The workflow path: an attempt of this round claims the check, or takes over this round's lapsed attempt. */
  claimRetry: {
    from: ['WAITING', 'RETRYING', 'PROCESSING'],
    to: 'PROCESSING',
    guard: "the check's retry round is this round; PROCESSING only once its claim has lapsed",
    fields: CLAIM_FIELDS,
    refusal: 'claim',
    step: ({ round, token, now, leaseSeconds }: Claim & { round: number }) => ({
      condition: and(eq('retry_round', round), or(isIn('status', ['WAITING', 'RETRYING']), leaseLapsed(now))),
      changes: claimChanges(token, now, leaseSeconds),
    }),
  },
  /** Keeps Didit's answer when the write that completes the check failed, so the next attempt finishes with it. */
  saveDiditAnswer: {
    from: ['PROCESSING'],
    to: 'same',
    guard: 'this attempt holds the claim',
    fields: ['pending_result', 'updated_at'],
    refusal: 'claim',
    step: ({ token, result, now }: { token: string; result: CheckResult; now: Date }) => ({
      condition: heldBy(token),
      changes: { set: { pending_result: result, updated_at: now.toISOString() } },
    }),
  },
  complete: {
    from: ['PROCESSING'],
    to: 'COMPLETED',
    guard: 'this attempt holds the claim',
    fields: [...FINISH_FIELDS, 'result', 'didit_session_id', 'didit_raw_answer'],
    refusal: 'claim',
    step: ({
      token,
      result,
      now,
      rawAnswer,
    }: {
      token: string;
      result: CheckResult;
      now: Date;
      rawAnswer?: string;
    }) => ({
      condition: heldBy(token),
      changes: finish('COMPLETED', now, {
        result,
        ...(result.request_id ? { didit_session_id: result.request_id } : {}),
        ...(rawAnswer !== undefined ? { didit_raw_answer: rawAnswer } : {}),
      }),
    }),
  },
  fail: {
    from: ['PROCESSING'],
    to: 'FAILED',
    guard: 'this attempt holds the claim',
    fields: [...FINISH_FIELDS, 'error', 'didit_raw_answer'],
    refusal: 'claim',
    step: ({ token, error, now, rawAnswer }: { token: string; error: CheckError; now: Date; rawAnswer?: string }) => ({
      condition: heldBy(token),
      changes: finish('FAILED', now, { error, ...(rawAnswer !== undefined ? { didit_raw_answer: rawAnswer } : {}) }),
    }),
  },
  /**
   * A retryable failure: the workflow's next attempt claims the check again. `newRound` starts a new workflow round
   * (the S3 path); otherwise this round continues with one more failed attempt. The check stays due, so the sweeper
   * restarts a round that died.
   */
  deferRetry: {
    from: ['PROCESSING'],
    to: 'RETRYING',
    guard: 'this attempt holds the claim',
    fields: [
      'status',
      'last_error',
      'retry_after_seconds',
      'due_at',
      'updated_at',
      'retry_round',
      'retry_attempt',
      'outage_since',
      ...RELEASE_CLAIM,
      ...WAIT_STATE,
    ],
    refusal: 'claim',
    step: (p: {
      token: string;
      error: CheckError;
      retryAfterSeconds: number | undefined;
      newRound: boolean;
      now: Date;
      dueInSeconds: number;
    }) => ({
      condition: heldBy(p.token),
      changes: {
        set: {
          status: 'RETRYING',
          last_error: p.error,
          retry_after_seconds: p.retryAfterSeconds ?? 0,
          due_at: epochSeconds(p.now) + p.dueInSeconds,
          updated_at: p.now.toISOString(),
          ...(p.newRound ? { retry_attempt: 1 } : {}),
        },
        setIfAbsent: { outage_since: p.now.toISOString() },
        increment: [p.newRound ? 'retry_round' : 'retry_attempt'],
        remove: [...RELEASE_CLAIM, ...WAIT_STATE],
      },
    }),
  },
  /**
   * Didit cannot take the check yet — the shared budget reserved it a later slot, Didit asked everyone to back off, the
   * balance is empty, or an AWS dependency throttled — so it waits without calling Didit and without spending an
   * attempt. `newRound` starts a workflow round (the S3 path); otherwise this round's execution waits until `resumeAt`.
   * `outage` starts the failure horizon (out of credits, a throttled dependency); pacing never does.
   */
  wait: {
    from: ['PROCESSING'],
    to: 'WAITING',
    guard: 'this attempt holds the claim',
    fields: [
      'status',
      'wait_reason',
      'resume_at',
      'wait_since',
      'wait_ticket',
      'waiting_shard',
      'outage_since',
      'retry_round',
      'due_at',
      'updated_at',
      ...RELEASE_CLAIM,
    ],
    refusal: 'claim',
    step: (p: {
      token: string;
      reason: WaitReason;
      resumeAt: Date;
      ticket: number | undefined;
      outage: boolean;
      newRound: boolean;
      now: Date;
      dueGraceSeconds: number;
    }) => ({
      condition: heldBy(p.token),
      changes: {
        set: {
          status: 'WAITING',
          wait_reason: p.reason,
          resume_at: p.resumeAt.toISOString(),
          waiting_shard: WAITING_SHARD,
          due_at: epochSeconds(p.resumeAt) + p.dueGraceSeconds,
          updated_at: p.now.toISOString(),
          ...(p.ticket !== undefined ? { wait_ticket: p.ticket } : {}),
        },
        setIfAbsent: {
          wait_since: p.now.toISOString(),
          ...(p.outage ? { outage_since: p.now.toISOString() } : {}),
        },
        ...(p.newRound ? { increment: ['retry_round'] as Field[] } : {}),
        remove: [...RELEASE_CLAIM, ...(p.ticket !== undefined ? [] : (['wait_ticket'] as Field[]))],
      },
    }),
  },
  /** The schedule is exhausted: the last retryable error becomes the check's error. */
  giveUp: {
    from: ['RETRYING'],
    to: 'FAILED',
    guard: "the check's retry round is this round",
    fields: ['status', 'error', 'event_pending', 'due_at', 'updated_at', ...RELEASE_CLAIM],
    refusal: 'changed',
    step: ({ round, now }: { round: number; now: Date }) => ({
      condition: and(eq('status', 'RETRYING'), eq('retry_round', round)),
      changes: {
        set: {
          status: 'FAILED',
          event_pending: true,
          due_at: epochSeconds(now) + PENDING_EVENT_DUE_SECONDS,
          updated_at: now.toISOString(),
        },
        copy: { error: 'last_error' },
        remove: RELEASE_CLAIM,
      },
    }),
  },
  /** The sweeper: no upload arrived while the presigned POST could be used. */
  expire: {
    from: ['AWAITING_UPLOAD'],
    to: 'EXPIRED',
    guard: 'the upload URL has expired',
    fields: ['status', 'error', 'event_pending', 'due_at', 'updated_at'],
    refusal: 'changed',
    step: ({ now }: { now: Date }) => ({
      condition: and(eq('status', 'AWAITING_UPLOAD'), lt('upload_expires_at', now.toISOString())),
      changes: {
        set: {
          status: 'EXPIRED',
          error: { code: 'UPLOAD_EXPIRED', message: 'No image was uploaded before the upload URL expired' },
          event_pending: true,
          due_at: epochSeconds(now) + PENDING_EVENT_DUE_SECONDS,
          updated_at: now.toISOString(),
        },
      },
    }),
  },
  /**
   * The sweeper: a RETRYING check whose round went quiet, or a PROCESSING check whose processor died, goes to a new
   * workflow round. Conditional on what the sweeper saw, so two sweepers cannot both start a round.
   */
  handOff: {
    from: ['PROCESSING', 'RETRYING'],
    to: 'RETRYING',
    guard: 'still as the sweeper saw it (status and round) and past its due time',
    fields: [
      'status',
      'retry_round',
      'retry_attempt',
      'last_error',
      'retry_after_seconds',
      'due_at',
      'updated_at',
      ...RELEASE_CLAIM,
    ],
    refusal: 'changed',
    step: ({ seen, now, dueInSeconds }: { seen: CheckRecord; now: Date; dueInSeconds: number }) => ({
      condition: and(
        eq('status', seen.status),
        lt('due_at', epochSeconds(now)),
        seen.retry_round === undefined ? notExists('retry_round') : eq('retry_round', seen.retry_round),
      ),
      changes: {
        set: {
          status: 'RETRYING',
          retry_attempt: 1,
          last_error: seen.last_error ?? {
            code: 'INTERNAL_ERROR',
            message: 'The processing attempt stopped without an outcome',
          },
          retry_after_seconds: 0,
          due_at: epochSeconds(now) + dueInSeconds,
          updated_at: now.toISOString(),
        },
        increment: ['retry_round'],
        remove: RELEASE_CLAIM,
      },
    }),
  },
  /** The sweeper: a WAITING check whose workflow round died past its resume time gets a new round (still WAITING). */
  resumeWaiting: {
    from: ['WAITING'],
    to: 'WAITING',
    guard: 'still in the round the sweeper saw and past its due time',
    fields: ['retry_round', 'due_at', 'updated_at'],
    refusal: 'changed',
    step: ({ seen, now, dueInSeconds }: { seen: CheckRecord; now: Date; dueInSeconds: number }) => ({
      condition: and(
        eq('status', 'WAITING'),
        lt('due_at', epochSeconds(now)),
        seen.retry_round === undefined ? notExists('retry_round') : eq('retry_round', seen.retry_round),
      ),
      changes: {
        set: { due_at: epochSeconds(now) + dueInSeconds, updated_at: now.toISOString() },
        increment: ['retry_round'],
      },
    }),
  },
  /**
   * Didit's `status.updated` replaces a COMPLETED check's result; the replaced one goes to history. Applied only onto
   * the version of the check it was computed from, and only when Didit sent it after the last update applied (its
   * signed timestamp), so a redelivered or late event can never roll the result back.
   */
  applyDiditUpdate: {
    from: ['COMPLETED'],
    to: 'same',
    guard: 'unchanged since it was read (updated_at); sent after the last Didit update applied (didit_updated_at)',
    fields: [
      'result',
      'history',
      'history_dropped',
      'didit_event_ids',
      'didit_updated_at',
      'event_pending',
      'pending_event_type',
      'due_shard',
      'due_at',
      'updated_at',
    ],
    refusal: 'changed',
    step: (p: { seen: CheckRecord; eventId: string; diditTimestamp: number; result: CheckResult; now: Date }) => {
      const { seen, now } = p;
      const replaced: HistoryEntry = {
        replaced_at: now.toISOString(),
        replaced_by: 'didit:status.updated',
        result: seen.result as CheckResult,
      };
      // The condition pins the check to `seen`, so the capped history is computed from the list as stored.
      const history = [...(seen.history ?? []), replaced];
      const dropped = Math.max(0, history.length - HISTORY_CAP);
      return {
        condition: and(
          eq('status', 'COMPLETED'),
          eq('updated_at', seen.updated_at),
          or(notExists('didit_updated_at'), lt('didit_updated_at', p.diditTimestamp)),
          or(notExists('didit_seen_at'), lte('didit_seen_at', p.diditTimestamp)),
        ),
        changes: {
          set: {
            result: p.result,
            didit_updated_at: p.diditTimestamp,
            event_pending: true,
            pending_event_type: DETAIL_TYPES.updated,
            due_shard: DUE_SHARD,
            due_at: epochSeconds(now) + PENDING_EVENT_DUE_SECONDS,
            updated_at: now.toISOString(),
            history: history.slice(dropped),
            ...(dropped > 0 ? { history_dropped: (seen.history_dropped ?? 0) + dropped } : {}),
            didit_event_ids: [...(seen.didit_event_ids ?? []), p.eventId].slice(-DIDIT_EVENT_IDS_CAP),
          },
        },
      };
    },
  },
  /**
   * A `status.updated` that changes nothing (Didit repeating the current result) is still remembered by its signed
   * timestamp, and nothing else: no history, no `updated_at`, no event. Otherwise a late retry of an earlier change,
   * which Didit has since undone by this very event, would be applied after it.
   */
  noteDiditUpdate: {
    from: ['COMPLETED'],
    to: 'same',
    guard: 'sent after the last Didit update applied and after the last one noted',
    fields: ['didit_seen_at'],
    refusal: 'changed',
    step: ({ diditTimestamp }: { diditTimestamp: number }) => ({
      condition: and(
        eq('status', 'COMPLETED'),
        or(notExists('didit_updated_at'), lt('didit_updated_at', diditTimestamp)),
        or(notExists('didit_seen_at'), lt('didit_seen_at', diditTimestamp)),
      ),
      changes: { set: { didit_seen_at: diditTimestamp } },
    }),
  },
  /**
   * The outbox: one later delivery (or the sweeper) takes over publishing an event whose writer never confirmed it,
   * only after the writer's lease has run out (it must be dead by then), and one taker per lease.
   */
  claimPendingEvent: {
    from: TERMINAL_STATUSES,
    to: 'same',
    guard: "the event is pending, the writer's lease is over, no other taker holds it",
    fields: ['event_claimed_until'],
    refusal: 'changed',
    step: ({ status, now, leaseSeconds }: { status: CheckStatus; now: Date; leaseSeconds: number }) => ({
      condition: and(
        eq('event_pending', true),
        eq('status', status),
        lt('updated_at', new Date(now.getTime() - leaseSeconds * 1000).toISOString()),
        or(notExists('event_claimed_until'), lt('event_claimed_until', epochSeconds(now))),
      ),
      changes: { set: { event_claimed_until: epochSeconds(now) + leaseSeconds } },
    }),
  },
  /** The outbox: the event is on the bus; the check leaves the due index. */
  markEventPublished: {
    from: TERMINAL_STATUSES,
    to: 'same',
    guard: 'still in the status whose event was published',
    fields: ['event_pending', 'event_claimed_until', 'pending_event_type', 'due_shard', 'due_at'],
    refusal: 'changed',
    step: ({ status }: { status: CheckStatus }) => ({
      condition: eq('status', status),
      changes: { remove: ['event_pending', 'event_claimed_until', 'pending_event_type', 'due_shard', 'due_at'] },
    }),
  },
  /**
   * One webhook delivery attempt, visible in GET. Appended while the list is under DELIVERIES_CAP; at the cap the
   * oldest are dropped and counted, computed from the list as read and conditional on no attempt recorded since
   * (`deliveries_total`), so a concurrent attempt is never lost (the caller reads again). Never onto a tombstone.
   */
  recordDelivery: {
    from: LIVE_STATUSES,
    to: 'same',
    guard: 'the check exists and is not deleted; at the cap, no attempt was recorded since it was read',
    fields: ['deliveries', 'deliveries_total', 'deliveries_dropped'],
    refusal: 'changed',
    step: ({ attempt, seen }: { attempt: DeliveryAttempt; seen: CheckRecord }) => {
      const live = and(exists('id'), isIn('status', LIVE_STATUSES));
      const kept = seen.deliveries ?? [];
      if (kept.length < DELIVERIES_CAP) {
        return { condition: live, changes: { append: { deliveries: [attempt] }, increment: ['deliveries_total'] } };
      }
      const deliveries = [...kept, attempt].slice(-DELIVERIES_CAP);
      const total = (seen.deliveries_total ?? kept.length) + 1;
      return {
        condition: and(
          live,
          seen.deliveries_total === undefined
            ? notExists('deliveries_total')
            : eq('deliveries_total', seen.deliveries_total),
        ),
        changes: { set: { deliveries, deliveries_total: total, deliveries_dropped: total - deliveries.length } },
      };
    },
  },
  /**
   * `DELETE /v1/liveness-checks/{id}`: the check becomes a tombstone (id, owner, deleted_at, and the Didit erasure
   * still owed), from any status, as it was read (`updated_at`), so whatever the erasure does next (the Didit session
   * to delete) matches what was erased. Every later write of the processor, a retry round or a Didit webhook is
   * refused by its own guard (none starts from DELETED). The deletion event and the upload's removal are pending
   * (the outbox: the sweeper finishes them if the eraser dies).
   */
  erase: {
    from: LIVE_STATUSES,
    to: 'DELETED',
    guard: 'unchanged since it was read (updated_at)',
    fields: [
      'status',
      'owner',
      'deleted_at',
      'expires_at',
      'event_pending',
      'due_shard',
      'due_at',
      'didit_erasure',
      'didit_erasure_session',
      'didit_erasure_attempts',
      'idempotency_id',
    ],
    refusal: 'changed',
    step: ({ seen, now, leaseSeconds }: { seen: CheckRecord; now: Date; leaseSeconds: number }) => {
      const session = diditSessionToErase(seen);
      return {
        condition: and(isIn('status', LIVE_STATUSES), eq('updated_at', seen.updated_at)),
        changes: {
          replace: {
            status: 'DELETED',
            // Kept so the owner rule still applies: a second DELETE by the owner answers 204, anyone else 404.
            ...(seen.owner !== undefined ? { owner: seen.owner } : {}),
            deleted_at: now.toISOString(),
            // Kept while the check would have been (a second DELETE answers the same; TTL then removes it), and
            // longer when Didit still holds the session: the erasure has its window whatever the check's age.
            expires_at: session ? tombstoneExpiryOwingErasure(seen.expires_at, now) : seen.expires_at,
            event_pending: true,
            due_shard: DUE_SHARD,
            due_at: epochSeconds(now) + leaseSeconds,
            ...(session ? { didit_erasure: 'PENDING', didit_erasure_session: session, didit_erasure_attempts: 0 } : {}),
            // Until the deletion is finished (markDeletionPublished): the finisher erases that record's fingerprint.
            ...(seen.idempotency_id !== undefined ? { idempotency_id: seen.idempotency_id } : {}),
          },
        },
      };
    },
  },
  /**
   * A processor whose attempt got Didit's answer after the check was deleted: Didit saved that request, so its session
   * is owed an erasure too (the check itself stays deleted).
   */
  requestDiditErasure: {
    from: ['DELETED'],
    to: 'same',
    guard: 'no Didit erasure is owed yet',
    fields: ['didit_erasure', 'didit_erasure_session', 'didit_erasure_attempts', 'due_shard', 'due_at', 'expires_at'],
    refusal: 'changed',
    step: ({ seen, session, now }: { seen: Pick<CheckRecord, 'expires_at'>; session: string; now: Date }) => ({
      condition: and(eq('status', 'DELETED'), notExists('didit_erasure')),
      changes: {
        set: {
          didit_erasure: 'PENDING',
          didit_erasure_session: session,
          didit_erasure_attempts: 0,
          due_shard: DUE_SHARD,
          due_at: epochSeconds(now),
          expires_at: tombstoneExpiryOwingErasure(seen.expires_at, now),
        },
      },
    }),
  },
  /** The deletion event is on the bus and the upload is gone; the tombstone stays due (now) only for a pending erasure. */
  markDeletionPublished: {
    from: ['DELETED'],
    to: 'same',
    guard: 'a deletion event is pending; the Didit erasure owed is as read',
    fields: ['event_pending', 'due_shard', 'due_at', 'idempotency_id'],
    refusal: 'changed',
    step: ({ seen, now }: { seen: CheckRecord; now: Date }) => ({
      condition: and(
        eq('status', 'DELETED'),
        eq('event_pending', true),
        // Whether it stays due depends on the erasure owed: as read, or refused (read again).
        seen.didit_erasure === undefined ? notExists('didit_erasure') : eq('didit_erasure', seen.didit_erasure),
      ),
      // With an erasure owed, Didit is asked at the next sweep; otherwise the tombstone leaves the due index.
      changes:
        seen.didit_erasure === 'PENDING'
          ? { set: { due_at: epochSeconds(now) }, remove: ['event_pending', 'idempotency_id'] }
          : { remove: ['event_pending', 'due_shard', 'due_at', 'idempotency_id'] },
    }),
  },
  /** Didit did not confirm the erasure: counted, the error kept, and tried again after `retryInSeconds`. */
  diditErasureFailed: {
    from: ['DELETED'],
    to: 'same',
    guard: 'the erasure is still pending, after as many attempts as were read',
    fields: ['didit_erasure_attempts', 'didit_erasure_error', 'due_shard', 'due_at'],
    refusal: 'changed',
    step: ({
      seen,
      error,
      now,
      retryInSeconds,
    }: {
      seen: CheckRecord;
      error: string;
      now: Date;
      retryInSeconds: number;
    }) => ({
      condition: and(
        eq('status', 'DELETED'),
        eq('didit_erasure', 'PENDING'),
        eq('didit_erasure_attempts', seen.didit_erasure_attempts ?? 0),
      ),
      changes: {
        set: { didit_erasure_error: error, due_shard: DUE_SHARD, due_at: epochSeconds(now) + retryInSeconds },
        increment: ['didit_erasure_attempts'],
      },
    }),
  },
  /** Didit deleted the session (204) or had none (404): the tombstone records it and leaves the due index. */
  diditErasureDone: {
    from: ['DELETED'],
    to: 'same',
    guard: 'the erasure is pending; the deletion event is as read',
    fields: [
      'didit_erasure',
      'didit_erased_at',
      'didit_erasure_attempts',
      'didit_erasure_session',
      'didit_erasure_error',
      'due_shard',
      'due_at',
    ],
    refusal: 'changed',
    step: ({ seen, now }: { seen: CheckRecord; now: Date }) => ({
      condition: and(
        eq('status', 'DELETED'),
        eq('didit_erasure', 'PENDING'),
        // Whether it stays due depends on the deletion event: as read, or refused (the next sweep reads again).
        seen.event_pending ? eq('event_pending', true) : notExists('event_pending'),
      ),
      changes: {
        set: { didit_erasure: 'DONE', didit_erased_at: now.toISOString() },
        increment: ['didit_erasure_attempts'],
        remove: [
          'didit_erasure_session',
          'didit_erasure_error',
          ...(seen.event_pending ? [] : (['due_shard', 'due_at'] as Field[])),
        ],
      },
    }),
  },
} as const satisfies Record<string, TransitionRow<never>>;

export type TransitionName = keyof typeof TRANSITIONS;
type ParamsOf<N extends TransitionName> = Parameters<(typeof TRANSITIONS)[N]['step']>[0];

/** The Didit session a deleted check leaves to erase at Didit: only a request Didit saved (`save_api_request`). */
export function diditSessionToErase(check: CheckRecord): string | undefined {
  if (!check.save_api_request) return undefined;
  return check.didit_session_id ?? check.result?.request_id ?? check.pending_result?.request_id ?? undefined;
}

/** The conditional write for one transition, ready for the store. */
export function step<N extends TransitionName>(transition: N, params: ParamsOf<N>): Step {
  const row = TRANSITIONS[transition] as TransitionRow<ParamsOf<N>>;
  return { transition, ...row.step(params), refusal: row.refusal };
}

/** Creating a check: the only write that is not a transition of an existing one. */
export const CREATION = { condition: notExists('id'), refusal: 'exists' } as const satisfies Pick<
  Step,
  'condition' | 'refusal'
>;

/** Statuses any transition leaves a check in, for tests that walk the table. */
export function reachableStatuses(): CheckStatus[] {
  const out = new Set<CheckStatus>(['AWAITING_UPLOAD']);
  for (const row of Object.values(TRANSITIONS) as TransitionRow<never>[]) if (row.to !== 'same') out.add(row.to);
  return [...out];
}

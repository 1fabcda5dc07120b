import type { CheckRecord, CheckResult, CheckStatus } from '../../lambdas/core/check';
import { epochSeconds, type Step, step, type TransitionName } from '../../lambdas/core/lifecycle/transitions';

/**
 * Every transition of a check's life with a stored check it accepts and one case per guard it refuses. Shared by the
 * pure table test (lifecycle-transitions.test.ts) and the store test that runs the same cases on DynamoDB
 * (check-store.test.ts), so the in-memory meaning and the executed meaning cannot drift apart.
 */
export const NOW = new Date('2026-11-26T12:00:00.000Z');
export const NOW_EPOCH = epochSeconds(NOW);
const EARLIER = '2026-11-26T11:00:00.000Z';

export const RESULT: CheckResult = {
  request_id: 'didit-session-1',
  liveness: {
    status: 'Approved',
    method: 'PASSIVE',
    score: 91.5,
    user_image: null,
    warnings: [],
    face_quality: 80,
    face_luminance: 60,
  },
  decision: 'Approved',
  didit_created_at: EARLIER,
};

/** A stored check in `status`, with whatever a check in that status carries. */
export function storedCheck(id: string, status: CheckStatus, extra: Partial<CheckRecord> = {}): CheckRecord {
  if (status === 'DELETED') {
    // A tombstone: nothing of the check but its id and when it was deleted.
    return { id, status, deleted_at: EARLIER, expires_at: NOW_EPOCH + 86_400, ...extra } as CheckRecord;
  }
  return {
    id,
    status,
    upload_key: `uploads/${id}`,
    created_at: EARLIER,
    updated_at: EARLIER,
    upload_expires_at: EARLIER,
    expires_at: NOW_EPOCH + 86_400,
    face_liveness_score_decline_threshold: 30,
    rotate_image: false,
    save_api_request: true,
    content_type: 'image/jpeg',
    due_shard: 'due',
    due_at: NOW_EPOCH - 10,
    ...(status === 'PROCESSING' ? { claim_token: 'mine', claim_expires_at: NOW_EPOCH + 60 } : {}),
    ...(status === 'RETRYING'
      ? { retry_round: 1, retry_attempt: 1, last_error: { code: 'DIDIT_UNAVAILABLE', message: 'HTTP 503' } }
      : {}),
    ...(status === 'COMPLETED' ? { result: RESULT, didit_session_id: 'didit-session-1' } : {}),
    ...(status === 'FAILED' ? { error: { code: 'CORRUPT_IMAGE', message: 'truncated' } } : {}),
    ...extra,
  } as CheckRecord;
}

export interface TransitionCase {
  readonly name: string;
  readonly transition: TransitionName;
  /** The check as stored before the write (none: no such check). */
  readonly stored: (id: string) => CheckRecord | undefined;
  readonly step: (stored: CheckRecord | undefined) => Step;
  readonly accepted: boolean;
}

const claim = { token: 'new', now: NOW, leaseSeconds: 60 };
const renew = { uploadExpiresAt: '2026-11-26T12:05:00.000Z', graceSeconds: 60, now: NOW };
const lapsed = { claim_token: 'dead', claim_expires_at: NOW_EPOCH - 1 };
const failure = { code: 'DIDIT_UNAVAILABLE', message: 'HTTP 503' } as const;
const defer = { token: 'mine', error: failure, retryAfterSeconds: 7, now: NOW, dueInSeconds: 900 };
const wait = {
  token: 'mine',
  reason: 'PACED' as const,
  resumeAt: new Date(NOW.getTime() + 5000),
  ticket: undefined,
  outage: false,
  newRound: false,
  now: NOW,
  dueGraceSeconds: 300,
};

/** What a check WAITING in round `round` carries. */
function waitingAt(round: number): Partial<CheckRecord> {
  return {
    retry_round: round,
    wait_reason: 'PACED',
    resume_at: NOW.toISOString(),
    wait_since: EARLIER,
    wait_ticket: 7,
    waiting_shard: 'waiting',
  };
}

/** Didit's signed timestamp of the update the applyDiditUpdate cases apply. */
const DIDIT_SENT_AT = NOW_EPOCH - 5;

const LIVE = ['AWAITING_UPLOAD', 'PROCESSING', 'WAITING', 'RETRYING', 'COMPLETED', 'FAILED', 'EXPIRED'] as const;

/** One accepted case per starting status the row names, and one refused case per guard. */
export const TRANSITION_CASES: readonly TransitionCase[] = [
  ok('renewUpload', 'AWAITING_UPLOAD', {}, () => step('renewUpload', renew)),
  no('renewUpload', 'PROCESSING', {}, () => step('renewUpload', renew), 'whose upload arrived'),
  ok('claimUpload', 'AWAITING_UPLOAD', {}, () => step('claimUpload', claim)),
  ok('claimUpload', 'AWAITING_UPLOAD', {}, () => step('claimUpload', { ...claim, etag: '"abc"' }), 'pinning the ETag'),
  ok('claimUpload', 'PROCESSING', lapsed, () => step('claimUpload', claim), 'whose claim lapsed'),
  no('claimUpload', 'PROCESSING', {}, () => step('claimUpload', claim), 'held by a live claim'),
  no('claimUpload', undefined, {}, () => step('claimUpload', claim), 'of no stored check'),
  ok('claimRetry', 'RETRYING', {}, () => step('claimRetry', { ...claim, round: 1 })),
  ok('claimRetry', 'WAITING', waitingAt(1), () => step('claimRetry', { ...claim, round: 1 })),
  ok(
    'claimRetry',
    'PROCESSING',
    { ...lapsed, retry_round: 1 },
    () => step('claimRetry', { ...claim, round: 1 }),
    'whose claim lapsed',
  ),
  no('claimRetry', 'RETRYING', {}, () => step('claimRetry', { ...claim, round: 2 }), 'of another round'),
  no(
    'claimRetry',
    'PROCESSING',
    { retry_round: 1 },
    () => step('claimRetry', { ...claim, round: 1 }),
    'held by a live claim',
  ),
  ok('saveDiditAnswer', 'PROCESSING', {}, () => step('saveDiditAnswer', { token: 'mine', result: RESULT, now: NOW })),
  no(
    'saveDiditAnswer',
    'PROCESSING',
    {},
    () => step('saveDiditAnswer', { token: 'other', result: RESULT, now: NOW }),
    'claimed by another attempt',
  ),
  ok('complete', 'PROCESSING', { pending_result: RESULT }, () =>
    step('complete', { token: 'mine', result: RESULT, now: NOW }),
  ),
  ok(
    'complete',
    'PROCESSING',
    { ...waitingAt(1), status: 'PROCESSING', claim_token: 'mine' },
    () => step('complete', { token: 'mine', result: RESULT, now: NOW, rawAnswer: '{"liveness":{}}' }),
    'keeping a charged answer and dropping what waiting left',
  ),
  no(
    'complete',
    'PROCESSING',
    {},
    () => step('complete', { token: 'other', result: RESULT, now: NOW }),
    'claimed by another attempt',
  ),
  ok('fail', 'PROCESSING', {}, () => step('fail', { token: 'mine', error: failure, now: NOW })),
  ok(
    'fail',
    'PROCESSING',
    {},
    () => step('fail', { token: 'mine', error: failure, now: NOW, rawAnswer: '<html>' }),
    'keeping a charged answer',
  ),
  no(
    'fail',
    'PROCESSING',
    {},
    () => step('fail', { token: 'other', error: failure, now: NOW }),
    'claimed by another attempt',
  ),
  ok('deferRetry', 'PROCESSING', {}, () => step('deferRetry', { ...defer, newRound: true }), 'into a new round'),
  ok(
    'deferRetry',
    'PROCESSING',
    { retry_round: 2, retry_attempt: 3 },
    () => step('deferRetry', { ...defer, newRound: false }),
    'within its round',
  ),
  no(
    'deferRetry',
    'PROCESSING',
    {},
    () => step('deferRetry', { ...defer, token: 'other', newRound: true }),
    'claimed by another attempt',
  ),
  ok(
    'wait',
    'PROCESSING',
    {},
    () => step('wait', { ...wait, ticket: 12, newRound: true }),
    'for a paced slot, starting a round',
  ),
  ok(
    'wait',
    'PROCESSING',
    { retry_round: 2, wait_since: EARLIER, wait_ticket: 3 },
    () => step('wait', { ...wait, reason: 'OUT_OF_CREDITS', outage: true }),
    'for credits within its round, starting the horizon',
  ),
  no('wait', 'PROCESSING', {}, () => step('wait', { ...wait, token: 'other' }), 'claimed by another attempt'),
  ok('giveUp', 'RETRYING', {}, () => step('giveUp', { round: 1, now: NOW })),
  no('giveUp', 'RETRYING', {}, () => step('giveUp', { round: 2, now: NOW }), 'of another round'),
  ok('expire', 'AWAITING_UPLOAD', {}, () => step('expire', { now: NOW })),
  no(
    'expire',
    'AWAITING_UPLOAD',
    { upload_expires_at: '2026-11-26T12:05:00.000Z' },
    () => step('expire', { now: NOW }),
    'whose upload URL still works',
  ),
  ok(
    'handOff',
    'PROCESSING',
    lapsed,
    (seen) => step('handOff', { seen: seen as CheckRecord, now: NOW, dueInSeconds: 900 }),
    'whose processor died',
  ),
  ok(
    'handOff',
    'RETRYING',
    {},
    (seen) => step('handOff', { seen: seen as CheckRecord, now: NOW, dueInSeconds: 900 }),
    'whose round went quiet',
  ),
  no(
    'handOff',
    'RETRYING',
    { due_at: NOW_EPOCH + 60 },
    (seen) => step('handOff', { seen: seen as CheckRecord, now: NOW, dueInSeconds: 900 }),
    'not yet due',
  ),
  no(
    'handOff',
    'RETRYING',
    { retry_round: 2 },
    (seen) => step('handOff', { seen: { ...(seen as CheckRecord), retry_round: 1 }, now: NOW, dueInSeconds: 900 }),
    'moved to another round since it was seen',
  ),
  ok('resumeWaiting', 'WAITING', waitingAt(1), (seen) =>
    step('resumeWaiting', { seen: seen as CheckRecord, now: NOW, dueInSeconds: 900 }),
  ),
  no(
    'resumeWaiting',
    'WAITING',
    { ...waitingAt(1), due_at: NOW_EPOCH + 60 },
    (seen) => step('resumeWaiting', { seen: seen as CheckRecord, now: NOW, dueInSeconds: 900 }),
    'not yet due',
  ),
  no(
    'resumeWaiting',
    'WAITING',
    waitingAt(2),
    (seen) =>
      step('resumeWaiting', { seen: { ...(seen as CheckRecord), retry_round: 1 }, now: NOW, dueInSeconds: 900 }),
    'moved to another round since it was seen',
  ),
  ok('applyDiditUpdate', 'COMPLETED', {}, (seen) => step('applyDiditUpdate', diditUpdate(seen))),
  ok(
    'applyDiditUpdate',
    'COMPLETED',
    { history: Array.from({ length: 10 }, (_, i) => ({ replaced_at: EARLIER, replaced_by: `r${i}`, result: RESULT })) },
    (seen) => step('applyDiditUpdate', diditUpdate(seen)),
    'with a full history',
  ),
  ok(
    'applyDiditUpdate',
    'COMPLETED',
    { didit_event_ids: Array.from({ length: 20 }, (_, i) => `evt-old-${i}`) },
    (seen) => step('applyDiditUpdate', diditUpdate(seen)),
    'with a full list of applied event ids',
  ),
  ok(
    'applyDiditUpdate',
    'COMPLETED',
    { didit_updated_at: DIDIT_SENT_AT - 1 },
    (seen) => step('applyDiditUpdate', diditUpdate(seen)),
    'after an older Didit update',
  ),
  no(
    'applyDiditUpdate',
    'COMPLETED',
    {},
    (seen) => step('applyDiditUpdate', diditUpdate({ ...(seen as CheckRecord), updated_at: NOW.toISOString() })),
    'changed since it was read',
  ),
  no(
    'applyDiditUpdate',
    'COMPLETED',
    { didit_updated_at: DIDIT_SENT_AT },
    (seen) => step('applyDiditUpdate', diditUpdate(seen)),
    'that applied a Didit update sent at the same second',
  ),
  no(
    'applyDiditUpdate',
    'COMPLETED',
    { didit_updated_at: DIDIT_SENT_AT + 1 },
    (seen) => step('applyDiditUpdate', diditUpdate(seen)),
    'that applied a later Didit update',
  ),
  ok(
    'applyDiditUpdate',
    'COMPLETED',
    { didit_seen_at: DIDIT_SENT_AT },
    (seen) => step('applyDiditUpdate', diditUpdate(seen)),
    'that noted an unchanged Didit update sent at the same second',
  ),
  no(
    'applyDiditUpdate',
    'COMPLETED',
    { didit_seen_at: DIDIT_SENT_AT + 1 },
    (seen) => step('applyDiditUpdate', diditUpdate(seen)),
    'that noted a later, unchanged Didit update (the change was undone since)',
  ),
  ok('noteDiditUpdate', 'COMPLETED', {}, () => step('noteDiditUpdate', { diditTimestamp: DIDIT_SENT_AT })),
  ok(
    'noteDiditUpdate',
    'COMPLETED',
    { didit_updated_at: DIDIT_SENT_AT - 1, didit_seen_at: DIDIT_SENT_AT - 1 },
    () => step('noteDiditUpdate', { diditTimestamp: DIDIT_SENT_AT }),
    'after older Didit updates',
  ),
  no(
    'noteDiditUpdate',
    'COMPLETED',
    { didit_seen_at: DIDIT_SENT_AT },
    () => step('noteDiditUpdate', { diditTimestamp: DIDIT_SENT_AT }),
    'that noted one sent at the same second',
  ),
  no(
    'noteDiditUpdate',
    'COMPLETED',
    { didit_updated_at: DIDIT_SENT_AT + 1 },
    () => step('noteDiditUpdate', { diditTimestamp: DIDIT_SENT_AT }),
    'that applied a later Didit update',
  ),
  ok('claimPendingEvent', 'COMPLETED', { event_pending: true }, () =>
    step('claimPendingEvent', { status: 'COMPLETED', now: NOW, leaseSeconds: 60 }),
  ),
  ok('claimPendingEvent', 'FAILED', { event_pending: true }, () =>
    step('claimPendingEvent', { status: 'FAILED', now: NOW, leaseSeconds: 60 }),
  ),
  ok(
    'claimPendingEvent',
    'EXPIRED',
    { event_pending: true, event_claimed_until: NOW_EPOCH - 1 },
    () => step('claimPendingEvent', { status: 'EXPIRED', now: NOW, leaseSeconds: 60 }),
    'whose last taker gave up',
  ),
  no(
    'claimPendingEvent',
    'COMPLETED',
    {},
    () => step('claimPendingEvent', { status: 'COMPLETED', now: NOW, leaseSeconds: 60 }),
    'with no pending event',
  ),
  no(
    'claimPendingEvent',
    'COMPLETED',
    { event_pending: true, updated_at: NOW.toISOString() },
    () => step('claimPendingEvent', { status: 'COMPLETED', now: NOW, leaseSeconds: 60 }),
    "within the writer's lease",
  ),
  no(
    'claimPendingEvent',
    'COMPLETED',
    { event_pending: true, event_claimed_until: NOW_EPOCH + 30 },
    () => step('claimPendingEvent', { status: 'COMPLETED', now: NOW, leaseSeconds: 60 }),
    'held by another taker',
  ),
  ok('markEventPublished', 'COMPLETED', { event_pending: true }, () =>
    step('markEventPublished', { status: 'COMPLETED' }),
  ),
  ok('markEventPublished', 'FAILED', { event_pending: true }, () => step('markEventPublished', { status: 'FAILED' })),
  ok('markEventPublished', 'EXPIRED', { event_pending: true }, () => step('markEventPublished', { status: 'EXPIRED' })),
  no(
    'markEventPublished',
    'COMPLETED',
    { event_pending: true },
    () => step('markEventPublished', { status: 'FAILED' }),
    'that moved to another status',
  ),
  ...LIVE.map((status) =>
    ok('recordDelivery', status, {}, (seen) =>
      step('recordDelivery', { attempt: delivery(), seen: seen as CheckRecord }),
    ),
  ),
  ok(
    'recordDelivery',
    'COMPLETED',
    atCap(),
    (seen) => step('recordDelivery', { attempt: delivery(), seen: seen as CheckRecord }),
    'at the cap',
  ),
  no(
    'recordDelivery',
    'COMPLETED',
    atCap(),
    (seen) => step('recordDelivery', { attempt: delivery(), seen: { ...(seen as CheckRecord), deliveries_total: 49 } }),
    'at the cap, with an attempt recorded since it was read,',
  ),
  no(
    'recordDelivery',
    undefined,
    {},
    () => step('recordDelivery', { attempt: delivery(), seen: storedCheck('x', 'COMPLETED') }),
    'of no stored check',
  ),
  no(
    'recordDelivery',
    'DELETED',
    {},
    () => step('recordDelivery', { attempt: delivery(), seen: storedCheck('x', 'COMPLETED') }),
    'that was deleted',
  ),
  ...LIVE.map((status) => ok('erase', status, erasable(status), (seen) => step('erase', erasure(seen)))),
  ok(
    'erase',
    'AWAITING_UPLOAD',
    { idempotency_id: 'idem#k1' },
    (seen) => step('erase', erasure(seen)),
    'created with an Idempotency-Key',
  ),
  no(
    'erase',
    'PROCESSING',
    {},
    (seen) => step('erase', erasure({ ...(seen as CheckRecord), updated_at: NOW.toISOString() })),
    'changed since it was read',
  ),
  no('erase', 'DELETED', { updated_at: EARLIER }, (seen) => step('erase', erasure(seen)), 'already deleted'),
  no('erase', undefined, {}, () => step('erase', erasure(storedCheck('x', 'COMPLETED'))), 'of no stored check'),
  ok('requestDiditErasure', 'DELETED', {}, (seen) =>
    step('requestDiditErasure', { seen: seen as CheckRecord, session: 'didit-session-2', now: NOW }),
  ),
  no(
    'requestDiditErasure',
    'DELETED',
    { didit_erasure: 'PENDING', didit_erasure_session: 'didit-session-1' },
    (seen) => step('requestDiditErasure', { seen: seen as CheckRecord, session: 'didit-session-2', now: NOW }),
    'already owing one',
  ),
  no(
    'requestDiditErasure',
    'PROCESSING',
    {},
    (seen) => step('requestDiditErasure', { seen: seen as CheckRecord, session: 'didit-session-2', now: NOW }),
    'not deleted',
  ),
  ok('markDeletionPublished', 'DELETED', { event_pending: true, due_shard: 'due', due_at: NOW_EPOCH }, (seen) =>
    step('markDeletionPublished', { seen: seen as CheckRecord, now: NOW }),
  ),
  no(
    'markDeletionPublished',
    'DELETED',
    { event_pending: true, ...owed(0) },
    (seen) => step('markDeletionPublished', { seen: { ...(seen as CheckRecord), didit_erasure: undefined }, now: NOW }),
    'owing a Didit erasure it did not read',
  ),
  ok(
    'markDeletionPublished',
    'DELETED',
    { event_pending: true, ...owed(0) },
    (seen) => step('markDeletionPublished', { seen: seen as CheckRecord, now: NOW }),
    'owing a Didit erasure',
  ),
  no(
    'markDeletionPublished',
    'DELETED',
    {},
    (seen) => step('markDeletionPublished', { seen: seen as CheckRecord, now: NOW }),
    'with no event pending',
  ),
  ok('diditErasureFailed', 'DELETED', owed(2), (seen) =>
    step('diditErasureFailed', {
      seen: seen as CheckRecord,
      error: 'DIDIT_UNAVAILABLE (HTTP 503)',
      now: NOW,
      retryInSeconds: 240,
    }),
  ),
  no(
    'diditErasureFailed',
    'DELETED',
    owed(3),
    (seen) =>
      step('diditErasureFailed', {
        seen: { ...(seen as CheckRecord), didit_erasure_attempts: 2 },
        error: 'x',
        now: NOW,
        retryInSeconds: 60,
      }),
    'after an attempt recorded since it was read,',
  ),
  no(
    'diditErasureFailed',
    'DELETED',
    { didit_erasure: 'DONE' },
    (seen) => step('diditErasureFailed', { seen: seen as CheckRecord, error: 'x', now: NOW, retryInSeconds: 60 }),
    'whose erasure is done',
  ),
  ok('diditErasureDone', 'DELETED', owed(1), (seen) =>
    step('diditErasureDone', { seen: seen as CheckRecord, now: NOW }),
  ),
  no(
    'diditErasureDone',
    'DELETED',
    { ...owed(1), event_pending: true },
    (seen) => step('diditErasureDone', { seen: { ...(seen as CheckRecord), event_pending: undefined }, now: NOW }),
    'with a deletion event pending it did not read',
  ),
  no(
    'diditErasureDone',
    'DELETED',
    { didit_erasure: 'DONE' },
    (seen) => step('diditErasureDone', { seen: seen as CheckRecord, now: NOW }),
    'whose erasure is done',
  ),
];

/** A check whose deliveries are at the cap (DELIVERIES_CAP = 50). */
function atCap(): Partial<CheckRecord> {
  const deliveries = Array.from({ length: 50 }, (_, i) => ({ ...delivery(), webhook_id: `msg_${i}` }));
  return { deliveries, deliveries_total: 50 };
}

/** Completed checks saved at Didit owe an erasure there; the rest do not (covers both shapes of the tombstone). */
function erasable(status: CheckStatus): Partial<CheckRecord> {
  return status === 'COMPLETED' ? { save_api_request: true, owner: 'apikey:app-a' } : { save_api_request: false };
}

function erasure(seen: CheckRecord | undefined) {
  return { seen: seen as CheckRecord, now: NOW, leaseSeconds: 60 };
}

/** A tombstone that still owes Didit an erasure, after `attempts` failed ones. */
function owed(attempts: number): Partial<CheckRecord> {
  return {
    didit_erasure: 'PENDING',
    didit_erasure_session: 'didit-session-1',
    didit_erasure_attempts: attempts,
    due_shard: 'due',
    due_at: NOW_EPOCH - 1,
  };
}

function diditUpdate(seen: CheckRecord | undefined) {
  return {
    seen: seen as CheckRecord,
    eventId: 'evt-1',
    diditTimestamp: DIDIT_SENT_AT,
    result: { ...RESULT, decision: 'Declined' as const },
    now: NOW,
  };
}

function delivery() {
  return {
    webhook_id: 'msg_1',
    event_type: 'Liveness Check Completed',
    attempt: 1,
    at: NOW.toISOString(),
    status_code: 200,
    latency_ms: 12,
    outcome: 'delivered' as const,
  };
}

function ok(
  transition: TransitionName,
  status: CheckStatus,
  extra: Partial<CheckRecord>,
  make: (stored: CheckRecord | undefined) => Step,
  detail = '',
): TransitionCase {
  return {
    name: `${transition} from ${status}${detail ? ` ${detail}` : ''} is accepted`,
    transition,
    stored: (id) => storedCheck(id, status, extra),
    step: make,
    accepted: true,
  };
}

function no(
  transition: TransitionName,
  status: CheckStatus | undefined,
  extra: Partial<CheckRecord>,
  make: (stored: CheckRecord | undefined) => Step,
  detail: string,
): TransitionCase {
  return {
    name: `${transition} of a check ${status ? `${status} ` : ''}${detail} is refused`,
    transition,
    stored: (id) => (status ? storedCheck(id, status, extra) : undefined),
    step: make,
    accepted: false,
  };
}

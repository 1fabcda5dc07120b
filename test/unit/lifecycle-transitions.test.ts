import { describe, expect, it } from 'vitest';
import { CHECK_STATUSES, type CheckRecord, isTerminal } from '../../lambdas/core/check';
import {
  CheckAlreadyExistsError,
  CheckChangedError,
  CheckNotFoundError,
  ClaimLostError,
  conflictFor,
} from '../../lambdas/core/lifecycle/conflicts';
import { applyChanges, changedFields, holds } from '../../lambdas/core/lifecycle/expressions';
import {
  CREATION,
  DIDIT_ERASURE_WINDOW_SECONDS,
  reachableStatuses,
  TRANSITIONS,
  type TransitionName,
  type TransitionRow,
} from '../../lambdas/core/lifecycle/transitions';
import { MemoryCheckStore } from '../fakes/memory-check-store';
import { NOW, NOW_EPOCH, RESULT, storedCheck, TRANSITION_CASES } from '../helpers/transition-cases';

const row = (name: TransitionName) => TRANSITIONS[name] as TransitionRow<never>;
const NAMES = Object.keys(TRANSITIONS) as TransitionName[];

describe('every transition, accepted and refused', () => {
  for (const c of TRANSITION_CASES) {
    it(c.name, () => {
      const stored = c.stored('4f0c2f7e-3c1b-4d8e-9a51-0a4c1e9b7d21');
      const s = c.step(stored);
      expect(s.transition).toBe(c.transition);
      expect(holds(s.condition, stored)).toBe(c.accepted);
      if (c.accepted) {
        const next = applyChanges(stored as CheckRecord, s.changes);
        const to = row(c.transition).to;
        expect(next.status).toBe(to === 'same' ? stored?.status : to);
        expect(row(c.transition).fields).toEqual(expect.arrayContaining(changedFields(s.changes)));
      } else {
        expect(conflictFor(c.transition, s.refusal, stored)).toBeInstanceOf(
          stored === undefined ? CheckNotFoundError : s.refusal === 'claim' ? ClaimLostError : CheckChangedError,
        );
      }
    });
  }
});

describe('the table', () => {
  it.each(NAMES)('%s: refused from every status it does not start from', (name) => {
    const accepted = TRANSITION_CASES.filter((c) => c.transition === name && c.accepted);
    expect(accepted.length).toBeGreaterThan(0);
    for (const c of accepted) {
      const stored = c.stored('4f0c2f7e-3c1b-4d8e-9a51-0a4c1e9b7d21') as CheckRecord;
      for (const status of CHECK_STATUSES) {
        if (row(name).from.includes(status)) continue;
        expect(holds(c.step(stored).condition, { ...stored, status }), `${name} from ${status}`).toBe(false);
      }
    }
  });

  it.each(NAMES)('%s: a case accepts it from each status it starts from, and one refuses it', (name) => {
    const cases = TRANSITION_CASES.filter((c) => c.transition === name);
    const startedFrom = new Set(cases.filter((c) => c.accepted).map((c) => c.stored('x')?.status));
    expect([...startedFrom].sort()).toEqual([...row(name).from].sort());
    expect(cases.some((c) => !c.accepted)).toBe(true);
  });

  it.each(NAMES)('%s: the fields its row names are exactly the fields its cases change', (name) => {
    const touched = new Set(
      TRANSITION_CASES.filter((c) => c.transition === name && c.accepted).flatMap((c) =>
        changedFields(c.step(c.stored('x')).changes),
      ),
    );
    expect([...touched].sort()).toEqual([...new Set(row(name).fields)].sort());
  });

  it('terminal statuses have no way out but erasure: only outbox and delivery bookkeeping start from them', () => {
    for (const name of NAMES) {
      if (row(name).from.some(isTerminal)) expect(row(name).to, name).toBe(name === 'erase' ? 'DELETED' : 'same');
    }
  });

  it('a tombstone is final: nothing leads out of DELETED, and only erasure leads into it', () => {
    for (const name of NAMES) {
      if (row(name).from.includes('DELETED')) expect(row(name).to, name).toBe('same');
      if (row(name).to === 'DELETED') expect(name).toBe('erase');
    }
  });

  it('every status a check can be in is reached by some transition, and every non-terminal one can be left', () => {
    expect(reachableStatuses().sort()).toEqual([...CHECK_STATUSES].sort());
    for (const status of CHECK_STATUSES.filter((s) => !isTerminal(s) && s !== 'DELETED')) {
      const leaving = NAMES.filter((n) => row(n).from.includes(status) && row(n).to !== 'same' && row(n).to !== status);
      expect(leaving.length, status).toBeGreaterThan(0);
    }
  });

  it('creating a check is refused when the id is taken, with its own conflict', () => {
    expect(holds(CREATION.condition, undefined)).toBe(true);
    expect(holds(CREATION.condition, storedCheck('x', 'AWAITING_UPLOAD'))).toBe(false);
    expect(conflictFor('create', CREATION.refusal, storedCheck('x', 'AWAITING_UPLOAD'))).toBeInstanceOf(
      CheckAlreadyExistsError,
    );
  });
});

describe('what the writes leave behind', () => {
  const byName = (name: string) => {
    const c = TRANSITION_CASES.find((t) => t.name === name);
    if (!c) throw new Error(`no case ${name}`);
    const stored = c.stored('id') as CheckRecord;
    return applyChanges(stored, c.step(stored).changes);
  };

  it('a claim holds a lease and comes due for the sweeper shortly after it', () => {
    const next = byName('claimUpload from AWAITING_UPLOAD is accepted');
    const nowEpoch = Math.floor(NOW.getTime() / 1000);
    expect(next).toMatchObject({ claim_token: 'new', claim_expires_at: nowEpoch + 60, due_at: nowEpoch + 90 });
  });

  it('completing stores the result, the session id and a pending event, and drops the saved answer and the claim', () => {
    const next = byName('complete from PROCESSING is accepted');
    expect(next).toMatchObject({ result: RESULT, didit_session_id: 'didit-session-1', event_pending: true });
    expect(next.pending_result).toBeUndefined();
    expect(next.claim_token).toBeUndefined();
  });

  it('deferring starts round 1 at attempt 1 from the S3 path, and counts one more attempt within a round', () => {
    expect(byName('deferRetry from PROCESSING into a new round is accepted')).toMatchObject({
      retry_round: 1,
      retry_attempt: 1,
      retry_after_seconds: 7,
      last_error: { code: 'DIDIT_UNAVAILABLE' },
    });
    expect(byName('deferRetry from PROCESSING within its round is accepted')).toMatchObject({
      retry_round: 2,
      retry_attempt: 4,
    });
  });

  it('giving up turns the last retryable error into the error', () => {
    expect(byName('giveUp from RETRYING is accepted')).toMatchObject({
      status: 'FAILED',
      error: { code: 'DIDIT_UNAVAILABLE', message: 'HTTP 503' },
      event_pending: true,
    });
  });

  it('a Didit update keeps the replaced result in history and marks the Updated event pending', () => {
    const next = byName('applyDiditUpdate from COMPLETED is accepted');
    expect(next.history).toEqual([
      { replaced_at: NOW.toISOString(), replaced_by: 'didit:status.updated', result: RESULT },
    ]);
    expect(next).toMatchObject({
      didit_event_ids: ['evt-1'],
      didit_updated_at: Math.floor(NOW.getTime() / 1000) - 5,
      pending_event_type: 'Liveness Check Updated',
    });
  });

  it('the first claim pins the upload to the S3 event ETag', () => {
    expect(byName('claimUpload from AWAITING_UPLOAD pinning the ETag is accepted').upload_etag).toBe('"abc"');
  });

  it('a Didit update onto a full history drops the oldest and counts it', () => {
    const next = byName('applyDiditUpdate from COMPLETED with a full history is accepted');
    expect(next.history).toHaveLength(10);
    expect(next.history?.[0]?.replaced_by).toBe('r1');
    expect(next.history?.at(-1)?.replaced_by).toBe('didit:status.updated');
    expect(next.history_dropped).toBe(1);
  });

  it('a Didit update onto a full list of applied event ids drops the oldest id: a check never grows past the cap', () => {
    const next = byName('applyDiditUpdate from COMPLETED with a full list of applied event ids is accepted');
    expect(next.didit_event_ids).toHaveLength(20);
    expect(next.didit_event_ids?.[0]).toBe('evt-old-1');
    expect(next.didit_event_ids?.at(-1)).toBe('evt-1');
  });

  it('a delivery at the cap drops the oldest attempt and counts it', () => {
    const next = byName('recordDelivery from COMPLETED at the cap is accepted');
    expect(next.deliveries).toHaveLength(50);
    expect(next.deliveries?.[0]?.webhook_id).toBe('msg_1');
    expect(next).toMatchObject({ deliveries_total: 51, deliveries_dropped: 1 });
  });

  it('erasing leaves a tombstone of id, deletion time and the Didit erasure owed, and nothing else of the check', () => {
    const next = byName('erase from COMPLETED is accepted') as unknown as Record<string, unknown>;
    expect(Object.keys(next).sort()).toEqual(
      [
        'id',
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
      ].sort(),
    );
    expect(next).toMatchObject({
      status: 'DELETED',
      didit_erasure: 'PENDING',
      didit_erasure_session: 'didit-session-1',
    });
    const unsaved = byName('erase from FAILED is accepted') as unknown as Record<string, unknown>;
    expect(unsaved.didit_erasure).toBeUndefined();
  });

  it('a tombstone keeps the Idempotency-Key record id until the deletion is finished, then drops it', () => {
    expect(byName('erase from AWAITING_UPLOAD created with an Idempotency-Key is accepted').idempotency_id).toBe(
      'idem#k1',
    );
    expect(byName('erase from COMPLETED is accepted').idempotency_id).toBeUndefined();
  });

  it('a tombstone owing Didit an erasure outlives its check by the erasure window; one owing nothing does not', () => {
    // The stored check expires in a day (transition-cases.ts): the erasure still gets its 30 days of retries.
    const owing = byName('erase from COMPLETED is accepted');
    expect(owing.expires_at).toBe(NOW_EPOCH + DIDIT_ERASURE_WINDOW_SECONDS);
    expect(byName('erase from FAILED is accepted').expires_at).toBe(NOW_EPOCH + 86_400);
    // Owed by a processor that got Didit's answer after the deletion: the same window from then.
    expect(byName('requestDiditErasure from DELETED is accepted').expires_at).toBe(
      NOW_EPOCH + DIDIT_ERASURE_WINDOW_SECONDS,
    );
  });

  it('a failed Didit erasure counts the attempt and comes due again; a done one leaves the due index', () => {
    expect(byName('diditErasureFailed from DELETED is accepted')).toMatchObject({
      didit_erasure: 'PENDING',
      didit_erasure_attempts: 3,
      didit_erasure_error: 'DIDIT_UNAVAILABLE (HTTP 503)',
      due_at: Math.floor(NOW.getTime() / 1000) + 240,
    });
    const done = byName('diditErasureDone from DELETED is accepted');
    expect(done).toMatchObject({
      didit_erasure: 'DONE',
      didit_erasure_attempts: 2,
      didit_erased_at: NOW.toISOString(),
    });
    expect(done.didit_erasure_session).toBeUndefined();
    expect(done.due_at).toBeUndefined();
  });

  it('publishing takes the check out of the due index', () => {
    const next = byName('markEventPublished from COMPLETED is accepted');
    expect(next.due_at).toBeUndefined();
    expect(next.due_shard).toBeUndefined();
    expect(next.event_pending).toBeUndefined();
  });
});

describe('the in-memory store the service tests use means the same', () => {
  for (const c of TRANSITION_CASES) {
    it(c.name, async () => {
      const store = new MemoryCheckStore();
      const stored = c.stored('4f0c2f7e-3c1b-4d8e-9a51-0a4c1e9b7d21');
      if (stored) await store.create(stored);
      const outcome = await store.attempt('4f0c2f7e-3c1b-4d8e-9a51-0a4c1e9b7d21', c.step(stored));
      expect(outcome.applied).toBe(c.accepted);
    });
  }
});

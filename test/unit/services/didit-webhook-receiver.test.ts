import { createHmac, randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson, DiditWebhookSignatureError } from '../../../lambdas/core/didit-webhook';
import { DependencyThrottledError } from '../../../lambdas/errors';
import { DiditUpdateConflictError, DiditWebhookReceiver } from '../../../lambdas/services/didit-webhook-receiver';
import { MemoryCheckStore } from '../../fakes/memory-check-store';
import { ManualClock, RecordingEvents } from '../../fakes/recorders';
import { storedCheck } from '../../helpers/transition-cases';

// Didit's status.updated webhooks over in-memory fakes; the real route runs in test/integration/webhooks.test.ts.
const SECRET = 'didit-webhook-secret';
const PREVIOUS = 'didit-webhook-secret-before-rotation';
let store: MemoryCheckStore;
let events: RecordingEvents;
let clock: ManualClock;

beforeEach(() => {
  store = new MemoryCheckStore();
  events = new RecordingEvents();
  clock = new ManualClock(new Date('2026-11-26T12:00:00.000Z'));
});

const receiver = (overrides: Partial<ConstructorParameters<typeof DiditWebhookReceiver>[0]> = {}) =>
  new DiditWebhookReceiver({ store, events, secret: async () => SECRET, clock: clock.now, ...overrides });

type Method = 'v2' | 'raw' | 'simple';
const HEADER: Record<Method, string> = { v2: 'x-signature-v2', raw: 'x-signature', simple: 'x-signature-simple' };

/** Signed as Didit signs: with the given methods only (all three by default) and the given secret. */
function signed(
  body: Record<string, unknown>,
  { methods = ['v2', 'raw', 'simple'] as Method[], secret = SECRET } = {},
): [string, Record<string, string>] {
  const raw = JSON.stringify(body);
  const hmac = (message: string) => createHmac('sha256', secret).update(message).digest('hex');
  const messages: Record<Method, string> = {
    v2: canonicalJson(JSON.parse(raw)),
    raw,
    simple: `${body.timestamp}:${body.session_id}:${body.status}:${body.webhook_type}`,
  };
  return [raw, Object.fromEntries(methods.map((m) => [HEADER[m], hmac(messages[m])]))];
}

const nowSeconds = () => Math.floor(clock.now().getTime() / 1000);

const WARNINGS: ReadonlyArray<Record<string, unknown>> = [
  {
    risk: 'LIVENESS_FACE_ATTACK',
    log_type: 'error',
    short_description: 'Possible presentation attack',
    long_description: 'A photo of a screen.',
    feature: 'LIVENESS',
    additional_data: { frames: [1, 2, 3] },
    extra: 'dropped',
  },
  { risk: 'LOW_FACE_QUALITY', log_type: 'information', feature: 'LIVENESS' },
];

/** A status.updated body in webhook version v3: the liveness result in `decision.liveness_checks[]`. */
function v3Body(
  status: string,
  score: number | null,
  extra: Record<string, unknown> = {},
  warnings: readonly unknown[] = WARNINGS,
): Record<string, unknown> {
  return {
    webhook_type: 'status.updated',
    session_id: 'didit-session-1',
    status,
    timestamp: nowSeconds(),
    event_id: randomUUID(),
    decision: {
      session_id: 'didit-session-1',
      status,
      liveness_checks: [
        {
          node_id: 'feature_liveness',
          status,
          method: 'PASSIVE',
          score,
          warnings,
        },
      ],
    },
    ...extra,
  };
}

async function completedCheck(): Promise<string> {
  const id = randomUUID();
  await store.create(storedCheck(id, 'COMPLETED'));
  return id;
}

describe('a status.updated for a completed check', () => {
  it('in webhook version v3: takes status, score and warnings (log_type and feature kept, additional_data not)', async () => {
    const id = await completedCheck();
    expect(await receiver().receive(...signed(v3Body('Declined', 12.5)))).toBe('UPDATED');
    const check = await store.get(id);
    expect(check?.result?.decision).toBe('Declined');
    expect(check?.result?.liveness).toMatchObject({ status: 'Declined', score: 12.5, method: 'PASSIVE' });
    expect(check?.result?.liveness.warnings).toEqual([
      {
        risk: 'LIVENESS_FACE_ATTACK',
        log_type: 'error',
        short_description: 'Possible presentation attack',
        long_description: 'A photo of a screen.',
        feature: 'LIVENESS',
      },
      { risk: 'LOW_FACE_QUALITY', log_type: 'information', feature: 'LIVENESS' },
    ]);
    expect(check?.history?.[0]?.result.decision).toBe('Approved');
    expect(check?.didit_updated_at).toBe(nowSeconds());
    expect(events.types(id)).toEqual(['Liveness Check Updated']);
    expect(events.published[0]?.detail).toMatchObject({
      decision: 'Declined',
      score: 12.5,
      warnings: [
        { risk: 'LIVENESS_FACE_ATTACK', log_type: 'error' },
        { risk: 'LOW_FACE_QUALITY', log_type: 'information' },
      ],
      schema_version: 2,
    });
    expect(check?.event_pending).toBeUndefined();
  });

  it.each([
    ['decision.liveness', (r: object) => ({ liveness: r })],
    ['decision.passive_liveness', (r: object) => ({ passive_liveness: r })],
  ])('in older webhook versions: reads %s the same way', async (_shape, decision) => {
    const id = await completedCheck();
    const result = { status: 'Declined', score: 7, warnings: ['LIVENESS_FACE_ATTACK'] };
    const body = { ...v3Body('Declined', 7), decision: decision(result) };
    expect(await receiver().receive(...signed(body))).toBe('UPDATED');
    expect((await store.get(id))?.result?.liveness).toMatchObject({
      score: 7,
      warnings: [{ risk: 'LIVENESS_FACE_ATTACK' }],
    });
  });

  it('caps what it stores from the webhook: at most 20 warnings, long texts cut', async () => {
    const id = await completedCheck();
    const warnings = Array.from({ length: 30 }, (_, i) => ({ risk: `R${i}`, long_description: 'x'.repeat(10_000) }));
    await receiver().receive(...signed(v3Body('Declined', 3, {}, warnings)));
    const stored = (await store.get(id))?.result?.liveness.warnings ?? [];
    expect(stored).toHaveLength(20);
    expect(stored[0]?.long_description).toHaveLength(1000);
  });

  it('verified by Simple only: takes the status, keeps the score and warnings (the decision is unsigned)', async () => {
    const id = await completedCheck();
    const body = v3Body('Declined', 1);
    expect(await receiver().receive(...signed(body, { methods: ['simple'] }))).toBe('UPDATED');
    expect((await store.get(id))?.result?.liveness).toMatchObject({ status: 'Declined', score: 91.5, warnings: [] });
  });
});

describe('only real, newer changes are applied', () => {
  it('an event that changes neither status, score nor warnings: only its timestamp noted; no history, no event', async () => {
    const id = await completedCheck();
    const same = { ...v3Body('Approved', 91.5), decision: { liveness_checks: [{ score: 91.5, warnings: [] }] } };
    const before = await store.get(id);
    expect(await receiver().receive(...signed(same))).toBe('UNCHANGED');
    expect(store.writes).toEqual(['create', 'noteDiditUpdate']);
    expect(await store.get(id)).toEqual({
      ...before,
      didit_seen_at: (same as Record<string, unknown>).timestamp as number,
    });
    expect(events.published).toEqual([]);
  });

  it('a late retry of a change Didit has since undone is STALE: the undoing event, though it changed nothing, wins', async () => {
    const id = await completedCheck(); // Approved 91.5
    // Didit declines (its delivery to us fails: Didit will retry it), then approves again 10 s later.
    const declined = v3Body('Declined', 12.5);
    clock.advance(10);
    const approvedAgain = {
      ...v3Body('Approved', 91.5),
      decision: { liveness_checks: [{ score: 91.5, warnings: [] }] },
    };
    expect(await receiver().receive(...signed(approvedAgain))).toBe('UNCHANGED');
    // Didit's retry of the decline arrives last.
    expect(await receiver().receive(...signed(declined))).toBe('STALE');
    expect((await store.get(id))?.result?.decision).toBe('Approved');
    expect(events.published).toEqual([]);
    // An unchanged event sent at the same second as a real change does not hide it.
    const sameSecond = {
      ...v3Body('Declined', 12.5),
      timestamp: (approvedAgain as Record<string, unknown>).timestamp as number,
    };
    expect(await receiver().receive(...signed(sameSecond))).toBe('UPDATED');
    expect(events.types(id)).toEqual(['Liveness Check Updated']);
  });

  it('warnings in another order, reworded, or naming their feature are no change either', async () => {
    const id = await completedCheck();
    await receiver().receive(...signed(v3Body('Declined', 12.5)));
    clock.advance(10);
    const reworded = [...WARNINGS].reverse().map(({ feature: _feature, ...w }) => ({ ...w, short_description: 'x' }));
    const reordered = v3Body('Declined', 12.5, {}, reworded);
    expect(await receiver().receive(...signed(reordered))).toBe('UNCHANGED');
    expect(events.types(id)).toHaveLength(1);
  });

  it('a warning whose log_type changed is a change: an information became an error', async () => {
    const id = await completedCheck();
    await receiver().receive(...signed(v3Body('Declined', 12.5)));
    clock.advance(10);
    const escalated = WARNINGS.map((w) => (w.risk === 'LOW_FACE_QUALITY' ? { ...w, log_type: 'error' } : w));
    expect(await receiver().receive(...signed(v3Body('Declined', 12.5, {}, escalated)))).toBe('UPDATED');
    expect(events.published.at(-1)?.detail).toMatchObject({
      warnings: [
        { risk: 'LIVENESS_FACE_ATTACK', log_type: 'error' },
        { risk: 'LOW_FACE_QUALITY', log_type: 'error' },
      ],
    });
    expect(events.types(id)).toHaveLength(2);
  });

  it('a score change alone is a change (one Updated event, even with the same decision)', async () => {
    const id = await completedCheck();
    const body = { ...v3Body('Approved', 64), decision: { liveness_checks: [{ score: 64, warnings: [] }] } };
    expect(await receiver().receive(...signed(body))).toBe('UPDATED');
    expect((await store.get(id))?.result).toMatchObject({ decision: 'Approved', liveness: { score: 64 } });
    expect(events.types(id)).toEqual(['Liveness Check Updated']);
  });

  it('an event Didit sent before the last one applied is acknowledged and ignored (STALE)', async () => {
    const id = await completedCheck();
    const late = v3Body('Approved', 95, { timestamp: nowSeconds() - 20 });
    const newer = v3Body('Declined', 12.5, { timestamp: nowSeconds() - 10 });
    expect(await receiver().receive(...signed(newer))).toBe('UPDATED');
    expect(await receiver().receive(...signed(late))).toBe('STALE');
    expect(await receiver().receive(...signed(v3Body('Approved', 95, { timestamp: nowSeconds() - 10 })))).toBe('STALE');
    expect((await store.get(id))?.result?.decision).toBe('Declined');
    expect(store.writes.filter((w) => w === 'applyDiditUpdate')).toHaveLength(1);
    expect(events.types(id)).toEqual(['Liveness Check Updated']);
  });

  it('the same event delivered again (same event id) changes nothing', async () => {
    const id = await completedCheck();
    const delivery = signed(v3Body('Declined', 12.5, { event_id: 'evt-1' }));
    await receiver().receive(...delivery);
    expect(await receiver().receive(...delivery)).toBe('DUPLICATE');
    expect((await store.get(id))?.history).toHaveLength(1);
    expect(events.types(id)).toHaveLength(1);
  });

  it.each([
    ['with an event_id', {}],
    ['without an event_id', { event_id: undefined }],
  ])('one event verified once by V2 and once by Simple is applied once (%s)', async (_case, extra) => {
    const id = await completedCheck();
    const body = v3Body('Declined', 12.5, extra);
    expect(await receiver().receive(...signed(body, { methods: ['v2'] }))).toBe('UPDATED');
    expect(await receiver().receive(...signed(body, { methods: ['simple'] }))).toBe('DUPLICATE');
    expect(await receiver().receive(...signed(body, { methods: ['raw'] }))).toBe('DUPLICATE');
    expect(store.writes.filter((w) => w === 'applyDiditUpdate')).toHaveLength(1);
    expect(events.types(id)).toEqual(['Liveness Check Updated']);
  });
});

describe('what could pass on a retry is thrown (the handler answers 5xx, Didit resends)', () => {
  it('racing another update: a retryable conflict, and nothing is written', async () => {
    const id = await completedCheck();
    const racing: MemoryCheckStore = Object.assign(Object.create(store), {
      get: async (checkId: string) => {
        const seen = await store.get(checkId);
        const current = store.items.get(checkId);
        if (current) store.items.set(checkId, { ...current, updated_at: '2026-11-26T12:00:01.000Z' });
        return seen;
      },
    });
    await expect(receiver({ store: racing }).receive(...signed(v3Body('Declined', 12.5)))).rejects.toBeInstanceOf(
      DiditUpdateConflictError,
    );
    expect((await store.get(id))?.history).toBeUndefined();
    expect(events.published).toEqual([]);
  });

  it('racing a later Didit update that won: the store refuses the older one, acknowledged as STALE', async () => {
    const id = await completedCheck();
    const late = v3Body('Approved', 97, { timestamp: nowSeconds() - 20 });
    const winner = { didit_updated_at: nowSeconds() - 10, updated_at: '2026-11-26T12:00:01.000Z' };
    const racing: MemoryCheckStore = Object.assign(Object.create(store), {
      get: async (checkId: string) => {
        const seen = await store.get(checkId);
        const current = store.items.get(checkId);
        if (current) store.items.set(checkId, { ...current, ...winner });
        return seen;
      },
    });
    expect(await receiver({ store: racing }).receive(...signed(late))).toBe('STALE');
    expect(store.writes).toEqual(['create']);
    expect((await store.get(id))?.result?.decision).toBe('Approved');
    expect(events.published).toEqual([]);
  });

  it('a throttled table: thrown as is, nothing written; the retry applies it', async () => {
    const id = await completedCheck();
    const delivery = signed(v3Body('Declined', 12.5));
    store.failNext('applyDiditUpdate', new DependencyThrottledError('DynamoDB throttled'));
    await expect(receiver().receive(...delivery)).rejects.toBeInstanceOf(DependencyThrottledError);
    expect((await store.get(id))?.result?.decision).toBe('Approved');
    expect(await receiver().receive(...delivery)).toBe('UPDATED');
    expect(events.types(id)).toEqual(['Liveness Check Updated']);
  });

  it('the bus down after the write: thrown; the retry publishes the pending event, exactly one in all', async () => {
    const id = await completedCheck();
    const delivery = signed(v3Body('Declined', 12.5));
    events.failures = 1;
    await expect(receiver().receive(...delivery)).rejects.toThrow('EventBridge unreachable');
    expect(await store.get(id)).toMatchObject({ event_pending: true, pending_event_type: 'Liveness Check Updated' });
    expect(await receiver().receive(...delivery)).toBe('DUPLICATE');
    expect(events.types(id)).toEqual(['Liveness Check Updated']);
    expect((await store.get(id))?.event_pending).toBeUndefined();
  });
});

describe('secret rotation', () => {
  it('accepts a webhook signed with the previous secret while both are stored', async () => {
    const id = await completedCheck();
    const both = receiver({ secret: async () => `${SECRET}\n${PREVIOUS}` });
    expect(await both.receive(...signed(v3Body('Declined', 12.5), { secret: PREVIOUS }))).toBe('UPDATED');
    expect((await store.get(id))?.result?.decision).toBe('Declined');
  });

  it('reads the secret afresh once before refusing: a value put after this container cached it is used', async () => {
    const id = await completedCheck();
    const reads: Array<boolean | undefined> = [];
    const rotated = receiver({
      // The cache still holds the old value; the store already has the new one.
      secret: async (options) => {
        reads.push(options?.fresh);
        return options?.fresh ? `${SECRET} ${PREVIOUS}` : PREVIOUS;
      },
    });
    expect(await rotated.receive(...signed(v3Body('Declined', 12.5)))).toBe('UPDATED');
    expect(reads).toEqual([undefined, true]);
    expect((await store.get(id))?.result?.decision).toBe('Declined');
  });

  it('a bad signature is refused (401) before anything is read, even after the fresh read', async () => {
    const id = await completedCheck();
    const [raw] = signed(v3Body('Declined', 1));
    await expect(receiver().receive(raw, { 'x-signature': '0'.repeat(64) })).rejects.toBeInstanceOf(
      DiditWebhookSignatureError,
    );
    expect((await store.get(id))?.result?.decision).toBe('Approved');
  });
});

describe('what is acknowledged and left alone', () => {
  it('a session that is not one of our checks', async () => {
    expect(await receiver().receive(...signed(v3Body('Declined', 1)))).toBe('UNKNOWN_SESSION');
  });

  it('another webhook type', async () => {
    await completedCheck();
    const [raw, headers] = signed({
      webhook_type: 'data.updated',
      session_id: 'didit-session-1',
      status: 'Approved',
      timestamp: nowSeconds(),
    });
    expect(await receiver().receive(raw, headers)).toBe('IGNORED_TYPE');
  });
});

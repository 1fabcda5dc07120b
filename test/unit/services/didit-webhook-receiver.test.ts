import { createHmac, randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { DiditWebhookSignatureError } from '../../../lambdas/core/didit-webhook';
import { DiditUpdateConflictError, DiditWebhookReceiver } from '../../../lambdas/services/didit-webhook-receiver';
import { MemoryCheckStore } from '../../fakes/memory-check-store';
import { ManualClock, RecordingEvents } from '../../fakes/recorders';
import { storedCheck } from '../../helpers/transition-cases';

// Didit's status.updated webhooks over in-memory fakes; the real route runs in test/integration/webhooks.test.ts.
const SECRET = 'didit-webhook-secret';
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

function signed(body: Record<string, unknown>): [string, Record<string, string>] {
  const raw = JSON.stringify(body);
  return [raw, { 'x-signature': createHmac('sha256', SECRET).update(raw).digest('hex') }];
}

function update(status: string, score: number, eventId: string = randomUUID()) {
  return signed({
    webhook_type: 'status.updated',
    session_id: 'didit-session-1',
    status,
    timestamp: Math.floor(clock.now().getTime() / 1000),
    event_id: eventId,
    decision: { liveness: { status, score, warnings: [{ risk: 'LOW_LIVENESS_SCORE', extra: 'dropped' }] } },
  });
}

async function completedCheck(): Promise<string> {
  const id = randomUUID();
  await store.create(storedCheck(id, 'COMPLETED'));
  return id;
}

describe('a status.updated for a completed check', () => {
  it('replaces the result, keeps the old one in history and announces the change once', async () => {
    const id = await completedCheck();
    expect(await receiver().receive(...update('Declined', 12.5))).toBe('UPDATED');
    const check = await store.get(id);
    expect(check?.result).toMatchObject({
      decision: 'Declined',
      liveness: { status: 'Declined', score: 12.5, warnings: [{ risk: 'LOW_LIVENESS_SCORE' }] },
    });
    expect(check?.result?.liveness.warnings[0]).not.toHaveProperty('extra');
    expect(check?.history?.[0]?.result.decision).toBe('Approved');
    expect(events.types(id)).toEqual(['Liveness Check Updated']);
    expect(check?.event_pending).toBeUndefined();
  });

  it('delivered again (same event id) changes nothing', async () => {
    const id = await completedCheck();
    const delivery = update('Declined', 12.5, 'evt-1');
    await receiver().receive(...delivery);
    expect(await receiver().receive(...delivery)).toBe('DUPLICATE');
    expect((await store.get(id))?.history).toHaveLength(1);
    expect(events.types(id)).toHaveLength(1);
  });

  it('racing another update is refused with a retryable conflict, and nothing is written', async () => {
    const id = await completedCheck();
    const racing: MemoryCheckStore = Object.assign(Object.create(store), {
      get: async (checkId: string) => {
        const seen = await store.get(checkId);
        const current = store.items.get(checkId);
        if (current) store.items.set(checkId, { ...current, updated_at: '2026-11-26T12:00:01.000Z' });
        return seen;
      },
    });
    await expect(receiver({ store: racing }).receive(...update('Declined', 12.5))).rejects.toBeInstanceOf(
      DiditUpdateConflictError,
    );
    expect((await store.get(id))?.history).toBeUndefined();
    expect(events.published).toEqual([]);
  });
});

describe('what is acknowledged and left alone', () => {
  it('a session that is not one of our checks', async () => {
    expect(await receiver().receive(...update('Declined', 1))).toBe('UNKNOWN_SESSION');
  });

  it('another webhook type', async () => {
    await completedCheck();
    const [raw, headers] = signed({
      webhook_type: 'data.updated',
      session_id: 'didit-session-1',
      status: 'Approved',
      timestamp: Math.floor(clock.now().getTime() / 1000),
    });
    expect(await receiver().receive(raw, headers)).toBe('IGNORED_TYPE');
  });

  it('a bad signature is refused before anything is read', async () => {
    const id = await completedCheck();
    const [raw] = update('Declined', 1);
    await expect(receiver().receive(raw, { 'x-signature': '0'.repeat(64) })).rejects.toBeInstanceOf(
      DiditWebhookSignatureError,
    );
    expect((await store.get(id))?.result?.decision).toBe('Approved');
  });
});

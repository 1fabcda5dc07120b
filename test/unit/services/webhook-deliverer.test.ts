import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { CheckRecord } from '../../../lambdas/core/check';
import { checkEventDetail } from '../../../lambdas/core/check-events';
import type { WebhookSenderPort } from '../../../lambdas/core/ports';
import { generateWebhookSecret, verifyWebhook } from '../../../lambdas/core/standard-webhooks';
import { type BusEvent, WebhookDeliverer } from '../../../lambdas/services/webhook-deliverer';
import { MemoryCheckStore } from '../../fakes/memory-check-store';
import { ManualClock, RecordingEvents, RecordingMetrics } from '../../fakes/recorders';
import { RESULT, storedCheck } from '../../helpers/transition-cases';

// The webhook echo's deliverer over in-memory fakes; the real sender and the state machine run in the integration
// tests (webhook-sender.test.ts, webhooks.test.ts).
const secret = generateWebhookSecret();
let store: MemoryCheckStore;
let events: RecordingEvents;
let metrics: RecordingMetrics;
let clock: ManualClock;
let answers: Array<number | Error>;
let sent: Array<{ url: string; body: string; headers: Record<string, string> }>;

class TransportError extends Error {}

const sender: WebhookSenderPort = {
  async deliver(url, body, headers) {
    sent.push({ url, body, headers });
    const next = answers.shift() ?? 200;
    if (next instanceof Error) throw next;
    return { statusCode: next, latencyMs: 5 };
  },
};

beforeEach(() => {
  store = new MemoryCheckStore();
  events = new RecordingEvents();
  metrics = new RecordingMetrics();
  clock = new ManualClock(new Date('2026-11-26T12:00:00.000Z'));
  answers = [];
  sent = [];
});

const deliverer = (maxAttempts = 5, secretsFor?: (check: CheckRecord) => Promise<string[]>) =>
  new WebhookDeliverer(
    {
      store,
      sender,
      signingSecrets: async () => [secret],
      ...(secretsFor ? { signingSecretsFor: secretsFor } : {}),
      transportErrorCode: (error) => (error instanceof TransportError ? 'CONNECTION_RESET' : undefined),
      isRefusedCallback: () => false,
      classify: (status) => (status < 300 ? 'delivered' : status >= 500 ? 'retry' : 'give_up'),
      events,
      clock: clock.now,
      metrics,
    },
    { horizonSeconds: 3600, maxAttempts },
  );

async function eventFor(extra: Partial<CheckRecord> = { callback_url: 'https://receiver.example/hook' }) {
  const id = randomUUID();
  await store.create(storedCheck(id, 'COMPLETED', extra));
  const event: BusEvent = {
    id: randomUUID(),
    'detail-type': 'Liveness Check Completed',
    time: clock.now().toISOString(),
    detail: { id },
  };
  return event;
}

describe('a delivery', () => {
  it('is skipped when the check has no callback_url', async () => {
    const event = await eventFor({});
    expect((await deliverer().prepare(event)).outcome).toBe('skip');
  });

  it('sends the event signed per Standard Webhooks and records the attempt on the check', async () => {
    const event = await eventFor();
    const state = await deliverer().attempt(await deliverer().prepare(event));
    expect(state).toMatchObject({ attempt: 1, outcome: 'delivered' });
    const [request] = sent;
    expect(request?.url).toBe('https://receiver.example/hook');
    expect(verifyWebhook(request?.body ?? '', request?.headers ?? {}, [secret], { now: clock.now() })).toMatchObject({
      type: 'Liveness Check Completed',
      data: { id: event.detail.id },
    });
    expect((await store.get(event.detail.id))?.deliveries).toMatchObject([
      { webhook_id: `msg_${event.id}`, attempt: 1, status_code: 200, outcome: 'delivered' },
    ]);
    expect(metrics.names()).toEqual(['WebhookAttempts:delivered']);
  });

  it('a duplicate of a delivered event is skipped', async () => {
    const event = await eventFor();
    await deliverer().attempt(await deliverer().prepare(event));
    expect((await deliverer().prepare(event)).outcome).toBe('skip');
  });

  it('retries with the same id and bytes, then reports exhaustion once', async () => {
    const event = await eventFor();
    answers = [503, new TransportError('reset')];
    let state = await deliverer(2).prepare(event);
    state = await deliverer(2).attempt(state);
    expect(state.outcome).toBe('retry');
    state = await deliverer(2).attempt(state);
    expect(state.outcome).toBe('exhausted');
    expect(new Set(sent.map((s) => s.body)).size).toBe(1);
    expect(new Set(sent.map((s) => s.headers['webhook-id'])).size).toBe(1);
    await deliverer(2).report(state);
    expect(events.published).toMatchObject([
      {
        detailType: 'Liveness Webhook Delivery Failed',
        detail: { id: event.detail.id, attempts: 2, reason: 'RETRIES_EXHAUSTED', last_error: 'CONNECTION_RESET' },
      },
    ]);
  });

  it('a receiver that refuses (4xx) ends the delivery at once', async () => {
    const event = await eventFor();
    answers = [410];
    const state = await deliverer().attempt(await deliverer().prepare(event));
    expect(state.outcome).toBe('give_up');
    await deliverer().report(state);
    expect(events.published[0]?.detail).toMatchObject({ reason: 'REFUSED_BY_RECEIVER', last_status_code: 410 });
  });
});

describe('the body tells the stored truth', () => {
  async function declinedCheck() {
    const id = randomUUID();
    const declined = {
      ...RESULT,
      decision: 'Declined' as const,
      liveness: { ...RESULT.liveness, status: 'Declined', score: 5 },
    };
    await store.create(
      storedCheck(id, 'COMPLETED', { callback_url: 'https://receiver.example/hook', result: declined }),
    );
    return id;
  }

  it('a forged event claiming Approved for a Declined check sends what the table holds: Declined', async () => {
    const id = await declinedCheck();
    // What a forger with events:PutEvents would put: a whole detail saying Approved with a high score.
    const forged = {
      id: randomUUID(),
      'detail-type': 'Liveness Check Completed',
      time: clock.now().toISOString(),
      detail: { id, status: 'COMPLETED', decision: 'Approved', score: 99, vendor_data: 'forged' },
    } as BusEvent;
    const prepared = await deliverer().prepare(forged);
    // The workflow state carries ids only from here on.
    expect(prepared.event).toEqual({
      id: forged.id,
      'detail-type': forged['detail-type'],
      time: forged.time,
      detail: { id },
    });
    await deliverer().attempt(prepared);
    const payload = verifyWebhook(sent[0]?.body ?? '', sent[0]?.headers ?? {}, [secret], { now: clock.now() });
    const stored = await store.get(id);
    expect(payload).toMatchObject({ type: 'Liveness Check Completed', data: { decision: 'Declined', score: 5 } });
    expect((payload as { data: unknown }).data).toEqual(checkEventDetail(stored as CheckRecord));
    expect(JSON.stringify(payload)).not.toContain('forged');
  });

  it.each([
    ['Liveness Check Failed', 'COMPLETED'],
    ['Liveness Check Expired', 'COMPLETED'],
    ['Liveness Check Updated', 'COMPLETED'],
    ['Liveness Check Completed', 'PROCESSING'],
    ['Liveness Check Completed', 'FAILED'],
    ['Something Else', 'COMPLETED'],
  ] as const)('an event "%s" for a %s check is not borne out: no webhook at all', async (type, status) => {
    const id = randomUUID();
    await store.create(storedCheck(id, status, { callback_url: 'https://receiver.example/hook' }));
    const event: BusEvent = { id: randomUUID(), 'detail-type': type, time: clock.now().toISOString(), detail: { id } };
    expect((await deliverer().prepare(event)).outcome).toBe('skip');
    // Even if a stale state reached the attempt step, nothing is sent.
    expect((await deliverer().attempt({ event, attempt: 0 })).outcome).toBe('give_up');
    expect(sent).toEqual([]);
  });

  it("signs with the secret of the check's owner, so another client's secret does not verify it", async () => {
    const appA = generateWebhookSecret();
    const appB = generateWebhookSecret();
    const secrets: Record<string, string> = { 'apikey:app-a': appA, 'apikey:app-b': appB };
    const event = await eventFor({ callback_url: 'https://receiver.example/hook', owner: 'apikey:app-a' });
    const d = deliverer(5, async (check) => [secrets[check.owner ?? ''] as string]);
    await d.attempt(await d.prepare(event));
    const [request] = sent;
    const options = { now: clock.now() };
    expect(verifyWebhook(request?.body ?? '', request?.headers ?? {}, [appA], options)).toMatchObject({
      data: { id: event.detail.id },
    });
    expect(() => verifyWebhook(request?.body ?? '', request?.headers ?? {}, [appB], options)).toThrow();
    expect(() => verifyWebhook(request?.body ?? '', request?.headers ?? {}, [secret], options)).toThrow();
  });
});

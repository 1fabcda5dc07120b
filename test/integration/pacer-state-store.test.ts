import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { PacerStateStore } from '../../lambdas/adapters/pacer-state-store';
import { INITIAL_PACER_STATE } from '../../lambdas/core/pacing/pacer';
import { DiditPacer } from '../../lambdas/services/didit-pacer';
import { emulatorClientConfig } from '../../local/aws-env';
import { provisionLocalResources } from '../../local/provision';

// The shared Didit budget's item on moto: tickets from an atomic ADD, every other change conditional, and a burst of
// concurrent callers served with no contention.
let dynamo: DynamoDBClient;
let tableName: string;
const T0 = 1_800_000_000_000;
const store = () => new PacerStateStore(dynamo, tableName, `pacer#${randomUUID()}`);

beforeAll(async () => {
  const endpoint = inject('motoEndpoint');
  const resources = await provisionLocalResources(endpoint, {
    prefix: `pacer-${randomUUID().slice(0, 8)}`,
    diditApiKey: 'unused',
  });
  dynamo = new DynamoDBClient({ ...emulatorClientConfig(endpoint), maxAttempts: 1 });
  tableName = resources.tableName;
});

describe('the pacer item', () => {
  it('reads as the initial state before anyone used it', async () => {
    expect(await store().read()).toEqual(INITIAL_PACER_STATE);
  });

  it('hands 40 concurrent callers 40 distinct tickets, none refused', async () => {
    const item = store();
    const taken = await Promise.all(Array.from({ length: 40 }, () => item.takeTicket()));
    expect(taken.map((t) => t.ticket).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(await item.read()).toEqual({ ticket: 40, circuit: 'closed' });
  });

  it('makes a change only while its expectation holds, and hands back the item when it does not', async () => {
    const item = store();
    // Expecting an absent anchor (and the closed circuit an unwritten item holds) succeeds on a fresh item.
    expect(await item.change({ expect: { anchor_ms: undefined, circuit: 'closed' }, set: { anchor_ms: T0 } })).toEqual({
      ok: true,
      state: { ticket: 0, circuit: 'closed', anchor_ms: T0 },
    });
    // The same expectation again is refused, with what is stored.
    expect(await item.change({ expect: { anchor_ms: undefined }, set: { anchor_ms: T0 + 1 } })).toEqual({
      ok: false,
      current: { ticket: 0, circuit: 'closed', anchor_ms: T0 },
    });
    await item.change({
      expect: { circuit: 'closed' },
      set: { circuit: 'open', circuit_opened_at_ms: T0, probe_at_ms: T0 + 60_000 },
    });
    const closed = await item.change({
      expect: { circuit: 'open' },
      set: { circuit: 'closed' },
      remove: ['circuit_opened_at_ms', 'probe_at_ms'],
    });
    expect(closed).toEqual({ ok: true, state: { ticket: 0, circuit: 'closed', anchor_ms: T0 } });
  });

  it('paces 30 concurrent callers over DynamoDB: a burst, then one slot per interval, each slot once', async () => {
    const pacer = new DiditPacer(store(), { requestsPerMinute: 120, probeIntervalMs: 60_000 });
    const permits = await Promise.all(Array.from({ length: 30 }, () => pacer.acquire(new Date(T0))));
    const slots = permits.map((p) => (p.kind === 'wait' ? p.untilMs : T0)).sort((a, b) => a - b);
    expect(slots.filter((s) => s === T0)).toHaveLength(2);
    expect(new Set(slots).size).toBe(29);
    expect(slots.at(-1)).toBe(T0 + 28 * 500);
  });

  it('lets one probe through when many ask at once while the circuit is open', async () => {
    const pacer = new DiditPacer(store(), { requestsPerMinute: 120, probeIntervalMs: 60_000 });
    await pacer.report(new Date(T0), { kind: 'out_of_credits' });
    const permits = await Promise.all(Array.from({ length: 20 }, () => pacer.acquire(new Date(T0 + 60_000))));
    expect(permits.filter((p) => p.kind === 'go')).toHaveLength(1);
  });
});

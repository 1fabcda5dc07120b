import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../lambdas/core/didit-webhook';
import { generateWebhookSecret, verifyWebhook, WebhookVerificationError } from '../../lambdas/core/standard-webhooks';
import type { BusEvent, LocalStack } from '../../local/local-stack';
import { ApiClient } from '../helpers/api-client';
import { eventually, waitForStackIdle } from '../helpers/eventually';
import { startTestStack } from '../helpers/test-stack';

// The webhook echo in both directions on the local stack: the delivery state machine `cdk synth` renders (time
// compressed) POSTs signed events to a loopback receiver that misbehaves on demand; Didit's status.updated webhooks
// come in signed the way Didit documents.
interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly status: number;
}

let stack: LocalStack;
let api: ApiClient;
let selfie: Buffer;
let receiver: Server;
let receiverUrl: string;
/** Status codes the receiver answers with, in order; then 200. 0 = never answer. */
let script: number[] = [];
let received: Received[] = [];
const events: BusEvent[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = script.length > 0 ? (script.shift() as number) : 200;
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      if (status === 0) return; // hold the request: the sender's timeout fires
      res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const address = receiver.address();
  receiverUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hooks/liveness`;

  stack = await startTestStack('hooks', {
    timeScale: 0.0005,
    handlerEnv: { WEBHOOK_MAX_ATTEMPTS: '4', WEBHOOK_RESPONSE_TIMEOUT_MS: '300' },
    onEvent: (event) => events.push(event),
  });
  api = new ApiClient(stack.apiUrl, stack.apiKey);
  selfie = await sharp(readFileSync(new URL('../fixtures/astronaut.png', import.meta.url)))
    .jpeg()
    .toBuffer();
});

afterAll(async () => {
  await stack?.stop();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
});

beforeEach(() => {
  script = [];
  received = [];
});

async function completedCheck(body: Record<string, unknown> = {}) {
  const created = await api.createCheck({ callback_url: receiverUrl, ...body });
  await ApiClient.upload(created.upload, selfie, 'image/jpeg');
  return api.waitForTerminal(created.id);
}

async function deliveriesSettled(id: string, count: number) {
  return eventually(`${count} recorded deliveries for check ${id}`, async () => {
    const check = (await api.getCheck(id)).body;
    return (check.deliveries?.length ?? 0) >= count ? check : undefined;
  });
}

const eventFor = (detailType: string, checkId: string) =>
  eventually(`"${detailType}" for check ${checkId} on the bus`, () =>
    events.find((e) => e['detail-type'] === detailType && e.detail.id === checkId),
  );

describe('webhook echo out', () => {
  it('delivers the event payload signed per Standard Webhooks, retrying a receiver that is down for a while', async () => {
    script = [503, 0, 500];
    const check = await completedCheck({ vendor_data: 'user-42' });
    const settled = await deliveriesSettled(check.id, 4);
    // The delivery that succeeded has ended its execution, and no other one is queued or running: no fifth POST.
    await waitForStackIdle(stack);

    expect(settled.deliveries.map((d: { status_code: number | null }) => d.status_code)).toEqual([503, null, 500, 200]);
    expect(settled.deliveries.map((d: { outcome: string }) => d.outcome)).toEqual([
      'retry',
      'retry',
      'retry',
      'delivered',
    ]);
    expect(settled.deliveries[1].error).toBe('TIMEOUT');
    for (const d of settled.deliveries) expect(d.latency_ms).toBeGreaterThanOrEqual(0);

    expect(received).toHaveLength(4);
    const ids = new Set(received.map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1);
    const bodies = new Set(received.map((r) => r.body));
    expect(bodies.size).toBe(1);
    const last = received.at(-1) as Received;
    const payload = verifyWebhook(last.body, last.headers as Record<string, string>, [stack.webhookSigningSecret]) as {
      type: string;
      data: Record<string, unknown>;
    };
    expect(payload.type).toBe('Liveness Check Completed');
    const event = await eventFor('Liveness Check Completed', check.id);
    expect(payload.data).toEqual(event?.detail);
    expect(payload.data).toMatchObject({ id: check.id, vendor_data: 'user-42', has_callback: true });
    // A receiver holding a wrong secret cannot be fooled.
    expect(() => verifyWebhook(last.body, last.headers as Record<string, string>, [generateWebhookSecret()])).toThrow(
      WebhookVerificationError,
    );
  });

  it('stops at a 4xx that is not 408/429 and reports "Liveness Webhook Delivery Failed"', async () => {
    script = [404];
    const check = await completedCheck();
    await deliveriesSettled(check.id, 1);
    const failure = await eventFor('Liveness Webhook Delivery Failed', check.id);
    expect(failure.detail).toMatchObject({ reason: 'REFUSED_BY_RECEIVER', attempts: 1, last_status_code: 404 });
    // The failure is reported when the delivery gives up; idle: no other delivery is queued or running either.
    await waitForStackIdle(stack);
    expect(received).toHaveLength(1);
  });

  it('gives up after the configured attempts and reports it', async () => {
    script = [500, 500, 500, 500, 500, 500];
    const check = await completedCheck();
    await deliveriesSettled(check.id, 4);
    const failure = await eventFor('Liveness Webhook Delivery Failed', check.id);
    expect(failure.detail).toMatchObject({ reason: 'RETRIES_EXHAUSTED', attempts: 4, last_status_code: 500 });
    await waitForStackIdle(stack);
    expect(received).toHaveLength(4);
  });

  it('sends nothing for checks without a callback_url', async () => {
    const created = await api.createCheck({});
    await ApiClient.upload(created.upload, selfie, 'image/jpeg');
    await api.waitForTerminal(created.id);
    await eventFor('Liveness Check Completed', created.id);
    // The rule would have queued a delivery in the same PutEvents that fed the tail; idle: it would have been POSTed.
    await waitForStackIdle(stack);
    expect(received).toHaveLength(0);
  });
});

/** Signs a Didit webhook the way Didit documents it: V2 over the canonical JSON, raw over the bytes, Simple. */
function diditHeaders(body: Record<string, unknown>, raw: string, secret: string) {
  const hmac = (data: string) => createHmac('sha256', secret).update(data, 'utf8').digest('hex');
  return {
    'content-type': 'application/json',
    'x-signature': hmac(raw),
    'x-signature-v2': hmac(canonicalJson(body)),
    'x-signature-simple': hmac(`${body.timestamp}:${body.session_id}:${body.status}:${body.webhook_type}`),
  };
}

async function postDidit(
  body: Record<string, unknown>,
  secret = stack.diditWebhookSecret,
  mutate?: (raw: string) => string,
) {
  const raw = JSON.stringify(body);
  const headers = diditHeaders(body, raw, secret);
  const res = await fetch(`${stack.apiUrl}/v1/webhooks/didit`, {
    method: 'POST',
    headers,
    body: mutate ? mutate(raw) : raw,
  });
  return { status: res.status, body: (await res.json()) as { received?: boolean; outcome?: string } };
}

describe("Didit's status.updated webhooks coming in", () => {
  it('updates the decision, keeps the history, publishes "Liveness Check Updated" and echoes it out', async () => {
    const check = await completedCheck();
    await deliveriesSettled(check.id, 1);
    received = [];
    const sessionId = check.result.request_id as string;
    const body = {
      event_id: randomUUID(),
      session_id: sessionId,
      status: 'Declined',
      webhook_type: 'status.updated',
      timestamp: Math.floor(Date.now() / 1000),
      vendor_data: null,
      decision: { liveness: { status: 'Declined', score: 12.0, warnings: ['LIVENESS_FACE_ATTACK'] } },
    };
    const res = await postDidit(body);
    expect(res).toEqual({ status: 200, body: { received: true, outcome: 'UPDATED' } });

    const updated = (await api.getCheck(check.id)).body;
    expect(updated.status).toBe('COMPLETED');
    expect(updated.result).toMatchObject({ decision: 'Declined', liveness: { status: 'Declined', score: 12 } });
    expect(updated.history).toHaveLength(1);
    expect(updated.history[0].result.decision).toBe(check.result.decision);

    const event = await eventFor('Liveness Check Updated', check.id);
    expect(event.detail).toMatchObject({ decision: 'Declined', score: 12, warnings: ['LIVENESS_FACE_ATTACK'] });
    await eventually('the update echoed to the receiver', () => received.length > 0);
    expect(JSON.parse((received[0] as Received).body).type).toBe('Liveness Check Updated');

    // Didit redelivers the same event: acknowledged, nothing changes.
    const again = await postDidit(body);
    expect(again.body.outcome).toBe('DUPLICATE');
    expect((await api.getCheck(check.id)).body.history).toHaveLength(1);
  });

  it('refuses a bad signature (401), a stale timestamp (401) and a malformed body (400), writing nothing', async () => {
    const check = await completedCheck();
    const body = {
      event_id: randomUUID(),
      session_id: check.result.request_id,
      status: 'Declined',
      webhook_type: 'status.updated',
      timestamp: Math.floor(Date.now() / 1000),
    };
    expect((await postDidit(body, 'not-the-secret')).status).toBe(401);
    expect((await postDidit({ ...body, timestamp: Math.floor(Date.now() / 1000) - 600 })).status).toBe(401);
    expect((await postDidit(body, undefined, () => '{"session_id": ')).status).toBe(400);
    const after = (await api.getCheck(check.id)).body;
    expect(after.result.decision).toBe(check.result.decision);
    expect(after.history).toBeUndefined();
  });

  it('acknowledges a webhook for a session that is not one of our checks', async () => {
    const res = await postDidit({
      event_id: randomUUID(),
      session_id: randomUUID(),
      status: 'Approved',
      webhook_type: 'status.updated',
      timestamp: Math.floor(Date.now() / 1000),
    });
    expect(res).toEqual({ status: 200, body: { received: true, outcome: 'UNKNOWN_SESSION' } });
  });
});

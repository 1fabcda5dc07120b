import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { canonicalJson } from '../../lambdas/core/didit-webhook';
import { generateWebhookSecret, verifyWebhook, WebhookVerificationError } from '../../lambdas/core/standard-webhooks';
import { emulatorClientConfig } from '../../local/aws-env';
import type { BusEvent, LocalStack } from '../../local/local-stack';
import { ApiClient } from '../helpers/api-client';
import { AwsFaultProxy } from '../helpers/aws-fault-proxy';
import { eventually, waitForStackIdle } from '../helpers/eventually';
import { startTestStack } from '../helpers/test-stack';

// The webhook echo in both directions on the local stack: the delivery state machine `cdk synth` renders (time
// compressed) POSTs signed events to a loopback receiver that misbehaves on demand; Didit's status.updated webhooks
// come in signed the way Didit documents, from the test and from the Didit simulator, through the real route. DynamoDB
// and EventBridge are reached through a fault proxy, so a test can throttle the table or take the bus down.
interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly status: number;
}

let stack: LocalStack;
let api: ApiClient;
let aws: AwsFaultProxy;
let documents: DynamoDBDocumentClient;
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

  aws = new AwsFaultProxy(inject('motoEndpoint'));
  const proxy = await aws.start();
  stack = await startTestStack('hooks', {
    timeScale: 0.0005,
    handlerEnv: {
      WEBHOOK_MAX_ATTEMPTS: '4',
      WEBHOOK_RESPONSE_TIMEOUT_MS: '300',
      AWS_ENDPOINT_URL_DYNAMODB: proxy,
      AWS_ENDPOINT_URL_EVENTBRIDGE: proxy,
      // A mismatching signature may re-read the Didit webhook secret at once (30 s apart in AWS).
      SECRET_REFRESH_SECONDS: '0',
    },
    // The simulator queues Didit's webhooks for every saved request; the tests send them with flush().
    diditWebhooks: { manual: true, retryDelayMs: 50 },
    onEvent: (event) => events.push(event),
  });
  documents = DynamoDBDocumentClient.from(new DynamoDBClient(emulatorClientConfig(stack.motoEndpoint)));
  api = new ApiClient(stack.apiUrl, stack.apiKey);
  selfie = await sharp(readFileSync(new URL('../fixtures/astronaut.png', import.meta.url)))
    .jpeg()
    .toBuffer();
});

afterAll(async () => {
  await stack?.stop();
  await aws?.stop();
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
type Method = 'v2' | 'v2-ascii' | 'raw' | 'simple';

function diditHeaders(body: Record<string, unknown>, raw: string, secret: string, methods: readonly Method[]) {
  const hmac = (data: string) => createHmac('sha256', secret).update(data, 'utf8').digest('hex');
  const parsed = JSON.parse(raw);
  const signature: Record<Method, [string, string]> = {
    v2: ['x-signature-v2', hmac(canonicalJson(parsed))],
    'v2-ascii': ['x-signature-v2', hmac(canonicalJson(parsed, { ensureAscii: true }))],
    raw: ['x-signature', hmac(raw)],
    simple: ['x-signature-simple', hmac(`${body.timestamp}:${body.session_id}:${body.status}:${body.webhook_type}`)],
  };
  return {
    'content-type': 'application/json',
    'user-agent': 'DiditWebhook/2.0 +https://didit.me',
    ...Object.fromEntries(methods.map((method) => signature[method])),
  };
}

interface PostOptions {
  readonly secret?: string;
  readonly methods?: readonly Method[];
  readonly mutate?: (raw: string) => string;
}

async function postDidit(body: Record<string, unknown>, options: PostOptions = {}) {
  const raw = JSON.stringify(body);
  const headers = diditHeaders(
    body,
    raw,
    options.secret ?? stack.diditWebhookSecret,
    options.methods ?? ['v2', 'raw', 'simple'],
  );
  const res = await fetch(`${stack.apiUrl}/v1/webhooks/didit`, {
    method: 'POST',
    headers,
    body: options.mutate ? options.mutate(raw) : raw,
  });
  return { status: res.status, body: (await res.json()) as { received?: boolean; outcome?: string } };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A status.updated in Didit's webhook version v3: the liveness result inside `decision.liveness_checks[]`. */
function v3Update(
  sessionId: string,
  status: string,
  score: number | null,
  warnings: ReadonlyArray<Record<string, unknown>>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    session_id: sessionId,
    status,
    webhook_type: 'status.updated',
    event_id: randomUUID(),
    timestamp: nowSeconds(),
    vendor_data: null,
    decision: {
      session_id: sessionId,
      status,
      features: ['LIVENESS'],
      liveness_checks: [{ node_id: 'feature_liveness', status, method: 'PASSIVE', score, warnings }],
    },
    ...extra,
  };
}

const FACE_ATTACK = {
  risk: 'LIVENESS_FACE_ATTACK',
  log_type: 'error',
  short_description: 'Possible presentation attack',
  long_description: 'The face shows signs of a photo of a screen.',
  feature: 'LIVENESS',
  additional_data: { frames: [3, 7] },
};
const LOW_QUALITY = { risk: 'LOW_FACE_QUALITY', log_type: 'information', feature: 'LIVENESS', additional_data: null };

/** A COMPLETED check whose Completed event has been echoed, and the echo receiver cleared. */
async function settledCheck(body: Record<string, unknown> = {}) {
  const check = await completedCheck(body);
  await deliveriesSettled(check.id, 1);
  await waitForStackIdle(stack);
  received = [];
  return { id: check.id as string, sessionId: check.result.request_id as string, result: check.result };
}

/** Once nothing is left to happen: the Updated events on the bus and the Updated echoes the receiver got. */
async function updatesOf(id: string) {
  await waitForStackIdle(stack);
  return {
    events: events.filter((e) => e['detail-type'] === 'Liveness Check Updated' && e.detail.id === id),
    echoes: received.filter((r) => {
      const payload = JSON.parse(r.body) as { type: string; data: { id: string } };
      return payload.type === 'Liveness Check Updated' && payload.data.id === id && r.status === 200;
    }),
  };
}

describe("Didit's status.updated webhooks coming in", () => {
  it('a V3 result is applied (score, warnings with log_type), with exactly one Updated event and one echo', async () => {
    const check = await settledCheck();
    const body = v3Update(check.sessionId, 'Declined', 12.5, [FACE_ATTACK, LOW_QUALITY]);
    expect(await postDidit(body)).toEqual({ status: 200, body: { received: true, outcome: 'UPDATED' } });

    const updated = (await api.getCheck(check.id)).body;
    expect(updated.status).toBe('COMPLETED');
    expect(updated.result).toMatchObject({ decision: 'Declined', liveness: { status: 'Declined', score: 12.5 } });
    expect(updated.result.liveness.warnings).toEqual([
      {
        risk: 'LIVENESS_FACE_ATTACK',
        log_type: 'error',
        short_description: 'Possible presentation attack',
        long_description: 'The face shows signs of a photo of a screen.',
        feature: 'LIVENESS',
      },
      { risk: 'LOW_FACE_QUALITY', log_type: 'information', feature: 'LIVENESS' },
    ]);
    expect(updated.history).toHaveLength(1);
    expect(updated.history[0].result).toEqual(check.result);

    const event = await eventFor('Liveness Check Updated', check.id);
    expect(event.detail).toMatchObject({
      decision: 'Declined',
      score: 12.5,
      warnings: [
        { risk: 'LIVENESS_FACE_ATTACK', log_type: 'error' },
        { risk: 'LOW_FACE_QUALITY', log_type: 'information' },
      ],
      schema_version: 2,
    });
    await eventually('the update echoed to the receiver', () => received.length > 0);

    // Didit redelivers the same event: acknowledged, nothing changes.
    expect((await postDidit(body)).body.outcome).toBe('DUPLICATE');
    expect((await api.getCheck(check.id)).body.history).toHaveLength(1);
    const { events: published, echoes } = await updatesOf(check.id);
    expect(published).toHaveLength(1);
    expect(echoes).toHaveLength(1);
    expect(JSON.parse(echoes[0]?.body ?? '{}').data).toEqual(published[0]?.detail);
  });

  it('an event that changes neither status, score nor warnings changes nothing: no history, event or echo', async () => {
    const check = await settledCheck();
    const before = (await api.getCheck(check.id)).body;
    const { status, score, warnings } = check.result.liveness;
    const same = v3Update(check.sessionId, status, score, warnings);

    expect(await postDidit(same)).toEqual({ status: 200, body: { received: true, outcome: 'UNCHANGED' } });
    expect((await api.getCheck(check.id)).body).toEqual(before);
    const { events: published, echoes } = await updatesOf(check.id);
    expect(published).toEqual([]);
    expect(echoes).toEqual([]);
  });

  it('an event Didit sent before the last one applied is acknowledged and ignored', async () => {
    const check = await settledCheck();
    const newer = v3Update(check.sessionId, 'Declined', 12.5, [FACE_ATTACK], { timestamp: nowSeconds() - 10 });
    const older = v3Update(check.sessionId, 'Approved', 97, [], { timestamp: nowSeconds() - 20 });

    expect((await postDidit(newer)).body.outcome).toBe('UPDATED');
    expect(await postDidit(older)).toEqual({ status: 200, body: { received: true, outcome: 'STALE' } });
    const after = (await api.getCheck(check.id)).body;
    expect(after.result).toMatchObject({ decision: 'Declined', liveness: { score: 12.5 } });
    expect(after.history).toHaveLength(1);
    expect((await updatesOf(check.id)).events).toHaveLength(1);
  });

  it('one event verified once by V2 (ASCII-escaped, accented) and once by Simple is applied once', async () => {
    const check = await settledCheck();
    const body = v3Update(
      check.sessionId,
      'Declined',
      12.5,
      [{ ...FACE_ATTACK, short_description: 'Ataque de presentación 攻撃 🎭' }],
      {
        vendor_data: 'Zoë Müller',
      },
    );

    expect((await postDidit(body, { methods: ['v2-ascii'] })).body.outcome).toBe('UPDATED');
    expect((await postDidit(body, { methods: ['simple'] })).body.outcome).toBe('DUPLICATE');
    expect((await postDidit(body, { methods: ['v2'] })).body.outcome).toBe('DUPLICATE');
    expect((await api.getCheck(check.id)).body.result.liveness.warnings[0].short_description).toBe(
      'Ataque de presentación 攻撃 🎭',
    );
    const { events: published, echoes } = await updatesOf(check.id);
    expect(published).toHaveLength(1);
    expect(echoes).toHaveLength(1);
  });

  describe('a transient failure is answered 5xx, so Didit retries it, and the retry applies it once', () => {
    it('a throttled table', async () => {
      const check = await settledCheck();
      const body = v3Update(check.sessionId, 'Declined', 12.5, [FACE_ATTACK]);
      const restore = aws.fail('DynamoDB_20120810.UpdateItem', {
        status: 400,
        type: 'ProvisionedThroughputExceededException',
      });
      try {
        expect((await postDidit(body)).status).toBe(503);
      } finally {
        restore();
      }
      expect((await api.getCheck(check.id)).body.result.decision).toBe(check.result.decision);

      expect((await postDidit(body)).body.outcome).toBe('UPDATED');
      expect((await updatesOf(check.id)).events).toHaveLength(1);
    });

    it('the event bus down after the write: the retry publishes the pending event, one event and one echo in all', async () => {
      const check = await settledCheck();
      const body = v3Update(check.sessionId, 'Declined', 12.5, [FACE_ATTACK]);
      const restore = aws.fail('AWSEvents.PutEvents', { status: 500, type: 'InternalException' });
      try {
        expect((await postDidit(body)).status).toBeGreaterThanOrEqual(500);
      } finally {
        restore();
      }
      expect((await api.getCheck(check.id)).body.result.decision).toBe('Declined');
      expect((await updatesOf(check.id)).events).toEqual([]);

      expect((await postDidit(body)).body.outcome).toBe('DUPLICATE');
      const { events: published, echoes } = await updatesOf(check.id);
      expect(published).toHaveLength(1);
      expect(echoes).toHaveLength(1);
    });

    it('a concurrent change of the check (a conditional-write conflict)', async () => {
      const check = await settledCheck();
      const body = v3Update(check.sessionId, 'Declined', 12.5, [FACE_ATTACK]);
      // Another writer changes the check between the receiver's read and its write.
      aws.before('DynamoDB_20120810.UpdateItem', async () => {
        await documents.send(
          new UpdateCommand({
            TableName: stack.resources.tableName,
            Key: { id: check.id },
            UpdateExpression: 'SET updated_at = :now',
            ExpressionAttributeValues: { ':now': new Date().toISOString() },
          }),
        );
      });
      const raced = await postDidit(body);
      expect(raced.status).toBe(503);
      expect((await api.getCheck(check.id)).body.history).toBeUndefined();

      expect((await postDidit(body)).body.outcome).toBe('UPDATED');
      expect((await updatesOf(check.id)).events).toHaveLength(1);
    });
  });

  it('refuses a bad signature (401), a stale timestamp (401) and a malformed body (400), writing nothing', async () => {
    const check = await completedCheck();
    const body = {
      event_id: randomUUID(),
      session_id: check.result.request_id,
      status: 'Declined',
      webhook_type: 'status.updated',
      timestamp: nowSeconds(),
    };
    expect((await postDidit(body, { secret: 'not-the-secret' })).status).toBe(401);
    expect((await postDidit({ ...body, timestamp: nowSeconds() - 600 })).status).toBe(401);
    expect((await postDidit(body, { mutate: () => '{"session_id": ' })).status).toBe(400);
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
      timestamp: nowSeconds(),
    });
    expect(res).toEqual({ status: 200, body: { received: true, outcome: 'UNKNOWN_SESSION' } });
  });

  it('accepts the new and the previous secret during a rotation, though the function still caches the old value', async () => {
    const check = await settledCheck();
    const previous = stack.diditWebhookSecret;
    const next = `rotated-${randomUUID()}`;
    // The function has cached `previous` (it verified the webhooks above). Didit now signs with `next`; the operator
    // has put "next previous" as the procedure says.
    expect((await postDidit(v3Update(check.sessionId, 'In Review', 50, []))).body.outcome).toBe('UPDATED');
    const secrets = new SecretsManagerClient(emulatorClientConfig(stack.motoEndpoint));
    const putSecret = (value: string) =>
      secrets.send(new PutSecretValueCommand({ SecretId: stack.resources.diditWebhookSecretId, SecretString: value }));
    await putSecret(`${next}\n${previous}`);
    try {
      const signedWithNext = v3Update(check.sessionId, 'Declined', 12.5, [FACE_ATTACK], {
        timestamp: nowSeconds() + 1,
      });
      expect((await postDidit(signedWithNext, { secret: next })).body.outcome).toBe('UPDATED');
      // A retry of a delivery Didit signed before the rotation.
      const signedWithPrevious = v3Update(check.sessionId, 'Approved', 90, [], { timestamp: nowSeconds() + 2 });
      expect((await postDidit(signedWithPrevious, { secret: previous })).body.outcome).toBe('UPDATED');
      // A secret the service does not hold.
      const forged = v3Update(check.sessionId, 'Declined', 1, [], { timestamp: nowSeconds() + 3 });
      expect((await postDidit(forged, { secret: 'older-still' })).status).toBe(401);
      expect((await api.getCheck(check.id)).body.result.decision).toBe('Approved');
    } finally {
      await putSecret(previous);
    }
  });
});

describe('the Didit simulator sends its webhooks through the real route', () => {
  it('a saved request: its own status.updated is UNCHANGED; sim:review is In Review, then Declined, one Updated', async () => {
    const simulator = stack.diditSimulator;
    if (!simulator?.webhooks) throw new Error('the simulator sends webhooks in this stack');
    await simulator.webhooks.flush();
    const check = await settledCheck({ vendor_data: 'sim:review' });
    expect(check.result).toMatchObject({ decision: 'Declined', liveness: { status: 'In Review' } });

    const sent = await simulator.webhooks.flush();
    expect(sent.map((w) => [w.status, w.attempts.map((a) => a.outcome)])).toEqual([
      ['In Review', ['UNCHANGED']],
      ['Declined', ['UPDATED']],
    ]);
    const after = (await api.getCheck(check.id)).body;
    expect(after.result).toMatchObject({
      decision: 'Declined',
      liveness: { status: 'Declined', score: 12.5, warnings: [{ risk: 'LIVENESS_FACE_ATTACK', log_type: 'error' }] },
    });
    expect(after.history).toHaveLength(1);
    const { events: published, echoes } = await updatesOf(check.id);
    expect(published).toHaveLength(1);
    expect(echoes).toHaveLength(1);
  });

  it('no webhook for a request saved with save_api_request false', async () => {
    const simulator = stack.diditSimulator;
    if (!simulator?.webhooks) throw new Error('the simulator sends webhooks in this stack');
    await simulator.webhooks.flush();
    await settledCheck({ save_api_request: false, vendor_data: 'sim:review' });
    expect(simulator.webhooks.pending).toBe(0);
  });
});

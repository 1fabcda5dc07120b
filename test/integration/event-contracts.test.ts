import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventSchemaPath, OPENAPI_PATH, WEBHOOK_PAYLOAD_PATH } from '../../contracts/documents';
import { EVENT_CONTRACTS } from '../../contracts/events';
import { DETAIL_TYPES, type LivenessWebhookPayload, verifyLivenessWebhook } from '../../contracts/index';
import { canonicalJson } from '../../lambdas/core/didit-webhook';
import { emulatorClientConfig } from '../../local/aws-env';
import type { BusEvent, LocalStack } from '../../local/local-stack';
import { ApiClient } from '../helpers/api-client';
import { eventually, waitForStackIdle } from '../helpers/eventually';
import { startTestStack } from '../helpers/test-stack';

// The committed contracts (schemas/events/*.json, schemas/webhook-payload.json, api/openapi.json) against what a
// running local stack really publishes and answers: every detail-type is produced the way production produces it,
// every captured event and webhook body is validated, and so is every API response along the way.
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const readJson = (path: string) => JSON.parse(readFileSync(join(REPO_ROOT, path), 'utf8'));

interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

let stack: LocalStack;
let api: ApiClient;
let documents: DynamoDBDocumentClient;
let selfie: Buffer;
let receiver: Server;
let receiverBase: string;
const events: BusEvent[] = [];
const received: Received[] = [];

const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
const eventValidators = new Map<string, ValidateFunction>(
  EVENT_CONTRACTS.map((contract) => [contract.detailType, ajv.compile(readJson(eventSchemaPath(contract)))]),
);
const webhookValidator = ajv.compile(readJson(WEBHOOK_PAYLOAD_PATH));
// OpenAPI component schemas, reachable by the document's own `#/components/schemas/…` refs.
ajv.addKeyword('components');
ajv.addSchema({ $id: 'https://contracts.test/openapi.json', components: readJson(OPENAPI_PATH).components });

/** Fails the test with ajv's reasons unless `value` matches the OpenAPI component `schema`. */
function expectMatches(schema: string, value: unknown, label = schema): void {
  const validate = ajv.getSchema(`https://contracts.test/openapi.json#/components/schemas/${schema}`);
  if (!validate) throw new Error(`no component schema ${schema}`);
  expect(validate(value), `${label}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`).toBe(true);
}

/**
 * moto's EventBridge leaves `account` out of the envelope, which EventBridge always sets (the schema requires it).
 * That one field is filled in; everything else is validated exactly as it arrived.
 */
function asEventBridgeDelivers(event: BusEvent): Record<string, unknown> {
  return 'account' in event ? { ...event } : { ...event, account: '000000000000' };
}

function expectEventMatches(event: BusEvent): void {
  const validate = eventValidators.get(event['detail-type']);
  if (!validate) throw new Error(`no schema for detail-type ${event['detail-type']}`);
  const delivered = asEventBridgeDelivers(event);
  expect(
    validate(delivered),
    `${event['detail-type']}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(event)}`,
  ).toBe(true);
}

beforeAll(async () => {
  // Answers by path: /ok → 200, /gone → 404, so concurrent deliveries for different checks never share a script.
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(path === '/gone' ? 404 : 200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const address = receiver.address();
  receiverBase = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  stack = await startTestStack('contracts', {
    onEvent: (event) => events.push(event),
  });
  api = new ApiClient(stack.apiUrl, stack.apiKey);
  documents = DynamoDBDocumentClient.from(new DynamoDBClient(emulatorClientConfig(stack.motoEndpoint)));
  selfie = await sharp(readFileSync(new URL('../fixtures/astronaut.png', import.meta.url)))
    .jpeg()
    .toBuffer();
});

afterAll(async () => {
  await stack?.stop();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
});

const eventFor = (detailType: string, checkId: string) =>
  eventually(`"${detailType}" for check ${checkId} on the bus`, () =>
    events.find((e) => e['detail-type'] === detailType && e.detail.id === checkId),
  );

const webhookFor = (detailType: string, checkId: string) =>
  eventually(`a "${detailType}" webhook for check ${checkId}`, () =>
    received.find((r) => {
      const body = JSON.parse(r.body) as { type?: string; data?: { id?: string } };
      return body.type === detailType && body.data?.id === checkId;
    }),
  );

/** POST /v1/liveness-checks, its 201 body validated against CreatedCheck. */
async function createCheck(body: Record<string, unknown>) {
  const res = await api.request('POST', '/v1/liveness-checks', body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expectMatches('CreatedCheck', res.body);
  return res.body as { id: string; upload: { url: string; fields: Record<string, string> } };
}

/** GET /v1/liveness-checks/{id}, its 200 body validated against CheckView. */
async function getCheck(id: string) {
  const res = await api.getCheck(id);
  expect(res.status).toBe(200);
  expectMatches('CheckView', res.body);
  return res.body;
}

async function terminal(id: string) {
  await api.waitForTerminal(id);
  return getCheck(id);
}

/** Signs a Didit webhook the way Didit documents it (see webhooks.test.ts). */
async function postDidit(body: Record<string, unknown>) {
  const raw = JSON.stringify(body);
  const hmac = (data: string) => createHmac('sha256', stack.diditWebhookSecret).update(data, 'utf8').digest('hex');
  const res = await fetch(`${stack.apiUrl}/v1/webhooks/didit`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-signature': hmac(raw),
      'x-signature-v2': hmac(canonicalJson(body)),
      'x-signature-simple': hmac(`${body.timestamp}:${body.session_id}:${body.status}:${body.webhook_type}`),
    },
    body: raw,
  });
  return { status: res.status, body: (await res.json()) as unknown };
}

describe('every detail-type, produced for real, matches its schema', () => {
  let completedId: string;
  let completedSession: string;

  it('Liveness Check Completed (and its webhook echo)', async () => {
    const created = await createCheck({ vendor_data: 'contracts-1', callback_url: `${receiverBase}/ok` });
    await ApiClient.upload(created.upload, selfie, 'image/jpeg');
    const check = await terminal(created.id);
    expect(check.status).toBe('COMPLETED');
    completedId = created.id;
    completedSession = check.result.request_id;

    expectEventMatches(await eventFor(DETAIL_TYPES.completed, created.id));
    await webhookFor(DETAIL_TYPES.completed, created.id);
    // Once delivered, the view shows the attempt: validated with `deliveries` present.
    await eventually(`a recorded delivery for check ${created.id}`, async () =>
      Boolean((await getCheck(created.id)).deliveries?.length),
    );
  });

  it('Liveness Check Failed', async () => {
    // The Didit simulator answers 400 for this vendor_data: permanent, so FAILED at once.
    const created = await createCheck({ vendor_data: 'sim:status=400', callback_url: `${receiverBase}/ok` });
    await ApiClient.upload(created.upload, selfie, 'image/jpeg');
    const check = await terminal(created.id);
    expect(check).toMatchObject({ status: 'FAILED', error: { code: 'DIDIT_REJECTED_REQUEST' } });
    expectEventMatches(await eventFor(DETAIL_TYPES.failed, created.id));
    await webhookFor(DETAIL_TYPES.failed, created.id);
  });

  it('Liveness Check Expired (via the sweeper)', async () => {
    const created = await createCheck({ callback_url: `${receiverBase}/ok` });
    // Let time pass for this check only, as retry-faults.test.ts does: its upload window closed two minutes ago.
    const past = new Date(Date.now() - 120_000);
    await documents.send(
      new UpdateCommand({
        TableName: stack.resources.tableName,
        Key: { id: created.id },
        UpdateExpression: 'SET upload_expires_at = :past, due_at = :due',
        ExpressionAttributeValues: { ':past': past.toISOString(), ':due': Math.floor(past.getTime() / 1000) },
      }),
    );
    await stack.sweep();
    expect(await getCheck(created.id)).toMatchObject({ status: 'EXPIRED', error: { code: 'UPLOAD_EXPIRED' } });
    expectEventMatches(await eventFor(DETAIL_TYPES.expired, created.id));
    await webhookFor(DETAIL_TYPES.expired, created.id);
  });

  it('Liveness Check Updated (a signed Didit status.updated webhook)', async () => {
    const res = await postDidit({
      event_id: randomUUID(),
      session_id: completedSession,
      status: 'Declined',
      webhook_type: 'status.updated',
      timestamp: Math.floor(Date.now() / 1000),
      vendor_data: 'contracts-1',
      decision: { liveness: { status: 'Declined', score: 8, warnings: ['LIVENESS_FACE_ATTACK'] } },
    });
    expect(res.status).toBe(200);
    expectMatches('DiditWebhookAck', res.body);
    expect(res.body).toEqual({ received: true, outcome: 'UPDATED' });

    expectEventMatches(await eventFor(DETAIL_TYPES.updated, completedId));
    await webhookFor(DETAIL_TYPES.updated, completedId);
    // The view now carries `history`, validated with it.
    expect((await getCheck(completedId)).history).toHaveLength(1);
  });

  it('Liveness Webhook Delivery Failed (a receiver answering 404)', async () => {
    const created = await createCheck({ callback_url: `${receiverBase}/gone` });
    await ApiClient.upload(created.upload, selfie, 'image/jpeg');
    await terminal(created.id);
    const failure = await eventFor(DETAIL_TYPES.webhookDeliveryFailed, created.id);
    expectEventMatches(failure);
    expect(failure.detail).toMatchObject({ reason: 'REFUSED_BY_RECEIVER', last_status_code: 404 });
  });

  it('Liveness Check Deleted (DELETE, then the sweeper erases the session at Didit)', async () => {
    const created = await createCheck({ callback_url: `${receiverBase}/deleted` });
    await ApiClient.upload(created.upload, selfie, 'image/jpeg');
    await terminal(created.id);
    const res = await api.request('DELETE', `/v1/liveness-checks/${created.id}`);
    expect(res.status).toBe(204);
    const deleted = await eventFor(DETAIL_TYPES.deleted, created.id);
    expectEventMatches(deleted);
    expect(deleted.detail).toMatchObject({ id: created.id, didit_erasure: 'PENDING' });
    // Not a webhook: the deleted check has no callback URL left to send to.
    await stack.sweep();
  });

  it('every event captured on the bus, and every webhook body received, matches its schema', async () => {
    // Every event published so far has been received and every delivery made: "every" below means all of them.
    await waitForStackIdle(stack);
    const seen = new Set(events.map((e) => e['detail-type']));
    expect([...seen].sort()).toEqual(Object.values(DETAIL_TYPES).sort());
    for (const event of events) expectEventMatches(event);

    expect(received.length).toBeGreaterThanOrEqual(5);
    for (const delivery of received) {
      // Verified with the helper subscribers import, then validated.
      const payload: LivenessWebhookPayload = verifyLivenessWebhook(
        delivery.body,
        delivery.headers as Record<string, string>,
        [stack.webhookSigningSecret],
      );
      expect(webhookValidator(payload), `${ajv.errorsText(webhookValidator.errors)}\n${delivery.body}`).toBe(true);
    }
    const types = new Set(received.map((r) => (JSON.parse(r.body) as { type: string }).type));
    expect([...types].sort()).toEqual(
      [DETAIL_TYPES.completed, DETAIL_TYPES.expired, DETAIL_TYPES.failed, DETAIL_TYPES.updated].sort(),
    );
  });
});

describe('error responses match the OpenAPI error body', () => {
  it.each([
    ['a missing API key', () => fetch(`${stack.apiUrl}/v1/liveness-checks/${randomUUID()}`), 401],
    ['an unknown check', () => api.getCheck(randomUUID()), 404],
    ['an id that is not a UUID', () => api.getCheck('not-a-uuid'), 400],
    ['an invalid body', () => api.request('POST', '/v1/liveness-checks', { nope: 1, rotate_image: 'yes' }), 400],
    ['a body that is not JSON', () => api.request('POST', '/v1/liveness-checks', '{"vendor_data":'), 400],
    [
      'an unsigned Didit webhook',
      () => fetch(`${stack.apiUrl}/v1/webhooks/didit`, { method: 'POST', body: '{"session_id":"x"}' }),
      401,
    ],
  ])('%s', async (_label, call, status) => {
    const res = await call();
    const body = res instanceof Response ? await res.json() : res.body;
    expect(res.status).toBe(status);
    expectMatches('Error', body, `${status}`);
  });
});

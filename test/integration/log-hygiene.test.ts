import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { format } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { canonicalJson } from '../../lambdas/core/didit-webhook';
import { generateWebhookSecret } from '../../lambdas/core/standard-webhooks';
import { DiditSimulator } from '../../local/didit-simulator';
import type { BusEvent, LocalStack } from '../../local/local-stack';
import { ApiClient } from '../helpers/api-client';
import { eventually, waitForStackIdle } from '../helpers/eventually';
import { passFailureHorizon } from '../helpers/horizon';
import { ASTRONAUT_PATH, truncatedJpeg } from '../helpers/images';

// CloudWatch keeps function logs for a month and many people can read them: they must hold ids, codes, sizes and
// timings only. This runs a full life at DEBUG level — create, upload, COMPLETED, a webhook delivery, Didit's
// status.updated, a Didit rejection, a Didit outage retried to exhaustion, a corrupt image, a refused request — with
// every byte written to stdout and stderr captured, then searches it for anything personal or secret.

const hex = () => randomBytes(6).toString('hex');
const API_KEY = `api-key-${hex()}`;
const DIDIT_API_KEY = `didit-api-key-${hex()}`;
const DIDIT_WEBHOOK_SECRET = `didit-webhook-secret-${hex()}`;
const SIGNING_SECRET = generateWebhookSecret();
const VENDOR = `vendor-marker-${hex()}`;
const META_KEY = `metakey_${hex()}`;
const META_VALUE = `meta-value-${hex()}`;
const CALLBACK_PATH = `/hooks/callback-${hex()}`;

/** Everything written to stdout/stderr or through a console method while capturing, as text. */
const captured: string[] = [];
const restorers: Array<() => void> = [];

function startCapture(into: string[]): () => void {
  const undo: Array<() => void> = [];
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write;
    // Swallowed, not passed on: at DEBUG the handlers are chatty, and the test reads the lines itself.
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof stream.write;
    undo.push(() => {
      stream.write = original;
    });
  }
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    const original = console[method];
    console[method] = (...args: unknown[]) => {
      into.push(format(...args));
    };
    undo.push(() => {
      console[method] = original;
    });
  }
  return () => {
    for (const fn of undo.reverse()) fn();
  };
}

let stack: LocalStack;
let api: ApiClient;
let didit: DiditSimulator;
let receiver: Server;
let callbackUrl: string;
let selfie: Buffer;
let presignedSignature = '';
const delivered: string[] = [];
const events: BusEvent[] = [];
/** Image bytes that went in and came out, to search for in the logs. */
const imageSlices: string[] = [];

/** The values that must never appear in a log line, by name. */
function secrets(): Record<string, string> {
  const signingKey = SIGNING_SECRET.slice('whsec_'.length);
  return {
    'API key': API_KEY,
    'Didit API key': DIDIT_API_KEY,
    'Didit webhook secret': DIDIT_WEBHOOK_SECRET,
    'whsec_ signing secret': SIGNING_SECRET,
    'signing key (base64)': signingKey,
    vendor_data: VENDOR,
    'metadata key': META_KEY,
    'metadata value': META_VALUE,
    'callback URL': callbackUrl,
    'callback path': CALLBACK_PATH,
    'presigned POST signature': presignedSignature,
    ...Object.fromEntries(imageSlices.map((slice, i) => [`image bytes #${i + 1}`, slice])),
  };
}

/** Each secret found, with the start of the line it was found in. */
function leaks(lines: readonly string[]): string[] {
  const found: string[] = [];
  for (const [name, value] of Object.entries(secrets())) {
    // Not known yet (the presigned POST before the first check): nothing to search for.
    if (value === '') continue;
    if (value.length < 8) throw new Error(`${name} is too short to search for`);
    const line = lines.find((l) => l.includes(value));
    if (line) found.push(`${name} in: ${line.slice(0, 200)}`);
  }
  return found;
}

/** Base64 and hex of slices from the start, middle and end of an image: any way a logger might render bytes. */
function addImageSlices(image: Uint8Array): void {
  const bytes = Buffer.from(image);
  for (const start of [0, Math.floor(bytes.length / 2), Math.max(0, bytes.length - 64)]) {
    const slice = bytes.subarray(start, start + 48);
    imageSlices.push(slice.toString('base64'), slice.toString('hex'));
  }
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      delivered.push(Buffer.concat(chunks).toString('utf8'));
      // The first delivery fails once, so a retried attempt is logged too.
      res.writeHead(delivered.length === 1 ? 503 : 200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const address = receiver.address();
  callbackUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}${CALLBACK_PATH}`;

  // A simulator of our own, so the Didit API key is one we chose and can search for.
  didit = new DiditSimulator({ apiKey: DIDIT_API_KEY, keepLastImage: true });
  await didit.start();

  restorers.push(startCapture(captured));
  // Before the handlers are imported: each reads its log level once, at module load, as in Lambda.
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  // EMF metric lines go to the same log stream in Lambda; print them here too so they are searched.
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  const { startLocalStack } = await import('../../local/local-stack');
  stack = await startLocalStack({
    port: 0,
    apiKey: API_KEY,
    diditApiKey: DIDIT_API_KEY,
    diditBaseUrl: didit.url,
    diditWebhookSecret: DIDIT_WEBHOOK_SECRET,
    webhookSigningSecret: SIGNING_SECRET,
    motoEndpoint: inject('motoEndpoint'),
    workflows: inject('workflows'),
    resourcePrefix: `logs-${randomUUID().slice(0, 8)}`,
    timeScale: 0.0005,
    sweepIntervalMs: 0,
    handlerEnv: {
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
      POWERTOOLS_METRICS_DISABLED: 'false',
      WEBHOOK_MAX_ATTEMPTS: '3',
      WEBHOOK_RESPONSE_TIMEOUT_MS: '500',
    },
    log: (line) => captured.push(line),
    onEvent: (event) => events.push(event),
  });
  api = new ApiClient(stack.apiUrl, stack.apiKey);
  selfie = await sharp(ASTRONAUT_PATH).jpeg({ quality: 90 }).toBuffer();
  addImageSlices(selfie);
});

afterAll(async () => {
  // Stop first: whatever the stack still logs while stopping is captured, not printed.
  await stack?.stop();
  for (const restore of restorers.reverse()) restore();
  await didit?.stop();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
});

/** Signs a Didit webhook the way Didit documents it (all three signatures). */
function diditHeaders(body: Record<string, unknown>, raw: string, secret: string): Record<string, string> {
  const hmac = (data: string) => createHmac('sha256', secret).update(data, 'utf8').digest('hex');
  return {
    'content-type': 'application/json',
    'x-signature': hmac(raw),
    'x-signature-v2': hmac(canonicalJson(body)),
    'x-signature-simple': hmac(`${body.timestamp}:${body.session_id}:${body.status}:${body.webhook_type}`),
  };
}

describe('logs of a full run hold no personal data and no secrets', () => {
  it('the capture sees what the handlers log, and the search finds a planted secret', async () => {
    const { logger } = await import('../../lambdas/observability');
    expect(logger.getLevelName()).toBe('DEBUG');
    const planted: string[] = [];
    const stop = startCapture(planted);
    try {
      logger.debug('planted by the test', { vendorData: VENDOR });
    } finally {
      stop();
    }
    expect(leaks(planted)).toEqual([expect.stringContaining('vendor_data in:')]);
  });

  it('create → upload → COMPLETED → webhook (retried) → Didit status.updated → echo; failures; refusals', async () => {
    const body = { vendor_data: VENDOR, metadata: { [META_KEY]: META_VALUE }, callback_url: callbackUrl };

    // Refused requests that carry the markers.
    expect(
      (await api.request('POST', '/v1/liveness-checks', { ...body, vendor_data: VENDOR.repeat(200) })).status,
    ).toBe(400);
    expect((await api.request('POST', '/v1/liveness-checks', { ...body, extra: META_VALUE })).status).toBe(400);
    expect((await api.request('POST', '/v1/liveness-checks', `{"vendor_data":"${VENDOR}"`)).status).toBe(400);
    expect((await api.request('POST', '/v1/liveness-checks', body, { 'x-api-key': `${API_KEY}x` })).status).toBe(401);

    // The happy path, with a webhook delivery that fails once and is retried.
    const created = await api.createCheck(body);
    presignedSignature = created.upload.fields['X-Amz-Signature'] ?? '';
    await ApiClient.upload(created.upload, selfie, 'image/jpeg');
    const completed = await api.waitForTerminal(created.id);
    expect(completed.status).toBe('COMPLETED');
    if (didit.lastImage) addImageSlices(didit.lastImage);
    await eventually(`a delivered webhook for check ${created.id}`, async () => {
      const check = (await api.getCheck(created.id)).body;
      return check.deliveries?.some((d: { outcome: string }) => d.outcome === 'delivered') ? check : undefined;
    });

    // Didit changes its mind (signed), then a forged update (refused).
    const update = {
      event_id: randomUUID(),
      session_id: completed.result.request_id,
      status: 'Declined',
      webhook_type: 'status.updated',
      timestamp: Math.floor(Date.now() / 1000),
      vendor_data: VENDOR,
      decision: { liveness: { status: 'Declined', score: 12, warnings: ['LIVENESS_FACE_ATTACK'] } },
    };
    const raw = JSON.stringify(update);
    const post = (headers: Record<string, string>) =>
      fetch(`${stack.apiUrl}/v1/webhooks/didit`, { method: 'POST', headers, body: raw });
    expect((await post(diditHeaders(update, raw, DIDIT_WEBHOOK_SECRET))).status).toBe(200);
    expect((await post(diditHeaders(update, raw, 'forged'))).status).toBe(401);
    await eventually('"Liveness Check Updated" on the bus', () =>
      events.find((e) => e['detail-type'] === 'Liveness Check Updated'),
    );
    await eventually('3 webhook deliveries', () => delivered.length >= 3);

    // Didit refuses the request; Didit is down for good; the image is corrupt.
    for (const [vendorData, bytes, code] of [
      [`sim:status=400:${VENDOR}`, selfie, 'DIDIT_REJECTED_REQUEST'],
      [`sim:status=503:${VENDOR}`, selfie, 'DIDIT_UNAVAILABLE'],
      [VENDOR, await truncatedJpeg(), 'CORRUPT_IMAGE'],
    ] as const) {
      const check = await api.createCheck({ ...body, vendor_data: vendorData });
      await ApiClient.upload(check.upload, bytes, 'image/jpeg');
      if (code === 'DIDIT_UNAVAILABLE') await passFailureHorizon(stack, api, check.id);
      expect(await api.waitForTerminal(check.id, 30_000)).toMatchObject({ status: 'FAILED', error: { code } });
    }
    // 503 + 200 for Completed, Updated, and one per Failed: every delivery has been made and logged.
    await eventually('6 webhook deliveries', () => delivered.length >= 6);
    // Everything set going has finished, so all it will ever log is captured before the search.
    await waitForStackIdle(stack);

    // The run was really logged, at every level the handlers use, and per check.
    const lines = captured.join('').split('\n').filter(Boolean);
    const levels = new Set(
      lines.flatMap((line) => {
        try {
          return [(JSON.parse(line) as { level?: string }).level];
        } catch {
          return [];
        }
      }),
    );
    expect([...levels]).toEqual(expect.arrayContaining(['INFO', 'WARN']));
    expect(lines.some((line) => line.includes(created.id))).toBe(true);
    expect(lines.length).toBeGreaterThan(30);

    expect(leaks(lines)).toEqual([]);
  });
});

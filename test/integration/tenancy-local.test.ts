import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCommand } from '../../cli/list-command';
import { generateWebhookSecret, verifyWebhook } from '../../lambdas/core/standard-webhooks';
import { emulatorClientConfig } from '../../local/aws-env';
import { startBanner } from '../../local/banner';
import { clientAppsFromEnv } from '../../local/client-apps';
import type { LocalStack } from '../../local/local-stack';
import { ApiClient } from '../helpers/api-client';
import { eventually, waitForStackIdle } from '../helpers/eventually';
import { startTestStack } from '../helpers/test-stack';

// Two client apps on the local stack, configured as `LIVENESS_API_KEYS="app-a:…,app-b:…"` would: each sees only its
// own checks, each app's webhooks are signed with its own secret, and an event forged onto the bus never makes the
// service tell a receiver anything the stored check does not say.
interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

let stack: LocalStack;
let appA: ApiClient;
let appB: ApiClient;
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];
let selfie: Buffer;

const KEYS = 'app-a:key-a-0123,app-b:key-b-4567';

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const address = receiver.address();
  receiverUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hooks`;

  stack = await startTestStack('tenancy', { clientApps: clientAppsFromEnv({ LIVENESS_API_KEYS: KEYS }) });
  appA = new ApiClient(stack.apiUrl, 'key-a-0123');
  appB = new ApiClient(stack.apiUrl, 'key-b-4567');
  selfie = await sharp(readFileSync(new URL('../fixtures/astronaut.png', import.meta.url)))
    .jpeg()
    .toBuffer();
});

afterAll(async () => {
  await stack?.stop();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
});

function secretOf(app: string): string {
  const client = stack.clientApps.find((c) => c.app === app);
  if (!client) throw new Error(`no client app ${app}`);
  return client.webhookSigningSecret;
}

describe('LIVENESS_API_KEYS', () => {
  it('makes one client app per entry, each with its own key and signing secret', () => {
    expect(stack.clientApps.map((c) => [c.app, c.apiKey])).toEqual([
      ['app-a', 'key-a-0123'],
      ['app-b', 'key-b-4567'],
    ]);
    expect(secretOf('app-a')).not.toBe(secretOf('app-b'));
  });

  it.each([
    ['an entry without a key', 'app-a'],
    ['an app name with capitals', 'App:key'],
    ['the same app twice', 'app-a:k1,app-a:k2'],
    ['the same key twice', 'app-a:k1,app-b:k1'],
  ])('refuses %s with a message naming the variable', (_label, value) => {
    expect(() => clientAppsFromEnv({ LIVENESS_API_KEYS: value })).toThrow(/LIVENESS_API_KEYS/);
  });

  it('lists every client app in the banner, which still names the emulator endpoint', () => {
    const banner = startBanner(stack, { env: {}, budget: '280' });
    expect(banner).toMatch(/app-a: x-api-key key-a-0123 {3}webhooks signed with whsec_/);
    expect(banner).toMatch(/app-b: x-api-key key-b-4567 {3}webhooks signed with whsec_/);
    expect(banner).toContain(secretOf('app-b'));
    expect(banner).toContain(`moto_server at ${stack.motoEndpoint}`);
    expect(banner).toContain(stack.apiUrl);
  });

  it('keeps LIVENESS_API_KEY as the "default" app beside the list, and alone as before', () => {
    expect(clientAppsFromEnv({ LIVENESS_API_KEY: 'k0', LIVENESS_API_KEYS: 'app-a:k1' })).toEqual([
      { app: 'default', apiKey: 'k0' },
      { app: 'app-a', apiKey: 'k1' },
    ]);
    expect(clientAppsFromEnv({})).toEqual([{ app: 'default', apiKey: 'local-dev-key' }]);
  });
});

describe('each client app sees its own checks', () => {
  it('GET and list answer the owner; the other app gets 404 and an empty list', async () => {
    const vendor = `user-${randomUUID()}`;
    const created = await appA.createCheck({ vendor_data: vendor });
    expect((await appA.getCheck(created.id)).status).toBe(200);
    const theirs = await appB.getCheck(created.id);
    expect(theirs.status).toBe(404);
    expect(theirs.body).toEqual((await appB.getCheck(randomUUID())).body);

    const path = `/v1/liveness-checks?vendor_data=${encodeURIComponent(vendor)}`;
    expect((await appA.request('GET', path)).body).toMatchObject({ items: [{ id: created.id }], next_cursor: null });
    expect((await appB.request('GET', path)).body).toEqual({ items: [], next_cursor: null });
  });
});

describe('the CLI', () => {
  async function listAs(key: string, vendorData: string): Promise<{ checks: Array<{ id: string }> }> {
    let out = '';
    const io = { stdout: { write: (text: string) => (out += text) }, stderr: { write: () => true }, env: {} };
    const code = await listCommand(
      { command: 'list', api: stack.apiUrl, key, stackOutputs: undefined, vendorData, limit: 3, json: true },
      io,
    );
    expect(code).toBe(0);
    return JSON.parse(out);
  }

  it("`liveness list` pages through the caller's checks only, newest first", async () => {
    const vendor = `user-${randomUUID()}`;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      ids.push((await appA.createCheck({ vendor_data: vendor })).id);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const mine = await listAs('key-a-0123', vendor);
    expect(mine.checks.map((c) => c.id)).toEqual(ids.reverse().slice(0, 3));
    expect(mine).toMatchObject({ more: true });
    expect((await listAs('key-b-4567', vendor)).checks).toEqual([]);
  });
});

describe('webhooks tell the stored truth, signed for their own client app', () => {
  it('a forged "Approved" on the bus for a Declined check never yields a webhook that disagrees with the check', async () => {
    const created = await appA.createCheck({ vendor_data: 'sim:declined', callback_url: receiverUrl });
    await ApiClient.upload(created.upload, selfie, 'image/jpeg');
    const check = await appA.waitForTerminal(created.id);
    expect(check.result.decision).toBe('Declined');
    await eventually('the genuine webhook', () => received.find((r) => r.body.includes(created.id)));

    // An attacker allowed events:PutEvents puts what it wants the receiver to believe, under a fresh event id.
    const bus = new EventBridgeClient(emulatorClientConfig(stack.motoEndpoint));
    const put = await bus.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: stack.resources.eventBusName,
            Source: 'liveness.service',
            DetailType: 'Liveness Check Completed',
            Detail: JSON.stringify({
              ...check,
              id: created.id,
              status: 'COMPLETED',
              decision: 'Approved',
              score: 99,
              warnings: [],
              has_callback: true,
              vendor_data: 'forged',
            }),
          },
        ],
      }),
    );
    expect(put.FailedEntryCount).toBe(0);
    bus.destroy();
    // The forged event made a second delivery (the local bus has no resource policy; in AWS the policy refuses it).
    await eventually('the delivery the forged event started', () =>
      received.filter((r) => r.body.includes(created.id)).length >= 2 ? true : undefined,
    );
    await waitForStackIdle(stack);

    const stored = (await appA.getCheck(created.id)).body;
    const mine = received.filter((r) => r.body.includes(created.id));
    for (const webhook of mine) {
      const payload = verifyWebhook(webhook.body, webhook.headers as Record<string, string>, [secretOf('app-a')]) as {
        data: { decision: string; score: number; vendor_data: string };
      };
      expect(payload.data).toMatchObject({
        decision: stored.result.decision,
        score: stored.result.liveness.score,
        vendor_data: stored.vendor_data,
      });
      // app-b's receivers cannot verify app-a's webhooks, nor can anyone with a secret of their own.
      for (const wrong of [secretOf('app-b'), generateWebhookSecret()]) {
        expect(() => verifyWebhook(webhook.body, webhook.headers as Record<string, string>, [wrong])).toThrow();
      }
    }
  });
});

describe('callback URLs on the local stack', () => {
  it.each([
    'http://169.254.169.254/latest/meta-data/',
    'http://169.254.170.2/v2/credentials',
    'https://[fd00:ec2::254]/latest/meta-data/',
    'http://[fe80::1]/hook',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://10.0.0.1/hook',
    'http://example.com/hook',
  ])('refuses %s even in local mode', async (url) => {
    const res = await appA.request('POST', '/v1/liveness-checks', { callback_url: url });
    expect(res.status).toBe(400);
    expect(res.body.error.fields).toMatchObject([{ field: 'callback_url' }]);
  });

  it.each(['http://127.0.0.1:9/hook', 'http://localhost:8080/hook', 'http://[::1]:9/hook'])(
    'allows loopback %s there',
    async (url) => {
      expect((await appA.request('POST', '/v1/liveness-checks', { callback_url: url })).status).toBe(201);
    },
  );
});

describe('the Host header (DNS-rebinding defence)', () => {
  const port = () => Number(new URL(stack.apiUrl).port);
  const call = (host: string, path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: port(), path, method: 'GET', headers: { host, 'x-api-key': 'key-a-0123' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('error', reject);
      req.end();
    });

  it.each(['rebind.attacker.example', `rebind.attacker.example:${'PORT'}`, '127.0.0.1:1', 'localhost'])(
    'refuses Host %s on the API and the sample page',
    async (host) => {
      const value = host.replace('PORT', String(port()));
      for (const path of [`/v1/liveness-checks/${randomUUID()}`, '/']) {
        const res = await call(value, path);
        expect(res.status, `${value} ${path}`).toBe(403);
        expect(JSON.parse(res.body).error.code).toBe('HOST_NOT_ALLOWED');
      }
    },
  );

  it('serves 127.0.0.1:<port> and localhost:<port>', async () => {
    for (const host of [`127.0.0.1:${port()}`, `localhost:${port()}`]) {
      expect((await call(host, `/v1/liveness-checks/${randomUUID()}`)).status).toBe(404);
      expect((await call(host, '/')).status).toBe(200);
    }
  });
});

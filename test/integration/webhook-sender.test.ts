import type { LookupAddress } from 'node:dns';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CallbackRefusedError } from '../../lambdas/adapters/callback-guard';
import { classifyDelivery, WebhookSender, WebhookTransportError } from '../../lambdas/adapters/webhook-sender';
import { signWebhook } from '../../lambdas/core/standard-webhooks';
import { freePort } from '../../local/free-port';

/** Short enough that each timeout case costs well under a second. */
const TIMEOUT_MS = 300;
const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const BODY = JSON.stringify({ type: 'check.completed', data: { check_id: 'chk_1', decision: 'Approved' } });

interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A receiver whose behaviour is chosen by the request path. */
class Receiver {
  readonly received: Received[] = [];
  connections = 0;
  private readonly server: Server;
  private port = 0;

  constructor() {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const path = request.url ?? '';
        this.received.push({ path, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
        const status = /^\/status\/(\d{3})$/.exec(path)?.[1];
        if (status !== undefined) {
          response.writeHead(Number(status), { 'content-type': 'text/plain' }).end('answer');
        } else if (path === '/redirect') {
          response.writeHead(302, { location: '/followed' }).end();
        } else if (path === '/hang') {
          // Never answers: the headers timeout must fire.
        } else if (path === '/reset') {
          request.socket.resetAndDestroy();
        } else if (path === '/close') {
          request.socket.destroy();
        } else if (path === '/huge') {
          response.writeHead(200, { 'content-type': 'application/octet-stream' });
          response.end(Buffer.alloc(4 * 1024 * 1024, 0x61));
        } else {
          response.writeHead(204).end();
        }
      });
    });
    this.server.on('connection', () => {
      this.connections += 1;
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return `http://127.0.0.1:${this.port}`;
  }

  get portNumber(): number {
    return this.port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the delivery to fail');
}

function signed(): Record<string, string> {
  return signWebhook(SECRET, 'msg_1', Math.floor(Date.now() / 1000), BODY);
}

let receiver: Receiver;
let base: string;
let sender: WebhookSender;

beforeAll(async () => {
  receiver = new Receiver();
  base = await receiver.start();
  sender = new WebhookSender({
    allowLoopbackHttp: true,
    connectTimeoutMs: TIMEOUT_MS,
    headersTimeoutMs: TIMEOUT_MS,
    bodyTimeoutMs: TIMEOUT_MS,
  });
});

afterAll(async () => {
  await sender?.close();
  await receiver?.stop();
});

beforeEach(() => {
  receiver.received.length = 0;
});

describe('classifyDelivery', () => {
  it.each([
    [200, 'delivered'],
    [202, 'delivered'],
    [204, 'delivered'],
    [299, 'delivered'],
    [408, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [502, 'retry'],
    [503, 'retry'],
    [599, 'retry'],
    [301, 'give_up'],
    [302, 'give_up'],
    [307, 'give_up'],
    [400, 'give_up'],
    [401, 'give_up'],
    [404, 'give_up'],
    [410, 'give_up'],
    [413, 'give_up'],
  ] as const)('%i → %s', (status, outcome) => {
    expect(classifyDelivery(status)).toBe(outcome);
  });
});

describe('WebhookSender.deliver', () => {
  it('POSTs the body with the signature headers and reports a 2xx with its latency', async () => {
    const headers = signed();

    const result = await sender.deliver(`${base}/hooks/didit?tenant=1#ignored`, BODY, headers);

    expect(result.statusCode).toBe(204);
    expect(classifyDelivery(result.statusCode)).toBe('delivered');
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    expect(result.latencyMs).toBeLessThan(TIMEOUT_MS * 10);
    const [request] = receiver.received;
    expect(request?.path).toBe('/hooks/didit?tenant=1');
    expect(request?.body).toBe(BODY);
    expect(request?.headers).toMatchObject({
      'content-type': 'application/json',
      'webhook-id': headers['webhook-id'],
      'webhook-timestamp': headers['webhook-timestamp'],
      'webhook-signature': headers['webhook-signature'],
    });
  });

  it('lets the caller set Content-Type without sending it twice', async () => {
    await sender.deliver(`${base}/ok`, BODY, { 'Content-Type': 'application/json; charset=utf-8' });

    expect(receiver.received[0]?.headers['content-type']).toBe('application/json; charset=utf-8');
  });

  it.each([
    [500, 'retry'],
    [503, 'retry'],
    [429, 'retry'],
    [408, 'retry'],
    [404, 'give_up'],
    [400, 'give_up'],
  ] as const)('returns HTTP %i as an answer (%s), not an error', async (status, outcome) => {
    const result = await sender.deliver(`${base}/status/${status}`, BODY, signed());

    expect(result.statusCode).toBe(status);
    expect(classifyDelivery(result.statusCode)).toBe(outcome);
  });

  it('never follows a redirect', async () => {
    const result = await sender.deliver(`${base}/redirect`, BODY, signed());

    expect(result.statusCode).toBe(302);
    expect(classifyDelivery(result.statusCode)).toBe('give_up');
    expect(receiver.received.map((request) => request.path)).toEqual(['/redirect']);
  });

  it('reuses the connection for the next delivery', async () => {
    await sender.deliver(`${base}/ok`, BODY, signed());
    const before = receiver.connections;

    await sender.deliver(`${base}/ok`, BODY, signed());
    await sender.deliver(`${base}/status/500`, BODY, signed());

    expect(receiver.connections).toBe(before);
  });

  it('stops reading a huge response body and still reports the status', async () => {
    const started = Date.now();

    const result = await sender.deliver(`${base}/huge`, BODY, signed());

    expect(result.statusCode).toBe(200);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS * 5);
    // The cut-off connection is not reused; the next delivery still works on a new one.
    expect((await sender.deliver(`${base}/ok`, BODY, signed())).statusCode).toBe(204);
  });

  describe('transport failures', () => {
    it('a receiver that never answers → WebhookTransportError TIMEOUT (retryable)', async () => {
      const error = await rejection(sender.deliver(`${base}/hang`, BODY, signed()));

      expect(error).toBeInstanceOf(WebhookTransportError);
      expect(error).toMatchObject({ code: 'TIMEOUT', retryable: true });
    });

    it('a connection reset → CONNECTION_RESET', async () => {
      const error = await rejection(sender.deliver(`${base}/reset`, BODY, signed()));

      expect(error).toBeInstanceOf(WebhookTransportError);
      expect(error).toMatchObject({ code: 'CONNECTION_RESET' });
    });

    it('a connection closed without an answer → CONNECTION_RESET', async () => {
      const error = await rejection(sender.deliver(`${base}/close`, BODY, signed()));

      expect(error).toMatchObject({ name: 'WebhookTransportError', code: 'CONNECTION_RESET' });
    });

    it('a closed port → CONNECTION_REFUSED', async () => {
      const port = await freePort();

      const error = await rejection(sender.deliver(`http://127.0.0.1:${port}/hook`, BODY, signed()));

      expect(error).toBeInstanceOf(WebhookTransportError);
      expect(error).toMatchObject({ code: 'CONNECTION_REFUSED' });
    });

    it('an unknown host → DNS', async () => {
      const resolving = new WebhookSender({
        allowLoopbackHttp: true,
        connectTimeoutMs: TIMEOUT_MS,
        resolveHost: async () => {
          throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
        },
      });
      try {
        const error = await rejection(resolving.deliver('https://nowhere.example/hook', BODY, signed()));

        expect(error).toMatchObject({ name: 'WebhookTransportError', code: 'DNS' });
      } finally {
        await resolving.close();
      }
    });

    it('an aborted delivery → ABORTED', async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);

      const error = await rejection(sender.deliver(`${base}/hang`, BODY, signed(), { signal: controller.signal }));

      expect(error).toBeInstanceOf(WebhookTransportError);
      expect(error).toMatchObject({ code: 'ABORTED' });
    });

    it('a delivery cut off by AbortSignal.timeout → TIMEOUT', async () => {
      const error = await rejection(
        sender.deliver(`${base}/hang`, BODY, signed(), { signal: AbortSignal.timeout(50) }),
      );

      expect(error).toMatchObject({ name: 'WebhookTransportError', code: 'TIMEOUT' });
    });
  });

  describe('outside the local stack (allowLoopbackHttp false)', () => {
    let aws: WebhookSender;

    beforeAll(() => {
      aws = new WebhookSender({
        allowLoopbackHttp: false,
        connectTimeoutMs: TIMEOUT_MS,
        headersTimeoutMs: TIMEOUT_MS,
        bodyTimeoutMs: TIMEOUT_MS,
        // The receiver's own name, as a rebinding DNS server would answer it.
        resolveHost: async (hostname): Promise<LookupAddress[]> =>
          hostname === 'receiver.example' ? [{ address: '127.0.0.1', family: 4 }] : [],
      });
    });

    afterAll(async () => {
      await aws.close();
    });

    it.each([
      () => `http://127.0.0.1:${receiver.portNumber}/ok`,
      () => `https://127.0.0.1:${receiver.portNumber}/ok`,
      () => `http://localhost:${receiver.portNumber}/ok`,
      () => `https://localhost:${receiver.portNumber}/ok`,
      () => `https://[::ffff:127.0.0.1]:${receiver.portNumber}/ok`,
      () => `https://receiver.example:${receiver.portNumber}/ok`,
    ])('refuses loopback URL #%# without any connection reaching the receiver', async (url) => {
      const before = receiver.connections;

      const error = await rejection(aws.deliver(url(), BODY, signed()));

      expect(error).toBeInstanceOf(CallbackRefusedError);
      expect(error).toMatchObject({ retryable: false });
      expect(receiver.connections).toBe(before);
      expect(receiver.received).toEqual([]);
    });

    it('the same URL is delivered on the local stack', async () => {
      const result = await sender.deliver(`http://127.0.0.1:${receiver.portNumber}/ok`, BODY, signed());

      expect(result.statusCode).toBe(204);
    });
  });
});

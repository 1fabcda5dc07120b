import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Headers fetch sets itself (or refuses to be given). */
const HOP_BY_HOP = new Set(['host', 'connection', 'keep-alive', 'content-length', 'transfer-encoding', 'expect']);

/** What the proxy answers instead of the emulator: an AWS JSON-protocol error. */
export interface AwsFault {
  readonly status: number;
  /** The error's `__type`, e.g. `ProvisionedThroughputExceededException`. */
  readonly type: string;
}

/**
 * A loopback HTTP proxy in front of moto for the AWS JSON-protocol services (DynamoDB, EventBridge), so a test can make
 * one operation fail (`X-Amz-Target`, e.g. `DynamoDB_20120810.UpdateItem`) or run something just before it reaches
 * the emulator, while every other request passes through unchanged. Point a service at it with its
 * `AWS_ENDPOINT_URL_<SERVICE>` variable before the handlers load.
 */
export class AwsFaultProxy {
  /** The X-Amz-Target of every request received, in order. */
  readonly targets: string[] = [];
  private readonly faults = new Map<string, AwsFault>();
  private readonly hooks = new Map<string, () => Promise<void>>();
  private server: Server | undefined;

  constructor(private readonly emulator: string) {}

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req)
        .then(({ status, headers, body }) => res.writeHead(status, headers).end(body))
        .catch(() => res.writeHead(502).end());
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Every request for `target` gets `fault` until the returned function is called. */
  fail(target: string, fault: AwsFault): () => void {
    this.faults.set(target, fault);
    return () => this.faults.delete(target);
  }

  /** Runs `action` (once) just before the next request for `target` is passed on. */
  before(target: string, action: () => Promise<void>): void {
    this.hooks.set(target, action);
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  private async handle(req: IncomingMessage) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    this.targets.push(target);
    const fault = this.faults.get(target);
    if (fault) {
      return {
        status: fault.status,
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': fault.type },
        body: JSON.stringify({ __type: fault.type, message: 'injected by the test' }),
      };
    }
    const hook = this.hooks.get(target);
    if (hook) {
      this.hooks.delete(target);
      await hook();
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(
        (e): e is [string, string] => typeof e[1] === 'string' && !HOP_BY_HOP.has(e[0]),
      ),
    );
    const res = await fetch(`${this.emulator}${req.url ?? '/'}`, {
      method: req.method ?? 'POST',
      headers,
      ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
    });
    const out: Record<string, string> = {};
    res.headers.forEach((value, key) => {
      if (key !== 'content-length' && key !== 'transfer-encoding' && key !== 'content-encoding') out[key] = value;
    });
    return { status: res.status, headers: out, body: Buffer.from(await res.arrayBuffer()) };
  }
}

import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Agent, request } from 'undici';

/**
 * A loopback HTTP proxy that makes every answer take a fixed time: the request is forwarded to the Didit simulator
 * at once and the answer is released `latencyMs` after the request's headers arrived (or when the simulator answers,
 * if that is later). The simulator's own work then hides inside the latency instead of adding to it, so "Didit time"
 * is one known constant and everything else a measurement sees is ours.
 *
 * The simulator's answer is a documented, deterministic function of the image and the form fields (only request_id
 * and created_at are fresh each time), so a request identical to an earlier one is answered from that earlier answer
 * with a new request_id and created_at instead of being analysed again. Otherwise 20 checks in flight would queue on
 * the simulator's own sharp work on this 2-core machine (CPU that real Didit spends on its own servers) and the
 * "fixed" latency would grow with the load being measured.
 *
 * It also counts what Didit would see: TCP connections (keep-alive reuse) and request body bytes (the multipart form).
 */

export interface ProxyStats {
  readonly connections: number;
  readonly requests: number;
  /** Request body bytes of each request, in arrival order. */
  readonly requestBytes: readonly number[];
  /** How long each request was held from its first byte to its answer. */
  readonly heldMs: readonly number[];
  /** Requests answered from an earlier identical request's answer. */
  readonly replayed: number;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export class DelayProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly upstream: Agent;
  private connections = 0;
  private requests = 0;
  private requestBytes: number[] = [];
  private heldMs: number[] = [];
  private replayed = 0;
  private readonly answers = new Map<string, Promise<Answer>>();

  constructor(
    private readonly targetUrl: string,
    private readonly latencyMs: number,
  ) {
    this.upstream = new Agent({ keepAliveTimeout: 60_000, connections: 64 });
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      this.forward(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end('{"detail":"delay proxy could not reach the simulator"}');
      });
    });
    server.keepAliveTimeout = 60_000;
    server.on('connection', (socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address() as AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  stats(): ProxyStats {
    return {
      connections: this.connections,
      requests: this.requests,
      requestBytes: [...this.requestBytes],
      heldMs: [...this.heldMs],
      replayed: this.replayed,
    };
  }

  reset(): void {
    this.connections = this.sockets.size;
    this.requests = 0;
    this.requestBytes = [];
    this.heldMs = [];
    this.replayed = 0;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    await this.upstream.close();
  }

  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrived = performance.now();
    this.requests++;
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    this.requestBytes.push(body.byteLength);

    const key = requestKey(req, body);
    let pending = this.answers.get(key);
    if (pending) this.replayed++;
    else {
      pending = this.ask(req, body);
      this.answers.set(key, pending);
      // Only successful answers are worth replaying; a fault or an error is asked again next time.
      pending.then(
        (answer) => answer.status === 200 || this.answers.delete(key),
        () => this.answers.delete(key),
      );
    }
    const answer = fresh(await pending);

    const wait = this.latencyMs - (performance.now() - arrived);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    res.writeHead(answer.status, { ...answer.headers, 'content-length': String(answer.body.byteLength) });
    res.end(answer.body);
    this.heldMs.push(performance.now() - arrived);
  }

  private async ask(req: IncomingMessage, body: Buffer): Promise<Answer> {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      // Hop-by-hop headers belong to this connection, not the forwarded one.
      if (value === undefined || name === 'connection' || name === 'keep-alive' || name === 'host') continue;
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const answer = await request(`${this.targetUrl}${req.url ?? '/'}`, {
      method: (req.method ?? 'GET') as 'POST',
      headers,
      body,
      dispatcher: this.upstream,
    });
    const answerBody = Buffer.from(await answer.body.arrayBuffer());
    const outHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value === undefined || name === 'connection' || name === 'keep-alive' || name === 'transfer-encoding')
        continue;
      if (name === 'content-length') continue;
      outHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return { status: answer.statusCode, headers: outHeaders, body: answerBody };
  }
}

/** Identical requests up to the multipart boundary, which the client picks at random for every request. */
function requestKey(req: IncomingMessage, body: Buffer): string {
  const boundary = /boundary=("?)([^";]+)\1/i.exec(req.headers['content-type'] ?? '')?.[2];
  const hash = createHash('sha256').update(`${req.method} ${req.url} ${req.headers['x-api-key'] ?? ''}\n`);
  if (!boundary) return hash.update(body).digest('hex');
  const marker = Buffer.from(boundary);
  let from = 0;
  for (let at = body.indexOf(marker); at !== -1; at = body.indexOf(marker, from)) {
    hash.update(body.subarray(from, at));
    from = at + marker.byteLength;
  }
  return hash.update(body.subarray(from)).digest('hex');
}

/** What the simulator would have answered this time: the same body with a new request_id and created_at. */
function fresh(answer: Answer): Answer {
  if (answer.status !== 200) return answer;
  const json = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
  if (typeof json.request_id !== 'string') return answer;
  json.request_id = randomUUID();
  json.created_at = new Date().toISOString().replace('Z', '000+00:00');
  return { ...answer, body: Buffer.from(JSON.stringify(json)) };
}

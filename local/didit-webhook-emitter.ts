/**
 * The Didit simulator's webhooks: Didit emits a `status.updated` for every API request saved with
 * `save_api_request: true`, and another whenever a reviewer changes the decision. This emitter sends them to the local
 * API's `POST /v1/webhooks/didit`, in webhook version v3 (the liveness result in `decision.liveness_checks[]`),
 * signed the three ways Didit signs (X-Signature-V2 over the ASCII-escaped canonical JSON, X-Signature over the raw
 * bytes, X-Signature-Simple), from Didit's User-Agent, and resent after a 5xx or a 404 like Didit does.
 *
 * What it sends for one saved request:
 *   1. `firstDelayMs` after the answer: the answer's own status, score and warnings (a check it completed changes
 *      nothing: the API answers UNCHANGED).
 *   2. With `vendor_data` beginning `sim:review` (the simulator answered "In Review"), `reviewDelayMs` later: the
 *      reviewer's decision, Declined (score 12.5, warning LIVENESS_FACE_ATTACK) or, for `sim:review=Approved`,
 *      Approved (the answer's score, no warnings).
 *
 * Loopback only: it refuses a target that is not 127.0.0.1. It is a development tool, not Didit.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { canonicalJson } from '../lambdas/core/canonical-json';

export interface DiditWebhookEmitterOptions {
  /** Where Didit's webhooks go: the local API's `/v1/webhooks/didit`. */
  readonly url: string;
  /** The `secret_shared_key` to sign with. */
  readonly secret: string;
  /** Queue webhooks without timers; `flush()` sends them (tests decide when). @default false */
  readonly manual?: boolean;
  /** From the answer to the status.updated every saved request emits. @default 2000 */
  readonly firstDelayMs?: number;
  /** From that one to a reviewer's decision (`sim:review`). @default 6000 */
  readonly reviewDelayMs?: number;
  /** Before resending after a 5xx or 404. @default 1000 */
  readonly retryDelayMs?: number;
  /** Sends of one webhook, the first included. @default 3 */
  readonly maxAttempts?: number;
  readonly log?: (line: string) => void;
}

/** A warning as Didit's API answer carries it. */
export interface SimulatedWarning {
  readonly risk: string;
  readonly log_type: string;
  readonly short_description: string;
  readonly long_description: string;
}

/** What the simulator answered for one saved request. */
export interface SavedRequest {
  /** The answer's `request_id`: Didit's session id. */
  readonly sessionId: string;
  readonly vendorData: string | null;
  readonly metadata: Record<string, unknown> | null;
  readonly status: string;
  readonly score: number | null;
  readonly warnings: readonly SimulatedWarning[];
}

/** One webhook and every attempt to deliver it. */
export interface EmittedWebhook {
  readonly sessionId: string;
  readonly eventId: string;
  readonly status: string;
  /** The signed `timestamp`, set when first sent. */
  timestamp?: number;
  /** Each attempt: the HTTP status (null on a transport error) and the API's `outcome` when it answered 200. */
  readonly attempts: Array<{ status: number | null; outcome?: string }>;
}

interface Queued {
  readonly request: SavedRequest;
  readonly status: string;
  readonly score: number | null;
  readonly warnings: readonly SimulatedWarning[];
  readonly webhook: EmittedWebhook;
}

const USER_AGENT = 'DiditWebhook/2.0 +https://didit.me';

const FACE_ATTACK: SimulatedWarning = {
  risk: 'LIVENESS_FACE_ATTACK',
  log_type: 'error',
  short_description: 'Possible presentation attack',
  long_description: 'A reviewer found signs of a presentation attack (a photo, a screen or a mask).',
};

/** The reviewer's decision a `sim:review` vendor_data asks for, or undefined when there is no review. */
export function simulatedReview(vendorData: string | null): 'Approved' | 'Declined' | undefined {
  const match = /^sim:review(?:=(Approved|Declined))?/.exec(vendorData ?? '');
  if (!match) return undefined;
  return match[1] === 'Approved' ? 'Approved' : 'Declined';
}

export class DiditWebhookEmitter {
  /** Every webhook handed to the API so far, in the order sent. */
  readonly sent: EmittedWebhook[] = [];
  private readonly queue: Queued[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly lastTimestamp = new Map<string, number>();
  private sending: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: DiditWebhookEmitterOptions) {
    const host = new URL(options.url).hostname;
    if (host !== '127.0.0.1') throw new Error(`the Didit simulator only sends webhooks to 127.0.0.1, not ${host}`);
  }

  /** Queues the webhooks Didit would send for a request it answered and saved. */
  schedule(request: SavedRequest): void {
    const first = this.enqueue(request, request.status, request.score, request.warnings);
    const review = simulatedReview(request.vendorData);
    const decided =
      review === undefined
        ? undefined
        : review === 'Approved'
          ? this.enqueue(request, 'Approved', request.score, [])
          : this.enqueue(request, 'Declined', 12.5, [FACE_ATTACK]);
    if (this.options.manual) return;
    const firstDelay = this.options.firstDelayMs ?? 2000;
    this.later(firstDelay, first);
    if (decided) this.later(firstDelay + (this.options.reviewDelayMs ?? 6000), decided);
  }

  /** Sends every queued webhook now, in order, and resolves when each has been answered (or given up). */
  async flush(): Promise<EmittedWebhook[]> {
    const due = this.queue.splice(0);
    for (const item of due) await this.send(item);
    return due.map((item) => item.webhook);
  }

  /** Webhooks queued and not yet sent. */
  get pending(): number {
    return this.queue.length;
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.queue.length = 0;
  }

  private enqueue(
    request: SavedRequest,
    status: string,
    score: number | null,
    warnings: readonly SimulatedWarning[],
  ): Queued {
    const item = {
      request,
      status,
      score,
      warnings,
      webhook: { sessionId: request.sessionId, eventId: randomUUID(), status, attempts: [] },
    };
    this.queue.push(item);
    return item;
  }

  private later(delayMs: number, item: Queued): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const at = this.queue.indexOf(item);
      if (at < 0) return;
      this.queue.splice(at, 1);
      // One at a time, so a session's webhooks reach the API in the order Didit sent them.
      this.sending = this.sending.then(() => this.send(item)).catch(() => {});
    }, delayMs);
    this.timers.add(timer);
  }

  private async send(item: Queued): Promise<void> {
    const { request, webhook } = item;
    // Didit's timestamp is whole seconds; a later event of the session is never stamped at or before an earlier one.
    const timestamp = Math.max(Math.floor(Date.now() / 1000), (this.lastTimestamp.get(request.sessionId) ?? 0) + 1);
    this.lastTimestamp.set(request.sessionId, timestamp);
    webhook.timestamp = timestamp;
    this.sent.push(webhook);
    const body = v3Body(item, timestamp);
    const raw = JSON.stringify(body);
    const headers = signedHeaders(body, raw, this.options.secret, timestamp);
    const maxAttempts = this.options.maxAttempts ?? 3;
    for (let attempt = 1; attempt <= maxAttempts && !this.stopped; attempt++) {
      let status: number | null = null;
      try {
        const res = await fetch(this.options.url, { method: 'POST', headers, body: raw });
        status = res.status;
        const answer = (await res.json().catch(() => ({}))) as { outcome?: string };
        webhook.attempts.push({ status, ...(answer.outcome ? { outcome: answer.outcome } : {}) });
      } catch {
        webhook.attempts.push({ status: null });
      }
      const outcome = webhook.attempts.at(-1)?.outcome;
      this.options.log?.(
        `didit-sim  status.updated ${item.status} for session ${request.sessionId}: ` +
          `HTTP ${status ?? 'no answer'}${outcome ? ` ${outcome}` : ''}`,
      );
      // Didit resends only after a 5xx or a 404; anything else (a 2xx, a 401, a 429) is final.
      if (status !== null && status !== 404 && status < 500) return;
      await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs ?? 1000));
    }
  }
}

function v3Body(item: Queued, timestamp: number): Record<string, unknown> {
  const { request, status } = item;
  return {
    session_id: request.sessionId,
    status,
    webhook_type: 'status.updated',
    event_id: item.webhook.eventId,
    created_at: timestamp,
    timestamp,
    vendor_data: request.vendorData,
    metadata: request.metadata,
    decision: {
      session_id: request.sessionId,
      status,
      features: ['LIVENESS'],
      vendor_data: request.vendorData,
      metadata: request.metadata,
      liveness_checks: [
        {
          node_id: 'feature_liveness',
          status,
          method: 'PASSIVE',
          score: item.score,
          reference_image: null,
          video_url: null,
          age_estimation: null,
          warnings: item.warnings.map((w) => ({ ...w, feature: 'LIVENESS', additional_data: null })),
        },
      ],
      created_at: new Date(timestamp * 1000).toISOString(),
    },
  };
}

/** Didit's three signatures; V2 over the ASCII-escaped canonical JSON, the form Didit's docs name. */
function signedHeaders(body: Record<string, unknown>, raw: string, secret: string, timestamp: number) {
  const hmac = (message: string) => createHmac('sha256', Buffer.from(secret, 'utf8')).update(message).digest('hex');
  return {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'x-timestamp': String(timestamp),
    'x-signature': hmac(raw),
    'x-signature-v2': hmac(canonicalJson(body, { ensureAscii: true })),
    'x-signature-simple': hmac(`${timestamp}:${body.session_id}:${body.status}:${body.webhook_type}`),
  };
}

/**
 * Didit simulator: a loopback server speaking the documented `POST /v3/passive-liveness/` contract, for the local stack
 * and the tests. It never calls Didit.
 *
 * Request handling, in this order:
 *   1. A queued fault (see injectFaults) answers instead of everything below.
 *   2. `x-api-key` must equal the configured key, else 401 {"detail": ...}.
 *   2b. The request counts against the rate window (default 300 per sliding 60 s, every authenticated request counted,
 *      refused ones too). Past the limit: 429 with `Retry-After`. Every answer from here on carries
 *      `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (epoch seconds).
 *   3. The body must be multipart/form-data (else 415) holding a `user_image` file (else 400). The file must be a
 *      TIFF, JPEG, PNG or WebP by its magic bytes, whatever its name or declared type (else 400), at most 5 MiB
 *      (else 400) and decodable (else 400). A request body over 12 MiB is refused with 413 before parsing.
 *   4. `face_liveness_score_decline_threshold` defaults to 30 and must be a number from 0 to 100 (else 400);
 *      `rotate_image` and `save_api_request` must be booleans (true/false/1/0) if sent (else 400); `metadata`, if
 *      sent, must be a JSON object encoded as a string (else 400). 400 bodies name the field: {"<field>": ["..."]}.
 *   5. `vendor_data` beginning `sim:status=NNN` (NNN from 400 to 599) answers that HTTP status with a JSON error
 *      body; 429 and 503 also carry `Retry-After: 1`.
 *
 *   6. A valid request must be paid for: with the credit balance at 0, 402 (or 403, `outOfCreditsStatus`) with
 *      {"detail": ..., "code": "insufficient_credits"}; otherwise one credit is spent. The balance is unlimited unless
 *      set; `POST /__simulator/credits {"credits": n}` sets it while running (null: unlimited), GET reads it.
 *
 * Outcome of a valid request (deterministic: the same image and fields always give the same answer):
 *   - Near-uniform image (mean colour-channel standard deviation below 8 on 0–255, e.g. a solid colour): score 0,
 *     user_image null, face_quality null, warning NO_FACE_DETECTED, status Declined. Overrides the rules below.
 *   - Otherwise the score is 60 + (first two bytes of the image's SHA-256 as a big-endian integer mod 40): an integer
 *     from 60 to 99, so the default threshold of 30 approves.
 *   - `vendor_data` beginning `sim:declined`: score 5, warning LOW_LIVENESS_SCORE, status Declined, whatever the
 *     threshold.
 *   - `vendor_data` beginning `sim:score=NN` (a number from 0 to 100): the score is NN.
 *   - score ≤ threshold: warning LOW_LIVENESS_SCORE, status Declined; otherwise status Approved.
 *   - An image at least twice as wide as tall has two faces: two entities (largest first) and a MULTIPLE_FACES_DETECTED
 *     warning of log_type "warning", which does not decline on its own. Otherwise one entity.
 *   - Warnings are objects {risk, log_type, short_description, long_description}; LOW_LIVENESS_SCORE and
 *     NO_FACE_DETECTED have log_type "error".
 *   - Entities: bbox [x1, y1, x2, y2] in pixels (one face: the centre half of the width, 15–85 % of the height),
 *     confidence, age and gender derived from the SHA-256, race null; best_angle 0. face_quality is 70–94.9 from the
 *     SHA-256, face_luminance the image's mean brightness (0–100).
 *   - request_id is a random UUID; vendor_data is echoed (null when not sent); metadata is echoed parsed (null when
 *     not sent); created_at is the current time like 2026-06-12T01:04:42.763000+00:00.
 *   - `vendor_data` beginning `sim:review`: status In Review (a reviewer decides later, see below).
 *
 * Session deletion, `DELETE /v3/session/{id}/delete/` (Didit's erasure of a saved request): after a queued fault,
 * no `x-api-key` → 401, a wrong one → 403 (each {"detail": ...}); then the request counts against the rate window
 * (429 past it); a session this simulator saved (a 200 answer with `save_api_request` not false) and not deleted yet
 * → 204 with no body, and it is gone; any other id (never saved, saved with `save_api_request` false, already
 * deleted) → 404 {"detail": "Not found."}. Other methods on that path → 405. `savedSessions` and `deletedSessions`
 * show what happened.
 *
 * Webhooks (when `webhooks` is set, e.g. by the local stack): every request answered 200 with `save_api_request` not
 * false gets Didit's signed `status.updated` webhooks, and a `sim:review` one the reviewer's decision later; see
 * local/didit-webhook-emitter.ts.
 *
 * Faults (injectFaults(fault, n) queues one fault for each of the next n requests, whatever they hold;
 * injectFaultsFor(vendorData, fault, n) for the next n valid, admitted requests carrying that vendor_data, answered
 * just before step 5):
 *   { type: 'status', status, retryAfter? } — that HTTP status with a JSON error body, plus Retry-After when given
 *   { type: 'timeout' }     — reads the request and never answers (the client's headers timeout fires)
 *   { type: 'reset' }       — reads the request and resets the TCP connection
 *   { type: 'garbage' }     — 200 application/json whose body is not JSON
 *   { type: 'wrong-shape' } — 200 JSON that is not the documented shape (no liveness at all)
 *   { type: 'partial-shape' } — 200 JSON with liveness.status Approved but a score that is not a number
 *   { type: 'huge-body' }   — 200 JSON of about 200 KiB (a padded warning)
 *   { type: 'slow-body' }   — 200 headers and the first bytes of the body, then stalls (the client's body timeout fires)
 */
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type SupportedImageType, sniffImageType } from '../lambdas/core/image-sniff';
import { DiditQuota, type QuotaOptions } from './didit-quota';
import { type DiditWebhookEmitter, type SimulatedWarning, simulatedReview } from './didit-webhook-emitter';
import { LoopbackServer } from './loopback-server';
import { analyseImage, type ImageTraits, readBody } from './rekognition-simulator';

export const SIMULATOR_PATH = '/v3/passive-liveness/';
/** Didit's session deletion: `DELETE /v3/session/{sessionId}/delete/`. */
const SESSION_DELETE_PATH = /^\/v3\/session\/([^/]+)\/delete\/$/;
/** Loopback-only control of the simulated balance: GET it, POST {"credits": n} (or null for unlimited) to set it. */
export const CREDITS_PATH = '/__simulator/credits';
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
const MAX_REQUEST_BYTES = 12 * 1024 * 1024;
const DEFAULT_THRESHOLD = 30;

export type DiditFault =
  | { readonly type: 'status'; readonly status: number; readonly retryAfter?: string }
  | { readonly type: 'timeout' }
  | { readonly type: 'reset' }
  | { readonly type: 'garbage' }
  | { readonly type: 'wrong-shape' }
  | { readonly type: 'partial-shape' }
  | { readonly type: 'huge-body' }
  | { readonly type: 'slow-body' };

/** What the simulator saw in the last request that got past authentication; the image is kept as a digest only. */
export interface SimulatedDiditRequest {
  /** Every text field exactly as sent (vendor_data, metadata and the flags are strings on the wire). */
  readonly fields: Readonly<Record<string, string>>;
  readonly image: {
    readonly filename: string;
    /** The type the client declared for the file part. */
    readonly contentType: string;
    readonly size: number;
    readonly sha256: string;
  } | null;
  /** The file's real type by its magic bytes; null when no file was sent or it is not an accepted image. */
  readonly imageType: SupportedImageType | null;
}

export interface DiditSimulatorOptions {
  /** The only `x-api-key` accepted. */
  readonly apiKey: string;
  /** 0 (default) lets the kernel choose. */
  readonly port?: number;
  /**
   * Keep the bytes of the last image received in `lastImage`, so a test can inspect exactly what would reach Didit
   * (orientation, metadata). Off by default: a simulator left running should not hold a face in memory.
   * @default false
   */
  readonly keepLastImage?: boolean;
  /** The request limit and credit balance it enforces. @default 300 per 60 s, unlimited credits */
  readonly quota?: QuotaOptions;
  /**
   * What an empty balance answers: 402, or 403 with the same insufficient-credits body (Didit's standalone APIs
   * document 403 for it).
   * @default 402
   */
  readonly outOfCreditsStatus?: 402 | 403;
}

/** The body of an answer refused for an empty balance; `code` is what tells it from a bad key's 403. */
export const OUT_OF_CREDITS_BODY = {
  detail: 'Could not charge the verification: insufficient credits. Top up your balance to continue.',
  code: 'insufficient_credits',
} as const;

type Warning = { risk: string; log_type: string; short_description: string; long_description: string };

const WARNINGS = {
  LOW_LIVENESS_SCORE: {
    risk: 'LOW_LIVENESS_SCORE',
    log_type: 'error',
    short_description: 'Low liveness score',
    long_description: 'The liveness score is at or below the decline threshold; the image may not show a live person.',
  },
  NO_FACE_DETECTED: {
    risk: 'NO_FACE_DETECTED',
    log_type: 'error',
    short_description: 'No face detected',
    long_description: 'No face could be found in the image.',
  },
  MULTIPLE_FACES_DETECTED: {
    risk: 'MULTIPLE_FACES_DETECTED',
    log_type: 'warning',
    short_description: 'Multiple faces detected',
    long_description: 'Several faces are present; the largest one was evaluated.',
  },
} satisfies Record<string, Warning>;

export class DiditSimulator {
  /** Every request received, faults and errors included. */
  calls = 0;
  /** When each request arrived (epoch ms), in order. */
  readonly callTimes: number[] = [];
  /** Requests answered 200 with a documented-shape body. */
  successfulCalls = 0;
  lastRequest: SimulatedDiditRequest | undefined;
  /** Opt-in (see DiditSimulatorOptions.keepLastImage; settable on a running simulator, e.g. the local stack's). */
  keepLastImage: boolean;
  /** The last image's bytes, only while `keepLastImage` is on. */
  lastImage: Buffer | undefined;
  /** Sends Didit's status.updated webhooks for saved requests when set (the local stack sets it to its API). */
  webhooks: DiditWebhookEmitter | undefined;
  /** What an empty balance answers (see DiditSimulatorOptions.outOfCreditsStatus; settable on a running simulator). */
  outOfCreditsStatus: 402 | 403;

  /** Sessions saved by a 200 answer with `save_api_request` not false, and not deleted since. */
  readonly savedSessions = new Set<string>();
  /** Session ids deleted (answered 204), in order. */
  readonly deletedSessions: string[] = [];

  /** The request window and the credit balance (see DiditQuota); tests and `npm start` may change both live. */
  readonly quota: DiditQuota;

  private readonly faults: DiditFault[] = [];
  private readonly targetedFaults = new Map<string, DiditFault[]>();
  private readonly http: LoopbackServer;

  constructor(private readonly options: DiditSimulatorOptions) {
    this.keepLastImage = options.keepLastImage ?? false;
    this.outOfCreditsStatus = options.outOfCreditsStatus ?? 402;
    this.quota = new DiditQuota(options.quota);
    this.http = new LoopbackServer(
      'DiditSimulator',
      (req, res) => {
        this.handle(req, res).catch(() => {
          if (!res.headersSent) sendJson(res, 500, { detail: 'Simulator failure' });
          else res.destroy();
        });
      },
      options.port,
    );
  }

  /** Starts listening on 127.0.0.1 and returns the base URL (without the /v3/... path). */
  async start(): Promise<string> {
    return this.http.start();
  }

  get url(): string {
    return this.http.url;
  }

  /** TCP connections accepted; stays at 1 over several calls when the client reuses its connection. */
  get connections(): number {
    return this.http.connections;
  }

  /** Stops listening and drops every connection, including requests a `timeout` fault is holding. */
  async stop(): Promise<void> {
    await this.http.stop();
  }

  /** The next `times` requests get this fault instead of a normal answer. */
  injectFaults(fault: DiditFault, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push(fault);
  }

  /**
   * The next `times` valid, admitted requests whose `vendor_data` is exactly `vendorData` get this fault instead of an
   * answer, whichever order concurrent checks reach the simulator in (the load run tags each check this way).
   */
  injectFaultsFor(vendorData: string, fault: DiditFault, times = 1): void {
    const queue = this.targetedFaults.get(vendorData) ?? [];
    for (let i = 0; i < times; i++) queue.push(fault);
    this.targetedFaults.set(vendorData, queue);
  }

  /** Drops pending faults, zeroes the counters and forgets the last request. */
  clear(): void {
    this.faults.length = 0;
    this.targetedFaults.clear();
    this.calls = 0;
    this.callTimes.length = 0;
    this.successfulCalls = 0;
    this.http.resetConnections();
    this.quota.resetWindow();
    this.lastRequest = undefined;
    this.lastImage = undefined;
    this.deletedSessions.length = 0;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://simulator').pathname;
    const body = await readBody(req, MAX_REQUEST_BYTES);
    // The top-up route is the test's hand on the simulator, not a call to Didit: not counted, never faulted.
    if (path === CREDITS_PATH && body !== undefined) {
      this.controlCredits(req, body, res);
      return;
    }
    this.calls++;
    this.callTimes.push(Date.now());
    const fault = this.faults.shift();
    if (fault) {
      applyFault(fault, req, res);
      return;
    }
    if (body === undefined) {
      res.setHeader('connection', 'close');
      sendJson(res, 413, { detail: 'Request entity too large.' });
      return;
    }
    const deletion = SESSION_DELETE_PATH.exec(path);
    if (deletion) {
      this.deleteSession(decodeURIComponent(deletion[1] as string), req, res);
      return;
    }
    if (path !== SIMULATOR_PATH) {
      sendJson(res, 404, { detail: 'Not found.' });
      return;
    }
    if (req.method !== 'POST') {
      sendJson(res, 405, { detail: `Method "${req.method}" not allowed.` });
      return;
    }
    if (!this.admitted(req, res, { status: 401, detail: 'Invalid API key.' })) return;
    const contentType = req.headers['content-type'] ?? '';
    if (!contentType.toLowerCase().startsWith('multipart/form-data')) {
      sendJson(res, 415, { detail: `Unsupported media type "${contentType}" in request.` });
      return;
    }
    let form: FormData;
    try {
      form = await new Request(`http://simulator${SIMULATOR_PATH}`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body,
      }).formData();
    } catch {
      sendJson(res, 400, { detail: 'Multipart form parse error.' });
      return;
    }
    await this.answer(form, req, res);
  }

  private async answer(form: FormData, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const fields: Record<string, string> = {};
    for (const [name, value] of form.entries()) {
      if (typeof value === 'string') fields[name] = value;
    }
    const upload = form.get('user_image');
    let image: Buffer | undefined;
    if (upload !== null && typeof upload !== 'string') {
      image = Buffer.from(await upload.arrayBuffer());
      this.lastImage = this.keepLastImage ? image : undefined;
      this.lastRequest = {
        fields,
        imageType: acceptedImageType(image) ?? null,
        image: {
          filename: upload.name,
          contentType: upload.type,
          size: image.byteLength,
          sha256: createHash('sha256').update(image).digest('hex'),
        },
      };
    } else {
      this.lastImage = undefined;
      this.lastRequest = { fields, image: null, imageType: null };
    }

    if (upload === null) return fieldError(res, 'user_image', 'No file was submitted.');
    if (typeof upload === 'string' || image === undefined) {
      return fieldError(res, 'user_image', 'The submitted data was not a file. Check the encoding type on the form.');
    }
    if (image.byteLength === 0) return fieldError(res, 'user_image', 'The submitted file is empty.');
    if (image.byteLength > MAX_IMAGE_BYTES) {
      return fieldError(res, 'user_image', 'File too large. Maximum upload size is 5 MB.');
    }
    if (!acceptedImageType(image)) {
      return fieldError(res, 'user_image', 'Unsupported file type. Allowed extensions: tiff, jpg, jpeg, png, webp.');
    }

    const threshold = parseThreshold(fields.face_liveness_score_decline_threshold);
    if (threshold === undefined) {
      return fieldError(res, 'face_liveness_score_decline_threshold', 'Ensure this value is a number from 0 to 100.');
    }
    for (const name of ['rotate_image', 'save_api_request']) {
      const raw = fields[name];
      if (raw !== undefined && !/^(true|false|1|0)$/i.test(raw))
        return fieldError(res, name, 'Must be a valid boolean.');
    }
    let metadata: Record<string, unknown> | null = null;
    if (fields.metadata !== undefined) {
      const parsed = parseJsonObject(fields.metadata);
      if (!parsed) return fieldError(res, 'metadata', 'Must be a JSON object encoded as a string.');
      metadata = parsed;
    }
    const vendorData = fields.vendor_data ?? null;

    const targeted = vendorData === null ? undefined : this.targetedFaults.get(vendorData)?.shift();
    if (targeted) {
      applyFault(targeted, req, res);
      return;
    }

    const forcedStatus = /^sim:status=(\d{3})/.exec(vendorData ?? '')?.[1];
    if (forcedStatus && Number(forcedStatus) >= 400 && Number(forcedStatus) <= 599) {
      const status = Number(forcedStatus);
      if (status === 429 || status === 503) res.setHeader('retry-after', '1');
      sendJson(res, status, { detail: `Simulated HTTP ${status}.` });
      return;
    }

    let traits: ImageTraits;
    try {
      traits = await analyseImage(image);
    } catch {
      return fieldError(res, 'user_image', 'Upload a valid image. The file was either not an image or corrupted.');
    }
    if (!this.quota.canPay()) {
      sendJson(res, this.outOfCreditsStatus, OUT_OF_CREDITS_BODY);
      return;
    }
    this.quota.charge();
    const sha = createHash('sha256').update(image).digest();
    const requestId = randomUUID();
    const result = liveness(traits, sha, threshold, vendorData ?? '');
    sendJson(res, 200, {
      request_id: requestId,
      liveness: result,
      vendor_data: vendorData,
      metadata,
      created_at: new Date().toISOString().replace('Z', '000+00:00'),
    });
    this.successfulCalls++;
    if (!/^(false|0)$/i.test(fields.save_api_request ?? '')) {
      this.savedSessions.add(requestId);
      this.webhooks?.schedule({
        sessionId: requestId,
        vendorData,
        metadata,
        status: result.status as string,
        score: result.score as number | null,
        warnings: result.warnings as SimulatedWarning[],
      });
    }
  }

  /**
   * The key check and the rate window every Didit route shares: no key → 401; a wrong key → `wrongKey`; then the request
   * counts against the window (refused ones included), every answer says where it stands, and past the limit → 429.
   * False when it answered.
   */
  private admitted(req: IncomingMessage, res: ServerResponse, wrongKey: { status: number; detail: string }): boolean {
    const apiKey = req.headers['x-api-key'];
    if (apiKey === undefined) {
      sendJson(res, 401, { detail: 'Authentication credentials were not provided.' });
      return false;
    }
    if (apiKey !== this.options.apiKey) {
      sendJson(res, wrongKey.status, { detail: wrongKey.detail });
      return false;
    }
    const admission = this.quota.admit();
    for (const [name, value] of Object.entries(admission.headers)) res.setHeader(name, value);
    if (!admission.admitted) {
      sendJson(res, 429, {
        detail: `Request was throttled. Expected available in ${admission.headers['retry-after']} seconds.`,
      });
      return false;
    }
    return true;
  }

  /** `DELETE /v3/session/{id}/delete/`: 204 once for a saved session, 404 for any other; 401/403 without the key. */
  private deleteSession(sessionId: string, req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'DELETE') {
      sendJson(res, 405, { detail: `Method "${req.method}" not allowed.` });
      return;
    }
    const wrongKey = { status: 403, detail: 'You do not have permission to perform this action.' };
    if (!this.admitted(req, res, wrongKey)) return;
    if (!this.savedSessions.delete(sessionId)) {
      sendJson(res, 404, { detail: 'Not found.' });
      return;
    }
    this.deletedSessions.push(sessionId);
    res.writeHead(204);
    res.end();
  }

  /** GET the balance, or POST {"credits": n | null} to set it; loopback callers only (the server binds 127.0.0.1). */
  private controlCredits(req: IncomingMessage, body: Buffer | undefined, res: ServerResponse): void {
    if (req.method === 'POST') {
      let credits: unknown;
      try {
        credits = (JSON.parse(body?.toString('utf8') ?? '') as { credits?: unknown }).credits;
      } catch {
        credits = Number.NaN;
      }
      if (credits !== null && !(typeof credits === 'number' && Number.isInteger(credits) && credits >= 0)) {
        sendJson(res, 400, { credits: ['Must be a whole number ≥ 0, or null for unlimited.'] });
        return;
      }
      this.quota.setCredits(credits === null ? undefined : credits);
    } else if (req.method !== 'GET') {
      sendJson(res, 405, { detail: `Method "${req.method}" not allowed.` });
      return;
    }
    sendJson(res, 200, { credits: this.quota.credits ?? null });
  }
}

function liveness(traits: ImageTraits, sha: Buffer, threshold: number, vendorData: string): Record<string, unknown> {
  const luminance = round(traits.luminance, 2);
  if (traits.nearUniform) {
    return {
      status: 'Declined',
      method: 'PASSIVE',
      score: 0,
      user_image: null,
      warnings: [WARNINGS.NO_FACE_DETECTED],
      face_quality: null,
      face_luminance: luminance,
    };
  }
  const byte = (i: number) => sha[i] ?? 0;
  const forcedScore = /^sim:score=(\d+(?:\.\d+)?)/.exec(vendorData)?.[1];
  const forcedDecline = vendorData.startsWith('sim:declined');
  let score = 60 + (((byte(0) << 8) | byte(1)) % 40);
  if (forcedDecline) score = 5;
  else if (forcedScore !== undefined && Number(forcedScore) <= 100) score = Number(forcedScore);

  const warnings: Warning[] = [];
  if (traits.faceCount === 2) warnings.push(WARNINGS.MULTIPLE_FACES_DETECTED);
  const declined = forcedDecline || score <= threshold;
  if (declined) warnings.push(WARNINGS.LOW_LIVENESS_SCORE);

  const { width: w, height: h } = traits;
  const box = (x1: number, x2: number) => [x1 * w, 0.15 * h, x2 * w, 0.85 * h].map(Math.round);
  const boxes = traits.faceCount === 2 ? [box(0.1, 0.45), box(0.6, 0.9)] : [box(0.25, 0.75)];
  return {
    status: simulatedReview(vendorData) ? 'In Review' : declined ? 'Declined' : 'Approved',
    method: 'PASSIVE',
    score,
    user_image: {
      entities: boxes.map((bbox, i) => ({
        bbox,
        confidence: round(0.8 + byte(6 + i) / 1275, 6),
        age: round(20 + (byte(3 + i) % 40) + byte(8) / 256, 2),
        gender: byte(5 + i) % 2 === 0 ? 'female' : 'male',
        race: null,
      })),
      best_angle: 0,
    },
    warnings,
    face_quality: round(70 + (byte(2) % 250) / 10, 2),
    face_luminance: luminance,
  };
}

function applyFault(fault: DiditFault, req: IncomingMessage, res: ServerResponse): void {
  switch (fault.type) {
    case 'status':
      if (fault.retryAfter !== undefined) res.setHeader('retry-after', fault.retryAfter);
      sendJson(res, fault.status, { detail: `Simulated HTTP ${fault.status}.` });
      return;
    case 'timeout':
      // Holding the response open: stop() or the client's timeout ends it.
      return;
    case 'reset':
      req.socket.resetAndDestroy();
      return;
    case 'garbage':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('<html><body>502 Bad Gateway</body></html>');
      return;
    case 'wrong-shape':
      sendJson(res, 200, { session_id: randomUUID(), status: 'Approved' });
      return;
    case 'partial-shape':
      sendJson(res, 200, {
        request_id: randomUUID(),
        liveness: {
          status: 'Approved',
          method: 'PASSIVE',
          score: 'high',
          warnings: [{ risk: 'LOW_FACE_QUALITY', log_type: 'information' }],
        },
        created_at: new Date().toISOString(),
      });
      return;
    case 'huge-body':
      sendJson(res, 200, { request_id: randomUUID(), padding: 'x'.repeat(200 * 1024) });
      return;
    case 'slow-body':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"request_id":"');
      return;
  }
}

/**
 * What Didit's user_image takes: JPEG, PNG, WebP, TIFF. The processor decodes more (HEIC) but only ever sends JPEG;
 * the simulator keeps Didit's list so a pipeline that forwarded an original would be refused here as by Didit.
 */
const DIDIT_IMAGE_TYPES: ReadonlySet<SupportedImageType> = new Set(['jpeg', 'png', 'webp', 'tiff']);

/** The real type by magic bytes (the same sniffer the processor uses); declared type and file name are not trusted. */
function acceptedImageType(bytes: Uint8Array): SupportedImageType | undefined {
  const sniffed = sniffImageType(bytes);
  return sniffed.supported && DIDIT_IMAGE_TYPES.has(sniffed.type) ? sniffed.type : undefined;
}

function parseThreshold(raw: string | undefined): number | undefined {
  if (raw === undefined) return DEFAULT_THRESHOLD;
  if (raw.trim() === '') return undefined;
  const value = Number(raw);
  return Number.isFinite(value) && value >= 0 && value <= 100 ? value : undefined;
}

function parseJsonObject(raw: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function fieldError(res: ServerResponse, field: string, message: string): void {
  sendJson(res, 400, { [field]: [message] });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

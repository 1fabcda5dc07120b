import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setTimeout } from 'node:timers/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DiditClient } from '../../lambdas/adapters/didit-client';
import type { DiditConfig } from '../../lambdas/config';
import type { DiditLivenessRequest } from '../../lambdas/core/didit-types';
import {
  DiditAuthError,
  DiditChargedAnswerError,
  DiditOutOfCreditsError,
  DiditRateLimitedError,
  DiditRejectedRequestError,
  DiditUnavailableError,
} from '../../lambdas/errors';
import { DiditSimulator } from '../../local/didit-simulator';
import { freePort } from '../../local/free-port';
import { readHeic } from '../helpers/heic-images';

const API_KEY = 'sim-test-key';
/** Short enough that timeout faults cost well under a second each. */
const TIMEOUT_MS = 300;

let sim: DiditSimulator;
let baseUrl: string;
let client: DiditClient;
let selfie: Buffer;
let blank: Buffer;
let twoFaces: Buffer;

function configFor(url: string): DiditConfig {
  return {
    baseUrl: url,
    apiKeySecretId: 'unused-in-tests',
    connectTimeoutMs: TIMEOUT_MS,
    headersTimeoutMs: TIMEOUT_MS,
    bodyTimeoutMs: TIMEOUT_MS,
  };
}

function request(overrides: Partial<DiditLivenessRequest> = {}): DiditLivenessRequest {
  return {
    image: selfie,
    faceLivenessScoreDeclineThreshold: 30,
    rotateImage: false,
    saveApiRequest: false,
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  const astronaut = await readFile(new URL('../fixtures/astronaut.png', import.meta.url));
  selfie = await sharp(astronaut).jpeg({ quality: 85 }).toBuffer();
  blank = await sharp({ create: { width: 400, height: 400, channels: 3, background: '#8a8a8a' } })
    .jpeg()
    .toBuffer();
  const face = await sharp(astronaut).resize(500, 500).toBuffer();
  twoFaces = await sharp({ create: { width: 1200, height: 500, channels: 3, background: '#404040' } })
    .composite([
      { input: face, left: 50, top: 0 },
      { input: face, left: 650, top: 0 },
    ])
    .jpeg()
    .toBuffer();

  sim = new DiditSimulator({ apiKey: API_KEY });
  baseUrl = await sim.start();
  client = new DiditClient(configFor(baseUrl), async () => API_KEY);
});

afterAll(async () => {
  await client?.close();
  await sim?.stop();
});

beforeEach(() => {
  sim.clear();
  sim.quota.setCredits(undefined);
});

describe('DiditClient against the Didit simulator', () => {
  it('gets an approved answer in the documented shape', async () => {
    // Act
    const { response } = await client.checkLiveness(request({ vendorData: 'user-123' }));

    // Assess
    expect(response.request_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(response.liveness).toMatchObject({ status: 'Approved', method: 'PASSIVE', warnings: [] });
    expect(response.liveness.score).toBeGreaterThanOrEqual(60);
    expect(response.liveness.user_image?.entities).toHaveLength(1);
    expect(response.vendor_data).toBe('user-123');
    expect(response.metadata).toBeNull();
    expect(response.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    expect(sim.successfulCalls).toBe(1);
  });

  it('sends the multipart form the contract documents', async () => {
    await client.checkLiveness(
      request({
        faceLivenessScoreDeclineThreshold: 42.5,
        rotateImage: true,
        saveApiRequest: false,
        vendorData: 'user-9',
        metadata: { flow: 'withdrawal', step: 2 },
      }),
    );

    expect(sim.lastRequest).toEqual({
      fields: {
        face_liveness_score_decline_threshold: '42.5',
        rotate_image: 'true',
        save_api_request: 'false',
        vendor_data: 'user-9',
        metadata: '{"flow":"withdrawal","step":2}',
      },
      imageType: 'jpeg',
      image: {
        filename: 'selfie.jpg',
        contentType: 'image/jpeg',
        size: selfie.byteLength,
        sha256: createHash('sha256').update(selfie).digest('hex'),
      },
    });
  });

  it('omits vendor_data and metadata when they are not set, and reads their echo as null', async () => {
    const { response } = await client.checkLiveness(request({ saveApiRequest: true }));

    expect(sim.lastRequest?.fields).toEqual({
      face_liveness_score_decline_threshold: '30',
      rotate_image: 'false',
      save_api_request: 'true',
    });
    expect(response).toMatchObject({ vendor_data: null, metadata: null });
  });

  it('echoes metadata parsed back into an object', async () => {
    const { response } = await client.checkLiveness(request({ metadata: { flow: 'withdrawal' } }));

    expect(response.metadata).toEqual({ flow: 'withdrawal' });
  });

  it('gets the same score for the same image (the simulator is deterministic)', async () => {
    const { response: first } = await client.checkLiveness(request());
    const { response: second } = await client.checkLiveness(request());

    expect(second.liveness.score).toBe(first.liveness.score);
    expect(second.request_id).not.toBe(first.request_id);
  });

  it('is declined with LOW_LIVENESS_SCORE when vendor_data starts with sim:declined', async () => {
    const { response } = await client.checkLiveness(request({ vendorData: 'sim:declined user-1' }));

    expect(response.liveness).toMatchObject({ status: 'Declined', score: 5 });
    expect(response.liveness.warnings).toEqual([
      expect.objectContaining({ risk: 'LOW_LIVENESS_SCORE', log_type: 'error' }),
    ]);
  });

  it('is declined with NO_FACE_DETECTED and score 0 for an image without detail', async () => {
    const { response } = await client.checkLiveness(request({ image: blank }));

    expect(response.liveness).toMatchObject({ status: 'Declined', score: 0, user_image: null, face_quality: null });
    expect(response.liveness.warnings.map((w) => w.risk)).toEqual(['NO_FACE_DETECTED']);
  });

  it('reports two faces with MULTIPLE_FACES_DETECTED for a wide image, still approved', async () => {
    const { response } = await client.checkLiveness(request({ image: twoFaces }));

    expect(response.liveness.status).toBe('Approved');
    expect(response.liveness.user_image?.entities).toHaveLength(2);
    expect(response.liveness.warnings).toEqual([
      expect.objectContaining({ risk: 'MULTIPLE_FACES_DETECTED', log_type: 'warning' }),
    ]);
  });

  it('forwards the threshold, which Didit enforces as "declined at or below"', async () => {
    const { response: atThreshold } = await client.checkLiveness(
      request({ vendorData: 'sim:score=55', faceLivenessScoreDeclineThreshold: 55 }),
    );
    expect(sim.lastRequest?.fields.face_liveness_score_decline_threshold).toBe('55');
    const { response: belowThreshold } = await client.checkLiveness(
      request({ vendorData: 'sim:score=55', faceLivenessScoreDeclineThreshold: 54.9 }),
    );
    const { response: strictest } = await client.checkLiveness(request({ faceLivenessScoreDeclineThreshold: 100 }));

    expect(atThreshold.liveness).toMatchObject({ status: 'Declined', score: 55 });
    expect(atThreshold.liveness.warnings.map((w) => w.risk)).toEqual(['LOW_LIVENESS_SCORE']);
    expect(belowThreshold.liveness).toMatchObject({ status: 'Approved', score: 55, warnings: [] });
    expect(strictest.liveness.status).toBe('Declined');
  });

  it('throws DiditRejectedRequestError for a threshold outside 0–100', async () => {
    const error = await rejection(client.checkLiveness(request({ faceLivenessScoreDeclineThreshold: 101 })));

    expect(error).toBeInstanceOf(DiditRejectedRequestError);
    expect(error).toMatchObject({ httpStatus: 400 });
    expect((error as Error).message).toContain('face_liveness_score_decline_threshold');
  });

  it('throws DiditAuthError for a wrong API key', async () => {
    const wrongKey = new DiditClient(configFor(baseUrl), async () => 'not-the-key');
    try {
      const error = await rejection(wrongKey.checkLiveness(request()));

      expect(error).toBeInstanceOf(DiditAuthError);
      expect(error).toMatchObject({ httpStatus: 401, code: 'DIDIT_AUTH_FAILED' });
      expect((error as Error).message).not.toContain('not-the-key');
    } finally {
      await wrongKey.close();
    }
  });

  it('throws DiditRejectedRequestError for bytes that are not an image', async () => {
    const error = await rejection(client.checkLiveness(request({ image: Buffer.from('%PDF-1.7 not an image') })));

    expect(error).toBeInstanceOf(DiditRejectedRequestError);
    expect(error).toMatchObject({ httpStatus: 400, code: 'DIDIT_REJECTED_REQUEST' });
    expect(sim.lastRequest?.imageType).toBeNull();
  });

  it('the simulator refuses a HEIC as Didit would: only the JPEG the pipeline makes is ever sent', async () => {
    const error = await rejection(client.checkLiveness(request({ image: readHeic('astronaut.heic') })));

    expect(error).toMatchObject({ httpStatus: 400, code: 'DIDIT_REJECTED_REQUEST' });
    expect(sim.lastRequest?.imageType).toBeNull();
  });

  it('throws DiditRejectedRequestError for an image over 5 MiB', async () => {
    const huge = Buffer.concat([selfie, Buffer.alloc(5 * 1024 * 1024)]);

    const error = await rejection(client.checkLiveness(request({ image: huge })));

    expect(error).toBeInstanceOf(DiditRejectedRequestError);
  });

  it.each([
    [400, DiditRejectedRequestError],
    [403, DiditAuthError],
    [413, DiditRejectedRequestError],
    [422, DiditRejectedRequestError],
    [503, DiditUnavailableError],
  ])('maps a forced HTTP %i (vendor_data sim:status=) to its error', async (status, errorClass) => {
    const error = await rejection(
      client.checkLiveness(request({ vendorData: `sim:status=${status} user@example.com` })),
    );

    expect(error).toBeInstanceOf(errorClass);
    expect(error).toMatchObject({ httpStatus: status });
    expect((error as Error).message).not.toContain('user@example.com');
  });

  it('keeps the connection alive across sequential calls', async () => {
    const fresh = new DiditClient(configFor(baseUrl), async () => API_KEY);
    try {
      for (let i = 0; i < 5; i++) {
        await fresh.checkLiveness(request());
        // In a Lambda other I/O always separates two Didit calls. Without any gap, undici resolves the body before it
        // returns the socket to the pool, and a call started in that same tick opens a second connection.
        await setTimeout(100);
      }

      expect(sim.successfulCalls).toBe(5);
      expect(sim.connections).toBe(1);
    } finally {
      await fresh.close();
    }
  });

  it('throws DiditUnavailableError when nothing listens', async () => {
    const closed = new DiditClient(configFor(`http://127.0.0.1:${await freePort()}`), async () => API_KEY);
    try {
      const error = await rejection(closed.checkLiveness(request()));

      expect(error).toBeInstanceOf(DiditUnavailableError);
      expect(error).toMatchObject({ httpStatus: undefined, retryable: true });
    } finally {
      await closed.close();
    }
  });
});

describe('DiditClient under injected faults', () => {
  it('a fault targeted at one vendor_data reaches that request only, whichever comes first', async () => {
    sim.injectFaultsFor('load:7', { type: 'status', status: 503 }, 1);

    const { response: other } = await client.checkLiveness(request({ vendorData: 'load:8' }));
    const targeted = await rejection(client.checkLiveness(request({ vendorData: 'load:7' })));
    const { response: again } = await client.checkLiveness(request({ vendorData: 'load:7' }));

    expect(other.liveness.status).toBe('Approved');
    expect(targeted).toBeInstanceOf(DiditUnavailableError);
    expect(targeted).toMatchObject({ httpStatus: 503 });
    expect(again.liveness.status).toBe('Approved');
  });

  it.each([500, 502, 503])('HTTP %i → DiditUnavailableError with the status', async (status) => {
    sim.injectFaults({ type: 'status', status });

    const error = await rejection(client.checkLiveness(request()));

    expect(error).toBeInstanceOf(DiditUnavailableError);
    expect(error).toMatchObject({ httpStatus: status, retryAfterSeconds: undefined, code: 'DIDIT_UNAVAILABLE' });
  });

  it('429 with Retry-After seconds → DiditRateLimitedError carrying them', async () => {
    sim.injectFaults({ type: 'status', status: 429, retryAfter: '7' });

    const error = await rejection(client.checkLiveness(request()));

    expect(error).toBeInstanceOf(DiditRateLimitedError);
    expect(error).toMatchObject({ httpStatus: 429, retryAfterSeconds: 7, rateLimit: { retryAfterSeconds: 7 } });
  });

  it('429 with a Retry-After HTTP-date → DiditRateLimitedError carrying the seconds until then', async () => {
    const at = new Date(Date.now() + 90_000);
    sim.injectFaults({ type: 'status', status: 429, retryAfter: at.toUTCString() });

    const error = (await rejection(client.checkLiveness(request()))) as DiditRateLimitedError;

    expect(error).toBeInstanceOf(DiditRateLimitedError);
    expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(88);
    expect(error.retryAfterSeconds).toBeLessThanOrEqual(90);
  });

  it('no answer → DiditUnavailableError after the headers timeout', async () => {
    sim.injectFaults({ type: 'timeout' });
    const started = Date.now();

    const error = await rejection(client.checkLiveness(request()));

    expect(error).toBeInstanceOf(DiditUnavailableError);
    expect((error as Error).cause).toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS * 5);
  });

  it('a reset connection → DiditUnavailableError', async () => {
    sim.injectFaults({ type: 'reset' });

    const error = await rejection(client.checkLiveness(request()));

    expect(error).toBeInstanceOf(DiditUnavailableError);
    expect((error as DiditUnavailableError).httpStatus).toBeUndefined();
  });

  it('a stalled body after 200 → DiditChargedAnswerError: paid for, never retried', async () => {
    sim.injectFaults({ type: 'slow-body' });

    const error = await rejection(client.checkLiveness(request()));

    expect(error).toBeInstanceOf(DiditChargedAnswerError);
    expect(error).toMatchObject({ code: 'DIDIT_BAD_RESPONSE', retryable: false, usable: undefined });
    expect((error as Error).cause).toMatchObject({ code: 'UND_ERR_BODY_TIMEOUT' });
  });

  it('200 with a body that is not JSON → DiditChargedAnswerError keeping the body', async () => {
    sim.injectFaults({ type: 'garbage' });

    const error = (await rejection(client.checkLiveness(request()))) as DiditChargedAnswerError;

    expect(error).toBeInstanceOf(DiditChargedAnswerError);
    expect(error).toMatchObject({ code: 'DIDIT_BAD_RESPONSE', retryable: false, usable: undefined });
    expect(error.rawBody).toContain('502 Bad Gateway');
  });

  it('200 JSON of the wrong shape without a liveness status → DiditChargedAnswerError, nothing usable', async () => {
    sim.injectFaults({ type: 'wrong-shape' });

    const error = (await rejection(client.checkLiveness(request()))) as DiditChargedAnswerError;

    expect(error).toBeInstanceOf(DiditChargedAnswerError);
    expect(error.usable).toBeUndefined();
    expect(JSON.parse(error.rawBody)).toMatchObject({ status: 'Approved' });
    expect(sim.successfulCalls).toBe(0);
  });

  it('200 JSON failing strict parsing but with a liveness status → what is usable is kept', async () => {
    sim.injectFaults({ type: 'partial-shape' });

    const error = (await rejection(client.checkLiveness(request()))) as DiditChargedAnswerError;

    expect(error).toBeInstanceOf(DiditChargedAnswerError);
    expect(error.message).toContain('liveness.score');
    expect(error.usable).toMatchObject({
      request_id: expect.any(String),
      liveness: { status: 'Approved', score: null, warnings: [{ risk: 'LOW_FACE_QUALITY' }] },
    });
  });

  it('a body far over 64 KiB keeps the first 64 KiB', async () => {
    sim.injectFaults({ type: 'huge-body' });

    const error = (await rejection(client.checkLiveness(request()))) as DiditChargedAnswerError;

    expect(error).toBeInstanceOf(DiditChargedAnswerError);
    expect(error.message).toContain('larger than 65536 bytes');
    expect(Buffer.byteLength(error.rawBody)).toBeLessThanOrEqual(64 * 1024);
  });

  it('recovers on the next call after every kind of fault', async () => {
    sim.injectFaults({ type: 'reset' });
    sim.injectFaults({ type: 'timeout' });
    sim.injectFaults({ type: 'slow-body' });
    sim.injectFaults({ type: 'status', status: 502 }, 2);

    for (let i = 0; i < 5; i++) await rejection(client.checkLiveness(request()));
    const { response } = await client.checkLiveness(request());

    expect(response.liveness.status).toBe('Approved');
    expect(sim.calls).toBe(6);
    expect(sim.successfulCalls).toBe(1);
  });
});

describe("Didit's budget and balance, as the simulator enforces them", () => {
  it('every answer carries the X-RateLimit headers, read into the answer', async () => {
    const { rateLimit } = await client.checkLiveness(request());

    expect(rateLimit).toMatchObject({ limit: 300, remaining: 299 });
    expect(rateLimit?.resetAtMs).toBeGreaterThan(Date.now());
  });

  it('past the limit: 429 with all four headers, counting the refused requests too', async () => {
    const limited = new DiditSimulator({ apiKey: API_KEY, quota: { limit: 2, windowSeconds: 30 } });
    const url = await limited.start();
    const limitedClient = new DiditClient(configFor(url), async () => API_KEY);
    try {
      await limitedClient.checkLiveness(request());
      const second = await limitedClient.checkLiveness(request());
      expect(second.rateLimit).toMatchObject({ limit: 2, remaining: 0 });

      const refused = (await rejection(limitedClient.checkLiveness(request()))) as DiditRateLimitedError;
      expect(refused).toBeInstanceOf(DiditRateLimitedError);
      expect(refused.rateLimit).toMatchObject({ limit: 2, remaining: 0 });
      expect(refused.rateLimit?.retryAfterSeconds).toBeGreaterThanOrEqual(29);
      expect(refused.rateLimit?.resetAtMs).toBeGreaterThan(Date.now() + 28_000);
      expect(await rejection(limitedClient.checkLiveness(request()))).toBeInstanceOf(DiditRateLimitedError);
      expect(limited.quota.throttled).toBe(2);
      expect(limited.successfulCalls).toBe(2);
    } finally {
      await limitedClient.close();
      await limited.stop();
    }
  });

  it('an empty balance answers 402 → DiditOutOfCreditsError; a top-up through the control route pays again', async () => {
    sim.quota.setCredits(1);
    await client.checkLiveness(request());

    const refused = await rejection(client.checkLiveness(request()));
    expect(refused).toBeInstanceOf(DiditOutOfCreditsError);
    expect(refused).toMatchObject({ httpStatus: 402, code: 'DIDIT_OUT_OF_CREDITS', retryable: true });

    const topUp = await fetch(`${baseUrl}/__simulator/credits`, { method: 'POST', body: '{"credits":5}' });
    expect(await topUp.json()).toEqual({ credits: 5 });
    await client.checkLiveness(request());
    expect(sim.quota.credits).toBe(4);
  });

  it('a 403 whose body says the balance is insufficient is out of credits, not a bad key', async () => {
    const broke = new DiditSimulator({ apiKey: API_KEY, quota: { credits: 0 }, outOfCreditsStatus: 403 });
    const url = await broke.start();
    const brokeClient = new DiditClient(configFor(url), async () => API_KEY);
    const wrongKey = new DiditClient(configFor(url), async () => 'not-the-key');
    try {
      expect(await rejection(brokeClient.checkLiveness(request()))).toBeInstanceOf(DiditOutOfCreditsError);
      expect(await rejection(wrongKey.checkLiveness(request()))).toBeInstanceOf(DiditAuthError);
    } finally {
      await brokeClient.close();
      await wrongKey.close();
      await broke.stop();
    }
  });
});

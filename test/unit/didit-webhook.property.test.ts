import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  DIDIT_WEBHOOK_TOLERANCE_SECONDS,
  DiditWebhookMalformedError,
  DiditWebhookSignatureError,
  type DiditWebhookVerification,
  verifyDiditWebhook,
} from '../../lambdas/core/didit-webhook';

// POST /v1/webhooks/didit has no API key: these signatures are all that stands between anyone on the internet and a
// check's decision. Properties over arbitrary bodies, signatures and clocks, plus a differential test of the canonical
// JSON against Python's json.dumps, which is what Didit signs with.

const SECRET = 'didit-property-secret';
const NOW = new Date('2026-06-12T01:04:42.000Z');
const NOW_SECONDS = Math.floor(NOW.getTime() / 1000);
type Method = 'v2' | 'raw' | 'simple';
const HEADER: Record<Method, string> = { v2: 'x-signature-v2', raw: 'x-signature', simple: 'x-signature-simple' };

function hmacHex(message: string | Uint8Array, secret = SECRET): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(message).digest('hex');
}

/** The three signatures Didit sends for a body, computed the way Didit documents them. */
function sign(rawBody: string | Uint8Array, secret = SECRET): Record<Method, string> {
  const parsed = JSON.parse(Buffer.from(rawBody).toString('utf8')) as Record<string, unknown>;
  return {
    v2: hmacHex(canonicalJson(parsed), secret),
    raw: hmacHex(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody, secret),
    simple: hmacHex(`${parsed.timestamp}:${parsed.session_id}:${parsed.status}:${parsed.webhook_type}`, secret),
  };
}

function headersFor(signatures: Partial<Record<Method, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(signatures).map(([method, value]) => [HEADER[method as Method], value]));
}

type Outcome =
  | { readonly ok: true; readonly verification: DiditWebhookVerification }
  | { readonly ok: false; readonly error: DiditWebhookMalformedError | DiditWebhookSignatureError };

/** The only failures the verifier may produce are the two that map to 400 and 401. */
function verify(body: string | Uint8Array, headers: Record<string, string | undefined>, now = NOW): Outcome {
  try {
    return { ok: true, verification: verifyDiditWebhook(body, headers, SECRET, { now }) };
  } catch (error) {
    if (error instanceof DiditWebhookMalformedError || error instanceof DiditWebhookSignatureError) {
      return { ok: false, error };
    }
    throw error;
  }
}

// ─── Arbitraries ──────────────────────────────────────────────────────────────────────────────────────────────────

/** Any text Didit (Python) could send: whole code points only. */
const text = fc.string({ unit: 'binary', maxLength: 24 });
/** Simple's fields cannot hold ':' (the verifier refuses them, or the signed string would be ambiguous). */
const simpleField = fc.string({ unit: 'binary', minLength: 1, maxLength: 24 }).filter((s) => !s.includes(':'));
const CORE_KEYS = ['timestamp', 'session_id', 'status', 'webhook_type', 'event_id', 'vendor_data', 'decision'];

/** Numbers whose JSON text Python and JavaScript read as the same value (see canonicalJson on integers past 2^53). */
const jsonNumber = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc
    .double({ noNaN: true, noDefaultInfinity: true })
    .filter((n) => !(Number.isInteger(n) && Math.abs(n) > Number.MAX_SAFE_INTEGER && Math.abs(n) < 1e21)),
);
const { json } = fc.letrec<{ json: unknown }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    jsonNumber,
    text,
    fc.array(tie('json'), { maxLength: 4 }),
    fc.dictionary(text, tie('json'), { maxKeys: 4 }),
  ),
}));
const jsonObject = fc.dictionary(text, json, { maxKeys: 5 });

const livenessResult = fc.record(
  {
    status: fc.constantFrom('Approved', 'Declined', 'In Review'),
    score: fc.option(fc.double({ min: 0, max: 100, noNaN: true }), { nil: null }),
    warnings: fc.array(fc.constantFrom('LOW_LIVENESS_SCORE', 'LIVENESS_FACE_ATTACK'), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);

/** A status.updated body: the signed core, the optional typed fields, and any other fields Didit may add. */
const webhookBody = fc
  .record({
    core: fc.record({
      timestamp: fc.integer({
        min: NOW_SECONDS - DIDIT_WEBHOOK_TOLERANCE_SECONDS,
        max: NOW_SECONDS + DIDIT_WEBHOOK_TOLERANCE_SECONDS,
      }),
      session_id: simpleField,
      status: simpleField,
      webhook_type: fc.constantFrom('status.updated', 'data.updated'),
    }),
    optional: fc.record(
      {
        event_id: text,
        vendor_data: fc.option(text, { nil: null }),
        decision: fc.option(
          fc.record({ liveness: livenessResult, passive_liveness: livenessResult }, { requiredKeys: [] }),
          { nil: null },
        ),
      },
      { requiredKeys: [] },
    ),
    extra: jsonObject.map((o) => Object.fromEntries(Object.entries(o).filter(([k]) => !CORE_KEYS.includes(k)))),
  })
  .map(({ core, optional, extra }) => ({ ...extra, ...optional, ...core }));

/** How Didit (or a proxy) may lay the same JSON out: compact, indented, or with keys in reverse order. */
const layout = fc.constantFrom<(body: Record<string, unknown>) => string>(
  (body) => JSON.stringify(body),
  (body) => JSON.stringify(body, null, 2),
  (body) => JSON.stringify(Object.fromEntries(Object.entries(body).reverse()), null, '\t'),
);

/** A different byte at one position. */
const byteEdit = fc.record({ position: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) });

function editByte(bytes: Uint8Array, edit: { position: number; byte: number }): Uint8Array | undefined {
  const position = edit.position % bytes.length;
  if (bytes[position] === edit.byte) return undefined;
  const copy = Uint8Array.from(bytes);
  copy[position] = edit.byte;
  return copy;
}

function parseOrUndefined(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
}

// ─── Properties ───────────────────────────────────────────────────────────────────────────────────────────────────

describe('verifyDiditWebhook', () => {
  it.each<Method>(['v2', 'raw', 'simple'])('verifies any body signed correctly with %s alone', (method) => {
    fc.assert(
      fc.property(webhookBody, layout, (body, lay) => {
        const raw = lay(body);
        const result = verify(raw, headersFor({ [method]: sign(raw)[method] }));
        expect(result.ok, result.ok ? '' : result.error.message).toBe(true);
        if (!result.ok) return;
        expect(result.verification.verifiedBy).toBe(method);
        const { timestamp, session_id, status, webhook_type } = body;
        expect(result.verification.trusted).toMatchObject({ timestamp, session_id, status, webhook_type });
        // After Simple only the four signed fields are trusted; nothing else may be read from the body.
        if (method === 'simple') expect(Object.keys(result.verification.trusted).sort()).toHaveLength(4);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses any single-byte change to the body when only the raw-body signature is sent', () => {
    fc.assert(
      fc.property(webhookBody, byteEdit, (body, edit) => {
        const raw = Buffer.from(JSON.stringify(body), 'utf8');
        const edited = editByte(raw, edit);
        if (!edited) return;
        expect(verify(edited, headersFor({ raw: sign(raw).raw })).ok).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('with all three signatures, a changed body passes only when what the passing signature covers is unchanged', () => {
    fc.assert(
      fc.property(webhookBody, byteEdit, (body, edit) => {
        const raw = Buffer.from(JSON.stringify(body), 'utf8');
        const edited = editByte(raw, edit);
        if (!edited) return;
        const result = verify(edited, headersFor(sign(raw)));
        if (!result.ok) return;
        // V2 signs the meaning, not the bytes (1E5 and 1e5 are one number); Simple signs four fields. Anything else
        // that passes is a forgery.
        const parsed = parseOrUndefined(edited) as Record<string, unknown>;
        if (result.verification.verifiedBy === 'v2') {
          expect(canonicalJson(parsed)).toBe(canonicalJson(body));
        } else {
          expect(result.verification.verifiedBy).toBe('simple');
          const { timestamp, session_id, status, webhook_type } = body;
          expect(result.verification.trusted).toEqual({ timestamp, session_id, status, webhook_type });
        }
      }),
      { numRuns: 1000 },
    );
  });

  it.each<Method>(['v2', 'raw', 'simple'])('refuses any single-character change to the %s signature', (method) => {
    fc.assert(
      fc.property(webhookBody, fc.nat(63), fc.integer({ min: 0x20, max: 0x7e }), (body, position, code) => {
        const raw = JSON.stringify(body);
        const signature = sign(raw)[method];
        const original = signature[position] ?? '';
        const replacement = String.fromCharCode(code);
        if (replacement === original) return;
        const forged = `${signature.slice(0, position)}${replacement}${signature.slice(position + 1)}`;
        const result = verify(raw, headersFor({ [method]: forged }));
        // Hex is case-insensitive: "A" for "a" is the same signature, not a change.
        if (replacement.toLowerCase() === original) expect(result.ok).toBe(true);
        else expect(result).toMatchObject({ ok: false, error: { reason: 'signature_mismatch' } });
      }),
      { numRuns: 400 },
    );
  });

  it('refuses a body signed with any other secret', () => {
    fc.assert(
      fc.property(webhookBody, fc.string({ minLength: 1 }), (body, other) => {
        if (other === SECRET) return;
        const raw = JSON.stringify(body);
        expect(verify(raw, headersFor(sign(raw, other)))).toMatchObject({
          ok: false,
          error: { reason: 'signature_mismatch' },
        });
      }),
    );
  });

  it('accepts timestamps within ±300 s of now and refuses every one outside, whichever signature is used', () => {
    const offset = fc.oneof(
      fc.integer({ min: -DIDIT_WEBHOOK_TOLERANCE_SECONDS, max: DIDIT_WEBHOOK_TOLERANCE_SECONDS }),
      fc.integer({ min: DIDIT_WEBHOOK_TOLERANCE_SECONDS + 1, max: 10 * 365 * 86_400 }),
      fc.integer({ min: -10 * 365 * 86_400, max: -DIDIT_WEBHOOK_TOLERANCE_SECONDS - 1 }),
      fc.constantFrom(
        -DIDIT_WEBHOOK_TOLERANCE_SECONDS - 1,
        DIDIT_WEBHOOK_TOLERANCE_SECONDS + 1,
        -DIDIT_WEBHOOK_TOLERANCE_SECONDS,
        DIDIT_WEBHOOK_TOLERANCE_SECONDS,
      ),
    );
    fc.assert(
      fc.property(webhookBody, offset, fc.constantFrom<Method>('v2', 'raw', 'simple'), (body, delta, method) => {
        const raw = JSON.stringify({ ...body, timestamp: NOW_SECONDS + delta });
        const result = verify(raw, headersFor({ [method]: sign(raw)[method] }));
        if (Math.abs(delta) <= DIDIT_WEBHOOK_TOLERANCE_SECONDS) expect(result.ok).toBe(true);
        else expect(result).toMatchObject({ ok: false, error: { reason: 'stale_timestamp' } });
      }),
      { numRuns: 500 },
    );
  });

  it('fails only with the 400 and 401 errors on any bytes and any headers, never with anything else', () => {
    const signatureValue = fc.oneof(
      fc.string(),
      fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: 64, maxLength: 64 }),
    );
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.string({ unit: 'binary' }),
      json.map((v) => JSON.stringify(v)),
      webhookBody.map((v) => JSON.stringify(v)),
      // Nesting far past the canonical writer's depth limit.
      fc.integer({ min: 200, max: 20_000 }).map((n) => `{"a":${'['.repeat(n)}${']'.repeat(n)}}`),
    );
    fc.assert(
      fc.property(
        body,
        fc.record({ v2: signatureValue, raw: signatureValue, simple: signatureValue }, { requiredKeys: [] }),
        (bytes, signatures) => {
          const result = verify(bytes, headersFor(signatures));
          expect(result.ok).toBe(false);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

// ─── canonicalJson ─────────────────────────────────────────────────────────────────────────────────────────────────

/** The same value with every object's keys inserted in another order. */
function reorder(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((item, i) => reorder(item, seed + i));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const rotated = entries.map((_, i) => entries[(i + seed) % entries.length] as [string, unknown]);
  if (seed % 2 === 1) rotated.reverse();
  const out: Record<string, unknown> = {};
  for (const [key, item] of rotated) {
    Object.defineProperty(out, key, { value: reorder(item, seed + 1), enumerable: true, writable: true });
  }
  return out;
}

describe('canonicalJson', () => {
  it('is the same for any reordering of object keys, at every level', () => {
    fc.assert(
      fc.property(jsonObject, fc.nat(1000), (value, seed) => {
        expect(canonicalJson(reorder(value, seed))).toBe(canonicalJson(value));
      }),
      { numRuns: 500 },
    );
  });

  it('writes JSON that parses back to the same value, and is a fixed point', () => {
    fc.assert(
      fc.property(json, (value) => {
        const canonical = canonicalJson(value);
        const parsed: unknown = JSON.parse(canonical);
        expect(canonicalJson(parsed)).toBe(canonical);
        // JSON itself cannot tell -0 from 0.
        expect(parsed).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 500 },
    );
  });

  it("matches Python's json.dumps(sort_keys, compact separators, ensure_ascii=False and True) with whole floats as ints", () => {
    // One Python process for a batch of samples: what Didit's V2 signature is computed over.
    const samples = fc.sample(jsonObject, { numRuns: 400 });
    const script = [
      'import json, sys',
      'def shorten(v):',
      '    if isinstance(v, float) and v.is_integer(): return int(v)',
      '    if isinstance(v, dict): return {k: shorten(x) for k, x in v.items()}',
      '    if isinstance(v, list): return [shorten(x) for x in v]',
      '    return v',
      'values = json.loads(sys.stdin.read())',
      'dump = lambda v, a: json.dumps(shorten(v), sort_keys=True, separators=(",", ":"), ensure_ascii=a)',
      'out = [[dump(v, False), dump(v, True)] for v in values]',
      'sys.stdout.write(json.dumps(out))',
    ].join('\n');
    const python = spawnSync('python3', ['-c', script], {
      input: JSON.stringify(samples),
      encoding: 'utf8',
      env: { ...process.env, PYTHONIOENCODING: 'utf-8' },
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(python.status, python.stderr).toBe(0);
    const expected = JSON.parse(python.stdout) as Array<[string, string]>;
    expect(expected).toHaveLength(samples.length);
    samples.forEach((sample, i) => {
      const value = JSON.parse(JSON.stringify(sample));
      expect(canonicalJson(value), JSON.stringify(sample)).toBe(expected[i]?.[0]);
      expect(canonicalJson(value, { ensureAscii: true }), JSON.stringify(sample)).toBe(expected[i]?.[1]);
    });
  });
});

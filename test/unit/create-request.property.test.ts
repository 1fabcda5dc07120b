import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CALLBACK_URL_MAX_LENGTH,
  callbackUrlProblem,
  METADATA_MAX_BYTES,
  METADATA_MAX_DEPTH,
  parseCreateCheckRequest,
  VENDOR_DATA_MAX_LENGTH,
} from '../../lambdas/core/create-request';
import { ACCEPTED_CONTENT_TYPES } from '../../lambdas/core/upload-rules';
import { RequestValidationError } from '../../lambdas/errors';

// The create-check validator is the only thing between an API client and DynamoDB, EventBridge and Didit. Whatever
// the body, it must either return options that say exactly what was sent, or throw a RequestValidationError that
// names real fields; never anything else (which would be a 500 and an "Unhandled error" log line).

const AWS = { defaultDeclineThreshold: 30, allowInsecureCallbacks: false };
const LOCAL = { defaultDeclineThreshold: 30, allowInsecureCallbacks: true };
const THRESHOLD = 'face_liveness_score_decline_threshold';
const KNOWN_FIELDS = [
  THRESHOLD,
  'rotate_image',
  'save_api_request',
  'vendor_data',
  'metadata',
  'callback_url',
  'content_type',
] as const;
const DEFAULTS = { [THRESHOLD]: 30, rotate_image: false, save_api_request: true, content_type: 'image/jpeg' };

/** Runs the validator; the only acceptable failure is a RequestValidationError with at least one field. */
function outcome(raw: string | null, rules = AWS) {
  try {
    return { ok: true as const, value: parseCreateCheckRequest(raw, rules) };
  } catch (error) {
    if (!(error instanceof RequestValidationError)) throw error;
    expect(error.fields.length).toBeGreaterThan(0);
    return { ok: false as const, fields: error.fields.map((f) => f.field) };
  }
}

// ─── Arbitraries ──────────────────────────────────────────────────────────────────────────────────────────────────

const threshold = fc.double({ min: 0, max: 100, noNaN: true }).map((n) => (Object.is(n, -0) ? 0 : n));
/** `binary` units are whole code points (no lone surrogates); 512 of them are at most 1024 UTF-16 units. */
const vendorData = fc.string({ unit: 'binary', minLength: 1, maxLength: VENDOR_DATA_MAX_LENGTH / 2 });
/** Public-looking https URLs; the host rules are the validator's documented contract, not its code. */
const publicCallback = fc
  .tuple(fc.domain(), fc.webPath(), fc.option(fc.webQueryParameters(), { nil: undefined }))
  .map(([domain, path, query]) => `https://${domain}${path}${query === undefined ? '' : `?${query}`}`)
  .filter((url) => {
    const host = new URL(url).hostname;
    return (
      url.length <= CALLBACK_URL_MAX_LENGTH &&
      host.includes('.') &&
      !/(^|\.)(localhost|internal)$/.test(host) &&
      !/^[\d.]+$/.test(host)
    );
  });

function hasProtoKey(value: unknown): boolean {
  return JSON.stringify(value).includes('"__proto__":');
}
const metadata = fc
  .dictionary(fc.string({ unit: 'binary', maxLength: 12 }), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 6 })
  .filter((value) => Buffer.byteLength(JSON.stringify(value)) <= METADATA_MAX_BYTES && !hasProtoKey(value));

const validBody = fc.record(
  {
    [THRESHOLD]: threshold,
    rotate_image: fc.boolean(),
    save_api_request: fc.boolean(),
    vendor_data: vendorData,
    metadata,
    callback_url: publicCallback,
    content_type: fc.constantFrom(...ACCEPTED_CONTENT_TYPES),
  },
  { requiredKeys: [] },
);

/** A known field with any JSON value, unknown fields, and prototype-ish keys, in any mix. */
const hostileObject = fc
  .tuple(
    fc.dictionary(fc.constantFrom(...KNOWN_FIELDS), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 7 }),
    fc.dictionary(
      fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString')),
      fc.jsonValue({ maxDepth: 2 }),
      { maxKeys: 3 },
    ),
  )
  .map(([known, extra]) => ({ ...extra, ...known }));

/** Nesting that a 10 MiB body allows and a recursive walk would not survive. */
const deepMetadata = fc
  .tuple(
    // Around the limit, and far beyond it.
    fc.oneof(fc.integer({ min: 1, max: 2 * METADATA_MAX_DEPTH }), fc.integer({ min: 1, max: 30_000 })),
    fc.constantFrom('[', '{"k":'),
  )
  .map(([depth, open]) => {
    const close = open === '[' ? ']' : '}';
    return `{"metadata":{"k":${open.repeat(depth)}${open === '[' ? '' : '1'}${close.repeat(depth)}}}`;
  });

const anyRawBody = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  hostileObject.map((v) => JSON.stringify(v)),
  validBody.map((v) => JSON.stringify(v)),
  deepMetadata,
);

// ─── Properties ───────────────────────────────────────────────────────────────────────────────────────────────────

describe('parseCreateCheckRequest, for any body', () => {
  it('never throws anything but a RequestValidationError, and every error names a real field', () => {
    fc.assert(
      fc.property(anyRawBody, fc.boolean(), (raw, local) => {
        const result = outcome(raw, local ? LOCAL : AWS);
        if (result.ok) return;
        let sentKeys: string[] = [];
        try {
          const parsed: unknown = JSON.parse(raw);
          if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) sentKeys = Object.keys(parsed);
        } catch {
          // Not JSON: the only field to name is the body.
        }
        for (const field of result.fields) {
          expect(field === 'body' || sentKeys.includes(field), `${field} is not a field of ${raw.slice(0, 80)}`).toBe(
            true,
          );
          if (field !== 'body' && !(KNOWN_FIELDS as readonly string[]).includes(field)) {
            // An unknown field is only ever named because it was sent.
            expect(sentKeys).toContain(field);
          }
        }
        expect(new Set(result.fields).size).toBe(result.fields.length);
      }),
      { numRuns: 1500 },
    );
  });

  it('accepts every valid body and returns it exactly, defaults filled in; the result parses to itself', () => {
    fc.assert(
      fc.property(validBody, (body) => {
        const raw = JSON.stringify(body);
        const result = outcome(raw);
        expect(result.ok, JSON.stringify(result)).toBe(true);
        if (!result.ok) return;
        // What the client sent is the JSON text (-0 in a generated value is sent as 0).
        expect(result.value).toEqual({ ...DEFAULTS, ...JSON.parse(raw) });
        const again = outcome(JSON.stringify(result.value));
        expect(again).toEqual(result);
      }),
      { numRuns: 500 },
    );
  });

  it('whatever it accepts round-trips through JSON unchanged (nothing dropped or rewritten silently)', () => {
    fc.assert(
      fc.property(hostileObject, (body) => {
        const raw = JSON.stringify(body);
        const result = outcome(raw);
        if (!result.ok) return;
        const sent = JSON.parse(raw) as Record<string, unknown>;
        expect(JSON.parse(JSON.stringify(result.value))).toEqual({ ...DEFAULTS, ...sent });
      }),
      { numRuns: 1500 },
    );
  });

  it('refuses any threshold outside [0, 100] or that is not a number, naming only the threshold', () => {
    const outside = fc.double({ noNaN: true }).filter((n) => n < 0 || n > 100);
    const notANumber = fc.oneof(
      fc.string(),
      fc.constantFrom('NaN', 'Infinity', '-1', '50', '1e2', ''),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.integer(), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
    );
    fc.assert(
      fc.property(fc.oneof(outside, notANumber), validBody, (value, body) => {
        // JSON has no NaN or Infinity: ±Infinity is sent as 1e999, which JSON.parse turns back into Infinity.
        const literal = typeof value === 'number' && !Number.isFinite(value) ? `${value < 0 ? '-' : ''}1e999` : null;
        // The threshold is appended as the last member, so nothing generated elsewhere in the body can collide with it.
        const { [THRESHOLD]: _ignored, ...rest } = body as Record<string, unknown>;
        const head = JSON.stringify(rest).slice(0, -1);
        const raw = `${head}${head.length > 1 ? ',' : ''}${JSON.stringify(THRESHOLD)}:${literal ?? JSON.stringify(value)}}`;
        expect(outcome(raw)).toEqual({ ok: false, fields: [THRESHOLD] });
      }),
      { numRuns: 1000 },
    );
  });

  it('accepts every number from 0 to 100 as the threshold, unchanged', () => {
    fc.assert(
      fc.property(threshold, (value) => {
        const result = outcome(JSON.stringify({ [THRESHOLD]: value }));
        expect(result).toEqual({ ok: true, value: { ...DEFAULTS, [THRESHOLD]: value } });
      }),
    );
  });

  it('refuses metadata nested deeper than the limit, at any depth beyond it, without overflowing the stack', () => {
    fc.assert(
      fc.property(deepMetadata, (raw) => {
        // Containers in metadata: every opener but the body's own.
        const depth = raw.split(/[[{]/).length - 2;
        const result = outcome(raw);
        if (depth <= METADATA_MAX_DEPTH) expect(result.ok).toBe(true);
        else expect(result).toEqual({ ok: false, fields: ['metadata'] });
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a "__proto__" key anywhere in metadata (it would not survive storage)', () => {
    fc.assert(
      fc.property(metadata, fc.array(fc.string({ maxLength: 4 }), { maxLength: 5 }), (value, path) => {
        // Put {"__proto__": 1} at a random path inside otherwise valid metadata, after its own keys: a JSON
        // object keeps the last of two equal keys, so a generated key equal to the path's first one cannot hide it.
        const own = JSON.stringify(value).slice(1, -1);
        const injected = `${path.map((k) => `${JSON.stringify(`p${k}`)}:{`).join('')}"__proto__":1${'}'.repeat(path.length)}`;
        const raw = `{"metadata":{${own}${own.length > 0 ? ',' : ''}${injected}}}`;
        expect(outcome(raw)).toEqual({ ok: false, fields: ['metadata'] });
      }),
    );
  });

  it('refuses vendor_data and metadata text holding a lone surrogate', () => {
    const lone = fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit));
    fc.assert(
      fc.property(fc.string({ maxLength: 5 }), lone, fc.string({ maxLength: 5 }), fc.boolean(), (a, s, b, inMeta) => {
        // A high surrogate followed by a low one would be a valid pair: keep it lone.
        const text = `${a}${s}x${b}`.replace(/[\uDC00-\uDFFF](?<=[\uD800-\uDBFF][\uDC00-\uDFFF])/gu, '');
        if (!/\p{Cs}/u.test(text)) return;
        const body = inMeta ? { metadata: { note: text } } : { vendor_data: text };
        expect(outcome(JSON.stringify(body))).toEqual({ ok: false, fields: [inMeta ? 'metadata' : 'vendor_data'] });
      }),
    );
  });
});

describe('callback_url with the AWS rules', () => {
  it('refuses any IPv4 literal, in any notation the URL parser understands (dotted, octal, hex, short)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV4Extended()), fc.webPath(), (ip, path) => {
        expect(callbackUrlProblem(`https://${ip}${path}`, false)).toBeDefined();
      }),
      { numRuns: 500 },
    );
  });

  it('refuses any IPv6 literal', () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        expect(callbackUrlProblem(`https://[${ip}]/hook`, false)).toBeDefined();
      }),
    );
  });

  it('refuses every scheme but https, even on the local stack (which allows only plain http besides)', () => {
    const scheme = fc.oneof(
      fc.constantFrom('http', 'ftp', 'file', 'javascript', 'data', 'ws', 'wss', 'gopher', 'dict', 'ldap', 'blob'),
      fc.stringMatching(/^[a-z][a-z0-9+.-]{0,8}$/).filter((s) => s !== 'https' && s !== 'http'),
    );
    fc.assert(
      fc.property(scheme, fc.domain(), (s, domain) => {
        expect(callbackUrlProblem(`${s}://${domain}/hook`, false)).toBeDefined();
        if (s !== 'http') expect(callbackUrlProblem(`${s}://${domain}/hook`, true)).toBeDefined();
      }),
    );
  });

  it('refuses local names however they are spelled (case, trailing dots, subdomains)', () => {
    const local = fc
      .tuple(
        fc.constantFrom('localhost', 'internal'),
        fc.array(
          fc.domain().map((d) => d.split('.')[0] ?? 'a'),
          { maxLength: 2 },
        ),
        fc.integer({ min: 0, max: 2 }),
        fc.boolean(),
      )
      .map(([suffix, labels, dots, upper]) => {
        const host = [...labels, suffix].join('.') + '.'.repeat(dots);
        return upper ? host.toUpperCase() : host;
      })
      .filter((host) => host.replace(/\.+$/, '').toLowerCase() !== 'internal');
    fc.assert(
      fc.property(local, (host) => {
        expect(callbackUrlProblem(`https://${host}/hook`, false)).toBeDefined();
      }),
    );
  });

  it('accepts the public https URLs it is meant for', () => {
    fc.assert(
      fc.property(publicCallback, (url) => {
        expect(callbackUrlProblem(url, false)).toBeUndefined();
      }),
    );
  });
});

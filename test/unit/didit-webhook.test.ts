import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  DiditWebhookMalformedError,
  DiditWebhookSignatureError,
  parseDiditWebhookSecrets,
  verifyDiditWebhook,
} from '../../lambdas/core/didit-webhook';

/**
 * Fixtures follow Didit's documented algorithm by hand: every expected string below is written out literally (the
 * canonical one is what Python's `json.dumps(shorten_floats(body), sort_keys=True, separators=(",", ":"),
 * ensure_ascii=False)` prints for this body), and every signature is an HMAC-SHA256 hex computed here with the
 * shared key as UTF-8.
 */

const SECRET = 'didit-test-secret-shared-key';
const TIMESTAMP = 1_750_000_000;
const NOW = new Date((TIMESTAMP + 30) * 1000);

/**
 * As Didit might send it: pretty-printed, keys unsorted, a float written 100.0, one accent escaped (\u00e9) and the
 * rest raw, CJK, a URL with slashes, empty object and array, numeric-like keys.
 */
const RAW_BODY = `{
  "webhook_type": "status.updated",
  "session_id": "11111111-2222-3333-4444-555555555555",
  "status": "Approved",
  "timestamp": 1750000000,
  "event_id": "evt-0001",
  "vendor_data": "check-42",
  "decision": {
    "passive_liveness": {"status": "Approved", "score": 95.4, "warnings": [], "face_quality": 100.0},
    "metadata": {},
    "id_verification": {"full_name": "Jos\\u00e9 Müller", "place_of_birth": "北京"},
    "portrait_url": "https://example.com/images/portrait.jpg?size=large&x=1",
    "buckets": {"10": "ten", "9": "nine", "a": "letter"}
  }
}`;

/** Sorted keys at every level ("10" before "9": strings), no spaces, 100.0 as 100, unicode and "/" unescaped. */
const CANONICAL =
  '{"decision":{"buckets":{"10":"ten","9":"nine","a":"letter"},' +
  '"id_verification":{"full_name":"José Müller","place_of_birth":"北京"},"metadata":{},' +
  '"passive_liveness":{"face_quality":100,"score":95.4,"status":"Approved","warnings":[]},' +
  '"portrait_url":"https://example.com/images/portrait.jpg?size=large&x=1"},' +
  '"event_id":"evt-0001","session_id":"11111111-2222-3333-4444-555555555555","status":"Approved",' +
  '"timestamp":1750000000,"vendor_data":"check-42","webhook_type":"status.updated"}';

const SIMPLE = '1750000000:11111111-2222-3333-4444-555555555555:Approved:status.updated';

function hmacHex(message: string | Buffer, secret = SECRET): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(message).digest('hex');
}

const SIGNATURES = {
  v2: hmacHex(CANONICAL),
  raw: hmacHex(Buffer.from(RAW_BODY, 'utf8')),
  simple: hmacHex(SIMPLE),
};

function headers(which: { v2?: string; raw?: string; simple?: string }): Record<string, string | undefined> {
  return { 'x-signature-v2': which.v2, 'x-signature': which.raw, 'x-signature-simple': which.simple };
}

const ALL_HEADERS = headers(SIGNATURES);

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

function signatureFailure(action: () => unknown): DiditWebhookSignatureError['reason'] {
  const error = thrown(action);
  expect(error).toBeInstanceOf(DiditWebhookSignatureError);
  expect((error as DiditWebhookSignatureError).httpStatus).toBe(401);
  return (error as DiditWebhookSignatureError).reason;
}

function malformed(action: () => unknown): DiditWebhookMalformedError['reason'] {
  const error = thrown(action);
  expect(error).toBeInstanceOf(DiditWebhookMalformedError);
  expect((error as DiditWebhookMalformedError).httpStatus).toBe(400);
  return (error as DiditWebhookMalformedError).reason;
}

describe('canonicalJson', () => {
  it('writes the fixture body exactly as Didit canonicalises it', () => {
    expect(canonicalJson(JSON.parse(RAW_BODY))).toBe(CANONICAL);
  });

  it('sorts keys by code point (U+FF01 before U+1F600), not by UTF-16 unit, and keeps __proto__ as a plain key', () => {
    const value = JSON.parse('{"😀":1,"！":2,"Z":3,"__proto__":{"y":true,"x":null}}');

    expect(canonicalJson(value)).toBe('{"Z":3,"__proto__":{"x":null,"y":true},"！":2,"😀":1}');
  });

  it('escapes only quote, backslash and control characters, like Python with ensure_ascii=False', () => {
    const value = { 'a/b': 'x/y\u2028\u0001\t"\\é' };

    expect(canonicalJson(value)).toBe(String.raw`{"a/b":"x/y${'\u2028'}\u0001\t\"\\é"}`);
  });

  it('writes numbers as Python does after shortening whole floats', () => {
    const value = JSON.parse(
      '{"small":[0.00001,0.0001,1.5e-7,-2.5e-10,0.1],"whole":[1e21,-0.0,1152921504606846976.0,100.0,3,-7.0]}',
    );

    expect(canonicalJson(value)).toBe(
      '{"small":[1e-05,0.0001,1.5e-07,-2.5e-10,0.1],' +
        '"whole":[1000000000000000000000,0,1152921504606846976,100,3,-7]}',
    );
  });

  it('sorts inside arrays of objects but keeps array order', () => {
    expect(canonicalJson([{ b: {}, a: [] }, 2, 'x', null, true, false])).toBe(
      '[{"a":[],"b":{}},2,"x",null,true,false]',
    );
  });

  it.each([
    ['undefined', undefined],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a Date', new Date(0)],
    ['a function', () => 1],
    ['nesting beyond 256 levels', JSON.parse(`${'['.repeat(300)}${']'.repeat(300)}`)],
  ])('refuses %s', (_case, value) => {
    expect(() => canonicalJson(value)).toThrow(TypeError);
  });
});

describe('verifyDiditWebhook', () => {
  it('verifies by X-Signature-V2 first and returns the whole payload as trusted', () => {
    const result = verifyDiditWebhook(RAW_BODY, ALL_HEADERS, SECRET, { now: NOW });

    expect(result.verifiedBy).toBe('v2');
    expect(result.trusted).toEqual(JSON.parse(RAW_BODY));
  });

  it('verifies by X-Signature-V2 alone, from a Buffer body, with header names in any case', () => {
    const result = verifyDiditWebhook(Buffer.from(RAW_BODY, 'utf8'), { 'X-Signature-V2': SIGNATURES.v2 }, SECRET, {
      now: NOW,
    });

    expect(result.verifiedBy).toBe('v2');
  });

  it('accepts an upper-case hex signature', () => {
    const result = verifyDiditWebhook(RAW_BODY, headers({ v2: SIGNATURES.v2.toUpperCase() }), SECRET, { now: NOW });

    expect(result.verifiedBy).toBe('v2');
  });

  it('falls back to the raw-body X-Signature when V2 does not match', () => {
    const result = verifyDiditWebhook(
      RAW_BODY,
      headers({ v2: hmacHex('something else'), raw: SIGNATURES.raw }),
      SECRET,
      {
        now: NOW,
      },
    );

    expect(result.verifiedBy).toBe('raw');
    if (result.verifiedBy === 'simple') throw new Error('unreachable');
    expect(result.trusted.decision?.passive_liveness?.score).toBe(95.4);
  });

  it('verifies by the raw-body X-Signature alone', () => {
    expect(verifyDiditWebhook(RAW_BODY, headers({ raw: SIGNATURES.raw }), SECRET, { now: NOW }).verifiedBy).toBe('raw');
  });

  it('when only X-Signature-Simple matches, trusts the four signed fields and nothing else', () => {
    const result = verifyDiditWebhook(RAW_BODY, headers({ simple: SIGNATURES.simple }), SECRET, { now: NOW });

    expect(result).toStrictEqual({
      verifiedBy: 'simple',
      trusted: {
        timestamp: 1750000000,
        session_id: '11111111-2222-3333-4444-555555555555',
        status: 'Approved',
        webhook_type: 'status.updated',
      },
      secretIndex: 0,
      dedupeKey: 'evt-0001',
    });
  });

  it('still verifies a body whose unsigned fields were altered by Simple, without trusting those fields', () => {
    const altered = RAW_BODY.replace('"score": 95.4', '"score": 10.0')
      .replace('"status": "Approved", "score"', '"status": "Declined", "score"')
      .replace('check-42', 'check-43');
    expect(altered).not.toBe(RAW_BODY);

    const result = verifyDiditWebhook(altered, ALL_HEADERS, SECRET, { now: NOW });

    expect(result.verifiedBy).toBe('simple');
    expect(Object.keys(result.trusted).sort()).toEqual(['session_id', 'status', 'timestamp', 'webhook_type']);
    expect(result.trusted).not.toHaveProperty('decision');
    expect(result.trusted).not.toHaveProperty('vendor_data');
  });

  it('refuses a body whose signed session status was altered', () => {
    const altered = RAW_BODY.replace('"status": "Approved",\n', '"status": "Declined",\n');
    expect(altered).not.toBe(RAW_BODY);

    expect(signatureFailure(() => verifyDiditWebhook(altered, ALL_HEADERS, SECRET, { now: NOW }))).toBe(
      'signature_mismatch',
    );
  });

  it('refuses every signature made with another secret', () => {
    expect(signatureFailure(() => verifyDiditWebhook(RAW_BODY, ALL_HEADERS, 'another-secret', { now: NOW }))).toBe(
      'signature_mismatch',
    );
  });

  it('refuses a delivery without any signature header', () => {
    expect(signatureFailure(() => verifyDiditWebhook(RAW_BODY, {}, SECRET, { now: NOW }))).toBe('missing_signature');
  });

  it.each(['', 'not-hex', SIGNATURES.v2.slice(0, 63), `${SIGNATURES.v2}00`])(
    'refuses the malformed signature %j',
    (signature) => {
      expect(
        signatureFailure(() => verifyDiditWebhook(RAW_BODY, headers({ v2: signature }), SECRET, { now: NOW })),
      ).toBe(signature === '' ? 'missing_signature' : 'signature_mismatch');
    },
  );

  it('does not accept Simple when a signed field holds ":" (the string would split differently)', () => {
    const body = JSON.stringify({ timestamp: TIMESTAMP, session_id: 'a:b', status: 'Approved', webhook_type: 'x' });

    expect(
      signatureFailure(() =>
        verifyDiditWebhook(body, headers({ simple: hmacHex(`${TIMESTAMP}:a:b:Approved:x`) }), SECRET, { now: NOW }),
      ),
    ).toBe('signature_mismatch');
  });

  describe('timestamp', () => {
    const at = (offsetSeconds: number) => ({ now: new Date((TIMESTAMP + offsetSeconds) * 1000) });

    it('accepts a body timestamp exactly 300 s old or 300 s ahead', () => {
      expect(verifyDiditWebhook(RAW_BODY, ALL_HEADERS, SECRET, at(300)).verifiedBy).toBe('v2');
      expect(verifyDiditWebhook(RAW_BODY, ALL_HEADERS, SECRET, at(-300)).verifiedBy).toBe('v2');
    });

    it('refuses a stale body timestamp (301 s old)', () => {
      expect(signatureFailure(() => verifyDiditWebhook(RAW_BODY, ALL_HEADERS, SECRET, at(301)))).toBe(
        'stale_timestamp',
      );
    });

    it('refuses a body timestamp 301 s in the future', () => {
      expect(signatureFailure(() => verifyDiditWebhook(RAW_BODY, ALL_HEADERS, SECRET, at(-301)))).toBe(
        'stale_timestamp',
      );
    });

    it('refuses a stale delivery verified by Simple too', () => {
      expect(
        signatureFailure(() => verifyDiditWebhook(RAW_BODY, headers({ simple: SIGNATURES.simple }), SECRET, at(3600))),
      ).toBe('stale_timestamp');
    });

    it('uses the tolerance it is given', () => {
      const options = { ...at(61), toleranceSeconds: 60 };

      expect(signatureFailure(() => verifyDiditWebhook(RAW_BODY, ALL_HEADERS, SECRET, options))).toBe(
        'stale_timestamp',
      );
    });

    it('ignores the unsigned X-Timestamp header', () => {
      const result = verifyDiditWebhook(RAW_BODY, { ...ALL_HEADERS, 'x-timestamp': '1' }, SECRET, { now: NOW });

      expect(result.verifiedBy).toBe('v2');
    });
  });

  describe('malformed bodies', () => {
    it('refuses a body that is not JSON with a 400 error', () => {
      const body = '{"session_id": ';

      expect(malformed(() => verifyDiditWebhook(body, headers({ raw: hmacHex(body) }), SECRET, { now: NOW }))).toBe(
        'not_json',
      );
    });

    it('refuses JSON that is not an object', () => {
      expect(malformed(() => verifyDiditWebhook('[1,2]', ALL_HEADERS, SECRET, { now: NOW }))).toBe('not_an_object');
    });

    it('refuses bytes that are not UTF-8 rather than guessing', () => {
      const body = Buffer.concat([Buffer.from('{"status":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);

      expect(malformed(() => verifyDiditWebhook(body, headers({ raw: hmacHex(body) }), SECRET, { now: NOW }))).toBe(
        'not_utf8',
      );
    });

    it.each([
      ['without a timestamp', { session_id: 's', status: 'Approved', webhook_type: 'status.updated' }],
      ['with a string timestamp', { timestamp: String(TIMESTAMP), session_id: 's', status: 'A', webhook_type: 'w' }],
      ['without a session_id', { timestamp: TIMESTAMP, status: 'Approved', webhook_type: 'status.updated' }],
      [
        'with a numeric vendor_data',
        { timestamp: TIMESTAMP, session_id: 's', status: 'A', webhook_type: 'w', vendor_data: 1 },
      ],
      [
        'with a liveness score that is not a number',
        {
          timestamp: TIMESTAMP,
          session_id: 's',
          status: 'A',
          webhook_type: 'w',
          decision: { liveness: { score: 'x' } },
        },
      ],
    ])('refuses an authentic body %s as malformed', (_case, payload) => {
      const body = JSON.stringify(payload);

      expect(malformed(() => verifyDiditWebhook(body, headers({ raw: hmacHex(body) }), SECRET, { now: NOW }))).toBe(
        'invalid_field',
      );
    });

    it('keeps unknown fields of an authentic body', () => {
      const payload = {
        timestamp: TIMESTAMP,
        session_id: 's',
        status: 'In Review',
        webhook_type: 'status.updated',
        workflow_id: 'wf',
        decision: { liveness_checks: [{ status: 'Approved', score: 88, method: 'PASSIVE' }], features: ['LIVENESS'] },
      };
      const body = JSON.stringify(payload);

      const result = verifyDiditWebhook(body, headers({ raw: hmacHex(body) }), SECRET, { now: NOW });

      expect(result.trusted).toEqual(payload);
    });
  });

  it('refuses an empty secret as a programming error', () => {
    expect(() => verifyDiditWebhook(RAW_BODY, ALL_HEADERS, '', { now: NOW })).toThrow(TypeError);
    expect(() => verifyDiditWebhook(RAW_BODY, ALL_HEADERS, [], { now: NOW })).toThrow(TypeError);
  });
});

/**
 * Didit's docs call X-Signature-V2 "ASCII-escaped" while their samples keep Unicode as is. Both canonical forms below
 * are what Python prints for this body with `json.dumps(body, sort_keys=True, separators=(",", ":"),
 * ensure_ascii=False)` and `ensure_ascii=True`, written out literally (computed once with python3, not by the code
 * under test): accents, CJK, a check mark, DEL (U+007F, escaped only in the ASCII form) and an emoji beyond U+FFFF,
 * which the ASCII form writes as its surrogate pair.
 */
describe('X-Signature-V2 over Unicode: both canonical forms', () => {
  const RAW_UNICODE = `{"webhook_type": "status.updated", "session_id": "11111111-2222-3333-4444-555555555555",
  "status": "Declined", "timestamp": 1750000000, "event_id": "evt-0002", "vendor_data": "Zo\u00eb 北京 😀",
  "decision": {"liveness_checks": [{"status": "Declined", "score": 12.5, "warnings": [{"risk": "LIVENESS_FACE_ATTACK",
  "log_type": "error", "short_description": "Ataque de presentación", "feature": "LIVENESS"}]}],
  "reviewer": {"name": "José Müller", "note": "\u65e5本 ✓ \u007f"}, "ñ": 1}}`;
  const UNESCAPED =
    '{"decision":{"liveness_checks":[{"score":12.5,"status":"Declined","warnings":[{"feature":"LIVENESS",' +
    '"log_type":"error","risk":"LIVENESS_FACE_ATTACK","short_description":"Ataque de presentación"}]}],' +
    '"reviewer":{"name":"José Müller","note":"日本 ✓ \u007f"},"ñ":1},"event_id":"evt-0002",' +
    '"session_id":"11111111-2222-3333-4444-555555555555","status":"Declined","timestamp":1750000000,' +
    '"vendor_data":"Zoë 北京 😀","webhook_type":"status.updated"}';
  const ESCAPED = String.raw`{"decision":{"liveness_checks":[{"score":12.5,"status":"Declined","warnings":[{"feature":"LIVENESS","log_type":"error","risk":"LIVENESS_FACE_ATTACK","short_description":"Ataque de presentaci\u00f3n"}]}],"reviewer":{"name":"Jos\u00e9 M\u00fcller","note":"\u65e5\u672c \u2713 \u007f"},"\u00f1":1},"event_id":"evt-0002","session_id":"11111111-2222-3333-4444-555555555555","status":"Declined","timestamp":1750000000,"vendor_data":"Zo\u00eb \u5317\u4eac \ud83d\ude00","webhook_type":"status.updated"}`;

  it('writes both forms exactly as Python does', () => {
    const body = JSON.parse(RAW_UNICODE);

    expect(canonicalJson(body)).toBe(UNESCAPED);
    expect(canonicalJson(body, { ensureAscii: true })).toBe(ESCAPED);
  });

  it.each([
    ['Unicode kept (as in Didit’s samples)', UNESCAPED],
    ['ASCII-escaped (as Didit’s docs say)', ESCAPED],
  ])('accepts a signature over the canonical JSON with %s', (_form, canonical) => {
    const result = verifyDiditWebhook(RAW_UNICODE, headers({ v2: hmacHex(canonical) }), SECRET, { now: NOW });

    expect(result.verifiedBy).toBe('v2');
    if (result.verifiedBy === 'simple') throw new Error('unreachable');
    expect(result.trusted.vendor_data).toBe('Zoë 北京 😀');
  });

  it.each([
    ['upper-case escapes', ESCAPED.replaceAll('\\u00f3', '\\u00F3')],
    ['the emoji escaped as one code point', ESCAPED.replace('\\ud83d\\ude00', '\\u{1f600}')],
    ['DEL escaped in the Unicode form', UNESCAPED.replace('\u007f', '\\u007f')],
  ])('refuses a signature over any other form (%s)', (_form, canonical) => {
    expect(canonical).not.toBe(UNESCAPED);
    expect(canonical).not.toBe(ESCAPED);

    expect(
      signatureFailure(() =>
        verifyDiditWebhook(RAW_UNICODE, headers({ v2: hmacHex(canonical) }), SECRET, { now: NOW }),
      ),
    ).toBe('signature_mismatch');
  });
});

describe('during a secret rotation', () => {
  const PREVIOUS = 'didit-previous-secret';

  it.each(['v2', 'raw', 'simple'] as const)('accepts %s signed with the previous secret, and says so', (method) => {
    const signatures = {
      v2: hmacHex(CANONICAL, PREVIOUS),
      raw: hmacHex(RAW_BODY, PREVIOUS),
      simple: hmacHex(SIMPLE, PREVIOUS),
    };

    const result = verifyDiditWebhook(RAW_BODY, headers({ [method]: signatures[method] }), [SECRET, PREVIOUS], {
      now: NOW,
    });

    expect(result).toMatchObject({ verifiedBy: method, secretIndex: 1 });
  });

  it('prefers V2 with either secret over Simple with the current one', () => {
    const result = verifyDiditWebhook(
      RAW_BODY,
      headers({ v2: hmacHex(CANONICAL, PREVIOUS), simple: SIGNATURES.simple }),
      [SECRET, PREVIOUS],
      { now: NOW },
    );

    expect(result).toMatchObject({ verifiedBy: 'v2', secretIndex: 1 });
  });

  it('still refuses a signature made with neither secret', () => {
    const forged = headers({ v2: hmacHex(CANONICAL, 'older-still'), raw: hmacHex(RAW_BODY, 'older-still') });

    expect(signatureFailure(() => verifyDiditWebhook(RAW_BODY, forged, [SECRET, PREVIOUS], { now: NOW }))).toBe(
      'signature_mismatch',
    );
  });

  it.each([
    ['one secret', 'current', ['current']],
    ['current and previous on one line', 'current previous', ['current', 'previous']],
    ['current and previous on two lines, padded', '  current\nprevious\n', ['current', 'previous']],
  ])('reads the stored secret value: %s', (_case, value, expected) => {
    expect(parseDiditWebhookSecrets(value)).toEqual(expected);
  });
});

describe('one dedupe key per event, whichever signature verified it', () => {
  it('is the event_id whether V2, the raw body or Simple verified it', () => {
    const keys = (['v2', 'raw', 'simple'] as const).map(
      (method) =>
        verifyDiditWebhook(RAW_BODY, headers({ [method]: SIGNATURES[method] }), SECRET, { now: NOW }).dedupeKey,
    );

    expect(keys).toEqual(['evt-0001', 'evt-0001', 'evt-0001']);
  });

  it('is the signed session, status and timestamp when the event has no event_id', () => {
    const body = JSON.stringify({ timestamp: TIMESTAMP, session_id: 's-1', status: 'Declined', webhook_type: 'w' });
    const simple = hmacHex(`${TIMESTAMP}:s-1:Declined:w`);

    for (const signature of [headers({ raw: hmacHex(body) }), headers({ simple })]) {
      expect(verifyDiditWebhook(body, signature, SECRET, { now: NOW }).dedupeKey).toBe(`s-1:Declined:${TIMESTAMP}`);
    }
  });
});

import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  generateWebhookSecret,
  signWebhook,
  verifyWebhook,
  WebhookSecretFormatError,
  WebhookVerificationError,
} from '../../lambdas/core/standard-webhooks';

/** A 32-byte key written out, so the secret's encoding is visible in the test. */
const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const SECRET = `whsec_${KEY.toString('base64')}`;
const OTHER_KEY = Buffer.alloc(32, 0xab);
const OTHER_SECRET = `whsec_${OTHER_KEY.toString('base64')}`;

const ID = 'msg_2wZ3kQ9vJ8mN4pR7sT1uV6xY0z';
const TIMESTAMP = 1_750_000_000;
const BODY = '{"type":"check.completed","data":{"check_id":"chk_1","decision":"Approved","name":"José 北京"}}';
const AT_TIMESTAMP = new Date(TIMESTAMP * 1000);

/** The spec, by hand: base64-decode the part after `whsec_`, HMAC-SHA256 over `id.timestamp.body`, base64. */
function specSignature(secret: string, id: string, timestamp: string, body: string): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest('base64');
}

function headersFor(signature: string, id = ID, timestamp = String(TIMESTAMP)): Record<string, string> {
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature };
}

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

function verificationFailure(action: () => unknown): WebhookVerificationError['reason'] {
  const error = thrown(action);
  expect(error).toBeInstanceOf(WebhookVerificationError);
  return (error as WebhookVerificationError).reason;
}

describe('signWebhook', () => {
  it('writes the three headers with a v1 signature computed as the spec describes', () => {
    const headers = signWebhook(SECRET, ID, TIMESTAMP, BODY);

    expect(headers['webhook-id']).toBe(ID);
    expect(headers['webhook-timestamp']).toBe('1750000000');
    expect(headers['webhook-signature']).toBe(`v1,${specSignature(SECRET, ID, '1750000000', BODY)}`);
  });

  it('matches the example signature published with the Standard Webhooks / Svix documentation', () => {
    const headers = signWebhook(
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      1614265330,
      '{"test": 2432232314}',
    );

    expect(headers['webhook-signature']).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('signs the UTF-8 bytes of the body, so a Buffer and the same string give the same signature', () => {
    expect(signWebhook(SECRET, ID, TIMESTAMP, Buffer.from(BODY, 'utf8'))).toEqual(
      signWebhook(SECRET, ID, TIMESTAMP, BODY),
    );
  });

  it('adds one v1 entry per secret while rotating', () => {
    const headers = signWebhook([SECRET, OTHER_SECRET], ID, TIMESTAMP, BODY);

    expect(headers['webhook-signature']).toBe(
      `v1,${specSignature(SECRET, ID, '1750000000', BODY)} v1,${specSignature(OTHER_SECRET, ID, '1750000000', BODY)}`,
    );
  });

  it.each([
    ['an empty id', '', TIMESTAMP],
    ['an id with a dot', 'msg.1', TIMESTAMP],
    ['an id with a space', 'msg 1', TIMESTAMP],
    ['a fractional timestamp', ID, 1.5],
    ['a negative timestamp', ID, -1],
    ['a timestamp in milliseconds beyond the safe range', ID, Number.MAX_SAFE_INTEGER + 2],
  ])('refuses %s', (_case, id, timestamp) => {
    expect(() => signWebhook(SECRET, id, timestamp, BODY)).toThrow(TypeError);
  });
});

describe('verifyWebhook', () => {
  const signed = () => signWebhook(SECRET, ID, TIMESTAMP, BODY);

  it('returns the parsed body of a delivery signed as the spec describes', () => {
    const headers = headersFor(`v1,${specSignature(SECRET, ID, String(TIMESTAMP), BODY)}`);

    expect(verifyWebhook(BODY, headers, [SECRET], { now: AT_TIMESTAMP })).toEqual(JSON.parse(BODY));
  });

  it('accepts what signWebhook produced, from a string or a Buffer body', () => {
    expect(verifyWebhook(BODY, { ...signed() }, [SECRET], { now: AT_TIMESTAMP })).toEqual(JSON.parse(BODY));
    expect(verifyWebhook(Buffer.from(BODY), { ...signed() }, [SECRET], { now: AT_TIMESTAMP })).toEqual(
      JSON.parse(BODY),
    );
  });

  it('reads header names in any case', () => {
    const { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature } = signed();
    const headers = { 'Webhook-Id': id, 'WEBHOOK-TIMESTAMP': timestamp, 'Webhook-Signature': signature };

    expect(verifyWebhook(BODY, headers, [SECRET], { now: AT_TIMESTAMP })).toEqual(JSON.parse(BODY));
  });

  describe('rotation', () => {
    it('accepts a delivery signed with the previous secret while both are configured', () => {
      const headers = signWebhook(OTHER_SECRET, ID, TIMESTAMP, BODY);

      expect(verifyWebhook(BODY, { ...headers }, [SECRET, OTHER_SECRET], { now: AT_TIMESTAMP })).toEqual(
        JSON.parse(BODY),
      );
    });

    it('accepts a delivery signed with both secrets by a receiver holding either one', () => {
      const headers = { ...signWebhook([SECRET, OTHER_SECRET], ID, TIMESTAMP, BODY) };

      expect(verifyWebhook(BODY, headers, [SECRET], { now: AT_TIMESTAMP })).toEqual(JSON.parse(BODY));
      expect(verifyWebhook(BODY, headers, [OTHER_SECRET], { now: AT_TIMESTAMP })).toEqual(JSON.parse(BODY));
    });

    it('finds the matching entry among several, skipping other versions and garbage', () => {
      const valid = specSignature(SECRET, ID, String(TIMESTAMP), BODY);
      const headers = headersFor(`v1a,${valid} v1,bm90IGl0 garbage v1,${'A'.repeat(43)}= v1,${valid}`);

      expect(verifyWebhook(BODY, headers, [SECRET], { now: AT_TIMESTAMP })).toEqual(JSON.parse(BODY));
    });

    it('does not accept a valid signature under a version other than v1', () => {
      const valid = specSignature(SECRET, ID, String(TIMESTAMP), BODY);

      expect(
        verificationFailure(() => verifyWebhook(BODY, headersFor(`v2,${valid}`), [SECRET], { now: AT_TIMESTAMP })),
      ).toBe('no_matching_signature');
    });
  });

  describe('tampering', () => {
    it('refuses a changed body', () => {
      const body = BODY.replace('Approved', 'Declined');

      expect(verificationFailure(() => verifyWebhook(body, { ...signed() }, [SECRET], { now: AT_TIMESTAMP }))).toBe(
        'no_matching_signature',
      );
    });

    it('refuses a changed id (a replay dressed up as a new message)', () => {
      const headers = { ...signed(), 'webhook-id': 'msg_other' };

      expect(verificationFailure(() => verifyWebhook(BODY, headers, [SECRET], { now: AT_TIMESTAMP }))).toBe(
        'no_matching_signature',
      );
    });

    it('refuses a changed timestamp even inside the tolerance', () => {
      const headers = { ...signed(), 'webhook-timestamp': String(TIMESTAMP + 1) };

      expect(verificationFailure(() => verifyWebhook(BODY, headers, [SECRET], { now: AT_TIMESTAMP }))).toBe(
        'no_matching_signature',
      );
    });

    it('refuses a delivery signed with a secret the receiver does not hold', () => {
      const headers = { ...signWebhook(OTHER_SECRET, ID, TIMESTAMP, BODY) };

      expect(verificationFailure(() => verifyWebhook(BODY, headers, [SECRET], { now: AT_TIMESTAMP }))).toBe(
        'no_matching_signature',
      );
    });

    it('refuses a header holding no v1 entry', () => {
      const headers = { ...signed(), 'webhook-signature': 'v1a,abc' };

      expect(verificationFailure(() => verifyWebhook(BODY, headers, [SECRET], { now: AT_TIMESTAMP }))).toBe(
        'no_matching_signature',
      );
    });
  });

  describe('timestamp tolerance', () => {
    const at = (offsetSeconds: number) => new Date((TIMESTAMP + offsetSeconds) * 1000);

    it.each([
      ['exactly 300 s old', 300],
      ['exactly 300 s ahead of the receiver', -300],
      ['300.999 s old (the receiver clock is read in whole seconds)', 300.999],
    ])('accepts a delivery %s', (_case, offset) => {
      expect(verifyWebhook(BODY, { ...signed() }, [SECRET], { now: at(offset) })).toEqual(JSON.parse(BODY));
    });

    it('refuses a delivery 301 s old', () => {
      expect(verificationFailure(() => verifyWebhook(BODY, { ...signed() }, [SECRET], { now: at(301) }))).toBe(
        'timestamp_too_old',
      );
    });

    it('refuses a delivery 301 s in the future', () => {
      expect(verificationFailure(() => verifyWebhook(BODY, { ...signed() }, [SECRET], { now: at(-301) }))).toBe(
        'timestamp_too_new',
      );
    });

    it('uses the tolerance it is given', () => {
      const options = { now: at(61), toleranceSeconds: 60 };

      expect(verificationFailure(() => verifyWebhook(BODY, { ...signed() }, [SECRET], options))).toBe(
        'timestamp_too_old',
      );
      expect(verifyWebhook(BODY, { ...signed() }, [SECRET], { now: at(60), toleranceSeconds: 60 })).toEqual(
        JSON.parse(BODY),
      );
    });

    it('checks freshness before the signature, so an old replay is named as such', () => {
      const headers = { ...signed(), 'webhook-signature': 'v1,wrong' };

      expect(verificationFailure(() => verifyWebhook(BODY, headers, [SECRET], { now: at(3600) }))).toBe(
        'timestamp_too_old',
      );
    });
  });

  describe('headers', () => {
    it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])('refuses a delivery without %s', (name) => {
      const headers: Record<string, string | undefined> = { ...signed(), [name]: undefined };

      expect(verificationFailure(() => verifyWebhook(BODY, headers, [SECRET], { now: AT_TIMESTAMP }))).toBe(
        'missing_header',
      );
    });

    it('treats an empty header as missing', () => {
      const headers = { ...signed(), 'webhook-id': '  ' };

      expect(verificationFailure(() => verifyWebhook(BODY, headers, [SECRET], { now: AT_TIMESTAMP }))).toBe(
        'missing_header',
      );
    });

    it.each(['1750000000.0', '-1750000000', '+1750000000', '1.75e9', 'yesterday', '0x6850b380'])(
      'refuses the timestamp %s',
      (timestamp) => {
        const headers = { ...signed(), 'webhook-timestamp': timestamp };

        expect(verificationFailure(() => verifyWebhook(BODY, headers, [SECRET], { now: AT_TIMESTAMP }))).toBe(
          'invalid_timestamp',
        );
      },
    );
  });

  it('refuses a signed body that is not JSON as invalid_payload', () => {
    const body = 'not json';
    const headers = { ...signWebhook(SECRET, ID, TIMESTAMP, body) };

    expect(verificationFailure(() => verifyWebhook(body, headers, [SECRET], { now: AT_TIMESTAMP }))).toBe(
      'invalid_payload',
    );
  });
});

describe('secrets', () => {
  it.each([
    ['no whsec_ prefix', KEY.toString('base64')],
    ['characters outside base64', 'whsec_AAAA*AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='],
    ['broken padding', `whsec_${KEY.toString('base64').replace('=', '')}`],
    ['a 16-byte key', `whsec_${Buffer.alloc(16, 1).toString('base64')}`],
    ['a 65-byte key', `whsec_${Buffer.alloc(65, 1).toString('base64')}`],
    ['nothing after the prefix', 'whsec_'],
  ])('refuses a secret with %s, when signing and when verifying', (_case, secret) => {
    expect(() => signWebhook(secret, ID, TIMESTAMP, BODY)).toThrow(WebhookSecretFormatError);
    const headers = { ...signWebhook(SECRET, ID, TIMESTAMP, BODY) };
    // A malformed secret is a configuration error even when another configured secret matches.
    expect(() => verifyWebhook(BODY, headers, [SECRET, secret], { now: AT_TIMESTAMP })).toThrow(
      WebhookSecretFormatError,
    );
  });

  it('refuses an empty list of secrets', () => {
    expect(() => signWebhook([], ID, TIMESTAMP, BODY)).toThrow(WebhookSecretFormatError);
    expect(() => verifyWebhook(BODY, { ...signWebhook(SECRET, ID, TIMESTAMP, BODY) }, [])).toThrow(
      WebhookSecretFormatError,
    );
  });

  it('generates whsec_ secrets of 24 to 32 random bytes that sign and verify', () => {
    const first = generateWebhookSecret();
    const second = generateWebhookSecret();

    expect(first).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    const key = Buffer.from(first.slice('whsec_'.length), 'base64');
    expect(key.length).toBeGreaterThanOrEqual(24);
    expect(key.length).toBeLessThanOrEqual(32);
    expect(second).not.toBe(first);
    const headers = { ...signWebhook(first, ID, TIMESTAMP, BODY) };
    expect(headers['webhook-signature']).toBe(`v1,${specSignature(first, ID, String(TIMESTAMP), BODY)}`);
    expect(verifyWebhook(BODY, headers, [first], { now: AT_TIMESTAMP })).toEqual(JSON.parse(BODY));
  });
});

import { describe, expect, it } from 'vitest';
import { METADATA_MAX_BYTES, parseCreateCheckRequest, VENDOR_DATA_MAX_LENGTH } from '../../lambdas/core/create-request';
import { RequestValidationError } from '../../lambdas/errors';

const rules = { defaultDeclineThreshold: 30, allowInsecureCallbacks: false };

function fieldsOf(body: string | null, r = rules): string[] {
  try {
    parseCreateCheckRequest(body, r);
  } catch (error) {
    expect(error).toBeInstanceOf(RequestValidationError);
    return (error as RequestValidationError).fields.map((f) => f.field);
  }
  throw new Error('expected a validation error');
}

describe('create check request', () => {
  it('applies every default to an empty body', () => {
    expect(parseCreateCheckRequest(null, rules)).toEqual({
      face_liveness_score_decline_threshold: 30,
      rotate_image: false,
      save_api_request: true,
      content_type: 'image/jpeg',
    });
    expect(parseCreateCheckRequest('{}', { ...rules, defaultDeclineThreshold: 55 })).toMatchObject({
      face_liveness_score_decline_threshold: 55,
    });
  });

  it('keeps every valid field', () => {
    const body = {
      face_liveness_score_decline_threshold: 42.5,
      rotate_image: true,
      save_api_request: false,
      vendor_data: 'user-123',
      metadata: { flow: 'withdrawal', nested: { n: 1 } },
      callback_url: 'https://hooks.example.com/liveness',
      content_type: 'image/webp',
    };
    expect(parseCreateCheckRequest(JSON.stringify(body), rules)).toEqual(body);
  });

  it.each([[-1], [100.01], ['30'], [null], [true]])('refuses threshold %j', (value) => {
    expect(fieldsOf(JSON.stringify({ face_liveness_score_decline_threshold: value }))).toEqual([
      'face_liveness_score_decline_threshold',
    ]);
  });

  it('accepts the threshold bounds 0 and 100', () => {
    for (const value of [0, 100]) {
      expect(
        parseCreateCheckRequest(JSON.stringify({ face_liveness_score_decline_threshold: value }), rules)
          .face_liveness_score_decline_threshold,
      ).toBe(value);
    }
  });

  it('names every bad field at once, unknown fields included', () => {
    const body = JSON.stringify({
      rotate_image: 'yes',
      save_api_request: 1,
      vendor_data: 7,
      metadata: [1, 2],
      callback_url: 'ftp://example.com/x',
      content_type: 'image/gif',
      surprise: true,
    });
    expect(fieldsOf(body).sort()).toEqual(
      [
        'callback_url',
        'content_type',
        'metadata',
        'rotate_image',
        'save_api_request',
        'surprise',
        'vendor_data',
      ].sort(),
    );
  });

  it('refuses bodies that are not a JSON object', () => {
    expect(fieldsOf('{not json')).toEqual(['body']);
    expect(fieldsOf('[1]')).toEqual(['body']);
    expect(fieldsOf('"text"')).toEqual(['body']);
    expect(fieldsOf('null')).toEqual(['body']);
  });

  it('limits vendor_data and metadata sizes', () => {
    expect(fieldsOf(JSON.stringify({ vendor_data: 'x'.repeat(VENDOR_DATA_MAX_LENGTH + 1) }))).toEqual(['vendor_data']);
    expect(fieldsOf(JSON.stringify({ metadata: { big: 'x'.repeat(METADATA_MAX_BYTES) } }))).toEqual(['metadata']);
    expect(fieldsOf(JSON.stringify({ metadata: null }))).toEqual(['metadata']);
  });

  it.each([
    'http://example.com/hook',
    'https://127.0.0.1/hook',
    'https://localhost/hook',
    'https://[::1]/hook',
    'https://user:pass@example.com/hook',
    'not a url',
    'https://intranet/hook',
  ])('refuses callback_url %s in AWS', (url) => {
    expect(fieldsOf(JSON.stringify({ callback_url: url }))).toEqual(['callback_url']);
  });

  it('allows http loopback callbacks only where insecure callbacks are allowed (the local stack)', () => {
    const body = JSON.stringify({ callback_url: 'http://127.0.0.1:9999/hook' });
    expect(fieldsOf(body)).toEqual(['callback_url']);
    expect(parseCreateCheckRequest(body, { ...rules, allowInsecureCallbacks: true }).callback_url).toBe(
      'http://127.0.0.1:9999/hook',
    );
  });
});

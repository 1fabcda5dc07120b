import { describe, expect, it } from 'vitest';
import {
  decisionFrom,
  errorForDiditStatus,
  parseDiditResponse,
  parseRetryAfter,
  warningCodes,
} from '../../lambdas/core/didit-response';
import {
  DiditAuthError,
  DiditBadResponseError,
  DiditOutOfCreditsError,
  DiditRateLimitedError,
  DiditRejectedRequestError,
  DiditUnavailableError,
  PermanentError,
} from '../../lambdas/errors';

/** The example response from the seed contract, verbatim. */
function documentedExample(): Record<string, unknown> {
  return {
    request_id: 'a1b2c3d4-e5f6-7890-1234-567890abcdef',
    liveness: {
      status: 'Approved',
      method: 'PASSIVE',
      score: 95,
      user_image: {
        entities: [{ bbox: [661, 728, 1688, 2188], confidence: 0.732973, age: 26.91, gender: 'male', race: null }],
        best_angle: 0,
      },
      warnings: [],
      face_quality: 84.21,
      face_luminance: 50.33,
    },
    vendor_data: 'user-123',
    metadata: null,
    created_at: '2026-06-12T01:04:42.763237+00:00',
  };
}

/** The example with one liveness field replaced (or removed with `undefined`). */
function withLiveness(field: string, value: unknown): Record<string, unknown> {
  const body = documentedExample();
  const liveness = { ...(body.liveness as Record<string, unknown>) };
  if (value === undefined) delete liveness[field];
  else liveness[field] = value;
  return { ...body, liveness };
}

function withRoot(field: string, value: unknown): Record<string, unknown> {
  const body = documentedExample();
  if (value === undefined) delete body[field];
  else body[field] = value;
  return body;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('parseDiditResponse', () => {
  it('accepts the documented example unchanged', () => {
    // Act
    const parsed = parseDiditResponse(documentedExample());

    // Assess
    expect(parsed).toEqual(documentedExample());
  });

  it('keeps only documented fields, so extra payload never reaches the check record', () => {
    const body = documentedExample();
    const liveness = body.liveness as Record<string, unknown>;
    const input = {
      ...body,
      debug: { huge: 'x'.repeat(1000) },
      liveness: {
        ...liveness,
        reference_image: 'base64...',
        user_image: {
          entities: [{ bbox: [1, 2, 3, 4], confidence: 0.9, embedding: [0.1, 0.2] }],
          best_angle: 90,
          crop: 'base64...',
        },
      },
    };

    const parsed = parseDiditResponse(input);

    expect(parsed).not.toHaveProperty('debug');
    expect(parsed.liveness).not.toHaveProperty('reference_image');
    expect(parsed.liveness.user_image).toEqual({
      entities: [{ bbox: [1, 2, 3, 4], confidence: 0.9, age: null, gender: null, race: null }],
      best_angle: 90,
    });
  });

  it('normalises bare-string warnings to {risk} objects and keeps the documented fields of warning objects', () => {
    const input = withLiveness('warnings', [
      'LOW_LIVENESS_SCORE',
      {
        risk: 'MULTIPLE_FACES_DETECTED',
        log_type: 'warning',
        short_description: 'Multiple faces',
        long_description: 'The largest face was evaluated.',
        feature: 'LIVENESS',
        additional_data: { faces: 2 },
        unexpected: true,
      },
    ]);

    const parsed = parseDiditResponse(input);

    expect(parsed.liveness.warnings).toEqual([
      { risk: 'LOW_LIVENESS_SCORE' },
      {
        risk: 'MULTIPLE_FACES_DETECTED',
        log_type: 'warning',
        short_description: 'Multiple faces',
        long_description: 'The largest face was evaluated.',
        feature: 'LIVENESS',
      },
    ]);
  });

  it('caps what it keeps: 20 warnings, codes at 100 characters, descriptions at 1000', () => {
    const many = Array.from({ length: 25 }, (_, i) => ({
      risk: `${'R'.repeat(150)}${i}`,
      log_type: 'e'.repeat(120),
      long_description: 'd'.repeat(5000),
    }));

    const warnings = parseDiditResponse(withLiveness('warnings', many)).liveness.warnings;

    expect(warnings).toHaveLength(20);
    expect(warnings[0]).toEqual({
      risk: 'R'.repeat(100),
      log_type: 'e'.repeat(100),
      long_description: 'd'.repeat(1000),
    });
  });

  it('reads nullable fields given as null', () => {
    const body = withLiveness('score', null);
    const liveness = body.liveness as Record<string, unknown>;
    const input = {
      ...body,
      vendor_data: null,
      metadata: null,
      liveness: { ...liveness, user_image: null, face_quality: null, face_luminance: null },
    };

    const parsed = parseDiditResponse(input);

    expect(parsed.liveness).toMatchObject({ score: null, user_image: null, face_quality: null, face_luminance: null });
    expect(parsed).toMatchObject({ vendor_data: null, metadata: null });
  });

  it.each(['score', 'user_image', 'face_quality', 'face_luminance'])('reads an absent liveness.%s as null', (field) => {
    expect(parseDiditResponse(withLiveness(field, undefined)).liveness).toHaveProperty(field, null);
  });

  it('reads absent or null warnings as none', () => {
    expect(parseDiditResponse(withLiveness('warnings', undefined)).liveness.warnings).toEqual([]);
    expect(parseDiditResponse(withLiveness('warnings', null)).liveness.warnings).toEqual([]);
  });

  it('reads an absent method as PASSIVE, the only method of this endpoint', () => {
    expect(parseDiditResponse(withLiveness('method', undefined)).liveness.method).toBe('PASSIVE');
  });

  it('echoes metadata objects and reads absent vendor_data/metadata as null', () => {
    expect(parseDiditResponse(withRoot('metadata', { flow: 'withdrawal' })).metadata).toEqual({ flow: 'withdrawal' });
    expect(parseDiditResponse(withRoot('vendor_data', undefined)).vendor_data).toBeNull();
    expect(parseDiditResponse(withRoot('metadata', undefined)).metadata).toBeNull();
  });

  it.each<[string, unknown]>([
    ['a string body', 'Approved'],
    ['null', null],
    ['an array', [documentedExample()]],
    ['a missing request_id', withRoot('request_id', undefined)],
    ['an empty request_id', withRoot('request_id', '')],
    ['a numeric request_id', withRoot('request_id', 42)],
    ['a missing liveness', withRoot('liveness', undefined)],
    ['a liveness array', withRoot('liveness', [])],
    ['a missing liveness.status', withLiveness('status', undefined)],
    ['a boolean liveness.status', withLiveness('status', true)],
    ['a numeric method', withLiveness('method', 1)],
    ['a string score', withLiveness('score', '95')],
    ['a NaN score', withLiveness('score', Number.NaN)],
    ['warnings as an object', withLiveness('warnings', { risk: 'X' })],
    ['a numeric warning', withLiveness('warnings', [7])],
    ['an empty string warning', withLiveness('warnings', [''])],
    ['a warning without risk', withLiveness('warnings', [{ log_type: 'error' }])],
    ['a warning with a numeric log_type', withLiveness('warnings', [{ risk: 'X', log_type: 1 }])],
    ['user_image as a string', withLiveness('user_image', 'base64')],
    ['user_image without entities', withLiveness('user_image', { best_angle: 0 })],
    ['an entity bbox of strings', withLiveness('user_image', { entities: [{ bbox: ['1'], confidence: 1 }] })],
    ['an entity without confidence', withLiveness('user_image', { entities: [{ bbox: [1, 2, 3, 4] }] })],
    [
      'an entity with a numeric gender',
      withLiveness('user_image', { entities: [{ bbox: [], confidence: 1, gender: 1 }] }),
    ],
    ['a string face_quality', withLiveness('face_quality', 'high')],
    ['a numeric vendor_data', withRoot('vendor_data', 123)],
    ['metadata as an array', withRoot('metadata', ['flow'])],
    ['metadata as a string', withRoot('metadata', '{"flow":"x"}')],
    ['a missing created_at', withRoot('created_at', undefined)],
  ])('rejects %s with DiditBadResponseError', (_name, body) => {
    const error = thrown(() => parseDiditResponse(body));

    expect(error).toBeInstanceOf(DiditBadResponseError);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as DiditBadResponseError).code).toBe('DIDIT_BAD_RESPONSE');
  });

  it('names the bad field without quoting any value from the body', () => {
    const input = { ...withLiveness('score', 'secret-score'), vendor_data: 'user@example.com' };

    const error = thrown(() => parseDiditResponse(input)) as Error;

    expect(error.message).toContain('liveness.score');
    expect(error.message).not.toContain('secret-score');
    expect(error.message).not.toContain('user@example.com');
  });
});

describe('errorForDiditStatus', () => {
  it.each([400, 413, 422])('maps %i to DiditRejectedRequestError (permanent)', (status) => {
    const error = errorForDiditStatus(status, '');

    expect(error).toBeInstanceOf(DiditRejectedRequestError);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: 'DIDIT_REJECTED_REQUEST', httpStatus: status, retryable: false });
  });

  it.each([401, 403])('maps %i to DiditAuthError (permanent)', (status) => {
    const error = errorForDiditStatus(status, '{"detail":"Invalid API key."}');

    expect(error).toBeInstanceOf(DiditAuthError);
    expect(error).toMatchObject({ code: 'DIDIT_AUTH_FAILED', httpStatus: status, retryable: false });
  });

  it('maps 429 to DiditRateLimitedError with the budget headers (retryable, and no failure of the check)', () => {
    const now = new Date('2026-06-12T01:00:00Z');
    const error = errorForDiditStatus(
      429,
      '{"detail":"Request was throttled."}',
      {
        'retry-after': '12',
        'x-ratelimit-limit': '300',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(now.getTime() / 1000 + 30),
      },
      now,
    );

    expect(error).toBeInstanceOf(DiditRateLimitedError);
    expect(error).toMatchObject({
      httpStatus: 429,
      retryable: true,
      retryAfterSeconds: 12,
      rateLimit: { limit: 300, remaining: 0, resetAtMs: now.getTime() + 30_000, retryAfterSeconds: 12 },
    });
  });

  it.each([
    [402, '{"detail":"Payment required"}'],
    [402, ''],
    [403, '{"detail":"Insufficient credits","code":"insufficient_credits"}'],
    [403, '{"code":"INSUFFICIENT_BALANCE"}'],
    [403, '{"detail":"Not enough credits to run this verification."}'],
  ])('maps %i with body %s to DiditOutOfCreditsError (an outage until a top-up)', (status, body) => {
    const error = errorForDiditStatus(status, body);

    expect(error).toBeInstanceOf(DiditOutOfCreditsError);
    expect(error).toMatchObject({ code: 'DIDIT_OUT_OF_CREDITS', httpStatus: status, retryable: true });
  });

  it.each([
    '{"detail":"You do not have permission to perform this action."}',
    '{"code":"permission_denied","detail":"insufficient credits"}',
    'Forbidden',
  ])('keeps a 403 whose body is about access (%s) a DiditAuthError', (body) => {
    expect(errorForDiditStatus(403, body)).toBeInstanceOf(DiditAuthError);
  });

  it.each([408, 500, 501, 502, 503, 504, 599])('maps %i to DiditUnavailableError (retryable)', (status) => {
    const error = errorForDiditStatus(status, '');

    expect(error).toBeInstanceOf(DiditUnavailableError);
    expect(error).toMatchObject({ code: 'DIDIT_UNAVAILABLE', httpStatus: status, retryable: true });
    expect((error as DiditUnavailableError).retryAfterSeconds).toBeUndefined();
  });

  it.each([404, 405, 409, 410, 415, 451])('maps any other 4xx (%i) to DiditRejectedRequestError', (status) => {
    expect(errorForDiditStatus(status, '')).toBeInstanceOf(DiditRejectedRequestError);
  });

  it.each([301, 302, 307, 308])('maps a redirect (%i) to DiditRejectedRequestError: the URL is wrong', (status) => {
    expect(errorForDiditStatus(status, '')).toBeInstanceOf(DiditRejectedRequestError);
  });

  it.each([100, 200, 204, 600])('maps a status that is not an error (%i) to DiditBadResponseError', (status) => {
    expect(errorForDiditStatus(status, '')).toBeInstanceOf(DiditBadResponseError);
  });

  it.each([429, 503])('carries Retry-After seconds on %i', (status) => {
    const error = errorForDiditStatus(status, '', { 'retry-after': '120' });

    expect((error as DiditUnavailableError).retryAfterSeconds).toBe(120);
  });

  it('carries a Retry-After HTTP-date as seconds from now', () => {
    const now = new Date('2026-06-12T01:00:00Z');

    const error = errorForDiditStatus(429, '', { 'retry-after': 'Fri, 12 Jun 2026 01:00:45 GMT' }, now);

    expect((error as DiditUnavailableError).retryAfterSeconds).toBe(45);
  });

  it("quotes Didit's detail in the message", () => {
    const error = errorForDiditStatus(400, '{"detail":"Threshold must be between 0 and 100."}');

    expect(error.message).toBe('Didit answered HTTP 400: Threshold must be between 0 and 100.');
  });

  it('names the fields of a validation error without their messages', () => {
    const error = errorForDiditStatus(400, '{"user_image":["Unsupported file type."],"vendor_data":["user@x.com"]}');

    expect(error.message).toBe('Didit answered HTTP 400: invalid fields user_image, vendor_data');
    expect(error.message).not.toContain('user@x.com');
  });

  it('never copies a non-JSON body (an HTML error page, an echoed field) into the message', () => {
    const error = errorForDiditStatus(502, '<html>Bad gateway for vendor user@example.com</html>');

    expect(error.message).toBe('Didit answered HTTP 502');
  });

  it('truncates a long detail', () => {
    const error = errorForDiditStatus(400, JSON.stringify({ detail: 'x'.repeat(5000) }));

    expect(error.message.length).toBeLessThan(260);
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2026-06-12T01:00:00Z');

  it.each<[string, string | readonly string[] | null | undefined, number | undefined]>([
    ['delay-seconds', '7', 7],
    ['zero', '0', 0],
    ['surrounding spaces', '  30 ', 30],
    ['the first of repeated headers', ['5', '9'], 5],
    ['an IMF-fixdate', 'Fri, 12 Jun 2026 01:02:00 GMT', 120],
    ['an RFC 850 date', 'Friday, 12-Jun-26 01:00:10 GMT', 10],
    ['a date one second ahead', 'Fri, 12 Jun 2026 01:00:01 GMT', 1],
    ['a date in the past, as now', 'Thu, 11 Jun 2026 23:00:00 GMT', 0],
    ['absent', undefined, undefined],
    ['null', null, undefined],
    ['empty', '', undefined],
    ['negative', '-5', undefined],
    ['fractional', '1.5', undefined],
    ['an ISO date (not an HTTP-date)', '2026-06-12T01:02:00Z', undefined],
    ['garbage', 'soon', undefined],
    ['an invalid date', 'Fri, 99 Foo 2026 01:02:00 GMT', undefined],
  ])('reads %s', (_name, header, expected) => {
    expect(parseRetryAfter(header, now)).toBe(expected);
  });
});

describe('decisionFrom', () => {
  it('approves only on status Approved', () => {
    expect(decisionFrom({ status: 'Approved' })).toBe('Approved');
  });

  it.each(['Declined', 'In Review', 'Not Finished', 'approved', 'APPROVED', ''])(
    'declines on status "%s"',
    (status) => {
      expect(decisionFrom({ status })).toBe('Declined');
    },
  );
});

describe('warningCodes', () => {
  it('lists the risk of every warning, bare strings included, in order', () => {
    const { liveness } = parseDiditResponse(
      withLiveness('warnings', ['NO_FACE_DETECTED', { risk: 'LOW_LIVENESS_SCORE', log_type: 'error' }]),
    );

    expect(warningCodes(liveness)).toEqual(['NO_FACE_DETECTED', 'LOW_LIVENESS_SCORE']);
  });

  it('is empty without warnings', () => {
    expect(warningCodes({ warnings: [] })).toEqual([]);
  });
});

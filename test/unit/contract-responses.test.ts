import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { buildOpenApiDocument } from '../../contracts/openapi';
import type { CheckRecord } from '../../lambdas/core/check';
import { toCheckView } from '../../lambdas/core/check-view';
import type { DiditWarning } from '../../lambdas/core/didit-types';
import { DependencyThrottledError, RequestValidationError } from '../../lambdas/errors';
import { errorResponse, responseForError } from '../../lambdas/handlers/http';
import { logger } from '../../lambdas/observability';

// The response bodies the handlers build, checked against the OpenAPI document's schemas without a server: every
// optional part of a check view at once, and every error the shared error mapping produces. The integration test
// (event-contracts) checks the same schemas against responses from the running local stack.
let validate: (schema: string, value: unknown) => { valid: boolean; errors: string };

beforeAll(() => {
  const doc = buildOpenApiDocument({ version: '0.0.0', defaultDeclineThreshold: 30 }) as {
    components: object;
  };
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  ajv.addKeyword('components');
  ajv.addSchema({ $id: 'https://contracts.test/openapi.json', components: doc.components });
  validate = (schema, value) => {
    const fn = ajv.getSchema(`https://contracts.test/openapi.json#/components/schemas/${schema}`);
    if (!fn) throw new Error(`no schema ${schema}`);
    return { valid: fn(value) as boolean, errors: ajv.errorsText(fn.errors) };
  };
});

const ID = '4f0c2f7e-3c1b-4d8e-9a51-0a4c1e9b7d21';
const result = {
  request_id: 'a0e6c3f2-5b9d-4e71-8c2a-3f4e5d6c7b8a',
  liveness: {
    status: 'Declined',
    method: 'PASSIVE',
    score: 12,
    user_image: { entities: [{ bbox: [1, 2, 3, 4], confidence: 0.9, age: null, gender: null, race: null }] },
    // Stored before warnings were trimmed to their documented fields: the view drops additional_data.
    warnings: [{ risk: 'LIVENESS_FACE_ATTACK', log_type: 'error', additional_data: { x: 1 } } as DiditWarning],
    face_quality: 80,
    face_luminance: null,
  },
  decision: 'Declined',
  prescreen_face_count: 1,
  didit_created_at: null,
} as const;

/**
 * A record with every optional part the view can show: result, error, retry, deliveries, history, and the wait (shown
 * while WAITING only, so the test also reads it as a WAITING check).
 */
const everything: CheckRecord = {
  id: ID,
  status: 'COMPLETED',
  face_liveness_score_decline_threshold: 30,
  rotate_image: false,
  save_api_request: true,
  content_type: 'image/jpeg',
  vendor_data: 'user-9',
  metadata: { nested: { ok: true } },
  callback_url: 'https://hooks.example.com/x',
  upload_key: `uploads/${ID}`,
  created_at: '2026-11-25T17:00:00.000Z',
  updated_at: '2026-11-25T17:00:09.000Z',
  upload_expires_at: '2026-11-25T17:05:00.000Z',
  expires_at: 1_800_000_000,
  result,
  error: { code: 'DIDIT_UNAVAILABLE', message: 'an earlier failure' },
  retry_round: 2,
  retry_attempt: 3,
  last_error: { code: 'DIDIT_UNAVAILABLE', message: 'Didit answered HTTP 503' },
  wait_reason: 'OUT_OF_CREDITS',
  wait_since: '2026-11-25T17:00:02.310Z',
  resume_at: '2026-11-25T17:01:41.200Z',
  deliveries: [
    {
      webhook_id: 'msg_1',
      event_type: 'Liveness Check Completed',
      attempt: 1,
      at: '2026-11-25T17:00:05.000Z',
      status_code: null,
      latency_ms: 300,
      outcome: 'retry',
      error: 'TIMEOUT',
    },
  ],
  history: [
    {
      replaced_at: '2026-11-25T17:00:09.000Z',
      replaced_by: 'didit:status.updated',
      result: { ...result, decision: 'Approved' },
    },
  ],
  deliveries_total: 52,
  deliveries_dropped: 2,
  history_dropped: 1,
  // Internal fields the view must leave out (the schema is closed, so a leak would fail validation).
  claim_token: 'token',
  event_pending: true,
  due_shard: 'due',
  due_at: 1,
  didit_session_id: 'a0e6c3f2',
  wait_ticket: 7,
  waiting_shard: 'waiting',
  outage_since: '2026-11-25T17:00:02.310Z',
  didit_updated_at: 1_764_090_000,
  didit_seen_at: 1_764_090_009,
  didit_event_ids: ['evt-1'],
  idempotency_id: 'idem#00',
};

describe('handler response bodies against the OpenAPI schemas', () => {
  it('accepts a check view with every optional part, and one with none', () => {
    const fullView = toCheckView(everything);
    expect(fullView).toMatchObject({ deliveries_dropped: 2, history_dropped: 1 });
    const full = validate('CheckView', JSON.parse(JSON.stringify(fullView)));
    expect(full.valid, full.errors).toBe(true);
    const waitingView = toCheckView({ ...everything, status: 'WAITING' });
    expect(waitingView.wait).toEqual({
      reason: 'OUT_OF_CREDITS',
      since: '2026-11-25T17:00:02.310Z',
      resume_at: '2026-11-25T17:01:41.200Z',
    });
    const waiting = validate('CheckView', JSON.parse(JSON.stringify(waitingView)));
    expect(waiting.valid, waiting.errors).toBe(true);
    const {
      result: _result,
      error: _error,
      retry_round: _round,
      deliveries: _deliveries,
      history: _history,
      vendor_data: _vendorData,
      metadata: _metadata,
      ...rest
    } = everything;
    const bare: CheckRecord = { ...rest, status: 'AWAITING_UPLOAD' };
    const minimal = validate('CheckView', toCheckView(bare));
    expect(minimal.valid, minimal.errors).toBe(true);
  });

  it("drops Didit's additional_data from warnings stored before it was trimmed, in the result and in history", () => {
    const view = toCheckView(everything);
    expect(view.result?.liveness.warnings).toEqual([{ risk: 'LIVENESS_FACE_ATTACK', log_type: 'error' }]);
    expect(view.history?.[0]?.result.liveness.warnings).toEqual([{ risk: 'LIVENESS_FACE_ATTACK', log_type: 'error' }]);
  });

  it('refuses a view that leaks an internal field', () => {
    const leaked = { ...toCheckView(everything), claim_token: 'token' };
    expect(validate('CheckView', leaked).valid).toBe(false);
  });

  it.each([
    ['validation', new RequestValidationError([{ field: 'vendor_data', message: 'must be a string' }]), 400],
    ['throttling', new DependencyThrottledError('DynamoDB throttled'), 503],
    ['a bug', new TypeError('boom'), 500],
  ])('gives %s the error body', (_label, error, status) => {
    // The mapping logs unknown errors; that line is expected here and only clutters the output.
    vi.spyOn(logger, 'error').mockImplementation(() => {});
    const response = responseForError(error);
    expect(response.statusCode).toBe(status);
    const body = validate('Error', JSON.parse(response.body));
    expect(body.valid, body.errors).toBe(true);
  });

  it('gives the named error responses the error body', () => {
    for (const response of [
      errorResponse(404, 'NOT_FOUND', 'No liveness check with this id'),
      errorResponse(401, 'INVALID_SIGNATURE', 'The webhook signature or timestamp is invalid'),
    ]) {
      const body = validate('Error', JSON.parse(response.body));
      expect(body.valid, body.errors).toBe(true);
    }
  });
});

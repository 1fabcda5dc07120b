import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { beforeAll, describe, expect, it } from 'vitest';
import { contractDocuments, eventSchemaPath, registrySchemas, WEBHOOK_PAYLOAD_PATH } from '../../contracts/documents';
import { EVENT_CONTRACTS, WEBHOOK_EVENT_TYPES } from '../../contracts/events';
import {
  DETAIL_TYPES,
  type LivenessEvent,
  type LivenessWebhookPayload,
  verifyLivenessWebhook,
  WebhookVerificationError,
} from '../../contracts/index';
import type { JsonSchema } from '../../contracts/json-schema';
import type { CheckRecord } from '../../lambdas/core/check';
import { terminalEventFor, WEBHOOK_DELIVERY_PATTERN } from '../../lambdas/core/check-events';
import { generateWebhookSecret, signWebhook } from '../../lambdas/core/standard-webhooks';
import { storedWebhookPayload, type WebhookPayload } from '../../lambdas/core/webhook-payload';
import { webhookBody } from '../../lambdas/services/webhook-deliverer';
import { contractInputs, REPO_ROOT } from '../../scripts/generate-contracts';

// The event and webhook schemas in schemas/ are generated from contracts/events.ts. These tests keep the
// committed files equal to the generated ones, and run the publishers' own functions (terminalEventFor, webhookBody)
// through them; test/integration/event-contracts.test.ts does the same with events a running stack published.

let generated: Record<string, JsonSchema>;
let ajv: Ajv2020;

beforeAll(() => {
  generated = contractDocuments(contractInputs());
  ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
});

function validator(schema: JsonSchema) {
  const validate = ajv.compile(schema);
  return (value: unknown) => ({ valid: validate(value) as boolean, errors: ajv.errorsText(validate.errors) });
}

const CHECK_ID = '4f0c2f7e-3c1b-4d8e-9a51-0a4c1e9b7d21';
const NOW = '2026-11-25T17:00:03.512Z';

/** A stored check as the processor, the sweeper and the Didit webhook receiver leave it. */
function record(overrides: Partial<CheckRecord>): CheckRecord {
  return {
    id: CHECK_ID,
    status: 'COMPLETED',
    face_liveness_score_decline_threshold: 30,
    rotate_image: false,
    save_api_request: true,
    content_type: 'image/jpeg',
    upload_key: `uploads/${CHECK_ID}`,
    created_at: '2026-11-25T17:00:00.000Z',
    updated_at: NOW,
    upload_expires_at: '2026-11-25T17:05:00.000Z',
    expires_at: 1_800_000_000,
    ...overrides,
  };
}

const approved = {
  request_id: 'a0e6c3f2-5b9d-4e71-8c2a-3f4e5d6c7b8a',
  liveness: {
    status: 'Approved',
    method: 'PASSIVE',
    score: 91,
    user_image: null,
    warnings: [{ risk: 'MULTIPLE_FACES_DETECTED', log_type: 'warning' }],
    face_quality: null,
    face_luminance: null,
  },
  decision: 'Approved',
} as const;

/** One stored check per detail-type, shaped the way the publishing code path leaves it. */
const RECORDS: Record<string, CheckRecord> = {
  [DETAIL_TYPES.completed]: record({ result: approved, vendor_data: 'user-1', callback_url: 'https://x.example.com' }),
  [DETAIL_TYPES.failed]: record({
    status: 'FAILED',
    error: { code: 'DIDIT_UNAVAILABLE', message: 'Didit answered HTTP 503' },
    metadata: { a: 1 },
  }),
  [DETAIL_TYPES.expired]: record({
    status: 'EXPIRED',
    error: { code: 'UPLOAD_EXPIRED', message: 'No image was uploaded before the upload URL expired' },
  }),
  [DETAIL_TYPES.updated]: record({
    result: { ...approved, liveness: { ...approved.liveness, status: 'Declined', score: 12 }, decision: 'Declined' },
    pending_event_type: DETAIL_TYPES.updated,
    history: [{ replaced_at: NOW, replaced_by: 'didit:status.updated', result: approved }],
  }),
};

function busEvent(detailType: string, detail: object): LivenessEvent {
  return {
    version: '0',
    id: '6a7e8f90-1b2c-3d4e-5f60-718293a4b5c6',
    'detail-type': detailType,
    source: 'liveness.service',
    account: '123456789012',
    time: '2026-11-25T17:00:04Z',
    region: 'us-east-1',
    resources: [],
    detail,
  } as LivenessEvent;
}

describe('schemas/', () => {
  it('holds exactly what the code generates today', () => {
    const files = Object.keys(generated).filter((path) => path.startsWith('schemas/'));
    for (const path of files) {
      const committed = JSON.parse(readFileSync(join(REPO_ROOT, path), 'utf8'));
      expect(committed, `${path} is out of date: run \`npm run contracts\` and commit the result`).toEqual(
        generated[path],
      );
    }
    const onDisk = readdirSync(join(REPO_ROOT, 'schemas/events')).map((name) => `schemas/events/${name}`);
    expect(onDisk.sort(), 'schemas/events holds a file no event produces: delete it').toEqual(
      files.filter((path) => path.startsWith('schemas/events/')).sort(),
    );
  });

  it('has one schema per detail-type the service publishes, and the webhook types match the delivery rule', () => {
    expect(EVENT_CONTRACTS.map((c) => c.detailType).sort()).toEqual(Object.values(DETAIL_TYPES).sort());
    expect([...WEBHOOK_EVENT_TYPES].sort()).toEqual([...WEBHOOK_DELIVERY_PATTERN['detail-type']].sort());
  });

  it.each(EVENT_CONTRACTS.filter((c) => c.detailType in RECORDS).map((c) => [c.detailType, c] as const))(
    'accepts the event terminalEventFor publishes for a %s check, and refuses it under another detail-type',
    (detailType, contract) => {
      const event = terminalEventFor(RECORDS[detailType] as CheckRecord);
      expect(event?.detailType).toBe(detailType);
      const accepts = validator(generated[eventSchemaPath(contract)] as JsonSchema);
      const result = accepts(busEvent(detailType, event?.detail as object));
      expect(result.valid, result.errors).toBe(true);
      expect(accepts(busEvent('Liveness Check Something', event?.detail as object)).valid).toBe(false);
      // The detail is closed: a field the schema does not document fails, so it cannot ship undocumented.
      expect(accepts(busEvent(detailType, { ...event?.detail, extra: 1 })).valid).toBe(false);
    },
  );

  it('accepts the "Liveness Webhook Delivery Failed" detail the deliverer publishes', () => {
    const contract = EVENT_CONTRACTS.find((c) => c.detailType === DETAIL_TYPES.webhookDeliveryFailed);
    const accepts = validator(generated[eventSchemaPath(contract as { file: string })] as JsonSchema);
    const detail = {
      id: CHECK_ID,
      webhook_id: 'msg_6a7e8f90-1b2c-3d4e-5f60-718293a4b5c6',
      event_type: DETAIL_TYPES.completed,
      attempts: 1,
      reason: 'REFUSED_BY_RECEIVER',
      last_status_code: 404,
      last_error: null,
      occurred_at: NOW,
    };
    const result = accepts(busEvent(DETAIL_TYPES.webhookDeliveryFailed, detail));
    expect(result.valid, result.errors).toBe(true);
    expect(accepts(busEvent(DETAIL_TYPES.webhookDeliveryFailed, { ...detail, reason: 'BORED' })).valid).toBe(false);
  });

  it('accepts the webhook body the deliverer sends for each check event, and it verifies with the exported helper', () => {
    const accepts = validator(generated[WEBHOOK_PAYLOAD_PATH] as JsonSchema);
    const secret = generateWebhookSecret();
    for (const [detailType, stored] of Object.entries(RECORDS)) {
      const fromTable = storedWebhookPayload(stored, detailType);
      expect(fromTable, detailType).toBeDefined();
      const body = webhookBody(fromTable as WebhookPayload);
      const result = accepts(JSON.parse(body));
      expect(result.valid, `${detailType}: ${result.errors}`).toBe(true);

      const headers = signWebhook(secret, 'msg_1', Math.floor(Date.now() / 1000), body);
      const payload: LivenessWebhookPayload = verifyLivenessWebhook(body, headers, [secret]);
      expect(payload.type).toBe(detailType);
      expect(() => verifyLivenessWebhook(`${body} `, headers, [secret])).toThrow(WebhookVerificationError);
    }
    // `type` and `data` must agree: a Failed detail under "Completed" is not a valid body.
    const failed = terminalEventFor(RECORDS[DETAIL_TYPES.failed] as CheckRecord);
    const mismatched = JSON.parse(
      webhookBody({ type: DETAIL_TYPES.completed, timestamp: NOW, data: failed?.detail as WebhookPayload['data'] }),
    );
    expect(accepts(mismatched).valid).toBe(false);
  });
});

describe('the schema registry variant (JSON Schema draft 4)', () => {
  const DRAFT4_KEYWORDS = new Set([
    '$schema',
    '$ref',
    'title',
    'description',
    'type',
    'properties',
    'required',
    'additionalProperties',
    'items',
    'enum',
    'anyOf',
    'oneOf',
    'allOf',
    'format',
    'minimum',
    'maximum',
    'minLength',
    'maxLength',
    'pattern',
    'definitions',
    'default',
  ]);

  function keywordsIn(schema: unknown, into = new Set<string>()): Set<string> {
    if (!schema || typeof schema !== 'object') return into;
    if (Array.isArray(schema)) {
      for (const item of schema) keywordsIn(item, into);
      return into;
    }
    for (const [key, value] of Object.entries(schema)) {
      into.add(key);
      if (key === 'properties' || key === 'definitions') {
        for (const sub of Object.values(value as object)) keywordsIn(sub, into);
      } else if (key !== 'enum' && key !== 'required') {
        keywordsIn(value, into);
      }
    }
    return into;
  }

  it('uses only draft 4 keywords (plus the x-amazon-events-* annotations) and names each schema source@Type', () => {
    const schemas = registrySchemas();
    expect(schemas.map((s) => s.schemaName)).toEqual(EVENT_CONTRACTS.map((c) => `liveness.service@${c.name}`));
    for (const { content, detailType } of schemas) {
      expect(content.$schema).toBe('http://json-schema.org/draft-04/schema#');
      expect(content['x-amazon-events-detail-type']).toBe(detailType);
      expect(content['x-amazon-events-source']).toBe('liveness.service');
      const { 'x-amazon-events-detail-type': _t, 'x-amazon-events-source': _s, ...schema } = content;
      const unknown = [...keywordsIn(schema)].filter((k) => !DRAFT4_KEYWORDS.has(k));
      expect(unknown, detailType).toEqual([]);
    }
  });

  it('accepts and refuses the same events as the 2020-12 schemas', () => {
    // Draft 4 and draft 7 mean the same for every keyword listed above, so draft 7 Ajv stands in for a draft 4 one.
    const draft7 = new Ajv({ strict: true, allErrors: true });
    addFormats(draft7);
    draft7.addKeyword('x-amazon-events-source');
    draft7.addKeyword('x-amazon-events-detail-type');
    for (const schema of registrySchemas()) {
      const stored = RECORDS[schema.detailType];
      if (!stored) continue;
      const { $schema: _dialect, ...content } = schema.content;
      const validate = draft7.compile(content);
      const event = busEvent(schema.detailType, terminalEventFor(stored)?.detail as object);
      expect(validate(event), draft7.errorsText(validate.errors)).toBe(true);
      expect(validate({ ...event, detail: { ...event.detail, status: 'PROCESSING' } })).toBe(false);
    }
  });
});

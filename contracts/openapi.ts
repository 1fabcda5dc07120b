import { DETAIL_TYPES } from '../lambdas/core/check-events';
import {
  CALLBACK_URL_MAX_LENGTH,
  createCheckRequestSchema,
  METADATA_MAX_BYTES,
  VENDOR_DATA_MAX_LENGTH,
} from '../lambdas/core/create-request';
import { LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT } from '../lambdas/core/list-request';
import {
  apiErrorSchema,
  checkListSchema,
  checkViewSchema,
  createdCheckSchema,
  deliveryAttemptSchema,
  diditWebhookAckSchema,
  diditWebhookSchema,
  fieldErrorSchema,
  historyEntrySchema,
  presignedUploadSchema,
  retryStateSchema,
} from './api';
import {
  checkCompletedDetailSchema,
  checkExpiredDetailSchema,
  checkFailedDetailSchema,
  checkUpdatedDetailSchema,
  webhookPayloadSchema,
} from './events';
import { convertNamedSchemas, type JsonSchema } from './json-schema';
import {
  checkErrorSchema,
  checkResultSchema,
  checkStatusSchema,
  decisionSchema,
  diditFaceEntitySchema,
  diditLivenessSchema,
  diditWarningSchema,
  failureCodeSchema,
} from './shared';

/** The `{id}` path parameter of the check routes. */
const CHECK_ID_PARAMETER = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The check id from the 201 response.',
  schema: { type: 'string', format: 'uuid' },
} as const;

export interface OpenApiInputs {
  /** `info.version`: the service's version (package.json). */
  readonly version: string;
  /** The stack default for `face_liveness_score_decline_threshold`, shown as the field's default. */
  readonly defaultDeclineThreshold: number;
}

const COMPONENT_PREFIX = '#/components/schemas/';
const ref = (name: string) => ({ $ref: `${COMPONENT_PREFIX}${name}` });
const responseRef = (name: string) => ({ $ref: `#/components/responses/${name}` });

/**
 * The request fields' documentation. The request schema is the handler's own (create-request.ts), which carries rules
 * but no prose; generation fails if a field is missing here or named here but gone from the schema.
 */
function requestFieldDescriptions(defaultDeclineThreshold: number): Record<string, string> {
  return {
    face_liveness_score_decline_threshold:
      `Didit liveness score (0–100) at or below which the check is Declined. Default: the stack's ` +
      `defaultDeclineThreshold (${defaultDeclineThreshold} unless configured).`,
    rotate_image: 'Forwarded to Didit as `rotate_image`.',
    save_api_request: 'Forwarded to Didit as `save_api_request`.',
    vendor_data:
      `Your reference for the check (e.g. a user id), 1–${VENDOR_DATA_MAX_LENGTH} characters of valid Unicode; sent ` +
      'to Didit and returned in the check, its events and webhooks.',
    metadata:
      `Any JSON object of at most ${METADATA_MAX_BYTES} bytes as JSON, not deeply nested, without a "__proto__" key ` +
      'and with valid Unicode text (the service checks these); sent to Didit and returned unchanged.',
    callback_url:
      `An https:// URL (≤ ${CALLBACK_URL_MAX_LENGTH} characters) of a public host on port 443 — no IP literal, ` +
      'local name or credentials; another port only for an origin the deployment allows (callbackAllowedOrigins) ' +
      "— that receives this check's events as signed webhooks (see `webhooks`). The service checks these rules, " +
      'and again against the resolved addresses at delivery.',
    content_type: 'The type of the image the client will upload; the presigned POST only accepts this type.',
  };
}

/** The schemas the document names, generated in one pass so they refer to each other by $ref. */
function componentSchemas(defaultDeclineThreshold: number): Record<string, JsonSchema> {
  const request = createCheckRequestSchema({ defaultDeclineThreshold, allowInsecureCallbacks: false });
  const schemas = convertNamedSchemas(
    {
      CreateCheckRequest: request,
      CreatedCheck: createdCheckSchema,
      PresignedUpload: presignedUploadSchema,
      CheckView: checkViewSchema,
      CheckList: checkListSchema,
      CheckStatus: checkStatusSchema,
      CheckResult: checkResultSchema,
      Decision: decisionSchema,
      DiditLiveness: diditLivenessSchema,
      DiditWarning: diditWarningSchema,
      DiditFaceEntity: diditFaceEntitySchema,
      CheckError: checkErrorSchema,
      FailureCode: failureCodeSchema,
      DeliveryAttempt: deliveryAttemptSchema,
      HistoryEntry: historyEntrySchema,
      RetryState: retryStateSchema,
      Error: apiErrorSchema,
      FieldError: fieldErrorSchema,
      DiditWebhook: diditWebhookSchema,
      DiditWebhookAck: diditWebhookAckSchema,
      LivenessWebhookPayload: webhookPayloadSchema,
      LivenessCheckCompletedDetail: checkCompletedDetailSchema,
      LivenessCheckFailedDetail: checkFailedDetailSchema,
      LivenessCheckExpiredDetail: checkExpiredDetailSchema,
      LivenessCheckUpdatedDetail: checkUpdatedDetailSchema,
    },
    { target: 'draft-2020-12', refPrefix: COMPONENT_PREFIX },
  );
  const requestSchema = schemas.CreateCheckRequest as JsonSchema;
  const properties = requestSchema.properties as Record<string, JsonSchema>;
  const descriptions = requestFieldDescriptions(defaultDeclineThreshold);
  const undocumented = Object.keys(properties).filter((field) => !(field in descriptions));
  const stale = Object.keys(descriptions).filter((field) => !(field in properties));
  if (undocumented.length > 0 || stale.length > 0) {
    throw new Error(
      `Request field descriptions out of date: undocumented [${undocumented.join(', ')}], gone [${stale.join(', ')}]`,
    );
  }
  for (const [field, description] of Object.entries(descriptions)) {
    properties[field] = { description, ...properties[field] };
  }
  requestSchema.description =
    'Every field is optional; an empty body or `{}` creates a check with the defaults. Unknown fields are refused.';
  return schemas;
}

const EXAMPLE_ID = '4f0c2f7e-3c1b-4d8e-9a51-0a4c1e9b7d21';

/** Example requests; the drift test validates each against the request schema the handler uses. */
export const CREATE_CHECK_REQUEST_EXAMPLES = {
  empty: { summary: 'Every default', value: {} },
  typical: {
    summary: 'A PNG selfie, a reference, metadata and a callback',
    value: {
      vendor_data: 'user-123',
      metadata: { session: 'onboarding', attempt: 1 },
      face_liveness_score_decline_threshold: 40,
      content_type: 'image/png',
      callback_url: 'https://hooks.example.com/liveness',
    },
  },
} as const;

const completedResult = {
  request_id: '9b2f6a0e-2d7c-4a51-8f3e-6c1d2b3a4e5f',
  liveness: {
    status: 'Approved',
    method: 'PASSIVE',
    score: 87.5,
    user_image: { entities: [{ bbox: [412, 288, 1046, 1102], confidence: 0.99 }], best_angle: 0 },
    warnings: [],
    face_quality: 91.2,
    face_luminance: 64.3,
  },
  decision: 'Approved',
  didit_created_at: '2026-11-25T17:00:03.000Z',
};

const completedDetail = {
  id: EXAMPLE_ID,
  status: 'COMPLETED',
  decision: 'Approved',
  score: 87.5,
  warnings: [],
  vendor_data: 'user-123',
  metadata: { session: 'onboarding', attempt: 1 },
  didit_request_id: '9b2f6a0e-2d7c-4a51-8f3e-6c1d2b3a4e5f',
  error: null,
  has_callback: true,
  occurred_at: '2026-11-25T17:00:03.512Z',
  schema_version: 2,
};

/** Example responses and webhook bodies; the drift test validates each against its schema. */
export const RESPONSE_EXAMPLES = {
  created: {
    id: EXAMPLE_ID,
    status: 'AWAITING_UPLOAD',
    upload: {
      url: 'https://liveness-uploads-example.s3.us-east-1.amazonaws.com/',
      fields: {
        key: `uploads/${EXAMPLE_ID}`,
        'Content-Type': 'image/png',
        bucket: 'liveness-uploads-example',
        'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
        'X-Amz-Credential': 'ASIAEXAMPLE/20261125/us-east-1/s3/aws4_request',
        'X-Amz-Date': '20261125T170000Z',
        'X-Amz-Security-Token': 'IQoJb3JpZ2luX2VjEXAMPLE',
        Policy: 'eyJleHBpcmF0aW9uIjoiMjAyNi0xMS0yNVQxNzowNTowMFoiLCJjb25kaXRpb25zIjpbXX0=',
        'X-Amz-Signature': '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0',
      },
      expires_at: '2026-11-25T17:05:00.000Z',
      max_bytes: 5242880,
    },
    created_at: '2026-11-25T17:00:00.000Z',
  },
  completed: {
    id: EXAMPLE_ID,
    status: 'COMPLETED',
    vendor_data: 'user-123',
    metadata: { session: 'onboarding', attempt: 1 },
    created_at: '2026-11-25T17:00:00.000Z',
    updated_at: '2026-11-25T17:00:03.512Z',
    result: completedResult,
    deliveries: [
      {
        webhook_id: 'msg_6a7e8f90-1b2c-3d4e-5f60-718293a4b5c6',
        event_type: DETAIL_TYPES.completed,
        attempt: 1,
        at: '2026-11-25T17:00:04.020Z',
        status_code: 200,
        latency_ms: 84,
        outcome: 'delivered',
      },
    ],
  },
  failed: {
    id: EXAMPLE_ID,
    status: 'FAILED',
    vendor_data: null,
    metadata: null,
    created_at: '2026-11-25T17:00:00.000Z',
    updated_at: '2026-11-25T17:02:41.090Z',
    error: {
      code: 'DIDIT_UNAVAILABLE',
      message: 'Didit kept failing for 61 minutes, past the failure horizon (last: Didit answered HTTP 503)',
    },
    retry: {
      round: 1,
      failed_attempts: 58,
      last_error: { code: 'DIDIT_UNAVAILABLE', message: 'Didit answered HTTP 503' },
    },
  },
  waiting: {
    id: EXAMPLE_ID,
    status: 'WAITING',
    vendor_data: null,
    metadata: null,
    created_at: '2026-11-25T17:00:00.000Z',
    updated_at: '2026-11-25T17:00:02.310Z',
    wait: {
      reason: 'PACED',
      since: '2026-11-25T17:00:02.310Z',
      resume_at: '2026-11-25T17:00:41.200Z',
    },
  },
  list: {
    items: [
      {
        id: EXAMPLE_ID,
        status: 'COMPLETED',
        vendor_data: 'user-123',
        metadata: { session: 'onboarding', attempt: 1 },
        created_at: '2026-11-25T17:00:00.000Z',
        updated_at: '2026-11-25T17:00:03.512Z',
        result: completedResult,
      },
    ],
    next_cursor: 'WyIyMDI2LTExLTI1VDE3OjAwOjAwLjAwMFoiLCI0ZjBjMmY3ZS0zYzFiLTRkOGUtOWE1MS0wYTRjMWU5YjdkMjEiXQ',
  },
  idempotencyConflict: {
    error: {
      code: 'IDEMPOTENCY_KEY_REUSED',
      message: 'This Idempotency-Key was used for a request with a different body in the last 24 hours; use a new key',
      fields: [{ field: 'Idempotency-Key', message: 'was used with a different request body in the last 24 hours' }],
    },
  },
  validationFailed: {
    error: {
      code: 'VALIDATION_FAILED',
      message: 'The request is invalid',
      fields: [{ field: 'face_liveness_score_decline_threshold', message: 'must be a number from 0 to 100' }],
    },
  },
  webhookCompleted: { type: DETAIL_TYPES.completed, timestamp: '2026-11-25T17:00:03Z', data: completedDetail },
  diditWebhook: {
    event_id: '3c2b1a09-8f7e-4d6c-b5a4-9382716e5f4d',
    session_id: '9b2f6a0e-2d7c-4a51-8f3e-6c1d2b3a4e5f',
    status: 'Declined',
    webhook_type: 'status.updated',
    timestamp: 1795626000,
    vendor_data: 'user-123',
    decision: {
      session_id: '9b2f6a0e-2d7c-4a51-8f3e-6c1d2b3a4e5f',
      status: 'Declined',
      features: ['LIVENESS'],
      liveness_checks: [
        {
          node_id: 'feature_liveness',
          status: 'Declined',
          method: 'PASSIVE',
          score: 12.5,
          warnings: [
            {
              risk: 'LIVENESS_FACE_ATTACK',
              log_type: 'error',
              short_description: 'Possible presentation attack',
              long_description: 'The face shows signs of a presentation attack (photo, screen or mask).',
              feature: 'LIVENESS',
              additional_data: null,
            },
          ],
        },
      ],
    },
  },
} as const;

function json(schema: object, examples?: Record<string, { summary: string; value: unknown }>) {
  return { 'application/json': { schema, ...(examples ? { examples } : {}) } };
}

function errorResponse(description: string, example: { code: string; message: string }, headers?: object) {
  return {
    description,
    ...(headers ? { headers } : {}),
    content: json(ref('Error'), { [example.code]: { summary: example.code, value: { error: example } } }),
  };
}

const signatureHeader = (name: string, description: string) => ({
  name,
  in: 'header',
  required: false,
  description,
  schema: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
});

const standardWebhookHeader = (name: string, description: string, schema: object) => ({
  name,
  in: 'header',
  required: true,
  description,
  schema,
});

/**
 * The OpenAPI 3.1 document for the API, built from the same zod schemas the handlers validate requests with and
 * the contract schemas their responses are tested against. `npm run openapi` writes it to api/openapi.json.
 */
export function buildOpenApiDocument(inputs: OpenApiInputs): JsonSchema {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Didit liveness service',
      version: inputs.version,
      summary: 'Passive liveness checks through Didit: presigned S3 upload, decision on an EventBridge bus.',
      description:
        'Create a check, upload the selfie with the presigned POST it returns, then read the decision with GET or ' +
        'receive it as an EventBridge event or a signed webhook (see `webhooks` and docs/contracts.md). Bodies are ' +
        'JSON, snake_case. Generated from the handler schemas by `npm run openapi`; do not edit by hand.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [
      {
        url: 'https://{restApiId}.execute-api.{region}.amazonaws.com/prod',
        description: 'The deployed stack (its ApiUrl output)',
        variables: {
          restApiId: { default: 'abcdef1234', description: 'The REST API id' },
          region: { default: 'us-east-1' },
        },
      },
      { url: 'http://127.0.0.1:3000', description: '`npm start` on this machine' },
    ],
    security: [{ ApiKey: [] }],
    tags: [
      { name: 'Liveness checks', description: 'Create a check and read its status, result or error.' },
      { name: 'Didit webhooks', description: 'Incoming Didit status updates (authenticated by signature).' },
    ],
    paths: {
      '/v1/liveness-checks': {
        post: {
          operationId: 'createLivenessCheck',
          tags: ['Liveness checks'],
          summary: 'Create a check and get a presigned upload for its image',
          description:
            'Stores the check as AWAITING_UPLOAD and returns a presigned S3 POST. Send every `upload.fields` entry ' +
            'and then the image as `file` (last) in a multipart/form-data POST to `upload.url` before ' +
            '`upload.expires_at`; processing starts when the object lands. A check never uploaded becomes EXPIRED. ' +
            'Send an `Idempotency-Key` so that retrying after a network error never creates (and pays for) a ' +
            'second check.',
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              description:
                'Any 1–255 printable ASCII characters, unique per intended check (a UUID). For 24 hours the same ' +
                'key and body from the same caller return the same check: 201 with a fresh upload URL while it ' +
                'awaits its upload, 200 with the check once the upload arrived (both with ' +
                '`Idempotent-Replayed: true`). The same key with another body is 409.',
              schema: { type: 'string', minLength: 1, maxLength: 255 },
            },
          ],
          requestBody: {
            required: false,
            content: json(ref('CreateCheckRequest'), CREATE_CHECK_REQUEST_EXAMPLES),
          },
          responses: {
            '200': {
              description:
                'A replayed create (the same Idempotency-Key and body) whose image has been uploaded: the check as ' +
                '`GET` returns it.',
              headers: {
                'Idempotent-Replayed': { description: 'Always `true` here.', schema: { type: 'string' } },
              },
              content: json(ref('CheckView'), {
                waiting: { summary: 'Uploaded, waiting for the Didit budget', value: RESPONSE_EXAMPLES.waiting },
              }),
            },
            '201': {
              description:
                'Created (or a replayed create whose image has not arrived yet: the same check with a fresh upload ' +
                'URL, `Idempotent-Replayed: true`). Upload the image next.',
              headers: {
                Location: { description: 'The path of the new check.', schema: { type: 'string' } },
                'Idempotent-Replayed': {
                  description: '`true` when this is the check an earlier request with the same key created.',
                  schema: { type: 'string' },
                },
              },
              content: json(ref('CreatedCheck'), {
                created: { summary: 'A new check', value: RESPONSE_EXAMPLES.created },
              }),
            },
            '400': {
              description: 'The body is not JSON, not an object, or names an invalid or unknown field.',
              content: json(ref('Error'), {
                VALIDATION_FAILED: { summary: 'One invalid field', value: RESPONSE_EXAMPLES.validationFailed },
              }),
            },
            '401': responseRef('Unauthorized'),
            '409': {
              description: 'The Idempotency-Key was used with a different body in the last 24 hours.',
              content: json(ref('Error'), {
                IDEMPOTENCY_KEY_REUSED: {
                  summary: 'Same key, other body',
                  value: RESPONSE_EXAMPLES.idempotencyConflict,
                },
              }),
            },
            '429': responseRef('Throttled'),
            '500': responseRef('InternalError'),
            '503': responseRef('ServiceUnavailable'),
          },
        },
        get: {
          operationId: 'listLivenessChecks',
          tags: ['Liveness checks'],
          summary: "List the caller's own checks for one end user (vendor_data), newest first",
          description:
            'Only checks the caller created are listed (the client app of its API key, its IAM principal, or its ' +
            "Cognito identity); another client's checks for the same vendor_data never appear. Checks created " +
            'without a vendor_data cannot be listed. Page with `next_cursor`.',
          parameters: [
            {
              name: 'vendor_data',
              in: 'query',
              required: true,
              description: `The vendor_data the checks were created with (1–${VENDOR_DATA_MAX_LENGTH} characters).`,
              schema: { type: 'string', minLength: 1, maxLength: VENDOR_DATA_MAX_LENGTH },
            },
            {
              name: 'limit',
              in: 'query',
              required: false,
              description: `Checks per page, 1–${LIST_MAX_LIMIT} (default ${LIST_DEFAULT_LIMIT}).`,
              schema: { type: 'integer', minimum: 1, maximum: LIST_MAX_LIMIT, default: LIST_DEFAULT_LIMIT },
            },
            {
              name: 'cursor',
              in: 'query',
              required: false,
              description: 'The `next_cursor` of the previous page, unchanged.',
              schema: { type: 'string' },
            },
          ],
          responses: {
            '200': {
              description: "One page of the caller's checks (empty when it has none for this vendor_data).",
              content: json(ref('CheckList'), {
                page: { summary: 'One check, more to come', value: RESPONSE_EXAMPLES.list },
              }),
            },
            '400': errorResponse('A parameter is missing, invalid or unknown; `fields` names each.', {
              code: 'VALIDATION_FAILED',
              message: 'The request is invalid',
            }),
            '401': responseRef('Unauthorized'),
            '429': responseRef('Throttled'),
            '500': responseRef('InternalError'),
            '503': responseRef('ServiceUnavailable'),
          },
        },
      },
      '/v1/liveness-checks/{id}': {
        get: {
          operationId: 'getLivenessCheck',
          tags: ['Liveness checks'],
          summary: 'Read a check: status, then result (COMPLETED) or error (FAILED, EXPIRED)',
          description:
            'Poll until `status` is COMPLETED, FAILED or EXPIRED, or subscribe to the events instead. `retry`, ' +
            '`deliveries` and `history` appear once there is something to show. Only the caller that created the ' +
            'check can read it; to anyone else it does not exist (404).',
          parameters: [CHECK_ID_PARAMETER],
          responses: {
            '200': {
              description: 'The check.',
              content: json(ref('CheckView'), {
                completed: { summary: 'Approved, webhook delivered', value: RESPONSE_EXAMPLES.completed },
                waiting: { summary: 'Waiting for its slot in the Didit budget', value: RESPONSE_EXAMPLES.waiting },
                failed: {
                  summary: 'Didit unavailable past the failure horizon',
                  value: RESPONSE_EXAMPLES.failed,
                },
              }),
            },
            '400': errorResponse('The id is not a UUID.', {
              code: 'VALIDATION_FAILED',
              message: 'The request is invalid',
            }),
            '401': responseRef('Unauthorized'),
            '404': errorResponse(
              "No check with this id that the caller created (another caller's check answers the same), it was " +
                'erased (`DELETE`), or it passed its retention.',
              {
                code: 'NOT_FOUND',
                message: 'No liveness check with this id',
              },
            ),
            '429': responseRef('Throttled'),
            '500': responseRef('InternalError'),
            '503': responseRef('ServiceUnavailable'),
          },
        },
        delete: {
          operationId: 'deleteLivenessCheck',
          tags: ['Liveness checks'],
          summary: 'Erase a check: its record, its selfie, and the copy Didit saved',
          description:
            'For an erasure request (GDPR Art. 17, BIPA destruction). In any status, PROCESSING and RETRYING included: ' +
            'the record is replaced by a tombstone (id, owner, deleted_at, and the state of the erasure at Didit), ' +
            'the upload is deleted, its result, history and webhook deliveries go with the record, and "Liveness ' +
            'Check Deleted" is published. When Didit saved the request (`save_api_request`), the service asks Didit ' +
            'to delete that session and retries until Didit confirms. A processing attempt, retry round or Didit ' +
            'webhook still in flight can no longer write the check back. Afterwards GET answers 404. A second DELETE ' +
            'answers 204 again (DELETE is idempotent: a client retrying after a lost answer sees success) for as long ' +
            "as the tombstone lasts (the check's own retention), then 404.",
          parameters: [CHECK_ID_PARAMETER],
          responses: {
            '204': { description: 'The check is erased (now, or by an earlier DELETE).' },
            '400': errorResponse('The id is not a UUID.', {
              code: 'VALIDATION_FAILED',
              message: 'The request is invalid',
            }),
            '401': responseRef('Unauthorized'),
            '404': errorResponse(
              "No check with this id that the caller created (another caller's check answers the same).",
              {
                code: 'NOT_FOUND',
                message: 'No liveness check with this id',
              },
            ),
            '429': responseRef('Throttled'),
            '500': responseRef('InternalError'),
            '503': responseRef('ServiceUnavailable'),
          },
        },
      },
      '/v1/webhooks/didit': {
        post: {
          operationId: 'receiveDiditWebhook',
          tags: ['Didit webhooks'],
          summary: "Didit's status.updated webhooks",
          description:
            "Configure this URL as the webhook destination in Didit's console. No API key: the body must carry a " +
            "valid HMAC-SHA256 signature made with Didit's webhook secret (the stack's Didit webhook secret), " +
            'checked as X-Signature-V2, then X-Signature, then X-Signature-Simple, each with the current and (during ' +
            'a rotation) the previous secret; at least one must be sent. A status.updated webhook that Didit sent ' +
            'after the last one applied and that changes the status, score or warnings of a COMPLETED check replaces ' +
            'its result and publishes one "Liveness Check Updated"; any other verified webhook changes nothing. ' +
            'Didit retries only 5xx and 404 answers, so every transient failure is a 5xx.',
          security: [],
          parameters: [
            signatureHeader(
              'X-Signature-V2',
              'HMAC-SHA256 (hex) of the canonical JSON of the body (sorted keys, compact), Unicode kept or ' +
                'ASCII-escaped (`\\uXXXX`): both are accepted.',
            ),
            signatureHeader('X-Signature', 'HMAC-SHA256 (hex) of the raw body bytes.'),
            signatureHeader(
              'X-Signature-Simple',
              'HMAC-SHA256 (hex) of `{timestamp}:{session_id}:{status}:{webhook_type}`; when only this one matches, ' +
                'only those four fields are used.',
            ),
          ],
          requestBody: {
            required: true,
            content: json(ref('DiditWebhook'), {
              statusUpdated: {
                summary: 'Didit declined after review (webhook version v3)',
                value: RESPONSE_EXAMPLES.diditWebhook,
              },
            }),
          },
          responses: {
            '200': {
              description: 'Verified and handled (or deliberately ignored): Didit need not resend.',
              content: json(ref('DiditWebhookAck')),
            },
            '400': errorResponse('The body is not UTF-8 JSON of the documented shape.', {
              code: 'MALFORMED_WEBHOOK',
              message: 'The webhook body is not a Didit webhook',
            }),
            '401': errorResponse('No signature matches, or the timestamp is more than 5 minutes away.', {
              code: 'INVALID_SIGNATURE',
              message: 'The webhook signature or timestamp is invalid',
            }),
            '429': responseRef('Throttled'),
            '500': responseRef('InternalError'),
            '503': responseRef('ServiceUnavailable'),
          },
        },
      },
    },
    webhooks: {
      livenessCheckEvent: {
        post: {
          operationId: 'livenessCheckEvent',
          summary: "Sent to a check's callback_url for each of its events",
          description:
            'One POST per "Liveness Check Completed", "Failed", "Expired" or "Updated" event of a check created ' +
            'with a callback_url, signed per Standard Webhooks. Verify the signature over the raw body before ' +
            'parsing it (`verifyWebhook` in contracts/index.ts), and deduplicate on `webhook-id`: every retry of ' +
            'one message has the same id. The body is built from the check as stored when it is sent (never from the ' +
            "event), and signed with the secret of the check's client app: each app's receivers verify only its own " +
            'webhooks. Redirects are not followed.',
          security: [],
          parameters: [
            standardWebhookHeader('webhook-id', 'msg_<EventBridge event id>; the same on every retry.', {
              type: 'string',
              pattern: '^msg_',
            }),
            standardWebhookHeader('webhook-timestamp', 'Unix seconds of this attempt; refuse it if far from now.', {
              type: 'string',
              pattern: '^[0-9]+$',
            }),
            standardWebhookHeader(
              'webhook-signature',
              'Space-separated `v1,<base64 HMAC-SHA256>` of `{webhook-id}.{webhook-timestamp}.{body}` keyed with ' +
                'the whsec_ secret; two entries while the secret rotates.',
              { type: 'string' },
            ),
          ],
          requestBody: {
            required: true,
            content: json(ref('LivenessWebhookPayload'), {
              completed: { summary: 'Liveness Check Completed', value: RESPONSE_EXAMPLES.webhookCompleted },
            }),
          },
          responses: {
            '2XX': { description: 'Delivered; the body is ignored.' },
            '408': { description: 'Retried with backoff (as are 429 and 5xx, timeouts and connection errors).' },
            '429': { description: 'Retried with backoff.' },
            '4XX': {
              description:
                'Any other 4xx (and any 3xx) gives up at once and publishes "Liveness Webhook Delivery Failed".',
            },
            '5XX': { description: 'Retried with backoff until the attempts or the retry horizon run out.' },
          },
        },
      },
    },
    components: {
      schemas: componentSchemas(inputs.defaultDeclineThreshold),
      securitySchemes: {
        ApiKey: {
          type: 'apiKey',
          in: 'header',
          name: 'x-api-key',
          description:
            "Your client app's API key (the stack's ApiKeyId output, or ApiKeyId<App> for further client apps; read " +
            'the value with aws apigateway get-api-key --include-value). Throttled by the usage plan of the key. ' +
            'Each key sees only the checks created with it.',
        },
      },
      responses: {
        Unauthorized: errorResponse('The x-api-key header is missing or wrong (answered by API Gateway).', {
          code: 'UNAUTHORIZED',
          message: 'Missing or invalid API key: send it in the x-api-key header.',
        }),
        Throttled: errorResponse(
          'Over the rate or burst of the usage plan (THROTTLED) or its quota (QUOTA_EXCEEDED).',
          {
            code: 'THROTTLED',
            message: 'Too many requests: slow down and retry with backoff.',
          },
        ),
        InternalError: errorResponse('The service failed; retry later. Nothing about the cause is disclosed.', {
          code: 'INTERNAL_ERROR',
          message: 'Internal error',
        }),
        ServiceUnavailable: errorResponse(
          'An AWS dependency throttled the service; retry after the Retry-After delay.',
          { code: 'SERVICE_UNAVAILABLE', message: 'Please retry shortly' },
          { 'Retry-After': { description: 'Seconds to wait.', schema: { type: 'string' } } },
        ),
      },
    },
  };
}

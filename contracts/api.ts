import { z } from 'zod';
import {
  checkErrorSchema,
  checkIdSchema,
  checkResultSchema,
  checkStatusSchema,
  metadataSchema,
  timestampSchema,
} from './shared';

/**
 * The HTTP API's response bodies (and the Didit webhook request), defined once. The request body of
 * `POST /v1/liveness-checks` is not here: it is `createCheckRequestSchema` in ../create-request.ts, the schema the
 * handler validates with.
 */

export const presignedUploadSchema = z
  .strictObject({
    url: z.url().meta({ description: 'Where to send the multipart/form-data POST.' }),
    fields: z.record(z.string(), z.string()).meta({
      description: 'Form fields to send before the file, unchanged and in any order; the file goes last, as `file`.',
    }),
    expires_at: timestampSchema.meta({ description: 'After this instant S3 refuses the upload.' }),
    max_bytes: z.number().int().min(1).meta({ description: 'The largest image the policy accepts (5 MiB).' }),
  })
  .meta({
    description:
      'A presigned S3 POST for exactly one key: the policy pins the key, the content type, 1 byte to max_bytes, ' +
      'and the expiry.',
  });

export const createdCheckSchema = z
  .strictObject({
    id: checkIdSchema,
    status: z.literal('AWAITING_UPLOAD'),
    upload: presignedUploadSchema,
    created_at: timestampSchema,
  })
  .meta({ description: 'A new check waiting for its image.' });

export const deliveryAttemptSchema = z
  .strictObject({
    webhook_id: z.string().meta({ description: 'The `webhook-id` header: the same on every retry of one message.' }),
    event_type: z.string().meta({ description: 'The event delivered, e.g. Liveness Check Completed.' }),
    attempt: z.number().int().min(1),
    at: timestampSchema,
    status_code: z.number().int().nullable().meta({ description: "The receiver's HTTP status; null if none came." }),
    latency_ms: z.number().nonnegative(),
    outcome: z.enum(['delivered', 'retry', 'give_up']),
    error: z.string().optional().meta({ description: 'A transport failure code, e.g. TIMEOUT or CALLBACK_REFUSED.' }),
  })
  .meta({ description: "One attempt to deliver a webhook to the check's callback_url." });

export const historyEntrySchema = z
  .strictObject({
    replaced_at: timestampSchema,
    replaced_by: z.string().meta({ description: 'What replaced the result, e.g. didit:status.updated.' }),
    result: checkResultSchema,
  })
  .meta({ description: 'An earlier result that a Didit status update replaced.' });

export const retryStateSchema = z
  .strictObject({
    round: z.number().int().min(1),
    failed_attempts: z.number().int().nonnegative(),
    last_error: checkErrorSchema.nullable(),
  })
  .meta({ description: 'Present once a real failure (Didit 5xx, a timeout, a reset) sent the check to RETRYING.' });

export const waitStateSchema = z
  .strictObject({
    reason: z.enum(['PACED', 'DIDIT_THROTTLED', 'OUT_OF_CREDITS', 'DEPENDENCY_THROTTLED']).meta({
      description:
        'PACED: queued for the shared Didit budget (in arrival order); DIDIT_THROTTLED: Didit asked every caller to back ' +
        'off (429); OUT_OF_CREDITS: the Didit balance is empty and the service probes until a top-up; ' +
        'DEPENDENCY_THROTTLED: an AWS dependency (Rekognition, DynamoDB) throttled. None of these spends an attempt.',
    }),
    since: timestampSchema.meta({ description: 'When the check first had to wait.' }),
    resume_at: timestampSchema.meta({ description: 'When it tries again (its reserved slot when PACED).' }),
  })
  .meta({ description: 'Present while WAITING.' });

export const checkViewSchema = z
  .strictObject({
    id: checkIdSchema,
    status: checkStatusSchema,
    vendor_data: z.string().nullable(),
    metadata: metadataSchema.nullable(),
    created_at: timestampSchema,
    updated_at: timestampSchema,
    result: checkResultSchema.optional().meta({ description: 'Present when COMPLETED.' }),
    error: checkErrorSchema.optional().meta({ description: 'Present when FAILED or EXPIRED.' }),
    deliveries: z.array(deliveryAttemptSchema).optional().meta({
      description: 'Webhook attempts, oldest first: the newest 50 (older ones are counted in deliveries_dropped).',
    }),
    history: z.array(historyEntrySchema).optional().meta({
      description: 'Replaced results, oldest first: the newest 10 (older ones are counted in history_dropped).',
    }),
    deliveries_dropped: z
      .number()
      .int()
      .min(1)
      .optional()
      .meta({ description: 'How many of the oldest webhook attempts were dropped to keep `deliveries` within 50.' }),
    history_dropped: z
      .number()
      .int()
      .min(1)
      .optional()
      .meta({ description: 'How many of the oldest replaced results were dropped to keep `history` within 10.' }),
    retry: retryStateSchema.optional(),
    wait: waitStateSchema.optional(),
  })
  .meta({ description: 'A check as `GET /v1/liveness-checks/{id}` returns it.' });

export const checkListSchema = z
  .strictObject({
    items: z.array(checkViewSchema).meta({
      description: "The caller's own checks for the vendor_data, newest first (at most `limit`).",
    }),
    next_cursor: z.string().nullable().meta({
      description: 'Pass as `cursor` for the next page; null on the last page. Opaque: do not build or change it.',
    }),
  })
  .meta({ description: 'One page of `GET /v1/liveness-checks?vendor_data=…`.' });

export const fieldErrorSchema = z
  .strictObject({
    field: z.string().meta({
      description: 'A top-level body field, `id`, a query parameter, or `body` for the body as a whole.',
    }),
    message: z.string(),
  })
  .meta({ description: 'One invalid field.' });

export const API_ERROR_CODES = [
  'VALIDATION_FAILED',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'IDEMPOTENCY_KEY_REUSED',
  'THROTTLED',
  'QUOTA_EXCEEDED',
  'MALFORMED_WEBHOOK',
  'INVALID_SIGNATURE',
  'SERVICE_UNAVAILABLE',
  'INTERNAL_ERROR',
] as const;

export const apiErrorSchema = z
  .strictObject({
    error: z.strictObject({
      code: z.string().meta({
        description:
          `Stable and machine-readable: ${API_ERROR_CODES.join(', ')}. Other 4xx answered by API Gateway itself ` +
          'carry its response type instead, e.g. REQUEST_TOO_LARGE or UNSUPPORTED_MEDIA_TYPE.',
        examples: ['VALIDATION_FAILED'],
      }),
      message: z.string().meta({ description: 'For people; match on `code`.' }),
      fields: z
        .array(fieldErrorSchema)
        .optional()
        .meta({ description: 'With VALIDATION_FAILED: every invalid field, unknown fields included.' }),
    }),
  })
  .meta({ description: 'The body of every error response, from a handler or from API Gateway.' });

/** What `POST /v1/webhooks/didit` did with a verified delivery (ReceiveOutcome in the receiver). */
export const DIDIT_WEBHOOK_OUTCOMES = [
  'UPDATED',
  'UNCHANGED',
  'STALE',
  'DUPLICATE',
  'UNKNOWN_SESSION',
  'IGNORED_TYPE',
  'NOT_COMPLETED',
] as const;

export const diditWebhookAckSchema = z
  .strictObject({
    received: z.literal(true),
    outcome: z.enum(DIDIT_WEBHOOK_OUTCOMES).meta({
      description:
        'UPDATED: the result changed (status, score or warnings) and "Liveness Check Updated" was published; ' +
        'UNCHANGED: the event says what the check already says, nothing was written or published; STALE: Didit ' +
        'sent it before (or in the same second as) the last update applied, so it is ignored; DUPLICATE: this ' +
        'event was already applied; UNKNOWN_SESSION: not one of our checks; IGNORED_TYPE: not a status.updated ' +
        'webhook; NOT_COMPLETED: the check has no result to update yet.',
    }),
  })
  .meta({
    description:
      'Acknowledges a verified Didit webhook; every outcome is final, so Didit need not resend. A failure Didit ' +
      'should retry (a concurrent update, a throttled table, the event bus down) is answered 503 or 500 instead.',
  });

const diditWebhookLivenessSchema = z.looseObject({
  status: z.string().optional(),
  score: z.number().nullable().optional(),
  warnings: z
    .array(z.unknown())
    .nullable()
    .optional()
    .meta({ description: 'Risk codes, or objects with risk, log_type, short_description, long_description, feature.' }),
});

export const diditWebhookSchema = z
  .looseObject({
    timestamp: z.number().int().meta({ description: 'Unix seconds when Didit sent it; must be within 5 minutes.' }),
    session_id: z.string(),
    status: z.string(),
    webhook_type: z.string().meta({ description: 'Only status.updated changes a check.' }),
    event_id: z.string().optional(),
    vendor_data: z.string().nullable().optional(),
    decision: z
      .looseObject({
        liveness_checks: z.array(diditWebhookLivenessSchema).nullable().optional().meta({
          description: 'Webhook version v3 (current): one result per liveness step; the first is read.',
        }),
        liveness: diditWebhookLivenessSchema.nullable().optional().meta({ description: 'Older webhook versions.' }),
        passive_liveness: diditWebhookLivenessSchema
          .nullable()
          .optional()
          .meta({ description: 'Older webhook versions.' }),
      })
      .nullable()
      .optional(),
  })
  .meta({
    description:
      "A Didit webhook as Didit sends it. Fields other than these are accepted and ignored; only what Didit's " +
      'signature covers is used.',
  });

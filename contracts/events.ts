import { z } from 'zod';
import {
  CHECK_EVENT_SCHEMA_VERSION,
  DELETED_EVENT_SCHEMA_VERSION,
  DETAIL_TYPES,
  EVENT_SOURCE,
} from '../lambdas/core/check-events';
import {
  checkErrorSchema,
  checkIdSchema,
  checkStatusSchema,
  decisionSchema,
  metadataSchema,
  timestampSchema,
} from './shared';

/**
 * The events the service publishes on its bus and the webhook payload that echoes them to a check's callback_url,
 * defined once. The JSON Schemas in schemas/ are generated from these (`npm run contracts`), and `conformance.ts`
 * ties them to the types the publishers use (`CheckEventDetail`).
 */

/** A Didit warning in an event: `CheckEventWarning` in ../check-events.ts. */
export const checkEventWarningSchema = z
  .strictObject({
    risk: z.string().min(1).meta({ description: 'The risk code, e.g. LOW_LIVENESS_SCORE or NO_FACE_DETECTED.' }),
    log_type: z
      .string()
      .nullable()
      .meta({
        description:
          "Didit's kind of warning: `error` (it declines), `warning` or `information` (it does not decline on its " +
          'own); null when Didit gave none.',
      }),
  })
  .meta({ description: 'A warning Didit raised: its risk code and its kind.' });

/** The `detail` of every check event, whatever its type: exactly `CheckEventDetail` in ../check-events.ts. */
export const checkEventDetailSchema = z.strictObject({
  id: checkIdSchema,
  status: checkStatusSchema,
  decision: decisionSchema.nullable().meta({ description: 'Set when COMPLETED, null otherwise.' }),
  score: z.number().nullable().meta({ description: "Didit's liveness score 0–100; null without one." }),
  warnings: z.array(checkEventWarningSchema).meta({
    description: "Didit's warnings, `{risk, log_type}` each (schema_version 2; version 1 had bare risk codes).",
  }),
  vendor_data: z.string().nullable().meta({ description: 'The vendor_data the check was created with.' }),
  metadata: metadataSchema.nullable(),
  didit_request_id: z.string().nullable().meta({ description: "Didit's session id; null when Didit was not called." }),
  error: checkErrorSchema.nullable().meta({ description: 'Set when FAILED or EXPIRED, null otherwise.' }),
  has_callback: z.boolean().meta({
    description: 'True when the check has a callback_url, which the webhook echo matches on; the URL stays out.',
  }),
  occurred_at: timestampSchema.meta({ description: 'When the check reached the state this event reports.' }),
  schema_version: z.literal(CHECK_EVENT_SCHEMA_VERSION).meta({
    description: "Version of this detail's shape; it changes only with an incompatible change (docs/contracts.md).",
  }),
});

/** What each check event type guarantees beyond the general detail: its status and which of decision/error is set. */
const completedDetail = () =>
  checkEventDetailSchema.extend({
    status: z.literal('COMPLETED'),
    decision: decisionSchema,
    error: z.null(),
  });

export const checkCompletedDetailSchema = completedDetail().meta({
  description: 'A check reached COMPLETED: Didit (or the pre-screen) decided.',
});

/** Same shape as Completed: the decision Didit changed afterwards. A separate instance so it gets its own name. */
export const checkUpdatedDetailSchema = completedDetail().meta({
  description: "A COMPLETED check's decision changed after a Didit status.updated webhook.",
});

export const checkFailedDetailSchema = checkEventDetailSchema
  .extend({
    status: z.literal('FAILED'),
    decision: z.null(),
    error: checkErrorSchema,
  })
  .meta({ description: 'A check reached FAILED; `error.code` says why.' });

export const checkExpiredDetailSchema = checkEventDetailSchema
  .extend({
    status: z.literal('EXPIRED'),
    decision: z.null(),
    score: z.null(),
    didit_request_id: z.null(),
    error: checkErrorSchema.extend({ code: z.literal('UPLOAD_EXPIRED') }),
  })
  .meta({ description: 'A check was never uploaded before its presigned POST expired.' });

/** The events whose delivery to a callback_url is attempted (WEBHOOK_DELIVERY_PATTERN in ../check-events.ts). */
export const WEBHOOK_EVENT_TYPES = [
  DETAIL_TYPES.completed,
  DETAIL_TYPES.failed,
  DETAIL_TYPES.expired,
  DETAIL_TYPES.updated,
] as const;

export const webhookDeliveryFailedDetailSchema = z
  .strictObject({
    id: checkIdSchema,
    webhook_id: z.string().meta({ description: 'The `webhook-id` every attempt of this message carried.' }),
    event_type: z.enum(WEBHOOK_EVENT_TYPES).meta({ description: 'The detail-type that could not be delivered.' }),
    attempts: z.number().int().min(1),
    reason: z.enum(['REFUSED_BY_RECEIVER', 'RETRIES_EXHAUSTED']).meta({
      description:
        'REFUSED_BY_RECEIVER: a 4xx other than 408/429, or a callback URL that resolves to a private address; ' +
        'RETRIES_EXHAUSTED: every attempt failed with 408/429/5xx or a transport error.',
    }),
    last_status_code: z.number().int().nullable().meta({ description: "The last attempt's HTTP status, if any." }),
    last_error: z.string().nullable().meta({ description: "The last attempt's transport failure code, if any." }),
    occurred_at: timestampSchema.meta({ description: 'When delivery was given up.' }),
  })
  .meta({ description: "A webhook to a check's callback_url was given up; the check itself is unaffected." });

export const checkDeletedDetailSchema = z
  .strictObject({
    id: checkIdSchema,
    deleted_at: timestampSchema.meta({ description: 'When DELETE erased the check.' }),
    didit_erasure: z.enum(['PENDING', 'DONE', 'NOT_NEEDED']).meta({
      description:
        'PENDING: Didit saved the request (save_api_request) and is being asked to delete it (retried until it ' +
        'confirms); NOT_NEEDED: Didit kept nothing.',
    }),
    schema_version: z.literal(DELETED_EVENT_SCHEMA_VERSION).meta({
      description: 'Version of this detail shape (its own, separate from the check events).',
    }),
  })
  .meta({
    description:
      'A check was erased on request (DELETE). No personal data: the id and when; subscribers holding copies of the ' +
      "check's data erase theirs.",
  });

/**
 * The EventBridge envelope around a detail. Open (unknown fields allowed) because EventBridge owns it and adds
 * fields, e.g. `replay-name` on replayed events; the detail inside is closed.
 */
function eventEnvelope<const T extends string, D extends z.ZodType>(detailType: T, detail: D, description: string) {
  return z
    .object({
      version: z.string(),
      id: z.string().meta({
        description: 'The EventBridge event id (a webhook echoing a check event carries msg_<id> as webhook-id).',
      }),
      'detail-type': z.literal(detailType),
      source: z.literal(EVENT_SOURCE),
      account: z.string(),
      time: timestampSchema,
      region: z.string(),
      resources: z.array(z.string()),
      detail,
    })
    .meta({ description });
}

export interface EventContract<T extends string = string, D extends z.ZodType = z.ZodType> {
  readonly detailType: T;
  /** PascalCase name for generated types and the schema registry, e.g. LivenessCheckCompleted. */
  readonly name: string;
  /** schemas/events/<file>.json */
  readonly file: string;
  /** When the event fires. */
  readonly description: string;
  readonly detail: D;
  readonly event: ReturnType<typeof eventEnvelope<T, D>>;
}

function contract<const T extends string, D extends z.ZodType>(
  detailType: T,
  detail: D,
  description: string,
): EventContract<T, D> {
  const name = detailType.replace(/\s+/g, '');
  const file = detailType.toLowerCase().replace(/\s+/g, '-');
  return { detailType, name, file, description, detail, event: eventEnvelope(detailType, detail, description) };
}

export const livenessCheckCompleted = contract(
  DETAIL_TYPES.completed,
  checkCompletedDetailSchema,
  'A check reached COMPLETED with a decision (Approved or Declined). Published once per check.',
);
export const livenessCheckFailed = contract(
  DETAIL_TYPES.failed,
  checkFailedDetailSchema,
  'A check reached FAILED: the image was refused, Didit refused the request, or retries ran out.',
);
export const livenessCheckExpired = contract(
  DETAIL_TYPES.expired,
  checkExpiredDetailSchema,
  'A check was still AWAITING_UPLOAD after its presigned POST expired; the sweeper moved it to EXPIRED.',
);
export const livenessCheckUpdated = contract(
  DETAIL_TYPES.updated,
  checkUpdatedDetailSchema,
  'Didit changed the decision of a COMPLETED check (a status.updated webhook); the replaced result is in history.',
);
export const livenessCheckDeleted = contract(
  DETAIL_TYPES.deleted,
  checkDeletedDetailSchema,
  'A check was erased by DELETE /v1/liveness-checks/{id}: record, upload and history gone; Didit asked to erase too.',
);
export const livenessWebhookDeliveryFailed = contract(
  DETAIL_TYPES.webhookDeliveryFailed,
  webhookDeliveryFailedDetailSchema,
  "Delivering one of the events above to the check's callback_url was given up.",
);

/** Every event the service publishes, in the order the docs list them. */
export const EVENT_CONTRACTS = [
  livenessCheckCompleted,
  livenessCheckFailed,
  livenessCheckExpired,
  livenessCheckUpdated,
  livenessCheckDeleted,
  livenessWebhookDeliveryFailed,
] as const;

function webhookVariant<const T extends string, D extends z.ZodType>(type: T, data: D) {
  return z.strictObject({
    type: z.literal(type).meta({ description: 'The detail-type of the event this webhook echoes.' }),
    timestamp: timestampSchema.meta({ description: "The event's time (not the delivery attempt's)." }),
    data,
  });
}

/** The JSON body POSTed to a check's callback_url: `{type, timestamp, data}` with the event's detail as `data`. */
export const webhookPayloadSchema = z
  .discriminatedUnion('type', [
    webhookVariant(DETAIL_TYPES.completed, checkCompletedDetailSchema),
    webhookVariant(DETAIL_TYPES.failed, checkFailedDetailSchema),
    webhookVariant(DETAIL_TYPES.expired, checkExpiredDetailSchema),
    webhookVariant(DETAIL_TYPES.updated, checkUpdatedDetailSchema),
  ])
  .meta({
    description:
      "The body of a webhook to a check's callback_url, signed per Standard Webhooks (webhook-id, " +
      'webhook-timestamp, webhook-signature). `data` is the detail of the bus event it echoes.',
  });

export type CheckEventDetailContract = z.infer<typeof checkEventDetailSchema>;
export type LivenessCheckCompletedDetail = z.infer<typeof checkCompletedDetailSchema>;
export type LivenessCheckFailedDetail = z.infer<typeof checkFailedDetailSchema>;
export type LivenessCheckExpiredDetail = z.infer<typeof checkExpiredDetailSchema>;
export type LivenessCheckUpdatedDetail = z.infer<typeof checkUpdatedDetailSchema>;
export type LivenessWebhookDeliveryFailedDetail = z.infer<typeof webhookDeliveryFailedDetailSchema>;
export type LivenessCheckDeletedDetail = z.infer<typeof checkDeletedDetailSchema>;

export type LivenessCheckCompletedEvent = z.infer<typeof livenessCheckCompleted.event>;
export type LivenessCheckFailedEvent = z.infer<typeof livenessCheckFailed.event>;
export type LivenessCheckExpiredEvent = z.infer<typeof livenessCheckExpired.event>;
export type LivenessCheckUpdatedEvent = z.infer<typeof livenessCheckUpdated.event>;
export type LivenessWebhookDeliveryFailedEvent = z.infer<typeof livenessWebhookDeliveryFailed.event>;
export type LivenessCheckDeletedEvent = z.infer<typeof livenessCheckDeleted.event>;
/** Any event the service publishes; narrow on `detail-type`. */
export type LivenessEvent =
  | LivenessCheckCompletedEvent
  | LivenessCheckFailedEvent
  | LivenessCheckExpiredEvent
  | LivenessCheckUpdatedEvent
  | LivenessCheckDeletedEvent
  | LivenessWebhookDeliveryFailedEvent;

/** A webhook body; narrow on `type`. */
export type LivenessWebhookPayload = z.infer<typeof webhookPayloadSchema>;

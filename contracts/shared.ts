import { z } from 'zod';
import { CHECK_STATUSES } from '../lambdas/core/check';
import { FAILURE_CODES } from '../lambdas/core/failure-codes';

/**
 * Schemas shared by the API responses and the events. Each one mirrors a TypeScript type the handlers already use
 * (`conformance.ts` fails the type check when the two drift apart); these add what the types cannot say: formats,
 * ranges and the descriptions the generated documents carry.
 */

export { FAILURE_CODES };

export const checkIdSchema = z.uuid().meta({ description: 'The check id (a UUID v4).' });

export const timestampSchema = z.iso.datetime().meta({ description: 'An ISO 8601 UTC timestamp.' });

export const checkStatusSchema = z.enum(CHECK_STATUSES).meta({
  description:
    'AWAITING_UPLOAD until the image arrives, PROCESSING while it is checked, WAITING while it waits for Didit capacity ' +
    'or credits (no attempt spent), RETRYING while a real Didit failure is retried, then one of the terminal statuses ' +
    'COMPLETED (a decision), FAILED (an error) or EXPIRED (no upload in time). DELETED is the status of what ' +
    '`DELETE` leaves (a tombstone) and is never returned: a deleted check answers 404.',
});

export const decisionSchema = z.enum(['Approved', 'Declined']).meta({
  description: "Approved only when Didit's liveness status is Approved; anything else declines.",
});

export const failureCodeSchema = z.enum(FAILURE_CODES).meta({
  description:
    'Why a check failed. DIDIT_UNAVAILABLE, DIDIT_OUT_OF_CREDITS and DEPENDENCY_THROTTLED were retried or waited out ' +
    'until the failure horizon; DIDIT_BAD_RESPONSE is a charged Didit answer that could not be read (never retried: it ' +
    'was paid for); the others cannot succeed by sending the same image again.',
});

export const checkErrorSchema = z
  .strictObject({
    code: failureCodeSchema,
    message: z.string().meta({ description: 'For people; match on `code`, never on the message.' }),
  })
  .meta({ description: 'Why a check is FAILED or EXPIRED.' });

export const metadataSchema = z
  .record(z.string(), z.unknown())
  .meta({ description: 'The JSON object the client sent as `metadata`, returned unchanged.' });

export const diditFaceEntitySchema = z
  .strictObject({
    bbox: z.array(z.number()).meta({ description: 'Face bounding box in pixels of the image Didit was sent.' }),
    confidence: z.number(),
    age: z.number().nullable().optional().meta({ description: 'Only with storeFaceAttributes: an estimate.' }),
    gender: z.string().nullable().optional().meta({ description: 'Only with storeFaceAttributes: an estimate.' }),
    race: z.string().nullable().optional().meta({ description: 'Only with storeFaceAttributes: an estimate.' }),
  })
  .meta({
    description:
      "A face Didit found. Didit's age, gender and race/ethnicity estimates are neither stored nor returned unless " +
      'the deployment sets storeFaceAttributes.',
  });

export const diditWarningSchema = z
  .strictObject({
    risk: z.string().min(1).meta({ description: 'The risk code, e.g. LOW_LIVENESS_SCORE or NO_FACE_DETECTED.' }),
    log_type: z.string().optional().meta({
      description: '`error` (it declines), `warning` or `information` (it does not decline on its own).',
    }),
    short_description: z.string().optional(),
    long_description: z.string().optional(),
    feature: z.string().optional().meta({ description: 'The Didit feature that raised it, e.g. LIVENESS.' }),
  })
  .meta({
    description:
      'A warning Didit raised; `risk` is the stable code. Only these fields are kept, texts capped (codes at 100 ' +
      'characters, descriptions at 1000), at most 20 warnings per result.',
  });

export const diditLivenessSchema = z
  .strictObject({
    status: z.string().meta({ description: "Didit's liveness status, e.g. Approved or Declined." }),
    method: z.string().meta({ description: 'PASSIVE for this endpoint.' }),
    score: z.number().nullable().meta({ description: 'Liveness score 0–100; null when Didit gave none.' }),
    user_image: z
      .strictObject({
        entities: z.array(diditFaceEntitySchema),
        best_angle: z.number().nullable().optional(),
      })
      .nullable(),
    warnings: z.array(diditWarningSchema),
    face_quality: z.number().nullable(),
    face_luminance: z.number().nullable(),
  })
  .meta({ description: "Didit's passive-liveness answer, restricted to its documented fields." });

export const checkResultSchema = z
  .strictObject({
    request_id: z
      .string()
      .nullable()
      .meta({ description: "Didit's session id; null when the pre-screen declined without calling Didit." }),
    liveness: diditLivenessSchema,
    decision: decisionSchema,
    prescreen_face_count: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .meta({ description: 'Faces the Rekognition pre-screen counted; absent when the pre-screen is off.' }),
    didit_created_at: z.string().nullable().optional().meta({ description: 'When Didit created its session.' }),
    parse_issue: z
      .string()
      .optional()
      .meta({
        description:
          "Present when Didit's (charged) answer did not match the documented shape and this result was read from it " +
          'leniently; says what was wrong.',
      }),
  })
  .meta({ description: 'The result of a COMPLETED check.' });

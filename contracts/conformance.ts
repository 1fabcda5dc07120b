import type { z } from 'zod';
import type {
  CheckError,
  CheckResult,
  CheckStatus,
  Decision,
  DeliveryAttempt,
  HistoryEntry,
} from '../lambdas/core/check';
import type { CheckDeletedDetail, CheckEventDetail } from '../lambdas/core/check-events';
import type { CheckView, CreatedCheck, PresignedUpload } from '../lambdas/core/check-view';
import type { DiditLiveness, DiditWarning } from '../lambdas/core/didit-types';
import type { ReceiveOutcome } from '../lambdas/core/didit-webhook';
import type { FailureCode, FieldError } from '../lambdas/errors';
import type {
  checkViewSchema,
  createdCheckSchema,
  deliveryAttemptSchema,
  diditWebhookAckSchema,
  fieldErrorSchema,
  historyEntrySchema,
  presignedUploadSchema,
} from './api';
import type {
  checkCompletedDetailSchema,
  checkDeletedDetailSchema,
  checkEventDetailSchema,
  checkExpiredDetailSchema,
  checkFailedDetailSchema,
  checkUpdatedDetailSchema,
} from './events';
import type {
  checkErrorSchema,
  checkResultSchema,
  checkStatusSchema,
  decisionSchema,
  diditLivenessSchema,
  diditWarningSchema,
  failureCodeSchema,
} from './shared';

/**
 * Compile-time proof that the contract schemas describe exactly the types the handlers and publishers produce: if a
 * field is added to `CheckView` or `CheckEventDetail` (or changes type) without the schema following, `tsc` fails here
 * and names the pair. Types only; nothing in this file runs.
 */

/** Readonly is how the code promises not to mutate; it is not part of the wire format. */
type Wire<T> = T extends readonly (infer U)[]
  ? Wire<U>[]
  : T extends object
    ? { -readonly [K in keyof T]: Wire<T[K]> }
    : T;

/** Identical types, optional and nullable fields included (mutual assignability would let an optional field slip). */
type Same<A, B> = (<T>() => T extends Wire<A> ? 1 : 2) extends <T>() => T extends Wire<B> ? 1 : 2 ? true : false;

type Assert<T extends true> = T;

export type Conformance = [
  Assert<Same<z.infer<typeof failureCodeSchema>, FailureCode>>,
  Assert<Same<z.infer<typeof checkStatusSchema>, CheckStatus>>,
  Assert<Same<z.infer<typeof decisionSchema>, Decision>>,
  Assert<Same<z.infer<typeof checkErrorSchema>, CheckError>>,
  Assert<Same<z.infer<typeof diditWarningSchema>, DiditWarning>>,
  Assert<Same<z.infer<typeof diditLivenessSchema>, DiditLiveness>>,
  Assert<Same<z.infer<typeof checkResultSchema>, CheckResult>>,
  Assert<Same<z.infer<typeof deliveryAttemptSchema>, DeliveryAttempt>>,
  Assert<Same<z.infer<typeof historyEntrySchema>, HistoryEntry>>,
  Assert<Same<z.infer<typeof checkViewSchema>, CheckView>>,
  Assert<Same<z.infer<typeof presignedUploadSchema>, PresignedUpload>>,
  Assert<Same<z.infer<typeof createdCheckSchema>, CreatedCheck>>,
  Assert<Same<z.infer<typeof fieldErrorSchema>, FieldError>>,
  Assert<Same<z.infer<typeof diditWebhookAckSchema>['outcome'], ReceiveOutcome>>,
  Assert<Same<z.infer<typeof checkEventDetailSchema>, CheckEventDetail>>,
  // Each event type's detail is a narrower CheckEventDetail: a publisher's value can satisfy it.
  Assert<Wire<z.infer<typeof checkCompletedDetailSchema>> extends Wire<CheckEventDetail> ? true : false>,
  Assert<Wire<z.infer<typeof checkFailedDetailSchema>> extends Wire<CheckEventDetail> ? true : false>,
  Assert<Wire<z.infer<typeof checkExpiredDetailSchema>> extends Wire<CheckEventDetail> ? true : false>,
  Assert<Wire<z.infer<typeof checkUpdatedDetailSchema>> extends Wire<CheckEventDetail> ? true : false>,
  Assert<Same<z.infer<typeof checkDeletedDetailSchema>, CheckDeletedDetail>>,
];

/**
 * What a subscriber of the liveness service imports: the event and webhook types, the constants to match on, and the
 * Standard Webhooks verifier. Everything here is generated from, or checked against, the code that publishes the
 * events (contracts), so these types cannot drift from what arrives. docs/contracts.md explains each.
 */
import { DETAIL_TYPES, EVENT_SOURCE } from '../lambdas/core/check-events';
import { type VerifyWebhookOptions, verifyWebhook } from '../lambdas/core/standard-webhooks';
import type { LivenessWebhookPayload } from './events';

export type { CheckError, CheckResult, CheckStatus, Decision } from '../lambdas/core/check';
export type { CheckView } from '../lambdas/core/check-view';
export {
  DEFAULT_TOLERANCE_SECONDS,
  type StandardWebhookHeaders,
  type VerifyWebhookOptions,
  verifyWebhook,
  WebhookSecretFormatError,
  WebhookVerificationError,
  type WebhookVerificationFailure,
} from '../lambdas/core/standard-webhooks';
export type { FailureCode } from '../lambdas/errors';
export type {
  CheckEventDetailContract as CheckEventDetail,
  LivenessCheckCompletedDetail,
  LivenessCheckCompletedEvent,
  LivenessCheckDeletedDetail,
  LivenessCheckDeletedEvent,
  LivenessCheckExpiredDetail,
  LivenessCheckExpiredEvent,
  LivenessCheckFailedDetail,
  LivenessCheckFailedEvent,
  LivenessCheckUpdatedDetail,
  LivenessCheckUpdatedEvent,
  LivenessEvent,
  LivenessWebhookDeliveryFailedDetail,
  LivenessWebhookDeliveryFailedEvent,
  LivenessWebhookPayload,
} from './events';
export { DETAIL_TYPES, EVENT_SOURCE };

/** The `detail-type` values, for rules and `switch` statements. */
export type LivenessDetailType = (typeof DETAIL_TYPES)[keyof typeof DETAIL_TYPES];

/**
 * {@link verifyWebhook}, typed: verifies the signature and freshness of one delivery to a callback_url and returns
 * its body as a {@link LivenessWebhookPayload}. The signature proves the service sent these exact bytes, and the
 * service's tests validate every payload it sends against schemas/webhook-payload.json, so the body is not checked
 * again here. Throws WebhookVerificationError when the delivery must be refused.
 */
export function verifyLivenessWebhook(
  body: string | Uint8Array,
  headers: Readonly<Record<string, string | undefined>>,
  secrets: readonly string[],
  options?: VerifyWebhookOptions,
): LivenessWebhookPayload {
  return verifyWebhook(body, headers, secrets, options) as LivenessWebhookPayload;
}

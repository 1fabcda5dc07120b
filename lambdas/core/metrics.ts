/**
 * The service's custom CloudWatch metrics. One table for both sides: the functions emit through {@link MetricsPort}
 * and the construct alarms and draws its dashboard from the same names (lib/parts/observability.ts), so a renamed
 * metric cannot leave an alarm watching nothing. Pure: no Powertools, no SDK.
 */

/** Default CloudWatch namespace; the construct may set another through POWERTOOLS_METRICS_NAMESPACE. */
export const DEFAULT_METRICS_NAMESPACE = 'Liveness';

/** The dimension every metric carries (Powertools adds it): the construct's service name, one per deployment. */
export const SERVICE_DIMENSION = 'service';

export type MetricUnitName = 'Count' | 'Milliseconds' | 'Bytes' | 'Seconds';

export interface MetricDefinition {
  readonly name: string;
  readonly unit: MetricUnitName;
  /** Dimension of the per-value breakdown emitted next to the total, if the metric has one. */
  readonly breakdown?: string;
}

export const METRICS = {
  /** A check was stored and its upload URL handed out (create-check). */
  checksCreated: { name: 'ChecksCreated', unit: 'Count' },
  /** The processor claimed a freshly uploaded image: the first attempt began. */
  checksStarted: { name: 'ChecksStarted', unit: 'Count' },
  /** A check reached COMPLETED (either decision). */
  checksCompleted: { name: 'ChecksCompleted', unit: 'Count' },
  checksApproved: { name: 'ChecksApproved', unit: 'Count' },
  checksDeclined: { name: 'ChecksDeclined', unit: 'Count' },
  /** A check reached FAILED; also broken down by its error code. */
  checksFailed: { name: 'ChecksFailed', unit: 'Count', breakdown: 'code' },
  /** An attempt failed retryably and the check went to the retry workflow. */
  checksRetrying: { name: 'ChecksRetrying', unit: 'Count' },
  /** The Rekognition pre-screen found no face: declined without a Didit call. */
  prescreenRejections: { name: 'PrescreenRejections', unit: 'Count' },
  /** Size of the uploaded image read from S3. */
  imageBytesIn: { name: 'ImageBytesIn', unit: 'Bytes' },
  /** Size of the normalized JPEG sent to Didit. */
  imageBytesOut: { name: 'ImageBytesOut', unit: 'Bytes' },
  /** Calls to Didit that got an answer or a transport failure; by `status` too (2xx, 401, 429, NETWORK, …). */
  diditCalls: { name: 'DiditCalls', unit: 'Count', breakdown: 'status' },
  diditLatency: { name: 'DiditLatency', unit: 'Milliseconds' },
  /** Didit answered 401/403: the API key in the secret is wrong or revoked. */
  diditAuthFailures: { name: 'DiditAuthFailures', unit: 'Count' },
  /** Didit answered 429 (a refused call: the pacer should keep this near zero). */
  diditThrottled: { name: 'DiditThrottled', unit: 'Count' },
  /** A permit from the shared Didit budget was used for a call; by `kind` (paced, or probe while out of credits). */
  diditPermits: { name: 'DiditPermits', unit: 'Count', breakdown: 'kind' },
  /** Didit could not charge a check (402, or a 403 saying so): the out-of-credits circuit is (re)opened. */
  diditOutOfCredits: { name: 'DiditOutOfCredits', unit: 'Count' },
  /** A check started waiting without calling Didit; by `reason` (PACED, DIDIT_THROTTLED, OUT_OF_CREDITS, …). */
  checksWaiting: { name: 'ChecksWaiting', unit: 'Count', breakdown: 'reason' },
  /** Sweeper, every run: how many checks are WAITING right now. */
  waitingChecks: { name: 'WaitingChecks', unit: 'Count' },
  /** Sweeper, every run: how long the longest-waiting check has waited (0 when none is). */
  oldestWaitAge: { name: 'OldestWaitAge', unit: 'Seconds' },
  /** Sweeper, every run: 1 while the out-of-credits circuit is open, else 0. */
  diditCircuitOpen: { name: 'DiditCircuitOpen', unit: 'Count' },
  /** One POST to a callback_url; broken down by `outcome` (delivered, retry, give_up). */
  webhookAttempts: { name: 'WebhookAttempts', unit: 'Count', breakdown: 'outcome' },
  /** A delivery ended without success ("Liveness Webhook Delivery Failed" was published). */
  webhookDeliveryFailures: { name: 'WebhookDeliveryFailures', unit: 'Count' },
  /** Sweeper: checks whose upload never came. */
  checksExpired: { name: 'ChecksExpired', unit: 'Count' },
  /** Sweeper: quiet PROCESSING/RETRYING checks given a new retry round. */
  checksHandedOff: { name: 'ChecksHandedOff', unit: 'Count' },
  /** Sweeper, every run: Didit refused or failed to erase a deleted check's saved session (each is retried later). */
  diditErasureFailures: { name: 'DiditErasureFailures', unit: 'Count' },
  /** Sweeper: terminal events republished because their writer died. */
  eventsRepublished: { name: 'EventsRepublished', unit: 'Count' },
  /** Sweeper, every run: how far past its due time the oldest due check is (0 when none is due). */
  oldestDueCheckAge: { name: 'OldestDueCheckAge', unit: 'Seconds' },
} as const satisfies Record<string, MetricDefinition>;

export type Metric = (typeof METRICS)[keyof typeof METRICS];

/** The metric Powertools emits once per cold start (with a `function_name` dimension). */
export const COLD_START_METRIC = 'ColdStart';

/** How services record metrics; the handler flushes what was recorded at the end of the invocation. */
export interface MetricsPort {
  /**
   * Adds a data point to the metric's total and, when `breakdownValue` is given and the metric has a breakdown
   * dimension, one under that dimension too. Values are ids and codes, never personal data.
   */
  record(metric: Metric, value: number, breakdownValue?: string): void;
}

/** For callers that do not measure (tests, tools). */
export const NO_METRICS: MetricsPort = { record: () => {} };

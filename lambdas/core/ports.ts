import type { CheckRecord } from './check';
import type { PresignedUpload } from './check-view';
import type { DiditAnswer, DiditLivenessRequest } from './didit-types';
import type { IdempotencyRecord } from './idempotency';
import type { Step } from './lifecycle/transitions';
import type { ListPosition } from './list-request';
import type { PacerChange, PacerSignal, PacerState, Permit } from './pacing/pacer';
import type { RetryRoundInput } from './retry-round';
import type { AcceptedContentType } from './upload-rules';

/**
 * What the services need from the outside world, declared once here and implemented by lambdas/adapters (AWS SDK,
 * undici) and by the in-memory fakes the unit tests use. One style: an interface per role, methods only, taking and
 * returning core types. MetricsPort lives with the metric names (metrics.ts); a clock is a function.
 */

export type Clock = () => Date;

/** A check the store refused to change, with the check as it was (absent when there is none). */
export type Attempted =
  | { readonly applied: true; readonly record: CheckRecord }
  | { readonly applied: false; readonly current: CheckRecord | undefined };

/** Checks, stored. Executes the conditional writes lambdas/core/lifecycle computes; decides nothing. */
export interface CheckStorePort {
  /** Stores a new check; CheckAlreadyExistsError if the id is taken. */
  create(record: CheckRecord): Promise<void>;
  /** A consistent read. */
  get(id: string): Promise<CheckRecord | undefined>;
  /** Runs one transition; throws the named conflict of its row (lifecycle/conflicts.ts) when the guard fails. */
  execute(id: string, step: Step): Promise<CheckRecord>;
  /** Runs one transition; a failed guard is an answer, not an error (claims, outbox takeover). */
  attempt(id: string, step: Step): Promise<Attempted>;
  /** Non-terminal checks (and terminal ones with an unpublished event) past their due time, oldest first. */
  findDue(now: Date, limit: number): Promise<CheckRecord[]>;
  /** The check a Didit session belongs to. */
  findBySessionId(sessionId: string): Promise<string | undefined>;
  /** How many checks are WAITING (counted up to `countLimit`), and since when the longest-waiting one has waited. */
  waitingSummary(countLimit: number): Promise<WaitingSummary>;
}

/** One page of a caller's checks for one vendor_data, newest first, and where the next page starts. */
export interface CheckPage {
  readonly records: readonly CheckRecord[];
  readonly next: ListPosition | undefined;
}

/** Lists checks by the by-owner-vendor index (core/list-request.ts computes the key). */
export interface CheckListerPort {
  listByOwnerVendor(ownerVendorKey: string, limit: number, after: ListPosition | undefined): Promise<CheckPage>;
}

export interface WaitingSummary {
  readonly count: number;
  /** True when there are more than `countLimit` and counting stopped there. */
  readonly capped: boolean;
  readonly oldestSince: string | undefined;
}

/** The records binding a caller's Idempotency-Key to the check it created. */
export interface IdempotencyStorePort {
  /** Stores the record unless a live one has its id; then that one comes back. */
  claim(
    record: IdempotencyRecord,
    now: Date,
  ): Promise<{ readonly claimed: true } | { readonly claimed: false; readonly current: IdempotencyRecord }>;
  /** Replaces the record's fingerprint with ERASED_FINGERPRINT if it still binds `checkId` (else, or gone: nothing). */
  forgetRequest(recordId: string, checkId: string): Promise<void>;
}

export interface UploadReaderPort {
  /**
   * The uploaded bytes; ImageRejectedError when missing or over the limit. With `etag`, only that version of the
   * object (`IfMatch`): UploadReplacedError when another upload replaced it.
   */
  read(key: string, etag?: string): Promise<Uint8Array>;
}

/** Deletes uploads (idempotent: deleting what is not there succeeds). */
export interface UploadRemoverPort {
  remove(key: string): Promise<void>;
}

/** What Didit said to a request to delete one of its sessions. */
export type DiditSessionErasure = 'DELETED' | 'ALREADY_GONE';

/** Asks Didit to delete a saved session (`DELETE /v3/session/{id}/delete/`); named errors as DiditPort's. */
export interface DiditSessionEraserPort {
  deleteSession(sessionId: string): Promise<DiditSessionErasure>;
}

export interface UploadPresignerPort {
  presign(key: string, contentType: AcceptedContentType, ttlSeconds: number, now: Date): Promise<PresignedUpload>;
}

export interface DiditPort {
  /** One call; the answer with Didit's budget headers, or the named error of what went wrong (errors.ts). */
  checkLiveness(request: DiditLivenessRequest): Promise<DiditAnswer>;
}

/** The one budget every Didit call draws from (services/didit-pacer.ts over a PacerStatePort). */
export interface DiditPacerPort {
  /** A permit to call now, or how long to wait (with the ticket to come back with when paced). */
  acquire(now: Date, heldTicket?: number): Promise<Permit>;
  /** Tells every caller what Didit's answer means (back off, slow down, circuit open or closed); the state after. */
  report(now: Date, signal: PacerSignal): Promise<PacerState>;
  /** The shared state as stored (metrics, tests). */
  current(): Promise<PacerState>;
}

/** A change refused because its expectation no longer held, with the state as it is now. */
export type PacerChangeResult =
  | { readonly ok: true; readonly state: PacerState }
  | { readonly ok: false; readonly current: PacerState };

/** Where the pacer's state lives: an atomic ticket counter and conditional changes, never a blind overwrite. */
export interface PacerStatePort {
  /** Hands out the next ticket atomically (no caller ever contends for it), with the state after. */
  takeTicket(): Promise<{ readonly ticket: number; readonly state: PacerState }>;
  /** A consistent read. */
  read(): Promise<PacerState>;
  /** Makes `change` if its expectation still holds. */
  change(change: PacerChange): Promise<PacerChangeResult>;
}

/** The optional Rekognition pre-screen. */
export interface FaceCounterPort {
  countFaces(jpeg: Uint8Array): Promise<number>;
}

/** One event for the bus; `source` is always the service's. */
export interface DomainEvent {
  readonly detailType: string;
  readonly detail: object;
}

export interface EventSinkPort {
  publish(events: readonly DomainEvent[]): Promise<void>;
}

/** Starts the Step Functions round that owns a check's retries; a second start of one round is a no-op. */
export interface RetrySchedulerPort {
  startRound(input: RetryRoundInput): Promise<void>;
}

/** One HTTP POST to a callback URL; the outcome is the status, or a thrown transport/refusal error. */
export interface WebhookSenderPort {
  deliver(
    url: string,
    body: string,
    headers: Record<string, string>,
  ): Promise<{ statusCode: number; latencyMs: number }>;
}

/**
 * Reads a secret's current string value (cached by the adapter). `fresh` asks the store again past the cache, for a
 * caller that has reason to think the value changed (the adapter may still answer from its cache when it was asked
 * for a fresh value moments ago).
 */
export type SecretSource = (options?: { readonly fresh?: boolean }) => Promise<string>;

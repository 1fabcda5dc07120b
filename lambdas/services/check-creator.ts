import { randomUUID } from 'node:crypto';
import { type CheckOptions, type CheckRecord, DUE_SHARD, isTombstone, uploadKeyFor } from '../core/check';
import { type CheckView, type CreatedCheck, toCheckView } from '../core/check-view';
import { parseCreateCheckRequest } from '../core/create-request';
import {
  ERASED_FINGERPRINT,
  IDEMPOTENCY_WINDOW_SECONDS,
  type IdempotencyRecord,
  idempotencyRecordId,
  requestFingerprint,
} from '../core/idempotency';
import { CheckAlreadyExistsError, CheckChangedError } from '../core/lifecycle/conflicts';
import { epochSeconds, step } from '../core/lifecycle/transitions';
import { ownerVendorKey } from '../core/list-request';
import type { CheckStorePort, Clock, IdempotencyStorePort, UploadPresignerPort } from '../core/ports';
import { IdempotencyConflictError } from '../errors';

/** S3 delivers ObjectCreated within seconds; a minute of grace keeps a last-second upload from being expired. */
export const UPLOAD_GRACE_SECONDS = 60;

export interface CreatorSettings {
  readonly uploadPrefix: string;
  readonly uploadUrlTtlSeconds: number;
  readonly defaultDeclineThreshold: number;
  readonly checkRetentionDays: number;
  /** Allow `http://` and loopback callback URLs (the local stack only). */
  readonly allowInsecureCallbacks: boolean;
  /** Origins whose callbacks may use a port other than 443. @default [] */
  readonly callbackAllowedOrigins?: readonly string[];
}

/** Who asks (the owner the check gets: core/caller.ts), and the Idempotency-Key they sent (validated), if any. */
export interface CreateRequest {
  readonly caller: string;
  readonly idempotencyKey?: string | undefined;
}

/**
 * What a create came to: a new check; the same check again for a retried request, with a fresh upload URL while it
 * still waits for its upload; or, once the upload has arrived, the check as it stands.
 */
export type CreateOutcome =
  | { readonly kind: 'created'; readonly created: CreatedCheck }
  | { readonly kind: 'replayed'; readonly created: CreatedCheck }
  | { readonly kind: 'replayed-check'; readonly check: CheckView };

export interface CreatorPorts {
  readonly store: Pick<CheckStorePort, 'create' | 'get' | 'execute'>;
  readonly presigner: UploadPresignerPort;
  /** Where Idempotency-Keys are kept; without it a key is ignored. */
  readonly idempotency?: IdempotencyStorePort;
  /** @default () => new Date() */
  readonly clock?: Clock;
  /** @default randomUUID */
  readonly newId?: () => string;
}

/** Validates a create request, stores the check as AWAITING_UPLOAD and hands back a presigned POST for its key. */
export class CheckCreator {
  private readonly store: CreatorPorts['store'];
  private readonly presigner: UploadPresignerPort;
  private readonly idempotency: IdempotencyStorePort | undefined;
  private readonly clock: Clock;
  private readonly newId: () => string;

  constructor(
    ports: CreatorPorts,
    private readonly config: CreatorSettings,
  ) {
    this.store = ports.store;
    this.presigner = ports.presigner;
    this.idempotency = ports.idempotency;
    this.clock = ports.clock ?? (() => new Date());
    this.newId = ports.newId ?? randomUUID;
  }

  async create(rawBody: string | null, request: CreateRequest = { caller: 'anonymous' }): Promise<CreateOutcome> {
    const options = parseCreateCheckRequest(rawBody, {
      defaultDeclineThreshold: this.config.defaultDeclineThreshold,
      allowInsecureCallbacks: this.config.allowInsecureCallbacks,
      callbackAllowedOrigins: this.config.callbackAllowedOrigins ?? [],
    });
    const now = this.clock();
    const id = this.newId();
    if (request.idempotencyKey === undefined || !this.idempotency) {
      return { kind: 'created', created: await this.createCheck(id, options, now, request.caller) };
    }
    const record: IdempotencyRecord = {
      id: idempotencyRecordId(request.caller, request.idempotencyKey),
      check_id: id,
      fingerprint: requestFingerprint(options),
      created_at: now.toISOString(),
      expires_at: epochSeconds(now) + IDEMPOTENCY_WINDOW_SECONDS,
    };
    const claim = await this.idempotency.claim(record, now);
    if (claim.claimed) {
      return { kind: 'created', created: await this.createCheck(id, options, now, request.caller, record.id) };
    }
    if (claim.current.fingerprint === ERASED_FINGERPRINT) throw checkDeletedConflict();
    if (claim.current.fingerprint !== record.fingerprint) {
      throw new IdempotencyConflictError(
        'This Idempotency-Key was used for a request with a different body in the last 24 hours; use a new key',
      );
    }
    return this.replay(claim.current.check_id, options, now, request.caller, record.id);
  }

  private async createCheck(
    id: string,
    options: CheckOptions,
    now: Date,
    owner: string,
    idempotencyId?: string,
  ): Promise<CreatedCheck> {
    const key = uploadKeyFor(this.config.uploadPrefix, id);
    const upload = await this.presigner.presign(key, options.content_type, this.config.uploadUrlTtlSeconds, now);
    const createdAt = now.toISOString();
    await this.store.create({
      ...options,
      id,
      owner,
      // Listable by its owner under its vendor_data (GET /v1/liveness-checks?vendor_data=…).
      ...(options.vendor_data !== undefined ? { owner_vendor_key: ownerVendorKey(owner, options.vendor_data) } : {}),
      ...(idempotencyId !== undefined ? { idempotency_id: idempotencyId } : {}),
      status: 'AWAITING_UPLOAD',
      upload_key: key,
      created_at: createdAt,
      updated_at: createdAt,
      upload_expires_at: upload.expires_at,
      // The sweeper expires the check if no upload has started processing shortly after the POST expired.
      due_shard: DUE_SHARD,
      due_at: epochSeconds(new Date(upload.expires_at)) + UPLOAD_GRACE_SECONDS,
      expires_at: epochSeconds(now) + this.config.checkRetentionDays * 86_400,
    });
    return { id, status: 'AWAITING_UPLOAD', upload, created_at: createdAt };
  }

  /**
   * The same request again: the check its key created. Still waiting for its upload: a fresh upload URL for the same
   * key (and the expiry moved with it). Created by a request that died before storing the check: created now, once.
   */
  private async replay(
    checkId: string,
    options: CheckOptions,
    now: Date,
    owner: string,
    idempotencyId: string,
  ): Promise<CreateOutcome> {
    let check: CheckRecord | undefined = await this.store.get(checkId);
    if (!check) {
      try {
        return { kind: 'replayed', created: await this.createCheck(checkId, options, now, owner, idempotencyId) };
      } catch (error) {
        // A concurrent retry of the same request stored it first.
        if (!(error instanceof CheckAlreadyExistsError)) throw error;
        check = await this.store.get(checkId);
      }
    }
    if (!check) throw new Error(`check ${checkId} vanished while its create was replayed`);
    if (isTombstone(check)) throw checkDeletedConflict();
    if (check.status === 'AWAITING_UPLOAD') {
      const upload = await this.presigner.presign(
        check.upload_key,
        check.content_type,
        this.config.uploadUrlTtlSeconds,
        now,
      );
      try {
        await this.store.execute(
          checkId,
          step('renewUpload', { uploadExpiresAt: upload.expires_at, graceSeconds: UPLOAD_GRACE_SECONDS, now }),
        );
        return {
          kind: 'replayed',
          created: { id: checkId, status: 'AWAITING_UPLOAD', upload, created_at: check.created_at },
        };
      } catch (error) {
        // The upload arrived meanwhile: answer with the check as it now stands.
        if (!(error instanceof CheckChangedError)) throw error;
        check = (await this.store.get(checkId)) ?? check;
      }
    }
    return { kind: 'replayed-check', check: toCheckView(check) };
  }
}

function checkDeletedConflict(): IdempotencyConflictError {
  return new IdempotencyConflictError('The check this Idempotency-Key created was deleted; send a new key');
}

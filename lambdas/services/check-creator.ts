import { randomUUID } from 'node:crypto';
import { DUE_SHARD, uploadKeyFor } from '../core/check';
import type { CreatedCheck } from '../core/check-view';
import { parseCreateCheckRequest } from '../core/create-request';
import type { CheckStorePort, Clock, UploadPresignerPort } from '../core/ports';

/** S3 delivers ObjectCreated within seconds; a minute of grace keeps a last-second upload from being expired. */
export const UPLOAD_GRACE_SECONDS = 60;

export interface CreatorSettings {
  readonly uploadPrefix: string;
  readonly uploadUrlTtlSeconds: number;
  readonly defaultDeclineThreshold: number;
  readonly checkRetentionDays: number;
  /** Allow `http://` and loopback callback URLs (the local stack only). */
  readonly allowInsecureCallbacks: boolean;
}

/** Validates a create request, stores the check as AWAITING_UPLOAD and hands back a presigned POST for its key. */
export class CheckCreator {
  constructor(
    private readonly store: Pick<CheckStorePort, 'create'>,
    private readonly presigner: UploadPresignerPort,
    private readonly config: CreatorSettings,
    private readonly clock: Clock = () => new Date(),
    private readonly newId: () => string = randomUUID,
  ) {}

  async create(rawBody: string | null): Promise<CreatedCheck> {
    const options = parseCreateCheckRequest(rawBody, {
      defaultDeclineThreshold: this.config.defaultDeclineThreshold,
      allowInsecureCallbacks: this.config.allowInsecureCallbacks,
    });
    const now = this.clock();
    const id = this.newId();
    const key = uploadKeyFor(this.config.uploadPrefix, id);
    const upload = await this.presigner.presign(key, options.content_type, this.config.uploadUrlTtlSeconds, now);
    const createdAt = now.toISOString();
    await this.store.create({
      ...options,
      id,
      status: 'AWAITING_UPLOAD',
      upload_key: key,
      created_at: createdAt,
      updated_at: createdAt,
      upload_expires_at: upload.expires_at,
      // The sweeper expires the check if no upload has started processing shortly after the POST expired.
      due_shard: DUE_SHARD,
      due_at: Math.floor(Date.parse(upload.expires_at) / 1000) + UPLOAD_GRACE_SECONDS,
      expires_at: Math.floor(now.getTime() / 1000) + this.config.checkRetentionDays * 86_400,
    });
    return { id, status: 'AWAITING_UPLOAD', upload, created_at: createdAt };
  }
}

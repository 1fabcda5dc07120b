import type { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import type { PresignedUpload } from '../core/check-view';
import type { UploadPresignerPort } from '../core/ports';
import type { AcceptedContentType } from '../core/upload-rules';
import { MAX_UPLOAD_BYTES } from '../core/upload-rules';

/**
 * Presigned S3 POSTs whose policy pins everything the client could abuse: the exact key, 1 byte to 5 MiB, the exact
 * content type, and a short expiry. S3 enforces the policy; no emulator does, so tests decode it.
 */
export class UploadPresigner implements UploadPresignerPort {
  constructor(
    private readonly s3: S3Client,
    private readonly bucketName: string,
  ) {}

  async presign(
    key: string,
    contentType: AcceptedContentType,
    ttlSeconds: number,
    now: Date,
  ): Promise<PresignedUpload> {
    const { url, fields } = await createPresignedPost(this.s3, {
      Bucket: this.bucketName,
      Key: key,
      // The SDK turns each field into an exact-match condition: key and Content-Type are pinned.
      Fields: { 'Content-Type': contentType },
      Conditions: [['content-length-range', 1, MAX_UPLOAD_BYTES]],
      Expires: ttlSeconds,
    });
    return {
      url,
      fields,
      expires_at: new Date(now.getTime() + ttlSeconds * 1000).toISOString(),
      max_bytes: MAX_UPLOAD_BYTES,
    };
  }
}

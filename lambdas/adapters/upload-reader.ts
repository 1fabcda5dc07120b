import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  NoSuchKey,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { UploadReaderPort, UploadRemoverPort } from '../core/ports';
import { MAX_UPLOAD_BYTES } from '../core/upload-rules';
import { ImageRejectedError, UploadReplacedError } from '../errors';
import { classifyAwsError } from './aws-errors';

/**
 * Reads an uploaded selfie, refusing anything over the upload limit before and while reading it. A read pinned to an
 * ETag (`IfMatch`) gets exactly the object S3 announced, or UploadReplacedError.
 */
export class UploadReader implements UploadReaderPort {
  constructor(
    private readonly s3: S3Client,
    private readonly bucketName: string,
  ) {}

  async read(key: string, etag?: string): Promise<Uint8Array> {
    let out: GetObjectCommandOutput;
    try {
      out = await this.s3.send(
        new GetObjectCommand({ Bucket: this.bucketName, Key: key, ...(etag ? { IfMatch: quoted(etag) } : {}) }),
      );
    } catch (error) {
      if (error instanceof NoSuchKey || (error as Error).name === 'NoSuchKey') {
        throw new ImageRejectedError('IMAGE_NOT_FOUND', 'The uploaded object no longer exists', { cause: error });
      }
      if (isPreconditionFailed(error)) throw new UploadReplacedError({ cause: error });
      throw classifyAwsError(error, 'S3');
    }
    const body = out.Body as AsyncIterable<Uint8Array> & { destroy?: () => void };
    if ((out.ContentLength ?? 0) > MAX_UPLOAD_BYTES) {
      body.destroy?.();
      throw tooLarge(out.ContentLength ?? 0);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of body) {
      total += chunk.byteLength;
      if (total > MAX_UPLOAD_BYTES) {
        body.destroy?.();
        throw tooLarge(total);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, total);
  }
}

/** Deletes uploads once their check has ended or was erased (the bucket's lifecycle rule stays as the backstop). */
export class UploadRemover implements UploadRemoverPort {
  constructor(
    private readonly s3: S3Client,
    private readonly bucketName: string,
  ) {}

  async remove(key: string): Promise<void> {
    try {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucketName, Key: key }));
    } catch (error) {
      throw classifyAwsError(error, 'S3');
    }
  }
}

/** S3 event ETags come without quotes; the header wants the entity tag as S3 sends it, quoted. */
function quoted(etag: string): string {
  return etag.startsWith('"') ? etag : `"${etag}"`;
}

function isPreconditionFailed(error: unknown): boolean {
  if (error instanceof S3ServiceException && error.$metadata?.httpStatusCode === 412) return true;
  return (error as Error | undefined)?.name === 'PreconditionFailed';
}

function tooLarge(bytes: number): ImageRejectedError {
  return new ImageRejectedError('IMAGE_TOO_LARGE', `The upload is ${bytes} bytes; the limit is ${MAX_UPLOAD_BYTES}`);
}

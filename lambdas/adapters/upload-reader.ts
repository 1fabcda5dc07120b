import { GetObjectCommand, type GetObjectCommandOutput, NoSuchKey, type S3Client } from '@aws-sdk/client-s3';
import type { UploadReaderPort } from '../core/ports';
import { MAX_UPLOAD_BYTES } from '../core/upload-rules';
import { ImageRejectedError } from '../errors';
import { classifyAwsError } from './aws-errors';

/** Reads an uploaded selfie, refusing anything over the upload limit before and while reading it. */
export class UploadReader implements UploadReaderPort {
  constructor(
    private readonly s3: S3Client,
    private readonly bucketName: string,
  ) {}

  async read(key: string): Promise<Uint8Array> {
    let out: GetObjectCommandOutput;
    try {
      out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucketName, Key: key }));
    } catch (error) {
      if (error instanceof NoSuchKey || (error as Error).name === 'NoSuchKey') {
        throw new ImageRejectedError('IMAGE_NOT_FOUND', 'The uploaded object no longer exists', { cause: error });
      }
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

function tooLarge(bytes: number): ImageRejectedError {
  return new ImageRejectedError('IMAGE_TOO_LARGE', `The upload is ${bytes} bytes; the limit is ${MAX_UPLOAD_BYTES}`);
}

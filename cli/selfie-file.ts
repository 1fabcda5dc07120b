import { open } from 'node:fs/promises';
import { IMAGE_TYPE_NAMES, type SupportedImageType, sniffImageType } from '../lambdas/core/image-sniff';
import { type AcceptedContentType, MAX_UPLOAD_BYTES } from '../lambdas/core/upload-rules';
import { CliError } from './cli-error';

export interface Selfie {
  readonly path: string;
  readonly bytes: Buffer;
  readonly type: SupportedImageType;
  /** What the check is created with; the presigned POST pins it, so it must match the bytes, not the file name. */
  readonly contentType: AcceptedContentType;
}

const CONTENT_TYPES: Readonly<Record<SupportedImageType, AcceptedContentType>> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  tiff: 'image/tiff',
  heic: 'image/heic',
  heif: 'image/heif',
};

/**
 * Reads the selfie and refuses, before any check is created, what the service would refuse after the upload: an
 * empty file, one over the presigned POST's 5 MiB, or anything that is not JPEG/PNG/WebP/TIFF/HEIC by its magic bytes
 * (the same sniffer the processor uses, so the CLI and the service never disagree about a file). A phone's HEIC is
 * sent as it is: the service decodes it.
 */
export async function readSelfie(path: string): Promise<Selfie> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code;
    throw new CliError('BAD_INPUT_FILE', `cannot read ${path}: ${reason ?? (error as Error).message}`, {
      code: code ?? 'UNREADABLE',
      cause: error,
    });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new CliError('BAD_INPUT_FILE', `${path} is not a file`, { code: 'NOT_A_FILE' });
    if (stat.size === 0) throw new CliError('BAD_INPUT_FILE', `${path} is empty`, { code: 'IMAGE_EMPTY' });
    // Checked on the size before reading, so a multi-gigabyte video picked by mistake is not loaded into memory.
    if (stat.size > MAX_UPLOAD_BYTES) {
      throw new CliError(
        'BAD_INPUT_FILE',
        `${path} is ${formatBytes(stat.size)}; the upload limit is ${formatBytes(MAX_UPLOAD_BYTES)}`,
        { code: 'IMAGE_TOO_LARGE', hint: 'Send a smaller photo: the service downsizes to 1920 px anyway.' },
      );
    }
    const bytes = await handle.readFile();
    const sniffed = sniffImageType(bytes);
    if (!sniffed.supported) {
      throw new CliError(
        'BAD_INPUT_FILE',
        `${path} is not a JPEG, PNG, WebP, TIFF or HEIC image (its content looks like ${IMAGE_TYPE_NAMES[sniffed.type]})`,
        { code: 'UNSUPPORTED_IMAGE_TYPE', hint: 'Convert it to JPEG first.' },
      );
    }
    return { path, bytes, type: sniffed.type, contentType: CONTENT_TYPES[sniffed.type] };
  } finally {
    await handle.close();
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(2)} MiB`;
}

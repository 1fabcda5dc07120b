import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { CliError } from './cli-error';
import { describeNetworkError } from './network-error';

export interface PresignedPost {
  readonly url: string;
  readonly fields: Readonly<Record<string, string>>;
}

export interface UploadFile {
  readonly bytes: Uint8Array;
  readonly contentType: string;
  readonly filename: string;
}

/** Called as the file's bytes are handed to the socket: how many of them, out of how many. */
export type UploadProgress = (sentBytes: number, totalBytes: number) => void;

const CHUNK_BYTES = 64 * 1024;
const SOCKET_IDLE_TIMEOUT_MS = 60_000;

/**
 * Sends the selfie the way a browser form does: multipart/form-data with every policy field first and the file last
 * (S3 ignores fields after the file). The body is built in memory, at most 5 MiB, so it goes with a Content-Length:
 * S3 refuses a chunked POST. node:http rather than fetch, because fetch reports no upload progress.
 */
export async function uploadWithPresignedPost(
  post: PresignedPost,
  file: UploadFile,
  onProgress: UploadProgress = () => {},
): Promise<void> {
  const boundary = `----liveness-cli-${randomBytes(12).toString('hex')}`;
  const parts = Object.entries(post.fields).map(
    ([name, value]) => `--${boundary}\r\n${disposition(name)}\r\n\r\n${value}\r\n`,
  );
  parts.push(`--${boundary}\r\n${disposition('file', file.filename)}\r\nContent-Type: ${file.contentType}\r\n\r\n`);
  const head = Buffer.from(parts.join(''));
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const body = Buffer.concat([head, file.bytes, tail]);
  const url = new URL(post.url);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;

  const response = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': body.length },
    });
    req.setTimeout(SOCKET_IDLE_TIMEOUT_MS, () =>
      req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
    );
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    onProgress(0, file.bytes.length);
    writeInChunks(req, body, (written) => {
      onProgress(Math.min(Math.max(written - head.length, 0), file.bytes.length), file.bytes.length);
    }).then(() => req.end(), reject);
  }).catch((error: unknown) => {
    const { code, reason } = describeNetworkError(error);
    throw new CliError('API_UNREACHABLE', `cannot reach the upload URL ${url.origin}: ${reason}`, {
      code,
      cause: error,
    });
  });

  if (response.status >= 200 && response.status < 300) return;
  const code = /<Code>([^<]*)<\/Code>/.exec(response.text)?.[1] ?? `HTTP_${response.status}`;
  const message = /<Message>([^<]*)<\/Message>/.exec(response.text)?.[1] ?? response.text.slice(0, 200);
  throw new CliError('API_ERROR', `S3 refused the upload (${response.status} ${code}): ${message}`, {
    code,
    ...(code === 'AccessDenied'
      ? { hint: 'The presigned POST may have expired (it lives 5 minutes) or its content type did not match.' }
      : {}),
  });
}

/** Writes in chunks and waits for `drain`, so progress follows what the socket has accepted rather than jumping. */
async function writeInChunks(
  req: { write(chunk: Buffer): boolean; once(event: 'drain' | 'close', listener: () => void): unknown },
  body: Buffer,
  onWritten: (bytes: number) => void,
): Promise<void> {
  for (let offset = 0; offset < body.length; offset += CHUNK_BYTES) {
    const chunk = body.subarray(offset, offset + CHUNK_BYTES);
    if (!req.write(chunk)) await new Promise<void>((resolve) => req.once('drain', resolve));
    onWritten(offset + chunk.length);
  }
}

/** Field names come from the API; quotes and line breaks are escaped as the HTML form encoding does. */
function disposition(name: string, filename?: string): string {
  const quoteSafe = (s: string) => s.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  return `Content-Disposition: form-data; name="${quoteSafe(name)}"${filename ? `; filename="${quoteSafe(filename)}"` : ''}`;
}

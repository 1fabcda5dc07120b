import { basename } from 'node:path';
import type { CheckView } from '../lambdas/core/check-view';
import { resolveApiTarget } from './api-target';
import { waitForTerminalCheck } from './check-waiter';
import type { VerifyArgs } from './cli-args';
import { CliError } from './cli-error';
import { EXIT_CODES } from './exit-codes';
import { LivenessApiClient } from './liveness-api-client';
import { uploadWithPresignedPost } from './presigned-post-upload';
import { ProgressReporter } from './progress-reporter';
import { formatBytes, readSelfie, type Selfie } from './selfie-file';
import { formatVerdict, jsonReport, outcomeOf } from './verdict';

export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown; readonly isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** `liveness verify <selfie>`: file → check → upload → wait → verdict. Returns the exit code. */
export async function verifyCommand(args: VerifyArgs, io: CliIo): Promise<number> {
  const progress = new ProgressReporter(io.stderr);
  let selfie: Selfie | undefined;
  let check: CheckView | undefined;
  try {
    // The file first: a bad file should not cost a check, and needs no API to be told so.
    selfie = await readSelfie(args.file);
    progress.step('Selfie', `${args.file}  ${selfie.type.toUpperCase()}, ${formatBytes(selfie.bytes.length)}`);

    const target = await resolveApiTarget({
      api: args.api,
      key: args.key,
      stackOutputs: args.stackOutputs,
      env: io.env,
    });
    progress.step('API', `${target.baseUrl}  (from ${target.source})`);
    const client = new LivenessApiClient(target);

    const created = await client.createCheck({
      content_type: selfie.contentType,
      ...(args.threshold === undefined ? {} : { face_liveness_score_decline_threshold: args.threshold }),
      ...(args.vendorData === undefined ? {} : { vendor_data: args.vendorData }),
    });
    progress.step('Check', `${created.id} created`);
    if (selfie.bytes.length > created.upload.max_bytes) {
      throw new CliError(
        'BAD_INPUT_FILE',
        `${args.file} is ${formatBytes(selfie.bytes.length)}; this API accepts at most ${formatBytes(created.upload.max_bytes)}`,
        { code: 'IMAGE_TOO_LARGE' },
      );
    }

    const uploadStarted = Date.now();
    await uploadWithPresignedPost(
      created.upload,
      { bytes: selfie.bytes, contentType: selfie.contentType, filename: basename(args.file) },
      (sent, total) => progress.upload(sent, total),
    );
    progress.step('Upload', `done in ${((Date.now() - uploadStarted) / 1000).toFixed(1)} s`);

    const waited = await waitForTerminalCheck((id) => client.getCheck(id), created.id, {
      timeoutMs: args.timeoutSeconds * 1000,
      onStatus: (seen) => {
        // Kept so that if polling then fails, --json still reports the last state the check was seen in.
        check = seen;
        progress.status(seen);
      },
    });
    const outcome = outcomeOf(waited.check, waited.timedOut);
    io.stdout.write(
      args.json
        ? `${JSON.stringify(jsonReport({ outcome, selfie, check: waited.check }), null, 2)}\n`
        : formatVerdict(waited.check, outcome, args.timeoutSeconds),
    );
    return EXIT_CODES[outcome];
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    reportError(error, io);
    if (args.json)
      io.stdout.write(`${JSON.stringify(jsonReport({ outcome: error.outcome, selfie, check, error }), null, 2)}\n`);
    return error.exitCode;
  }
}

export function reportError(error: CliError, io: Pick<CliIo, 'stderr'>): void {
  io.stderr.write(`liveness: ${error.message}\n`);
  if (error.hint) io.stderr.write(`          ${error.hint}\n`);
}

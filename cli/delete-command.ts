import { resolveApiTarget } from './api-target';
import type { DeleteArgs } from './cli-args';
import { CliError } from './cli-error';
import { LivenessApiClient } from './liveness-api-client';
import { type CliIo, reportError } from './verify-command';

/** `liveness delete <check id>`: erases the check. Exit 0 when it is gone (now or before), else the error's code. */
export async function deleteCommand(args: DeleteArgs, io: CliIo): Promise<number> {
  try {
    const target = await resolveApiTarget({
      api: args.api,
      key: args.key,
      stackOutputs: args.stackOutputs,
      env: io.env,
    });
    await new LivenessApiClient(target).deleteCheck(args.id);
    io.stdout.write(
      args.json
        ? `${JSON.stringify({ outcome: 'DELETED', id: args.id }, null, 2)}\n`
        : `Deleted ${args.id}: its record, its selfie and (when Didit saved it) Didit's copy are being erased.\n`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    reportError(error, io);
    if (args.json) {
      io.stdout.write(
        `${JSON.stringify({ outcome: error.outcome, id: args.id, error: { code: error.code, message: error.message } }, null, 2)}\n`,
      );
    }
    return error.exitCode;
  }
}

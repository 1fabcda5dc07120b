import { parseCliArgs, USAGE } from './cli-args';
import { CliError } from './cli-error';
import { deleteCommand } from './delete-command';
import { EXIT_CODES } from './exit-codes';
import { listCommand } from './list-command';
import { jsonReport } from './verdict';
import { type CliIo, reportError, verifyCommand } from './verify-command';

/** The `liveness` command; cli/liveness.mjs loads this file through tsx so no build step is needed. */
async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const args = parseCliArgs(argv);
    if (args.command === 'help') {
      io.stdout.write(USAGE);
      return 0;
    }
    if (args.command === 'list') return await listCommand(args, io);
    if (args.command === 'delete') return await deleteCommand(args, io);
    return await verifyCommand(args, io);
  } catch (error) {
    if (error instanceof CliError) {
      reportError(error, io);
      // --json promises one JSON document on stdout whatever happened, flags that did not parse included.
      if (argv.includes('--json')) {
        io.stdout.write(`${JSON.stringify(jsonReport({ outcome: error.outcome, error }), null, 2)}\n`);
      }
      return error.exitCode;
    }
    // A bug, not a verdict: the stack trace is what a bug report needs.
    io.stderr.write(`liveness: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
    return EXIT_CODES.API_ERROR;
  }
}

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});

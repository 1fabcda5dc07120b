import type { CheckView } from '../lambdas/core/check-view';
import { resolveApiTarget } from './api-target';
import type { ListArgs } from './cli-args';
import { LivenessApiClient } from './liveness-api-client';
import type { CliIo } from './verify-command';

/** The API's own page limit; the CLI fetches pages until it has `--limit` checks or the list ends. */
const API_PAGE_LIMIT = 100;

/**
 * `liveness list --vendor-data S`: the checks this API key (client app) created for that end user, newest first, one
 * line each (or one JSON document with --json). Returns the exit code (0; errors throw CliError).
 */
export async function listCommand(args: ListArgs, io: CliIo): Promise<number> {
  const target = await resolveApiTarget({ api: args.api, key: args.key, stackOutputs: args.stackOutputs, env: io.env });
  const client = new LivenessApiClient(target);
  const checks: CheckView[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listChecks(args.vendorData, Math.min(API_PAGE_LIMIT, args.limit - checks.length), cursor);
    checks.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor && checks.length < args.limit);

  if (args.json) {
    io.stdout.write(
      `${JSON.stringify({ vendor_data: args.vendorData, checks, more: cursor !== undefined }, null, 2)}\n`,
    );
    return 0;
  }
  if (checks.length === 0) {
    io.stdout.write(`No checks of yours for vendor_data "${args.vendorData}".\n`);
    return 0;
  }
  for (const check of checks) io.stdout.write(`${lineFor(check)}\n`);
  if (cursor) io.stdout.write(`… more: raise --limit (now ${args.limit})\n`);
  return 0;
}

function lineFor(check: CheckView): string {
  const outcome = check.result
    ? `${check.result.decision} (score ${check.result.liveness.score ?? '—'})`
    : check.error
      ? check.error.code
      : '';
  return `${check.created_at}  ${check.id}  ${check.status.padEnd(15)} ${outcome}`.trimEnd();
}

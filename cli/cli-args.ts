import { parseArgs } from 'node:util';
import { CliError } from './cli-error';

export interface VerifyArgs {
  readonly command: 'verify';
  readonly file: string;
  readonly api: string | undefined;
  readonly key: string | undefined;
  readonly stackOutputs: string | undefined;
  readonly threshold: number | undefined;
  readonly vendorData: string | undefined;
  readonly json: boolean;
  readonly timeoutSeconds: number;
}

/** `liveness list --vendor-data S`: the caller's own checks for one end user, newest first. */
export interface ListArgs {
  readonly command: 'list';
  readonly api: string | undefined;
  readonly key: string | undefined;
  readonly stackOutputs: string | undefined;
  readonly vendorData: string;
  /** How many checks at most, newest first (pages are fetched until then). */
  readonly limit: number;
  readonly json: boolean;
}

export interface DeleteArgs {
  readonly command: 'delete';
  readonly id: string;
  readonly api: string | undefined;
  readonly key: string | undefined;
  readonly stackOutputs: string | undefined;
  readonly json: boolean;
}

export type CliArgs = VerifyArgs | ListArgs | DeleteArgs | { readonly command: 'help' };

const CHECK_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Long enough for Didit's own retries (the retry workflow backs off for a minute or more before giving up). */
export const DEFAULT_TIMEOUT_SECONDS = 300;

export const USAGE = `Usage: liveness verify <selfie> [options]
       liveness list --vendor-data S [--limit N] [--api URL] [--key KEY] [--json]
       liveness delete <check id> [--api URL] [--key KEY] [--stack-outputs FILE] [--json]

verify: creates a liveness check, uploads the selfie with the presigned POST, waits for the decision and prints it.
list:   prints the checks your API key (client app) created for one vendor_data, newest first; another client app's
        checks never appear.
delete: erases a check (DELETE /v1/liveness-checks/{id}): its record, its selfie, and Didit's saved copy.

Options:
  --api URL              API base URL (env LIVENESS_API_URL; default http://127.0.0.1:3000, the local stack)
  --key KEY              API key sent as x-api-key (env LIVENESS_API_KEY; default local-dev-key on loopback)
  --stack-outputs FILE   read ApiUrl from the file \`cdk deploy --outputs-file FILE\` wrote
  --threshold N          face_liveness_score_decline_threshold, 0-100 (default: the stack's, 30)
  --vendor-data S        vendor_data stored with the check (e.g. your user id); list: the one to list
  --limit N              list: at most N checks, 1-1000 (default 20)
  --timeout SECONDS      give up waiting after this long (default ${DEFAULT_TIMEOUT_SECONDS})
  --json                 print one JSON object on stdout instead of the readable verdict
  -h, --help             show this help

Progress goes to stderr, the verdict to stdout. Exit codes: 0 Approved, 1 usage error, 2 Declined, 3 FAILED,
4 EXPIRED or timed out, 5 API key refused, 6 API unreachable, 7 bad input file, 8 unexpected API error.
`;

export function parseCliArgs(argv: readonly string[]): CliArgs {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    // parseArgs names the offending flag in its message; that is the whole story for the user.
    throw usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help || positionals[0] === 'help') return { command: 'help' };

  const [command, file, ...extra] = positionals;
  if (command === undefined) throw usage('missing the command: liveness verify <selfie>');
  if (values.api !== undefined && values['stack-outputs'] !== undefined) {
    throw usage('--api and --stack-outputs both name the API; pass one');
  }
  if (command === 'delete') return deleteArgs(values, file, extra);
  if (command === 'list') {
    if (file !== undefined) throw usage(`unexpected argument "${file}": list takes --vendor-data`);
    if (values['vendor-data'] === undefined || values['vendor-data'] === '') {
      throw usage('missing --vendor-data: liveness list --vendor-data <your user id>');
    }
    return {
      command: 'list',
      api: values.api,
      key: values.key,
      stackOutputs: values['stack-outputs'],
      vendorData: values['vendor-data'],
      limit: values.limit === undefined ? 20 : numberIn('--limit', values.limit, 1, 1000),
      json: values.json ?? false,
    };
  }
  if (values.limit !== undefined) throw usage('--limit is an option of list');
  if (command !== 'verify') throw usage(`unknown command "${command}": the commands are verify, list and delete`);
  if (file === undefined) throw usage('missing the selfie: liveness verify <selfie>');
  if (extra.length > 0) throw usage(`unexpected argument "${extra[0]}": verify takes one file`);
  if (values.api !== undefined && values['stack-outputs'] !== undefined) {
    throw usage('--api and --stack-outputs both name the API; pass one');
  }

  return {
    command: 'verify',
    file,
    api: values.api,
    key: values.key,
    stackOutputs: values['stack-outputs'],
    threshold: values.threshold === undefined ? undefined : numberIn('--threshold', values.threshold, 0, 100),
    vendorData: values['vendor-data'],
    json: values.json ?? false,
    timeoutSeconds:
      values.timeout === undefined ? DEFAULT_TIMEOUT_SECONDS : numberIn('--timeout', values.timeout, 1, 86_400),
  };
}

function deleteArgs(values: ReturnType<typeof parse>['values'], id: string | undefined, extra: string[]): DeleteArgs {
  if (id === undefined) throw usage('missing the check id: liveness delete <check id>');
  if (!CHECK_ID.test(id)) throw usage(`"${id}" is not a check id (a UUID)`);
  if (extra.length > 0) throw usage(`unexpected argument "${extra[0]}": delete takes one check id`);
  for (const flag of ['threshold', 'vendor-data', 'timeout', 'limit'] as const) {
    if (values[flag] !== undefined) throw usage(`--${flag} is for verify, not delete`);
  }
  if (values.api !== undefined && values['stack-outputs'] !== undefined) {
    throw usage('--api and --stack-outputs both name the API; pass one');
  }
  return {
    command: 'delete',
    id,
    api: values.api,
    key: values.key,
    stackOutputs: values['stack-outputs'],
    json: values.json ?? false,
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      api: { type: 'string' },
      key: { type: 'string' },
      'stack-outputs': { type: 'string' },
      threshold: { type: 'string' },
      'vendor-data': { type: 'string' },
      limit: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function numberIn(flag: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
    throw usage(`${flag} must be a number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function usage(message: string): CliError {
  return new CliError('USAGE_ERROR', message, { hint: 'Run `liveness --help` for the options.' });
}

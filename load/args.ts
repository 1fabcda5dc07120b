import { parseArgs } from 'node:util';

/** A bad flag: reported as the usage text alone, unlike a crash, whose stack matters. */
export class UsageError extends Error {}

export interface LoadOptions {
  /** Checks to start at most. */
  readonly checks: number;
  /** Checks in flight at once (create → upload → terminal). */
  readonly concurrency: number;
  /** No check starts after this many ms from the first create; what finished by then is reported. */
  readonly deadlineMs: number;
  /** After the last check: how long the sweeper may still rescue unfinished checks before they count as stuck. */
  readonly graceMs: number;
}

const USAGE = `Usage: npm run load -- [--checks N] [--concurrency C] [--deadline SECONDS] [--grace SECONDS]

  --checks       checks to start (default 200)
  --concurrency  checks in flight at once (default 20)
  --deadline     stop starting checks after this many seconds (default 300)
  --grace        final grace period, sweeper running, before unfinished checks count as stuck (default 30)`;

export function parseLoadArgs(argv: readonly string[]): LoadOptions {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const checks = positiveInteger('checks', values.checks);
  return {
    checks,
    // More workers than checks would only idle.
    concurrency: Math.min(positiveInteger('concurrency', values.concurrency), checks),
    deadlineMs: positiveNumber('deadline', values.deadline) * 1000,
    graceMs: positiveNumber('grace', values.grace) * 1000,
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      checks: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '20' },
      deadline: { type: 'string', default: '300' },
      grace: { type: 'string', default: '30' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
}

function positiveInteger(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new UsageError(`--${name} must be a whole number ≥ 1, got ${raw}\n${USAGE}`);
  return value;
}

function positiveNumber(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new UsageError(`--${name} must be a number > 0, got ${raw}\n${USAGE}`);
  return value;
}

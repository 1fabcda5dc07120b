import { parseArgs } from 'node:util';
import type { BurstOptions } from './burst';

/** A bad flag: reported as the usage text alone, unlike a crash, whose stack matters. */
export class UsageError extends Error {}

export interface LoadOptions {
  /** A burst against Didit's scaled-down limit instead of the mixed run (load/burst.ts). */
  readonly burst?: BurstOptions;
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
       npm run load -- --burst [--dry] [--checks N] [--sim-limit N] [--sim-window SECONDS] [--budget PER_MINUTE]

  --checks       checks to start (default 200; with --burst 10× --sim-limit)
  --concurrency  checks in flight at once (default 20)
  --deadline     stop starting checks after this many seconds (default 300; with --burst, stop waiting)
  --grace        final grace period, sweeper running, before unfinished checks count as stuck (default 30)
  --burst        upload every check at once against a Didit that allows --sim-limit requests per --sim-window s
  --sim-limit    the simulated Didit's limit per window (default 10)
  --sim-window   its window in seconds (default 5: Didit's 300 per 60 s, scaled down)
  --budget       the service's Didit budget, calls per minute (default 100 against the simulator's 10 per 5 s: the
                 margin one window holds for the pacer's one-second burst, as 280 leaves 20 calls of Didit's 300)
  --dry          run the balance dry after --dry-after paid checks for --dry-seconds, then top it up
  --dry-after    (default 30)   --dry-seconds (default 30)   --probe  out-of-credits probe interval, s (default 5)`;

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
  if (values.burst) {
    const simLimit = positiveInteger('sim-limit', values['sim-limit']);
    return {
      checks: 0,
      concurrency: 1,
      deadlineMs: positiveNumber('deadline', values.deadline) * 1000,
      graceMs: 0,
      burst: {
        checks: values.checks === '200' ? simLimit * 10 : positiveInteger('checks', values.checks),
        simLimit,
        simWindowSeconds: positiveNumber('sim-window', values['sim-window']),
        budgetPerMinute: positiveInteger('budget', values.budget),
        dry: values.dry,
        dryAfter: positiveInteger('dry-after', values['dry-after']),
        drySeconds: positiveNumber('dry-seconds', values['dry-seconds']),
        probeSeconds: positiveInteger('probe', values.probe),
        deadlineMs: positiveNumber('deadline', values.deadline) * 1000,
      },
    };
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
      burst: { type: 'boolean', default: false },
      'sim-limit': { type: 'string', default: '10' },
      'sim-window': { type: 'string', default: '5' },
      budget: { type: 'string', default: '100' },
      dry: { type: 'boolean', default: false },
      'dry-after': { type: 'string', default: '30' },
      'dry-seconds': { type: 'string', default: '30' },
      probe: { type: 'string', default: '5' },
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

import { EXIT_CODES, type Outcome } from './exit-codes';

/** The outcomes that are not a verdict on a check: something stopped the CLI before or while it waited. */
export type ErrorOutcome = Exclude<Outcome, 'Approved' | 'Declined' | 'FAILED' | 'EXPIRED'>;

/**
 * A failure the CLI explains to its user and turns into an exit code. `hint` is the next thing to try; it is printed
 * on its own line so the message itself stays a plain statement of what happened.
 */
export class CliError extends Error {
  readonly outcome: ErrorOutcome;
  readonly hint: string | undefined;
  /** A stable code for --json output, e.g. the API's UNAUTHORIZED or ECONNREFUSED. */
  readonly code: string;

  constructor(outcome: ErrorOutcome, message: string, options: { code?: string; hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'CliError';
    this.outcome = outcome;
    this.code = options.code ?? outcome;
    this.hint = options.hint;
  }

  get exitCode(): number {
    return EXIT_CODES[this.outcome];
  }
}

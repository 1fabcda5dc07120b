/**
 * What the Didit simulator enforces besides the request itself, as Didit documents it: a per-application request
 * limit over a sliding window (300 per 60 s in production) that counts every request, refused ones included, and a
 * prepaid credit balance that each successful check spends (402 when it is empty). Pure bookkeeping over a clock.
 */

export interface QuotaOptions {
  /** Requests allowed in any window. @default 300 */
  readonly limit?: number;
  /** Length of the sliding window. @default 60 */
  readonly windowSeconds?: number;
  /** Checks the balance pays for; undefined is unlimited. @default undefined */
  readonly credits?: number | undefined;
}

export interface QuotaHeaders {
  readonly 'x-ratelimit-limit': string;
  readonly 'x-ratelimit-remaining': string;
  /** Epoch seconds when the oldest request in the window leaves it (the window is full again after that). */
  readonly 'x-ratelimit-reset': string;
}

export type Admission =
  | { readonly admitted: true; readonly headers: QuotaHeaders }
  | { readonly admitted: false; readonly headers: QuotaHeaders & { readonly 'retry-after': string } };

export class DiditQuota {
  readonly limit: number;
  readonly windowMs: number;
  /** Checks left to pay for; undefined is unlimited. */
  credits: number | undefined;
  /** Requests refused with 429, and with 402. */
  throttled = 0;
  unpaid = 0;
  /** When each request was refused with 402, epoch ms. */
  readonly unpaidTimes: number[] = [];
  private readonly arrivals: number[] = [];

  constructor(
    options: QuotaOptions = {},
    private readonly clock: () => number = Date.now,
  ) {
    this.limit = options.limit ?? 300;
    this.windowMs = (options.windowSeconds ?? 60) * 1000;
    this.credits = options.credits;
    if (!Number.isInteger(this.limit) || this.limit < 1) throw new Error(`limit must be ≥ 1, got ${this.limit}`);
    if (!(this.windowMs > 0)) throw new Error(`windowSeconds must be > 0, got ${options.windowSeconds}`);
  }

  /** Counts one request; past the limit it is refused with the headers a 429 carries. */
  admit(): Admission {
    const now = this.clock();
    while (this.arrivals.length > 0 && (this.arrivals[0] ?? 0) <= now - this.windowMs) this.arrivals.shift();
    const admitted = this.arrivals.length < this.limit;
    this.arrivals.push(now);
    const oldest = this.arrivals[0] ?? now;
    const freeAt = oldest + this.windowMs;
    const headers: QuotaHeaders = {
      'x-ratelimit-limit': String(this.limit),
      'x-ratelimit-remaining': String(Math.max(0, this.limit - this.arrivals.length)),
      'x-ratelimit-reset': String(Math.ceil(freeAt / 1000)),
    };
    if (admitted) return { admitted: true, headers };
    this.throttled++;
    return {
      admitted: false,
      headers: { ...headers, 'retry-after': String(Math.max(1, Math.ceil((freeAt - now) / 1000))) },
    };
  }

  /** Whether the balance can pay for one more check. */
  canPay(): boolean {
    if (this.credits === undefined || this.credits > 0) return true;
    this.unpaid++;
    this.unpaidTimes.push(this.clock());
    return false;
  }

  /** Spends one check's worth. */
  charge(): void {
    if (this.credits !== undefined) this.credits = Math.max(0, this.credits - 1);
  }

  /** Sets the balance (a top-up, or running dry on purpose); undefined is unlimited. */
  setCredits(credits: number | undefined): void {
    this.credits = credits;
  }

  /** Forgets the window (a fresh minute) without touching the balance. */
  /** Forgets the window's arrivals and the refusal counts (credits stay as they are). */
  resetWindow(): void {
    this.arrivals.length = 0;
    this.throttled = 0;
    this.unpaid = 0;
    this.unpaidTimes.length = 0;
  }
}

/** The simulator's quota from the environment (`npm start`): DIDIT_SIM_RATE_LIMIT, _RATE_WINDOW_SECONDS, _CREDITS. */
export function quotaFromEnv(env: Record<string, string | undefined> = process.env): QuotaOptions {
  const number = (name: string): number | undefined => {
    const raw = env[name]?.trim();
    if (!raw) return undefined;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number ≥ 0, got "${raw}"`);
    return value;
  };
  return {
    limit: number('DIDIT_SIM_RATE_LIMIT'),
    windowSeconds: number('DIDIT_SIM_RATE_WINDOW_SECONDS'),
    credits: number('DIDIT_SIM_CREDITS'),
  };
}

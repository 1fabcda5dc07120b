/**
 * Retry schedules. The waits themselves happen in Step Functions (Wait states); this module only computes the
 * per-attempt caps that the state machine definitions embed, so the schedule is visible in the definition.
 */
export interface BackoffSchedule {
  /** Cap of the first wait; each later cap doubles. */
  readonly baseSeconds: number;
  /** No wait is capped above this. */
  readonly maxDelaySeconds: number;
}

/**
 * How many waits fit a horizon when each wait averages half its cap (FULL jitter): the webhook delivery keeps
 * retrying for about `horizonSeconds`, and its last attempt is the first one past the horizon.
 */
export function capsForHorizon(schedule: BackoffSchedule, horizonSeconds: number): number[] {
  const caps: number[] = [];
  let expected = 0;
  while (expected < horizonSeconds && caps.length < 1000) {
    const cap = Math.min(schedule.maxDelaySeconds, schedule.baseSeconds * 2 ** caps.length);
    caps.push(cap);
    expected += cap / 2;
  }
  return caps;
}

/**
 * FULL-jitter caps: wait n (0-based) is drawn uniformly from [0, caps[n]) by the state machine, where
 * caps[n] = min(maxDelay, base · 2ⁿ). Returns the caps up to the first one at the maximum; every later cap is it.
 */
export function distinctCaps(schedule: BackoffSchedule): number[] {
  if (schedule.baseSeconds < 1 || schedule.maxDelaySeconds < schedule.baseSeconds) {
    throw new Error('backoff needs baseSeconds ≥ 1 and maxDelaySeconds ≥ baseSeconds');
  }
  const caps: number[] = [];
  for (let n = 0; caps.at(-1) !== schedule.maxDelaySeconds && n < 64; n++) {
    caps.push(Math.min(schedule.maxDelaySeconds, schedule.baseSeconds * 2 ** n));
  }
  return caps;
}

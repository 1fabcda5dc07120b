import type { CheckRecord } from '../check';

/**
 * Why the store refused a transition: its condition did not hold on the stored check. Each transition in the table
 * names the one it raises, so a caller can tell "my claim is gone" from "the check moved on" with `instanceof`.
 * `current` is the check as it was when refused (DynamoDB hands it back with the refusal), when it exists.
 */
export abstract class CheckConflictError extends Error {
  constructor(
    readonly transition: string,
    message: string,
    readonly current: CheckRecord | undefined,
    options?: { cause?: unknown },
  ) {
    super(`${transition}: ${message}`, options);
    this.name = new.target.name;
  }
}

/** Another attempt owns the check, or the check is finished: this attempt's claim is gone. */
export class ClaimLostError extends CheckConflictError {}

/** The check is not in the state the caller saw when it decided (it was expired, handed off, updated meanwhile). */
export class CheckChangedError extends CheckConflictError {}

/** A check with this id is already stored. */
export class CheckAlreadyExistsError extends CheckConflictError {}

/** No check with this id is stored. */
export class CheckNotFoundError extends CheckConflictError {}

export type ConflictKind = 'claim' | 'changed' | 'exists' | 'missing';

const CONFLICTS = {
  claim: { type: ClaimLostError, message: 'another attempt owns the check or it is finished' },
  changed: { type: CheckChangedError, message: 'the check is no longer in the state it was read in' },
  exists: { type: CheckAlreadyExistsError, message: 'a check with this id already exists' },
  missing: { type: CheckNotFoundError, message: 'no check with this id exists' },
} as const satisfies Record<ConflictKind, { type: unknown; message: string }>;

/** The named error for a refused transition; `current` tells a missing check from one in another state. */
export function conflictFor(
  transition: string,
  kind: ConflictKind,
  current: CheckRecord | undefined,
  options?: { cause?: unknown },
): CheckConflictError {
  const chosen = current === undefined && kind !== 'exists' ? CONFLICTS.missing : CONFLICTS[kind];
  return new chosen.type(transition, chosen.message, current, options);
}

import type { CheckResult } from './check';
import { decisionFrom } from './didit-response';
import type { DiditLiveness, DiditWarning } from './didit-types';
import { capText, storedWarnings, WARNING_LIMITS } from './didit-warnings';
import type { DiditWebhookDecision, DiditWebhookLivenessResult } from './didit-webhook';

/**
 * What a verified `status.updated` does to a COMPLETED check's result: pure rules, so the receiver only sequences
 * them. Didit has sent the liveness result in three shapes over its webhook versions; each is read the same way.
 */

/** What Didit's webhook says about the liveness result; a field is absent when Didit did not send it. */
export interface ReportedLiveness {
  /** Didit's score, or null for "no score". */
  readonly score?: number | null;
  /** The warnings, kept as didit-warnings.ts stores them (documented fields, capped, no `additional_data`). */
  readonly warnings?: readonly DiditWarning[];
}

/**
 * The liveness result of a webhook's `decision`: the first entry of `liveness_checks` (the current webhook version;
 * a standalone passive-liveness request has exactly one), else `liveness`, else `passive_liveness` (older versions).
 * Nothing when the decision has none of them, or when only the Simple signature verified (pass no decision then).
 */
export function reportedLiveness(decision: DiditWebhookDecision | null | undefined): ReportedLiveness {
  const result: DiditWebhookLivenessResult | null | undefined =
    decision?.liveness_checks?.find((entry) => typeof entry === 'object' && entry !== null) ??
    decision?.liveness ??
    decision?.passive_liveness;
  if (!result) return {};
  const { score, warnings } = result;
  return {
    ...(score === null || (typeof score === 'number' && Number.isFinite(score)) ? { score } : {}),
    ...(Array.isArray(warnings) ? { warnings: storedWarnings(warnings) } : warnings === null ? { warnings: [] } : {}),
  };
}

/**
 * The result after Didit's update: Didit's new session status (signed by every method) and, when it sent them, the
 * score and the warnings; everything else (method, face data, quality) is the result Didit's answer gave. The
 * decision follows the status: Approved only on an explicit Approved.
 */
export function updatedResult(previous: CheckResult, status: string, reported: ReportedLiveness): CheckResult {
  const liveness: DiditLiveness = {
    ...previous.liveness,
    status: capText(status, WARNING_LIMITS.maxCodeChars),
    score: reported.score !== undefined ? reported.score : previous.liveness.score,
    warnings: reported.warnings ?? previous.liveness.warnings,
  };
  return { ...previous, liveness, decision: decisionFrom(liveness) };
}

/**
 * Whether `next` says something `current` does not: another status, another score, or other warnings, compared by
 * what events carry (risk and log_type, in any order). A reworded description is not a change, nor is `feature`,
 * which Didit's webhooks add to warnings its API answer gave without it.
 */
export function changesResult(current: CheckResult, next: CheckResult): boolean {
  return (
    current.liveness.status !== next.liveness.status ||
    current.liveness.score !== next.liveness.score ||
    warningSet(current.liveness.warnings) !== warningSet(next.liveness.warnings)
  );
}

function warningSet(warnings: readonly DiditWarning[]): string {
  return JSON.stringify(warnings.map((w) => JSON.stringify([w.risk, w.log_type ?? null])).sort());
}

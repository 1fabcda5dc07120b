import type { CheckView } from '../lambdas/core/check-view';
import type { CliError } from './cli-error';
import { EXIT_CODES, type Outcome } from './exit-codes';
import type { Selfie } from './selfie-file';

/** Failure codes after which the same selfie may well succeed (README, "error codes": "retry helps? yes"). */
const RETRYABLE_FAILURES = new Set(['DIDIT_UNAVAILABLE', 'DIDIT_BAD_RESPONSE', 'DEPENDENCY_THROTTLED']);

export function outcomeOf(check: CheckView, timedOut: boolean): Outcome {
  if (timedOut) return 'TIMEOUT';
  if (check.status === 'COMPLETED') return check.result?.decision === 'Approved' ? 'Approved' : 'Declined';
  if (check.status === 'FAILED') return 'FAILED';
  return 'EXPIRED';
}

/** The readable verdict for stdout: aligned label/value lines a person scans in a terminal. */
export function formatVerdict(check: CheckView, outcome: Outcome, timeoutSeconds: number): string {
  const rows: Array<[string, string]> = [];
  const liveness = check.result?.liveness;
  if (outcome === 'Approved' || outcome === 'Declined') {
    rows.push(['Decision', outcome]);
    rows.push(['Score', liveness?.score === null || liveness?.score === undefined ? 'none' : String(liveness.score)]);
    const warnings = liveness?.warnings ?? [];
    if (warnings.length === 0) rows.push(['Warnings', 'none']);
    warnings.forEach((w, i) => {
      rows.push([i === 0 ? 'Warnings' : '', w.short_description ? `${w.risk} (${w.short_description})` : w.risk]);
    });
    rows.push(['Face quality', faceQuality(liveness?.face_quality, liveness?.face_luminance)]);
    if (check.result?.prescreen_face_count !== undefined) {
      rows.push(['Pre-screen', `${check.result.prescreen_face_count} face(s)`]);
    }
  } else if (outcome === 'FAILED') {
    rows.push(['Status', 'FAILED']);
    rows.push(['Error', check.error ? `${check.error.code}: ${check.error.message}` : 'no error recorded']);
    rows.push(['Retry', check.error && RETRYABLE_FAILURES.has(check.error.code) ? 'may help' : 'will not help']);
  } else if (outcome === 'TIMEOUT') {
    rows.push(['Status', `still ${check.status} after ${timeoutSeconds} s; the check goes on without us`]);
    rows.push(['Later', `GET v1/liveness-checks/${check.id} (or raise --timeout)`]);
  } else {
    rows.push(['Status', `${check.status}: the check ran out of time before a decision`]);
  }
  rows.push(['Check', check.id]);
  if (check.result?.request_id) rows.push(['Didit', `request ${check.result.request_id}`]);
  return `${rows.map(([label, value]) => `${label.padEnd(13)} ${value}`.trimEnd()).join('\n')}\n`;
}

function faceQuality(quality: number | null | undefined, luminance: number | null | undefined): string {
  if (quality === null || quality === undefined) return 'not reported';
  return luminance === null || luminance === undefined ? String(quality) : `${quality} (luminance ${luminance})`;
}

/**
 * The --json document: the same fields whatever happened, so a script can `jq .outcome` without first asking whether
 * a check exists. `check` is exactly what `GET /v1/liveness-checks/{id}` answered; null before one was created.
 */
export interface JsonReport {
  readonly outcome: Outcome;
  readonly exit_code: number;
  readonly decision: 'Approved' | 'Declined' | null;
  readonly score: number | null;
  readonly warnings: readonly string[];
  readonly file: { readonly path: string; readonly bytes: number; readonly content_type: string } | null;
  readonly check: CheckView | null;
  readonly error: { readonly code: string; readonly message: string } | null;
}

export function jsonReport(input: {
  outcome: Outcome;
  selfie?: Selfie | undefined;
  check?: CheckView | undefined;
  error?: CliError | undefined;
}): JsonReport {
  const { check } = input;
  return {
    outcome: input.outcome,
    exit_code: EXIT_CODES[input.outcome],
    decision: check?.result?.decision ?? null,
    score: check?.result?.liveness.score ?? null,
    warnings: check?.result?.liveness.warnings.map((w) => w.risk) ?? [],
    file: input.selfie
      ? { path: input.selfie.path, bytes: input.selfie.bytes.length, content_type: input.selfie.contentType }
      : null,
    check: check ?? null,
    error: input.error
      ? { code: input.error.code, message: input.error.message }
      : check?.error
        ? { code: check.error.code, message: check.error.message }
        : null,
  };
}

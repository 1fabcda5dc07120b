import type { CheckView } from '../lambdas/core/check-view';
import { formatBytes } from './selfie-file';

interface ErrorStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** Why a WAITING check is not at Didit yet, in words. */
const WAIT_REASONS: Record<NonNullable<CheckView['wait']>['reason'], string> = {
  PACED: 'queued for the shared Didit budget',
  DIDIT_THROTTLED: 'Didit asked every caller to back off',
  OUT_OF_CREDITS: 'Didit is out of credits; waiting for a top-up',
  DEPENDENCY_THROTTLED: 'an AWS service throttled; waiting',
};

/**
 * What the CLI is doing, on stderr so stdout carries only the verdict (or JSON) for pipes. A terminal gets a live
 * upload bar redrawn in place; a log or a CI job gets one line per quarter of the upload instead of hundreds.
 */
export class ProgressReporter {
  private readonly startedAt = Date.now();
  private lastQuarter = -1;
  private barOpen = false;

  constructor(private readonly stream: ErrorStream) {}

  step(label: string, text: string): void {
    this.endBar();
    this.stream.write(`${label.padEnd(9)} ${text}\n`);
  }

  upload(sent: number, total: number): void {
    const percent = total === 0 ? 100 : Math.floor((sent / total) * 100);
    const text = `${formatBytes(sent)} / ${formatBytes(total)} (${percent}%)`;
    if (this.stream.isTTY) {
      const filled = Math.round(percent / 5);
      this.stream.write(`\r${'Upload'.padEnd(9)} [${'#'.repeat(filled)}${'.'.repeat(20 - filled)}] ${text}\x1b[K`);
      this.barOpen = true;
      return;
    }
    const quarter = Math.floor(percent / 25);
    if (quarter === this.lastQuarter) return;
    this.lastQuarter = quarter;
    this.stream.write(`${'Upload'.padEnd(9)} ${text}\n`);
  }

  status(check: CheckView): void {
    const seconds = ((Date.now() - this.startedAt) / 1000).toFixed(1);
    const retry = check.retry
      ? ` (retry round ${check.retry.round}, ${check.retry.failed_attempts} failed attempt(s)` +
        `${check.retry.last_error ? `, last: ${check.retry.last_error.code}` : ''})`
      : '';
    const wait = check.wait ? ` (${WAIT_REASONS[check.wait.reason]}; next try ${check.wait.resume_at})` : '';
    this.step('Status', `${check.status}${wait}${retry}  [${seconds} s]`);
  }

  private endBar(): void {
    if (!this.barOpen) return;
    this.stream.write('\n');
    this.barOpen = false;
  }
}

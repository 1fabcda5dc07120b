import { describe, expect, it } from 'vitest';
import { waitForTerminalCheck } from '../../cli/check-waiter';
import type { CheckView } from '../../lambdas/core/check-view';

// The CLI's poller: one line per state the check passes through, and a new wait reason is a new state.
const view = (status: string, extra: Record<string, unknown> = {}) =>
  ({ id: 'c1', status, created_at: '2026-11-26T08:00:00.000Z', ...extra }) as unknown as CheckView;

describe('waitForTerminalCheck', () => {
  it('reports a check that keeps waiting but for another reason (paced, then out of credits) once per reason', async () => {
    const waiting = (reason: string) => view('WAITING', { wait: { reason, since: 't', resume_at: 't' } });
    const answers = [
      waiting('PACED'),
      waiting('PACED'),
      waiting('OUT_OF_CREDITS'),
      waiting('OUT_OF_CREDITS'),
      view('COMPLETED'),
    ];
    const seen: string[] = [];
    const result = await waitForTerminalCheck(async () => answers.shift() as CheckView, 'c1', {
      timeoutMs: 30_000,
      onStatus: (check) => seen.push(`${check.status}${check.wait ? `:${check.wait.reason}` : ''}`),
    });
    expect(seen).toEqual(['WAITING:PACED', 'WAITING:OUT_OF_CREDITS', 'COMPLETED']);
    expect(result).toMatchObject({ timedOut: false, check: { status: 'COMPLETED' } });
    expect(answers).toEqual([]);
  });
});

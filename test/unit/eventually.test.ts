import { describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually';

// The polling helper every integration test waits with: it must return what it waited for, keep asking while the
// probe says "not yet" (or throws), and fail naming what was awaited.
describe('eventually', () => {
  it('resolves with the first value that is not undefined, null or false, keeping 0 and empty strings', async () => {
    const answers: unknown[] = [undefined, null, false, 0];
    const value = await eventually('a number', () => answers.shift(), { intervalMs: 1 });
    expect(value).toBe(0);
    expect(answers).toEqual([]);
    await expect(eventually('an empty string', () => '')).resolves.toBe('');
  });

  it('asks again after a probe throws or rejects, and returns once it answers', async () => {
    let asked = 0;
    const value = await eventually(
      'the third answer',
      async () => {
        asked++;
        if (asked === 1) throw new Error('not listening yet');
        if (asked === 2) expect(asked).toBe(3);
        return `answer ${asked}`;
      },
      { intervalMs: 1 },
    );
    expect(value).toBe('answer 3');
  });

  it('does not start a probe while the previous one is still running', async () => {
    let running = 0;
    let overlapped = false;
    let asked = 0;
    await eventually(
      'a slow probe',
      async () => {
        running++;
        overlapped ||= running > 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
        running--;
        return ++asked === 3;
      },
      { intervalMs: 1 },
    );
    expect(overlapped).toBe(false);
  });

  it('times out naming what it waited for and the last thing the probe threw', async () => {
    const error = await eventually(
      'the check to be COMPLETED',
      () => {
        throw new Error('still PROCESSING\nsecond line');
      },
      { timeoutMs: 60, intervalMs: 5 },
    ).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe('Timed out after 60 ms waiting for the check to be COMPLETED (last: still PROCESSING)');
    expect((error.cause as Error).message).toContain('second line');
    // The stack points at the test that waited, not at a timer.
    expect(error.stack).toContain('eventually.test.ts');
  });

  it('times out without a cause when the probe only ever said "not yet"', async () => {
    const error = await eventually('a flag', () => false, { timeoutMs: 30, intervalMs: 5 }).catch(
      (e: unknown) => e as Error,
    );
    expect(error.message).toBe('Timed out after 30 ms waiting for a flag');
    expect(error.cause).toBeUndefined();
  });
});

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { EXIT_CODES } from '../../cli/exit-codes';
import { OPENAPI_PATH } from '../../contracts/documents';
import type { CheckView } from '../../lambdas/core/check-view';
import { logger, metricsPort } from '../../lambdas/observability';
import { CREDITS_PATH, type DiditSimulator } from '../../local/didit-simulator';
import type { BusEvent, LocalStack } from '../../local/local-stack';
import { ApiClient } from '../helpers/api-client';
import { eventually, waitForStackIdle } from '../helpers/eventually';
import { ASTRONAUT_PATH } from '../helpers/images';
import { startTestStack } from '../helpers/test-stack';

// Didit's out-of-credits circuit on the whole local stack: the real handlers, the synthesized retry state machine and
// the Didit simulator with an empty balance. Didit refuses to charge (402, or a 403 whose body says the balance is
// insufficient); the pacer opens its circuit, checks wait WAITING / OUT_OF_CREDITS without spending an attempt while
// one probe per interval goes to Didit; a top-up through the simulator's control route lets the next probe through,
// the circuit closes and every waiting check completes with one paid call. The API, the CLI and the metrics the
// handlers record are what is asserted.

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(REPO, 'cli/liveness.mjs');
/** DIDIT_CIRCUIT_PROBE_SECONDS: the setting's minimum, so the waits here are seconds, not the production minute. */
const PROBE_SECONDS = 1;
const PROBE_MS = PROBE_SECONDS * 1000;
/**
 * A probe's permit is handed out at least one interval after the last; its call reaches the simulator a little later
 * (a retry attempt reads the upload and prepares the image after the permit). The most that delay may vary by.
 */
const CALL_DELAY_SLACK_MS = 500;
/** Its WAIT_REASONS text for OUT_OF_CREDITS (cli/progress-reporter.ts). */
const CLI_OUT_OF_CREDITS = 'Didit is out of credits; waiting for a top-up';

let stack: LocalStack;
let sim: DiditSimulator;
let api: ApiClient;
let png: Buffer;
const events: BusEvent[] = [];
/** What the handlers record through lambdas/observability's MetricsPort (the local stack emits no EMF). */
let recorded: MockInstance<typeof metricsPort.record>;
let errorLogs: MockInstance<typeof logger.error>;

const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
ajv.addKeyword('components');
ajv.addSchema({
  $id: 'https://contracts.test/openapi.json',
  components: JSON.parse(readFileSync(join(REPO, OPENAPI_PATH), 'utf8')).components,
});

beforeAll(async () => {
  stack = await startTestStack('credits', {
    diditQuota: { credits: 0 },
    handlerEnv: { DIDIT_CIRCUIT_PROBE_SECONDS: String(PROBE_SECONDS) },
    onEvent: (event) => events.push(event),
  });
  if (!stack.diditSimulator) throw new Error('the Didit simulator must run');
  sim = stack.diditSimulator;
  api = new ApiClient(stack.apiUrl, stack.apiKey);
  png = readFileSync(ASTRONAUT_PATH);
  // The handlers' own MetricsPort and logger (the same module instances the stack imported): metrics are read from
  // the spy; every 402 and sweep logs an error for the operator, asserted below rather than printed.
  recorded = vi.spyOn(metricsPort, 'record');
  errorLogs = vi.spyOn(logger, 'error').mockImplementation(() => {});
});

afterAll(async () => {
  await stack?.stop();
  vi.restoreAllMocks();
});

beforeEach(() => {
  recorded.mockClear();
  errorLogs.mockClear();
});

/** Every metric recorded so far as EMF would carry it: the total, and `Name:value` for a breakdown. */
function metricNames(): string[] {
  return recorded.mock.calls.flatMap(([metric, , breakdown]) =>
    breakdown === undefined ? [metric.name] : [metric.name, `${metric.name}:${breakdown}`],
  );
}

function countOf(name: string): number {
  return metricNames().filter((n) => n === name).length;
}

function valuesOf(name: string): number[] {
  return recorded.mock.calls.flatMap(([metric, value, breakdown]) =>
    metric.name === name && breakdown === undefined ? [value] : [],
  );
}

/** Sets the simulated balance the way an operator's top-up would reach it: over HTTP. Returns the new balance. */
async function setCredits(credits: number | null): Promise<number | null> {
  const res = await fetch(`${stack.diditBaseUrl}${CREDITS_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ credits }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { credits: number | null }).credits;
}

async function readCredits(): Promise<number | null> {
  const res = await fetch(`${stack.diditBaseUrl}${CREDITS_PATH}`);
  return ((await res.json()) as { credits: number | null }).credits;
}

/** A fresh count of Didit calls (and of its 402/403 refusals) for one test; top-ups are not counted as calls. */
function resetDiditCounts(): void {
  sim.clear();
}

async function createAndUpload(vendorData: string): Promise<string> {
  const created = await api.createCheck({ vendor_data: vendorData, content_type: 'image/png' });
  await ApiClient.upload(created.upload, png, 'image/png');
  return created.id;
}

/** Fails the test with ajv's reasons unless `value` matches the OpenAPI component `schema`. */
function expectMatches(schema: string, value: unknown): void {
  const validate = ajv.getSchema(`https://contracts.test/openapi.json#/components/schemas/${schema}`);
  if (!validate) throw new Error(`no component schema ${schema}`);
  expect(validate(value), `${schema}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`).toBe(true);
}

/**
 * The check as GET shows it once it is WAITING for credits. Read twice and returned only when both reads agree: moto
 * applies an UpdateItem one attribute at a time, so a read racing the write could see WAITING before `wait_since`.
 */
async function waitingForCredits(id: string): Promise<CheckView> {
  return eventually(`check ${id} to be WAITING with wait.reason OUT_OF_CREDITS`, async () => {
    const first = await api.getCheck(id);
    expect(first.status).toBe(200);
    const view = first.body as CheckView;
    if (view.status !== 'WAITING' || view.wait?.reason !== 'OUT_OF_CREDITS') {
      throw new Error(`still ${view.status} ${view.wait?.reason ?? ''}`);
    }
    const again = await api.getCheck(id);
    if (JSON.stringify(again.body) !== JSON.stringify(view)) throw new Error('still being written');
    return view;
  });
}

/** What the API documents for a waiting check (api/openapi.json CheckView.wait), checked on a real response. */
function expectDocumentedWait(view: CheckView, readAtMs: number): void {
  expectMatches('CheckView', view);
  const wait = view.wait;
  expect(wait && Object.keys(wait).sort()).toEqual(['reason', 'resume_at', 'since']);
  if (!wait) return;
  expect(wait.reason).toBe('OUT_OF_CREDITS');
  // Waiting spends no attempt and is no failure: no retry state, no error, no result.
  expect(view.retry).toBeUndefined();
  expect(view.error).toBeUndefined();
  expect(view.result).toBeUndefined();
  const since = Date.parse(wait.since);
  const resumeAt = Date.parse(wait.resume_at);
  expect(since).toBeGreaterThanOrEqual(Date.parse(view.created_at));
  expect(since).toBeLessThanOrEqual(readAtMs);
  expect(resumeAt).toBeGreaterThan(since);
  // It tries again within the next probe interval, spread over the one after (check-evaluator's spread): never later.
  expect(resumeAt).toBeLessThanOrEqual(readAtMs + 2 * PROBE_MS + CALL_DELAY_SLACK_MS);
}

/** The check once it is COMPLETED: one paid answer, no attempt spent, nothing left of the wait. */
async function expectCompletedWithoutAttempts(id: string): Promise<CheckView> {
  const done = (await api.waitForTerminal(id)) as CheckView;
  expect(done).toMatchObject({ status: 'COMPLETED', result: { decision: 'Approved' } });
  expect(done.retry).toBeUndefined();
  expect(done.error).toBeUndefined();
  expect(done.wait).toBeUndefined();
  expectMatches('CheckView', done);
  return done;
}

async function settledEventTypes(ids: readonly string[]): Promise<string[][]> {
  await eventually(`an event for each of ${ids.length} check(s) on the bus`, () =>
    ids.every((id) => events.some((e) => e.detail.id === id)),
  );
  await waitForStackIdle(stack);
  return ids.map((id) => events.filter((e) => e.detail.id === id).map((e) => e['detail-type']));
}

describe('Didit out of credits (402): checks wait, one probe per interval, a top-up completes them all', () => {
  it('3 checks WAITING / OUT_OF_CREDITS via GET, ≤ 1 probe per interval, then COMPLETED with 1 paid call each', async () => {
    resetDiditCounts();
    const refused = () => sim.quota.unpaidTimes;

    // The first check meets the empty balance and opens the circuit.
    const first = await createAndUpload('credits-1');
    const firstWaiting = await waitingForCredits(first);
    expectDocumentedWait(firstWaiting, Date.now());
    expect(refused().length).toBeGreaterThanOrEqual(1);

    // Two more arrive while it is open: they wait too (or one of them takes the interval's probe).
    const others = await Promise.all([createAndUpload('credits-2'), createAndUpload('credits-3')]);
    const ids = [first, ...others];
    for (const id of others) expectDocumentedWait(await waitingForCredits(id), Date.now());

    // A positive signal that the circuit has been probing for a while: two probes refused after the opening call.
    await eventually('two probes refused after the call that opened the circuit', () => refused().length >= 3, {
      timeoutMs: 10 * PROBE_MS,
    });
    // Both counts read in the same tick (in-process): a probe in flight has its permit but not yet its refusal.
    const refusedTimes = refused();
    const paced = countOf('DiditPermits:paced');
    const probes = countOf('DiditPermits:probe');
    expect(paced, 'only the call that opened the circuit went out without a probe permit').toBe(1);
    expect(probes).toBeGreaterThanOrEqual(refusedTimes.length - 1);
    expect(probes).toBeLessThanOrEqual(refusedTimes.length);
    // One probe per interval, not one call per check per wake-up.
    const probeTimes = refusedTimes.slice(1);
    for (let i = 1; i < probeTimes.length; i++) {
      expect((probeTimes[i] ?? 0) - (probeTimes[i - 1] ?? 0)).toBeGreaterThanOrEqual(PROBE_MS - CALL_DELAY_SLACK_MS);
    }
    const span = (probeTimes.at(-1) ?? 0) - (probeTimes[0] ?? 0);
    expect(probeTimes.length).toBeLessThanOrEqual(1 + Math.floor((span + CALL_DELAY_SLACK_MS) / PROBE_MS));
    expect(sim.successfulCalls).toBe(0);

    // Still waiting, still no attempt spent, and `since` is when each first had to wait.
    const reread = await waitingForCredits(first);
    expectDocumentedWait(reread, Date.now());
    expect(reread.wait?.since).toBe(firstWaiting.wait?.since);

    // The sweeper tells the operator: circuit open, checks waiting, top up.
    await stack.sweep();
    expect(valuesOf('DiditCircuitOpen')).toEqual([1]);
    expect(errorLogs.mock.calls.map(([message]) => message)).toContain(
      'Didit is out of credits: checks are waiting; top up the Didit balance',
    );

    // The top-up: the next probe is charged, the circuit closes, and every waiting check completes.
    expect(await setCredits(10)).toBe(10);
    const done = await Promise.all(ids.map((id) => expectCompletedWithoutAttempts(id)));
    expect(await settledEventTypes(ids)).toEqual(ids.map(() => ['Liveness Check Completed']));

    // Exactly one paid Didit call per check: three charges, three distinct Didit requests, one per check.
    expect(sim.successfulCalls).toBe(3);
    expect(await readCredits()).toBe(7);
    const requestIds = done.map((check) => check.result?.request_id);
    expect(new Set(requestIds).size).toBe(3);
    for (const requestId of requestIds) expect(sim.savedSessions.has(requestId ?? '')).toBe(true);
    // Every request Didit got was either refused for credits or paid: no other call, no failure.
    expect(sim.calls).toBe(refused().length + sim.successfulCalls);

    const names = metricNames();
    expect(countOf('DiditOutOfCredits')).toBe(refused().length);
    expect(countOf('DiditCalls:402')).toBe(refused().length);
    expect(countOf('DiditCalls:2xx')).toBe(3);
    expect(countOf('ChecksCompleted')).toBe(3);
    expect(names).toContain('ChecksWaiting:OUT_OF_CREDITS');
    expect(names).not.toContain('DiditAuthFailures');
    expect(names).not.toContain('ChecksRetrying');
    expect(names).not.toContain('ChecksFailed');

    // Once closed, the sweeper reports it so.
    recorded.mockClear();
    await stack.sweep();
    expect(valuesOf('DiditCircuitOpen')).toEqual([0]);
    expect(valuesOf('WaitingChecks')).toEqual([0]);
  });
});

describe('the CLI on a check that waits for credits', () => {
  it('prints the waiting reason while Didit is out of credits, then the verdict after the top-up', async () => {
    resetDiditCounts();
    expect(await setCredits(0)).toBe(0);

    const { LIVENESS_API_URL: _url, LIVENESS_API_KEY: _key, ...inherited } = process.env;
    const child = spawn(process.execPath, [CLI, 'verify', ASTRONAUT_PATH, '--timeout', '25'], {
      cwd: REPO,
      env: { ...inherited, LIVENESS_API_URL: stack.apiUrl },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const waitingLine = new RegExp(
        `^Status\\s+WAITING \\(${CLI_OUT_OF_CREDITS}; next try (\\S+)\\)  \\[[\\d.]+ s\\]$`,
        'm',
      );
      const resumeAt = await eventually(
        'the CLI to print the out-of-credits wait',
        () => waitingLine.exec(stderr)?.[1],
      );
      expect(Number.isNaN(Date.parse(resumeAt))).toBe(false);
      const id = /^Check\s+(\S+) created$/m.exec(stderr)?.[1] ?? '';
      expectDocumentedWait(await waitingForCredits(id), Date.now());

      expect(await setCredits(5)).toBe(5);
      const code = await exited;
      expect(code, stderr).toBe(EXIT_CODES.Approved);
      expect(stdout).toMatch(/^Decision\s+Approved$/m);
      expect(stdout).toContain(id);
      expect(stderr).toMatch(/^Status\s+COMPLETED/m);
      await expectCompletedWithoutAttempts(id);
      expect(sim.successfulCalls).toBe(1);
    } finally {
      if (child.exitCode === null) child.kill();
    }
  });
});

describe('Didit out of credits as a 403 whose body says so (insufficient_credits)', () => {
  it('the check waits (not FAILED DIDIT_AUTH_FAILED), completes after a top-up, and no auth failure is counted', async () => {
    resetDiditCounts();
    const refused = () => sim.quota.unpaidTimes;
    sim.outOfCreditsStatus = 403;
    try {
      expect(await setCredits(0)).toBe(0);
      const id = await createAndUpload('credits-403');
      expectDocumentedWait(await waitingForCredits(id), Date.now());
      // A probe answered 403 too, and the check still waits.
      await eventually('a probe refused with 403 after the opening call', () => refused().length >= 2, {
        timeoutMs: 10 * PROBE_MS,
      });
      expectDocumentedWait(await waitingForCredits(id), Date.now());

      expect(await setCredits(5)).toBe(5);
      await expectCompletedWithoutAttempts(id);
      expect(await settledEventTypes([id])).toEqual([['Liveness Check Completed']]);
      expect(sim.successfulCalls).toBe(1);
      expect(sim.calls).toBe(refused().length + 1);

      const names = metricNames();
      expect(countOf('DiditOutOfCredits')).toBe(refused().length);
      expect(countOf('DiditCalls:403')).toBe(refused().length);
      expect(names).toContain('ChecksWaiting:OUT_OF_CREDITS');
      expect(names).not.toContain('ChecksFailed');
      expect(names).not.toContain('ChecksFailed:DIDIT_AUTH_FAILED');
      // A 403 that says the balance is empty is not a bad key: the auth-failure alarm must stay quiet.
      expect(names).not.toContain('DiditAuthFailures');
    } finally {
      sim.outOfCreditsStatus = 402;
    }
  });
});

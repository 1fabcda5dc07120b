import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetryWorkflow } from '../../lambdas/adapters/retry-workflow';
import { executionName } from '../../lambdas/core/retry-round';
import { emulatorClientConfig } from '../../local/aws-env';
import type { DiditFault } from '../../local/didit-simulator';
import type { BusEvent, LocalStack } from '../../local/local-stack';
import { ApiClient } from '../helpers/api-client';
import { eventually, waitForStackIdle } from '../helpers/eventually';
import { passFailureHorizon } from '../helpers/horizon';
import { startTestStack } from '../helpers/test-stack';

// Fault injection through the loopback Didit, run by the retry state machine `cdk synth` renders (time-compressed),
// its tasks bound to the real processor handler against moto. Each row: Didit fails N times in one way, then answers.
let stack: LocalStack;
let api: ApiClient;
let documents: DynamoDBDocumentClient;
let selfie: Buffer;
const events: BusEvent[] = [];
const matrix: string[] = [];

beforeAll(async () => {
  stack = await startTestStack('faults', {
    // Short client timeouts so "Didit never answers" costs a fraction of a second per attempt.
    handlerEnv: { DIDIT_HEADERS_TIMEOUT_MS: '300', DIDIT_BODY_TIMEOUT_MS: '300', DIDIT_CONNECT_TIMEOUT_MS: '300' },
    onEvent: (event) => events.push(event),
  });
  api = new ApiClient(stack.apiUrl, stack.apiKey);
  documents = DynamoDBDocumentClient.from(new DynamoDBClient(emulatorClientConfig(stack.motoEndpoint)));
  selfie = await sharp(readFileSync(new URL('../fixtures/astronaut.png', import.meta.url)))
    .jpeg()
    .toBuffer();
});

afterAll(async () => {
  await stack?.stop();
  if (matrix.length > 0) {
    mkdirSync('test-output', { recursive: true });
    const table = ['| fault | outcome | Didit calls | successful calls |', '|---|---|---|---|', ...matrix].join('\n');
    writeFileSync('test-output/fault-matrix.md', `${table}\n`);
  }
});

async function runCheck(fault: DiditFault | undefined, times: number, body: Record<string, unknown> = {}) {
  const sim = stack.diditSimulator;
  if (!sim) throw new Error('the simulator must run');
  sim.clear();
  if (fault) sim.injectFaults(fault, times);
  const created = await api.createCheck(body);
  await ApiClient.upload(created.upload, selfie, 'image/jpeg');
  const check = await api.waitForTerminal(created.id, 30_000);
  // Every attempt (S3 event or workflow) has returned, so the Didit calls are all counted.
  await waitForStackIdle(stack);
  return { check, calls: sim.calls, successful: sim.successfulCalls, times: [...sim.callTimes] };
}

/** The states the check's first round went through, in order. */
function statesEntered(checkId: string): string[] {
  const [execution] = stack.stepFunctions
    .listExecutions({ stateMachineArn: stack.retryStateMachineArn })
    .filter((e) => e.name === executionName(checkId, 1));
  return (execution?.history ?? []).flatMap((event) =>
    event.type === 'StateEntered' ? [(event as { state: { name: string } }).state.name] : [],
  );
}

/**
 * The events of one check, all of them: its first event has travelled bus → queue → poller, and once the stack is
 * idle every event published so far (a duplicate included) has been received too.
 */
async function settledEvents(id: string): Promise<string[]> {
  await eventually(`an event for check ${id} on the bus`, () => events.some((e) => e.detail.id === id));
  await waitForStackIdle(stack);
  return events.filter((e) => e.detail.id === id).map((e) => e['detail-type']);
}

function record(label: string, outcome: string, calls: number, successful: number) {
  matrix.push(`| ${label} | ${outcome} | ${calls} | ${successful} |`);
}

describe('Didit fails twice, then answers: the workflow retries and the check completes with one successful call', () => {
  const cases: Array<[string, DiditFault]> = [
    ['HTTP 500', { type: 'status', status: 500 }],
    ['HTTP 502', { type: 'status', status: 502 }],
    ['HTTP 503', { type: 'status', status: 503 }],
    ['timeout (no answer)', { type: 'timeout' }],
    ['connection reset', { type: 'reset' }],
  ];
  it.each(cases)('%s ×2', async (label, fault) => {
    const { check, calls, successful } = await runCheck(fault, 2);
    record(`${label} ×2`, `${check.status} ${check.result?.decision ?? check.error?.code}`, calls, successful);
    expect(check.status).toBe('COMPLETED');
    expect(check.retry).toMatchObject({ round: 1, failed_attempts: 2 });
    expect(calls).toBe(3);
    expect(successful).toBe(1);
    expect(await settledEvents(check.id)).toEqual(['Liveness Check Completed']);
  });

  it("honours Retry-After as a lower bound: the workflow waits Didit's 30 s, not its smaller jittered backoff", async () => {
    const { check } = await runCheck({ type: 'status', status: 503, retryAfter: '30' }, 1);
    const entered = statesEntered(check.id);
    expect(entered).toContain('WaitRetryAfter');
    expect(entered).not.toContain('WaitBackoff');
    expect(check.status).toBe('COMPLETED');
  });
});

describe('a 429 is not a failure', () => {
  it('HTTP 429 + Retry-After ×2: the check WAITS until Didit says (real time), spends no attempt, then completes', async () => {
    const { check, calls, successful, times } = await runCheck({ type: 'status', status: 429, retryAfter: '1' }, 2);
    record('HTTP 429 + Retry-After: 1 ×2', `${check.status} ${check.result?.decision}`, calls, successful);
    expect(check.status).toBe('COMPLETED');
    expect(check.retry).toBeUndefined();
    expect(calls).toBe(3);
    expect(successful).toBe(1);
    // Every call after a 429 waited at least Didit's Retry-After, on the real clock.
    expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(1000);
    expect((times[2] ?? 0) - (times[1] ?? 0)).toBeGreaterThanOrEqual(1000);
    const entered = statesEntered(check.id);
    expect(entered).toContain('WaitUntil');
    expect(entered).not.toContain('WaitBackoff');
    expect(await settledEvents(check.id)).toEqual(['Liveness Check Completed']);
  });
});

describe("Didit's answer was paid for: never a second call", () => {
  it.each<[string, DiditFault]>([
    ['garbage JSON', { type: 'garbage' }],
    ['unexpected JSON shape', { type: 'wrong-shape' }],
    ['slow body (stalls)', { type: 'slow-body' }],
  ])('200 then %s → FAILED DIDIT_BAD_RESPONSE at once, the body kept', async (label, fault) => {
    const { check, calls } = await runCheck(fault, 1);
    record(`200, ${label}`, `${check.status} ${check.error?.code}`, calls, 0);
    expect(check).toMatchObject({ status: 'FAILED', error: { code: 'DIDIT_BAD_RESPONSE' } });
    expect(check.retry).toBeUndefined();
    expect(calls).toBe(1);
  });

  it('200 with a liveness status but a malformed field → COMPLETED with what is usable, one call', async () => {
    const { check, calls } = await runCheck({ type: 'partial-shape' }, 1);
    record('200, malformed field (liveness.status readable)', `${check.status} ${check.result?.decision}`, calls, 0);
    expect(check).toMatchObject({
      status: 'COMPLETED',
      result: { decision: 'Approved', parse_issue: expect.stringContaining('liveness.score') },
    });
    expect(calls).toBe(1);
  });
});

describe('failures that retrying cannot fix, and a Didit that never recovers', () => {
  it('Didit 503 every time → retried until the failure horizon, then FAILED DIDIT_UNAVAILABLE and a Failed event', async () => {
    const sim = stack.diditSimulator;
    if (!sim) throw new Error('the simulator must run');
    sim.clear();
    sim.injectFaults({ type: 'status', status: 503 }, 10_000);
    const created = await api.createCheck({});
    await ApiClient.upload(created.upload, selfie, 'image/jpeg');
    await passFailureHorizon(stack, api, created.id);
    const check = await api.waitForTerminal(created.id, 30_000);
    await waitForStackIdle(stack);
    record('HTTP 503 forever (past the horizon)', `${check.status} ${check.error?.code}`, sim.calls, 0);
    expect(check).toMatchObject({
      status: 'FAILED',
      error: { code: 'DIDIT_UNAVAILABLE', message: expect.stringContaining('past the failure horizon') },
    });
    // Every call but the last was a failed attempt; the last one failed the check.
    expect(sim.calls).toBe((check.retry?.failed_attempts ?? 0) + 1);
    expect(await settledEvents(check.id)).toEqual(['Liveness Check Failed']);
  });

  it.each([
    [400, 'DIDIT_REJECTED_REQUEST'],
    [401, 'DIDIT_AUTH_FAILED'],
    [403, 'DIDIT_AUTH_FAILED'],
    [413, 'DIDIT_REJECTED_REQUEST'],
  ])('Didit %i → FAILED %s at once, never retried', async (status, code) => {
    const { check, calls } = await runCheck({ type: 'status', status }, 1);
    record(`HTTP ${status}`, `${check.status} ${check.error?.code}`, calls, 0);
    expect(check).toMatchObject({ status: 'FAILED', error: { code } });
    expect(check.retry).toBeUndefined();
    expect(calls).toBe(1);
  });
});

describe('a dependency that restarts', () => {
  it('Didit going away (connection refused) and coming back on the same address: retried, then COMPLETED', async () => {
    const sim = stack.diditSimulator;
    if (!sim) throw new Error('the simulator must run');
    sim.clear();
    await sim.stop();
    const created = await api.createCheck({});
    await ApiClient.upload(created.upload, selfie, 'image/jpeg');
    // The first attempt meets a closed port; the check waits in RETRYING for the workflow.
    await eventually(
      `check ${created.id} to be RETRYING`,
      async () => (await api.getCheck(created.id)).body.status === 'RETRYING',
      { timeoutMs: 10_000, intervalMs: 20 },
    );
    await sim.start();
    const check = await api.waitForTerminal(created.id, 30_000);
    await waitForStackIdle(stack);
    record(
      'Didit restarts (connection refused, then back)',
      `${check.status} ${check.result?.decision}`,
      sim.calls,
      sim.successfulCalls,
    );
    expect(check.status).toBe('COMPLETED');
    expect(check.retry?.last_error?.code).toBe('DIDIT_UNAVAILABLE');
    expect(sim.successfulCalls).toBe(1);
    expect(await settledEvents(check.id)).toEqual(['Liveness Check Completed']);
  });
});

describe('nothing twice', () => {
  it('starting the same round again (a duplicate start) runs no second execution and calls Didit no more', async () => {
    const { check, calls } = await runCheck({ type: 'status', status: 500 }, 1);
    expect(check.status).toBe('COMPLETED');
    const starter = new RetryWorkflow(
      new SFNClient(emulatorClientConfig(stackSfnEndpoint())),
      stack.retryStateMachineArn,
    );
    await starter.startRound({ check_id: check.id, round: 1, attempt: 1, retry_after_seconds: 0 });
    await starter.startRound({ check_id: check.id, round: 1, attempt: 1, retry_after_seconds: 0 });
    await stack.stepFunctions.waitForIdle();
    const executions = stack.stepFunctions
      .listExecutions({ stateMachineArn: stack.retryStateMachineArn })
      .filter((e) => e.name.startsWith(check.id));
    expect(executions).toHaveLength(1);
    expect(stack.diditSimulator?.calls).toBe(calls);
  });
});

describe('checks whose upload never comes', () => {
  it('become EXPIRED once the upload URL has expired, and a late upload changes nothing', async () => {
    const created = await api.createCheck({});
    // Let time pass for this check only: its upload window closed two minutes ago.
    const past = new Date(Date.now() - 120_000);
    await documents.send(
      new UpdateCommand({
        TableName: stack.resources.tableName,
        Key: { id: created.id },
        UpdateExpression: 'SET upload_expires_at = :past, due_at = :due',
        ExpressionAttributeValues: { ':past': past.toISOString(), ':due': Math.floor(past.getTime() / 1000) },
      }),
    );
    const swept = (await stack.sweep()) as Record<string, number>;
    expect(swept.EXPIRED).toBeGreaterThanOrEqual(1);
    const expired = await api.getCheck(created.id);
    expect(expired.body).toMatchObject({ status: 'EXPIRED', error: { code: 'UPLOAD_EXPIRED' } });

    stack.diditSimulator?.clear();
    await ApiClient.upload(created.upload, selfie, 'image/jpeg');
    // moto queued the upload's S3 event before answering the POST; idle means the processor has handled it, and the
    // bus tail has received every event published so far (the sweeper's Expired and anything the late upload caused).
    await waitForStackIdle(stack);
    expect((await api.getCheck(created.id)).body.status).toBe('EXPIRED');
    expect(stack.diditSimulator?.calls).toBe(0);
    expect(events.filter((e) => e.detail.id === created.id).map((e) => e['detail-type'])).toEqual([
      'Liveness Check Expired',
    ]);
  });
});

function stackSfnEndpoint(): string {
  const endpoint = process.env.AWS_ENDPOINT_URL_SFN;
  if (!endpoint) throw new Error('the local stack sets AWS_ENDPOINT_URL_SFN');
  return endpoint;
}

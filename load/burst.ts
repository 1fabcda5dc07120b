import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PacerStateStore } from '../lambdas/adapters/pacer-state-store';
import { emulatorClientConfig } from '../local/aws-env';
import type { DiditSimulator } from '../local/didit-simulator';
import { type LocalStack, startLocalStack } from '../local/local-stack';
import { isTerminal } from './driver';
import type { Images } from './inputs';

/**
 * `npm run load -- --burst`: a launch day, scaled down so it runs in minutes. The simulator enforces Didit's shape of
 * limit (`--sim-limit` requests per `--sim-window` seconds, 429 with Retry-After past it) and the service paces every
 * Didit call at `--budget` per minute. `--checks` (by default 10× the simulator's window) are uploaded at once. With
 * `--dry`, the simulator's balance runs out after `--dry-after` paid checks for `--dry-seconds`, then is topped up.
 * Reported: what completed and failed, successful Didit calls per completed check (must be exactly 1), refused calls
 * per check, throughput as a share of the budget, calls made while out of credits per probe interval, and waits.
 */

export interface BurstOptions {
  readonly checks: number;
  readonly simLimit: number;
  readonly simWindowSeconds: number;
  /** The service's shared Didit budget, calls per minute. */
  readonly budgetPerMinute: number;
  /** Out-of-credits window in the middle of the burst. */
  readonly dry: boolean;
  readonly dryAfter: number;
  readonly drySeconds: number;
  readonly probeSeconds: number;
  readonly deadlineMs: number;
}

export interface BurstSummary {
  readonly options: BurstOptions;
  readonly machine: { cores: number; cpu: string; loadAverage: number };
  readonly checks: number;
  readonly completed: number;
  readonly failed: Record<string, number>;
  readonly notTerminal: number;
  readonly diditCalls: number;
  readonly successfulCalls: number;
  readonly successfulCallsPerCompleted: number;
  readonly refusedCalls: number;
  readonly refusedPerCheck: number;
  /** Paid calls per minute between the first and the last Didit call (the dry window left out). */
  readonly achievedPerMinute: number;
  readonly shareOfBudget: number;
  /** Pacer tickets handed out per paid call (above 1: a holder came back after its slot and queued again). */
  readonly ticketsPerCall: number;
  /** Gaps between paid calls longer than two budget intervals, and the time they add up to (the dry window left out). */
  readonly idle: { gaps: number; seconds: number };
  readonly dryWindow?: { seconds: number; calls: number; probeIntervals: number; callsPerInterval: number };
  /** Upload → terminal, per check. */
  readonly waitSeconds: { p50: number; max: number };
  readonly wallSeconds: number;
  readonly passed: boolean;
}

const OUTPUT_DIR = fileURLToPath(new URL('../test-output/', import.meta.url));
const log = (line: string) => process.stderr.write(`[burst] ${line}\n`);

export async function runBurst(options: BurstOptions, images: Images): Promise<number> {
  const stack = await startLocalStack({
    port: 0,
    timeScale: 0.001,
    sweepIntervalMs: 1000,
    resourcePrefix: `burst-${randomBytes(4).toString('hex')}`,
    diditQuota: { limit: options.simLimit, windowSeconds: options.simWindowSeconds },
    handlerEnv: {
      DIDIT_REQUESTS_PER_MINUTE: String(options.budgetPerMinute),
      DIDIT_CIRCUIT_PROBE_SECONDS: String(options.probeSeconds),
    },
  });
  try {
    const summary = await burst(stack, options, images);
    const table = renderBurst(summary);
    console.log(`\n${table}\n`);
    mkdirSync(OUTPUT_DIR, { recursive: true });
    const name = options.dry ? 'load-burst-dry' : 'load-burst';
    writeFileSync(
      `${OUTPUT_DIR}${name}.md`,
      `# Burst run${options.dry ? ' with an out-of-credits window' : ''}\n\n${table}\n`,
    );
    writeFileSync(`${OUTPUT_DIR}${name}.json`, `${JSON.stringify(summary, null, 2)}\n`);
    log(`wrote test-output/${name}.md`);
    return summary.passed ? 0 : 1;
  } finally {
    await stack.stop();
  }
}

interface Run {
  id: string;
  uploadedAt: number;
  terminalAt?: number;
  status?: string;
  outcome?: string;
}

async function burst(stack: LocalStack, options: BurstOptions, images: Images): Promise<BurstSummary> {
  const sim = stack.diditSimulator as DiditSimulator;
  const headers = { 'x-api-key': stack.apiKey, 'content-type': 'application/json' };
  const startedAt = Date.now();
  log(
    `${options.checks} checks at once; simulator ${options.simLimit}/${options.simWindowSeconds} s; budget ${options.budgetPerMinute}/min`,
  );

  // Every check created and uploaded as fast as the API takes them: the burst.
  const runs: Run[] = await Promise.all(
    Array.from({ length: options.checks }, async (_, index) => {
      const created = (await (
        await fetch(`${stack.apiUrl}/v1/liveness-checks`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ content_type: 'image/jpeg', vendor_data: `burst:${index}` }),
        })
      ).json()) as { id: string; upload: { url: string; fields: Record<string, string> } };
      const form = new FormData();
      for (const [name, value] of Object.entries(created.upload.fields)) form.append(name, value);
      form.append('file', new Blob([images.selfieJpeg.bytes], { type: 'image/jpeg' }), 'selfie.jpg');
      const res = await fetch(created.upload.url, { method: 'POST', body: form });
      if (res.status >= 300) throw new Error(`upload refused: ${res.status}`);
      return { id: created.id, uploadedAt: Date.now() };
    }),
  );
  log(`all ${runs.length} uploaded in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);

  let dryFrom: number | undefined;
  let dryUntil: number | undefined;
  const deadline = startedAt + options.deadlineMs;
  for (;;) {
    if (options.dry && dryFrom === undefined && sim.successfulCalls >= options.dryAfter) {
      dryFrom = Date.now();
      sim.quota.setCredits(0);
      log(`balance empty after ${sim.successfulCalls} paid checks`);
    }
    if (dryFrom !== undefined && dryUntil === undefined && Date.now() >= dryFrom + options.drySeconds * 1000) {
      dryUntil = Date.now();
      sim.quota.setCredits(undefined);
      log('topped up');
    }
    for (const run of runs.filter((r) => !isTerminal(r.status))) {
      const res = await fetch(`${stack.apiUrl}/v1/liveness-checks/${run.id}`, { headers });
      const view = (await res.json()) as {
        status: string;
        updated_at: string;
        result?: { decision: string };
        error?: { code: string };
      };
      run.status = view.status;
      if (isTerminal(view.status)) {
        run.terminalAt = Date.parse(view.updated_at);
        run.outcome = view.status === 'COMPLETED' ? 'COMPLETED' : `${view.status} ${view.error?.code}`;
      }
    }
    const done = runs.filter((r) => isTerminal(r.status)).length;
    if (done === runs.length || Date.now() > deadline) break;
    log(
      `${done}/${runs.length} terminal, ${sim.successfulCalls} paid calls, ${sim.quota.throttled} refused (429), ${sim.quota.unpaid} unpaid (402)`,
    );
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  const pacer = await new PacerStateStore(
    new DynamoDBClient(emulatorClientConfig(stack.motoEndpoint)),
    stack.resources.tableName,
  ).read();
  return summarize(options, runs, sim, startedAt, dryFrom, dryUntil, pacer.ticket);
}

function summarize(
  options: BurstOptions,
  runs: Run[],
  sim: DiditSimulator,
  startedAt: number,
  dryFrom: number | undefined,
  dryUntil: number | undefined,
  tickets: number,
): BurstSummary {
  const completed = runs.filter((r) => r.outcome === 'COMPLETED').length;
  const failed: Record<string, number> = {};
  for (const run of runs)
    if (run.outcome && run.outcome !== 'COMPLETED') failed[run.outcome] = (failed[run.outcome] ?? 0) + 1;
  const notTerminal = runs.filter((r) => !isTerminal(r.status)).length;
  const times = [...sim.callTimes];
  const first = times[0] ?? startedAt;
  const last = times.at(-1) ?? startedAt;
  const dryMs = dryFrom !== undefined ? (dryUntil ?? last) - dryFrom : 0;
  const busyMinutes = Math.max(1e-9, (last - first - dryMs) / 60_000);
  // Calls that went out at the budget's pace: every paid one, over the time Didit could be paid.
  const achievedPerMinute = Math.max(0, sim.successfulCalls - 1) / busyMinutes;
  const slowGap = (2 * 60_000) / options.budgetPerMinute;
  let idleGaps = 0;
  let idleMs = 0;
  for (let i = 1; i < times.length; i++) {
    const [a, b] = [times[i - 1] as number, times[i] as number];
    if (dryFrom !== undefined && b >= dryFrom && a <= (dryUntil ?? last)) continue;
    if (b - a > slowGap) {
      idleGaps++;
      idleMs += b - a - 60_000 / options.budgetPerMinute;
    }
  }
  const waits = runs
    .filter((r) => r.terminalAt !== undefined)
    .map((r) => ((r.terminalAt as number) - r.uploadedAt) / 1000)
    .sort((a, b) => a - b);
  let dryWindow: BurstSummary['dryWindow'];
  if (dryFrom !== undefined) {
    // From the first call Didit could not charge (it opens the circuit) to the top-up: every later call is a probe.
    const from = sim.quota.unpaidTimes[0] ?? dryFrom;
    const until = dryUntil ?? last;
    const calls = times.filter((t) => t >= from && t < until).length;
    const intervals = Math.max(1, (until - from) / 1000 / options.probeSeconds);
    const probes = Math.max(0, calls - 1);
    dryWindow = {
      seconds: (until - from) / 1000,
      calls,
      probeIntervals: intervals,
      callsPerInterval: probes / intervals,
    };
  }
  const successfulCallsPerCompleted = completed > 0 ? sim.successfulCalls / completed : 0;
  const refusedPerCheck = sim.quota.throttled / runs.length;
  const shareOfBudget = achievedPerMinute / options.budgetPerMinute;
  const passed =
    completed === runs.length &&
    sim.successfulCalls === completed &&
    refusedPerCheck <= 0.1 &&
    shareOfBudget >= 0.9 &&
    (dryWindow === undefined || dryWindow.calls - 1 <= Math.ceil(dryWindow.probeIntervals));
  return {
    options,
    machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', loadAverage: loadavg()[0] ?? 0 },
    checks: runs.length,
    completed,
    failed,
    notTerminal,
    diditCalls: sim.calls,
    successfulCalls: sim.successfulCalls,
    successfulCallsPerCompleted,
    refusedCalls: sim.quota.throttled,
    refusedPerCheck,
    achievedPerMinute,
    shareOfBudget,
    ticketsPerCall: sim.successfulCalls > 0 ? tickets / sim.successfulCalls : 0,
    idle: { gaps: idleGaps, seconds: idleMs / 1000 },
    ...(dryWindow ? { dryWindow } : {}),
    waitSeconds: { p50: waits[Math.floor(waits.length / 2)] ?? 0, max: waits.at(-1) ?? 0 },
    wallSeconds: (Date.now() - startedAt) / 1000,
    passed,
  };
}

export function renderBurst(s: BurstSummary): string {
  const o = s.options;
  const rows: Array<[string, string, string]> = [
    [
      'shape',
      `${s.checks} checks uploaded at once (${(s.checks / o.simLimit).toFixed(0)}× the window); Didit ${o.simLimit} per ${o.simWindowSeconds} s; budget ${o.budgetPerMinute}/min`,
      '',
    ],
    [
      'completed / failed / not terminal',
      `${s.completed} / ${Object.values(s.failed).reduce((a, b) => a + b, 0)} / ${s.notTerminal}`,
      `all ${s.checks} COMPLETED`,
    ],
    ['successful Didit calls per completed check', s.successfulCallsPerCompleted.toFixed(3), 'exactly 1'],
    ['refused calls (429) per check', `${s.refusedPerCheck.toFixed(3)} (${s.refusedCalls} in all)`, '≤ 0.1'],
    [
      'throughput, share of the budget',
      `${(s.shareOfBudget * 100).toFixed(1)} % (${s.achievedPerMinute.toFixed(1)} paid calls/min)`,
      '≥ 90 %',
    ],
    [
      'pacer tickets per paid call; idle gaps',
      `${s.ticketsPerCall.toFixed(2)}; ${s.idle.gaps} gaps over two intervals, ${s.idle.seconds.toFixed(1)} s lost`,
      '',
    ],
  ];
  if (s.dryWindow) {
    rows.push([
      'calls while out of credits',
      `the first 402, then ${s.dryWindow.calls - 1} probes in ${s.dryWindow.seconds.toFixed(1)} s = ${s.dryWindow.callsPerInterval.toFixed(2)} per ${o.probeSeconds} s probe interval`,
      '≤ 1 per probe interval',
    ]);
  }
  rows.push(
    ['wait, upload → terminal', `p50 ${s.waitSeconds.p50.toFixed(1)} s, oldest ${s.waitSeconds.max.toFixed(1)} s`, ''],
    ['Didit requests in all', String(s.diditCalls), ''],
    [
      'wall time',
      `${s.wallSeconds.toFixed(0)} s on ${s.machine.cores} cores (${s.machine.cpu}), load ${s.machine.loadAverage.toFixed(1)}`,
      '',
    ],
    ['result', s.passed ? 'PASS' : 'FAIL', ''],
  );
  return ['| measure | value | goal |', '|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

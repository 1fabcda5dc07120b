import { cpus, loadavg, machine } from 'node:os';
import type { LoadOptions } from './args';
import type { ApiPhase, Driver } from './driver';
import type { Ledger } from './ledger';

export interface Machine {
  readonly arch: string;
  readonly cpu: string;
  readonly cores: number;
  readonly node: string;
  /** 1-minute load average when the run ended: a busy machine explains slow numbers. */
  readonly loadAverage: number;
}

export interface LoadSummary {
  readonly machine: Machine;
  readonly options: LoadOptions;
  readonly startedAt: string;
  /** First create → last terminal write. */
  readonly wallSeconds: number;
  readonly deadlineReached: boolean;
  readonly checks: { planned: number; started: number; created: number; uploaded: number; terminal: number };
  readonly completed: { total: number; approved: number; declined: number; afterRetries: number };
  readonly failed: Record<string, number>;
  readonly expired: number;
  readonly throughputPerSecond: number;
  readonly latencyMs: { p50: number; p95: number; max: number; n: number };
  readonly apiErrors: Record<ApiPhase, number> & { byStatus: Record<string, number> };
  /** Created but the upload was refused: left to expire, a client-side failure rather than a stuck check. */
  readonly abandoned: number;
  readonly stuck: { count: number; checks: Array<{ id: string; status: string | undefined }> };
  readonly lost: { count: number; unknownToGet: string[]; terminalWithoutEvent: string[] };
  readonly duplicates: {
    count: number;
    /** Checks with more than one terminal event on the bus. */
    multipleTerminalEvents: Array<{ id: string; events: number; distinctOccurredAt: number }>;
    diditSuccessfulCalls: number;
    /** COMPLETED checks; with the pre-screen off each reached Didit exactly once. */
    completedReachingDidit: number;
    /** Diagnostic: check indexes whose processor got more than one decision from Didit. */
    checksWithSeveralDiditAnswers: number[];
  };
  readonly didit: { calls: number; successfulCalls: number; faultsInjected: number; failedCallsSeen: number };
  readonly sweeper: { runs: number; failures: number; actions: Record<string, number> };
  readonly otherEvents: Record<string, number>;
  /** The same bus event received twice by the tail's queue (SQS at-least-once): not a duplicate the service made. */
  readonly tailRedeliveries: number;
  readonly unexpected: Array<{ index: number; scenario: string; expected: string; got: string }>;
  readonly stackLogLines: string[];
  readonly byScenario: Record<string, { checks: number; outcomes: Record<string, number>; p50Ms: number }>;
  readonly passed: boolean;
}

export function machineInfo(): Machine {
  return {
    arch: machine(),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    loadAverage: loadavg()[0] ?? 0,
  };
}

export function summarize(input: {
  options: LoadOptions;
  startedAt: number;
  deadlineReached: boolean;
  driver: Driver;
  ledger: Ledger;
  diditCalls: number;
  diditSuccessfulCalls: number;
}): LoadSummary {
  const { driver, ledger } = input;
  const runs = driver.runs;
  const created = runs.filter((r) => r.id);
  const terminal = runs.filter((r) => r.terminalAt !== undefined);
  const completed = terminal.filter((r) => r.status === 'COMPLETED');
  const failed: Record<string, number> = {};
  for (const r of terminal.filter((r) => r.status === 'FAILED')) bump(failed, r.outcome?.split(' ')[1] ?? 'unknown');

  const latencies = terminal.map((r) => (r.terminalAt ?? 0) - r.startedAt);
  const lastTerminal = Math.max(input.startedAt, ...terminal.map((r) => r.terminalAt ?? 0));
  const wallSeconds = (lastTerminal - input.startedAt) / 1000;

  const apiErrors = { create: 0, upload: 0, get: 0, byStatus: {} as Record<string, number> };
  for (const e of driver.apiErrors) {
    apiErrors[e.phase]++;
    bump(apiErrors.byStatus, `${e.phase} ${e.status}`);
  }

  const stuck = driver.unfinished().map((r) => ({ id: r.id ?? '', status: r.status }));
  const unknownToGet = created.filter((r) => r.unknownToGet).map((r) => r.id ?? '');
  const terminalWithoutEvent = terminal.filter((r) => ledger.terminalEvents(r.id ?? '') === 0).map((r) => r.id ?? '');
  const multipleTerminalEvents = [...ledger.events.entries()]
    .filter(([, events]) => events.length > 1)
    .map(([id, events]) => ({
      id,
      events: events.length,
      distinctOccurredAt: new Set(events.map((e) => e.occurredAt)).size,
    }));
  const diditMismatch = Math.abs(input.diditSuccessfulCalls - completed.length);

  const unexpected = terminal
    .filter((r) => r.outcome !== r.expected)
    .map((r) => ({ index: r.index, scenario: r.scenario, expected: r.expected, got: r.outcome ?? '' }));

  const byScenario: LoadSummary['byScenario'] = {};
  for (const r of runs) {
    const entry = byScenario[r.scenario] ?? { checks: 0, outcomes: {}, p50Ms: Number.NaN };
    entry.checks++;
    bump(entry.outcomes, r.outcome ?? r.status ?? 'not created');
    byScenario[r.scenario] = entry;
  }
  for (const [scenario, entry] of Object.entries(byScenario)) {
    const samples = terminal.filter((r) => r.scenario === scenario).map((r) => (r.terminalAt ?? 0) - r.startedAt);
    entry.p50Ms = percentile(samples, 0.5);
  }

  const stuckCount = stuck.length;
  const lostCount = unknownToGet.length + terminalWithoutEvent.length;
  const duplicateCount = multipleTerminalEvents.length + diditMismatch;
  return {
    machine: machineInfo(),
    options: input.options,
    startedAt: new Date(input.startedAt).toISOString(),
    wallSeconds,
    deadlineReached: input.deadlineReached,
    checks: {
      planned: input.options.checks,
      started: runs.length,
      created: created.length,
      uploaded: runs.filter((r) => r.uploaded).length,
      terminal: terminal.length,
    },
    completed: {
      total: completed.length,
      approved: completed.filter((r) => r.outcome === 'COMPLETED Approved').length,
      declined: completed.filter((r) => r.outcome === 'COMPLETED Declined').length,
      afterRetries: completed.filter((r) => (r.failedAttempts ?? 0) > 0).length,
    },
    failed,
    expired: terminal.filter((r) => r.status === 'EXPIRED').length,
    throughputPerSecond: wallSeconds > 0 ? terminal.length / wallSeconds : 0,
    latencyMs: {
      p50: percentile(latencies, 0.5),
      p95: percentile(latencies, 0.95),
      max: latencies.length ? Math.max(...latencies) : Number.NaN,
      n: latencies.length,
    },
    apiErrors,
    abandoned: created.filter((r) => !r.uploaded).length,
    stuck: { count: stuckCount, checks: stuck },
    lost: { count: lostCount, unknownToGet, terminalWithoutEvent },
    duplicates: {
      count: duplicateCount,
      multipleTerminalEvents,
      diditSuccessfulCalls: input.diditSuccessfulCalls,
      completedReachingDidit: completed.length,
      checksWithSeveralDiditAnswers: [...ledger.didit.entries()].filter(([, c]) => c.ok > 1).map(([index]) => index),
    },
    didit: {
      calls: input.diditCalls,
      successfulCalls: input.diditSuccessfulCalls,
      faultsInjected: driver.faultsInjected,
      failedCallsSeen: [...ledger.didit.values()].reduce((sum, c) => sum + c.failed, 0),
    },
    sweeper: { runs: ledger.sweepRuns, failures: ledger.sweepFailures, actions: { ...ledger.sweeps } },
    otherEvents: Object.fromEntries(ledger.otherEvents),
    tailRedeliveries: ledger.tailRedeliveries,
    unexpected,
    stackLogLines: ledger.stackLog,
    byScenario,
    passed: stuckCount === 0 && lostCount === 0 && duplicateCount === 0,
  };
}

/** The one table: stdout and test-output/load.md. */
export function renderTable(s: LoadSummary): string {
  const m = s.machine;
  const o = s.options;
  const seconds = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '–');
  const list = (counts: Record<string, number>) =>
    Object.entries(counts)
      .map(([k, n]) => `${k} ${n}`)
      .join(' · ') || '0';
  const rows: Array<[string, string]> = [
    ['machine', `${m.arch}, ${m.cpu}, ${m.cores} cores, Node ${m.node}, load ${m.loadAverage.toFixed(2)} at the end`],
    [
      'run',
      `${o.checks} checks, ${o.concurrency} in flight, deadline ${o.deadlineMs / 1000} s ` +
        `(${s.deadlineReached ? 'REACHED' : 'not reached'}), grace ${o.graceMs / 1000} s, started ${s.startedAt}`,
    ],
    [
      'checks started',
      `${s.checks.started} (created ${s.checks.created}, uploaded ${s.checks.uploaded}, terminal ${s.checks.terminal})`,
    ],
    [
      'COMPLETED',
      `${s.completed.total} (Approved ${s.completed.approved}, Declined ${s.completed.declined}; ` +
        `${s.completed.afterRetries} after retries)`,
    ],
    ['FAILED by code', list(s.failed)],
    ['EXPIRED', String(s.expired)],
    [
      'throughput',
      `${s.throughputPerSecond.toFixed(2)} checks/s (${s.checks.terminal} terminal in ${s.wallSeconds.toFixed(1)} s)`,
    ],
    [
      'latency create → terminal',
      `p50 ${seconds(s.latencyMs.p50)} · p95 ${seconds(s.latencyMs.p95)} · max ${seconds(s.latencyMs.max)}`,
    ],
    [
      'API errors (non-2xx / no answer)',
      `create ${s.apiErrors.create} · upload ${s.apiErrors.upload} · get ${s.apiErrors.get}` +
        (s.abandoned ? ` (${s.abandoned} checks abandoned after a failed upload)` : ''),
    ],
    ['**stuck** (not terminal after grace)', verdict(s.stuck.count)],
    [
      '**lost**',
      `${verdict(s.lost.count)} (unknown to GET ${s.lost.unknownToGet.length}, ` +
        `terminal without a terminal event ${s.lost.terminalWithoutEvent.length})`,
    ],
    [
      '**duplicates**',
      `${verdict(s.duplicates.count)} (checks with >1 terminal event ${s.duplicates.multipleTerminalEvents.length}; ` +
        `Didit successful calls ${s.duplicates.diditSuccessfulCalls} vs COMPLETED ${s.duplicates.completedReachingDidit}; ` +
        `the same bus event redelivered by the tail's queue ${s.tailRedeliveries}, not counted)`,
    ],
    [
      'Didit simulator',
      `${s.didit.calls} calls, ${s.didit.successfulCalls} successful; ${s.didit.faultsInjected} faults injected, ` +
        `${s.didit.failedCallsSeen} failed calls seen by the processor`,
    ],
    [
      'sweeper',
      `${s.sweeper.runs} runs (${s.sweeper.failures} failed): ${list(
        Object.fromEntries(Object.entries(s.sweeper.actions).filter(([k]) => k !== 'SKIPPED')),
      )}`,
    ],
    [
      'unexpected outcomes',
      s.unexpected.length === 0
        ? '0'
        : `${s.unexpected.length}: ${s.unexpected
            .slice(0, 5)
            .map((u) => `#${u.index} ${u.scenario} → ${u.got}`)
            .join('; ')}`,
    ],
    ['result', s.passed ? 'PASS (stuck, lost and duplicates all 0)' : 'FAIL'],
  ];
  return ['| metric | value |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
}

function verdict(n: number): string {
  return n === 0 ? '0' : `**${n}**`;
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** Nearest rank: p95 of 200 samples is the 190th, an observed value rather than an interpolation. */
function percentile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
}

import { TERMINAL_STATUSES } from '../lambdas/core/check';
import type { LocalStack } from '../local/local-stack';
import type { Outcome, PlannedCheck, Scenario } from './inputs';
import type { Ledger } from './ledger';

/** How often a client re-reads a check while no terminal event has woken it. */
const POLL_MS = 1000;
/** No single request may hang the run: the run is bounded in time, not only in count. */
const REQUEST_TIMEOUT_MS = 30_000;

export type ApiPhase = 'create' | 'upload' | 'get';

/** One check as the client saw it. Times are Date.now() milliseconds: client and service share this clock. */
export interface CheckRun {
  readonly index: number;
  readonly scenario: Scenario;
  readonly expected: Outcome;
  readonly startedAt: number;
  id?: string;
  uploaded: boolean;
  /** Last status GET returned. */
  status?: string;
  outcome?: string;
  failedAttempts?: number;
  /** The check's updated_at once terminal: when the service wrote the terminal state. */
  terminalAt?: number;
  /** GET answered 404 for a check the API had created. */
  unknownToGet: boolean;
}

export interface ApiError {
  readonly phase: ApiPhase;
  /** HTTP status, or `network` when no answer came. */
  readonly status: number | 'network';
  readonly index: number;
}

interface CheckView {
  id: string;
  status: string;
  updated_at: string;
  result?: { decision?: string };
  error?: { code?: string };
  retry?: { failed_attempts?: number };
}

export function isTerminal(status: string | undefined): boolean {
  return TERMINAL_STATUSES.some((terminal) => terminal === status);
}

/**
 * The client side of the load: `concurrency` workers, each doing what a client app does — create, presigned POST
 * upload, then read the check until it is terminal (woken by its bus event, else every second). No check starts after
 * the deadline, and a check still running at the deadline is left for the grace period.
 */
export class Driver {
  readonly runs: CheckRun[] = [];
  readonly apiErrors: ApiError[] = [];
  faultsInjected = 0;
  private next = 0;

  constructor(
    private readonly stack: LocalStack,
    private readonly ledger: Ledger,
    private readonly plan: (index: number) => PlannedCheck,
  ) {
    assertLoopback(stack.apiUrl);
  }

  async run(checks: number, concurrency: number, deadlineAt: number): Promise<void> {
    const worker = async () => {
      for (;;) {
        if (this.next >= checks || Date.now() >= deadlineAt) return;
        await this.oneCheck(this.plan(this.next++), deadlineAt);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  /** Re-reads every unfinished check until all are terminal or `until`; the stack's sweeper keeps running meanwhile. */
  async settle(until: number, done: () => boolean): Promise<void> {
    for (;;) {
      for (const run of this.unfinished()) await this.refresh(run);
      if (done() || Date.now() >= until) return;
      await sleep(500);
    }
  }

  /** Created and uploaded, not terminal, not already counted as lost. */
  unfinished(): CheckRun[] {
    return this.runs.filter((run) => run.id && run.uploaded && !isTerminal(run.status) && !run.unknownToGet);
  }

  private async oneCheck(planned: PlannedCheck, deadlineAt: number): Promise<void> {
    const run: CheckRun = {
      index: planned.index,
      scenario: planned.scenario,
      expected: planned.expected,
      startedAt: Date.now(),
      uploaded: false,
      unknownToGet: false,
    };
    this.runs.push(run);

    const created = await this.request<{ id: string; upload: { url: string; fields: Record<string, string> } }>(
      'create',
      planned.index,
      `${this.stack.apiUrl}/v1/liveness-checks`,
      {
        method: 'POST',
        headers: { 'x-api-key': this.stack.apiKey, 'content-type': 'application/json' },
        body: JSON.stringify({ content_type: planned.file.mime, vendor_data: planned.vendorData }),
      },
      201,
    );
    if (!created) return;
    run.id = created.id;

    assertLoopback(created.upload.url);
    const form = new FormData();
    // Policy fields first, the file last: what a browser form or `curl -F` sends.
    for (const [name, value] of Object.entries(created.upload.fields)) form.append(name, value);
    form.append('file', new Blob([planned.file.bytes], { type: planned.file.mime }), 'selfie');
    const uploaded = await this.request('upload', planned.index, created.upload.url, { method: 'POST', body: form });
    if (!uploaded) return;
    run.uploaded = true;

    if (planned.faults.length > 0) {
      // Targeted by the check's vendor_data tag, so the fault reaches this check whatever order checks call Didit in.
      for (const fault of planned.faults) this.stack.diditSimulator?.injectFaultsFor(planned.vendorData, fault, 1);
      this.faultsInjected += planned.faults.length;
    }

    while (!isTerminal(run.status) && !run.unknownToGet && Date.now() < deadlineAt) {
      const wait = Math.min(POLL_MS, Math.max(0, deadlineAt - Date.now()));
      // Once its event is in, a check that still reads non-terminal must not be re-read in a tight loop.
      await (this.ledger.terminalEvents(created.id) > 0 ? sleep(wait) : this.ledger.eventOrTimeout(created.id, wait));
      await this.refresh(run);
    }
  }

  private async refresh(run: CheckRun): Promise<void> {
    if (!run.id) return;
    const view = await this.request<CheckView>(
      'get',
      run.index,
      `${this.stack.apiUrl}/v1/liveness-checks/${run.id}`,
      { headers: { 'x-api-key': this.stack.apiKey } },
      200,
      (status) => {
        if (status === 404) run.unknownToGet = true;
      },
    );
    if (!view) return;
    run.status = view.status;
    if (!isTerminal(view.status)) return;
    run.outcome = `${view.status} ${view.result?.decision ?? view.error?.code ?? ''}`.trim();
    run.failedAttempts = view.retry?.failed_attempts ?? 0;
    run.terminalAt = Date.parse(view.updated_at);
  }

  /**
   * One HTTP call; a non-2xx answer (or `expected` not met) or no answer at all is recorded as an API error and
   * returns undefined.
   */
  private async request<T>(
    phase: ApiPhase,
    index: number,
    url: string,
    init: RequestInit,
    expected?: number,
    onStatus?: (status: number) => void,
  ): Promise<T | undefined> {
    let res: Response;
    try {
      res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch {
      this.apiErrors.push({ phase, status: 'network', index });
      return undefined;
    }
    const text = await res.text().catch(() => '');
    const ok = expected === undefined ? res.status >= 200 && res.status < 300 : res.status === expected;
    if (!ok) {
      onStatus?.(res.status);
      this.apiErrors.push({ phase, status: res.status, index });
      return undefined;
    }
    // S3 answers an upload with an empty body or XML, never JSON.
    if (phase === 'upload') return {} as T;
    try {
      return (text ? JSON.parse(text) : {}) as T;
    } catch {
      // A 2xx whose body is not JSON is as broken as a 500 to a client.
      this.apiErrors.push({ phase, status: res.status, index });
      return undefined;
    }
  }
}

/** The load never leaves the machine: every URL it is handed must be loopback. */
function assertLoopback(url: string): void {
  const host = new URL(url).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') {
    throw new Error(`refusing to send load to ${host}: loopback only`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

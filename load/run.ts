import './env';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type LocalStack, startLocalStack } from '../local/local-stack';
import { type LoadOptions, parseLoadArgs, UsageError } from './args';
import { runBurst } from './burst';
import { Driver } from './driver';
import { planCheck, prepareImages } from './inputs';
import { Ledger } from './ledger';
import { renderTable, summarize } from './report';

/**
 * `npm run load`: the whole service in this process on loopback (its own moto and Didit simulator), driven by
 * `--concurrency` clients until `--checks` checks ran or `--deadline` passed, then a grace period in which the
 * sweeper may still finish stragglers. Exit code: 0 pass, 1 when any check is stuck, lost or duplicated, 2 when the
 * run itself broke (so a broken run is never mistaken for a finding). See docs/load.md.
 */

/** After everything is terminal: two sweeper runs and a bus-tail poll, time for a late duplicate event to show. */
const SETTLE_MS = 3000;
const OUTPUT_DIR = fileURLToPath(new URL('../test-output/', import.meta.url));

const log = (line: string) => process.stderr.write(`[load] ${line}\n`);

async function main(options: LoadOptions): Promise<number> {
  if (options.burst) {
    log('deriving the images from test/fixtures/astronaut.png');
    return runBurst(options.burst, await prepareImages());
  }
  const ledger = new Ledger();
  ledger.instrument();
  log('deriving the images from test/fixtures/astronaut.png');
  const images = await prepareImages();
  log('starting the local stack (moto, Didit simulator, handlers, Step Functions)');
  const stack = await startLocalStack({
    port: 0,
    // Retries compressed: a Retry-After of 1 s waits 1 ms, so the retry paths finish within the run.
    timeScale: 0.001,
    sweepIntervalMs: 1000,
    resourcePrefix: `load-${randomBytes(4).toString('hex')}`,
    onEvent: ledger.onEvent,
    log: ledger.onStackLog,
  });
  try {
    return await runLoad(options, stack, ledger, (index) => planCheck(index, images));
  } finally {
    await stack.stop();
  }
}

async function runLoad(
  options: LoadOptions,
  stack: LocalStack,
  ledger: Ledger,
  plan: ConstructorParameters<typeof Driver>[2],
): Promise<number> {
  const simulator = stack.diditSimulator;
  if (!simulator) throw new Error('the load needs the Didit simulator: unset DIDIT_API_KEY');
  const driver = new Driver(stack, ledger, plan);

  log(`${options.checks} checks, ${options.concurrency} in flight, deadline ${options.deadlineMs / 1000} s`);
  const startedAt = Date.now();
  const deadlineAt = startedAt + options.deadlineMs;
  const progress = setInterval(() => {
    const terminal = driver.runs.filter((r) => r.terminalAt !== undefined).length;
    log(`${driver.runs.length} started, ${terminal} terminal, ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
  }, 10_000);
  try {
    await driver.run(options.checks, options.concurrency, deadlineAt);
  } finally {
    clearInterval(progress);
  }
  const deadlineReached = Date.now() >= deadlineAt;

  // Grace: unfinished checks get the sweeper's help; terminal checks get time for their event to come off the bus.
  const awaitingEvent = () => driver.runs.some((r) => r.terminalAt !== undefined && !ledger.terminalEvents(r.id ?? ''));
  if (driver.unfinished().length > 0 || awaitingEvent()) log(`grace period: up to ${options.graceMs / 1000} s`);
  const graceUntil = Date.now() + options.graceMs;
  await driver.settle(graceUntil, () => driver.unfinished().length === 0 && !awaitingEvent());
  await Promise.race([stack.stepFunctions.waitForIdle(), sleep(Math.max(0, graceUntil - Date.now()))]);
  await sleep(SETTLE_MS);

  const summary = summarize({
    options,
    startedAt,
    deadlineReached,
    driver,
    ledger,
    diditCalls: simulator.calls,
    diditSuccessfulCalls: simulator.successfulCalls,
  });
  const table = renderTable(summary);
  console.log(`\n${table}\n`);
  mkdirSync(OUTPUT_DIR, { recursive: true });
  writeFileSync(`${OUTPUT_DIR}load.md`, `# Load run\n\n${table}\n`);
  writeFileSync(`${OUTPUT_DIR}load.json`, `${JSON.stringify({ summary, checks: driver.runs }, null, 2)}\n`);
  log('wrote test-output/load.md and test-output/load.json');
  return summary.passed ? 0 : 1;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const exitCode = await Promise.resolve()
  .then(() => main(parseLoadArgs(process.argv.slice(2))))
  .catch((error: unknown) => {
    console.error(error instanceof UsageError ? error.message : error);
    return 2;
  });
// Keep-alive sockets and SDK timers the stack leaves behind must not keep a finished run alive.
process.exit(exitCode);

/**
 * `npm run cost`: AWS cost per 1,000 checks from the benchmark's measurements (test-output/bench.json, written by
 * `npm run bench`), or from the defaults below when there is no benchmark output yet. Every assumption is a named
 * constant or a flag; every price is a us-east-1 list price with its source.
 *
 *   --arch=arm64|x86_64      Lambda architecture (default arm64, the stack's default)
 *   --polls=N                GET /v1/liveness-checks/{id} calls per check (default 3)
 *   --retry-rate=0.02        share of checks that need one Step Functions retry round
 *   --checks-per-hour=N      steady traffic, for Secrets Manager calls and warm containers (default 1000)
 *   --prescreen              include Rekognition DetectFaces
 *   --input=<name>           which benchmark input stands for a typical upload (default jpeg-12mp-exif6)
 *   --json                   print the model as JSON instead of tables
 *
 * It ends with what the regulated profile (`regulated: true`) adds per month at that traffic (bench/regulated-cost.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SETTINGS } from '../lambdas/core/settings/schema';
import { strongReadUnits, writeUnits } from './dynamo-size';
import { PROFILE_ASSUMPTIONS, PROFILE_DEFAULTS, PROFILE_PRICES, regulatedMonthly } from './regulated-cost';
import { table } from './stats';

/**
 * us-east-1 on-demand list prices, transcribed from the AWS pricing pages named in `source` (first pricing tier,
 * no free tier, no Savings Plans). Valid as of 2025: the DynamoDB figures are the on-demand prices after the
 * 2024-11-01 cut; the Lambda, API Gateway, S3, Step Functions, EventBridge, Secrets Manager, Rekognition, CloudWatch
 * Logs, X-Ray and data-transfer figures have been unchanged since before then. This script does not fetch them:
 * re-check the pages before quoting a number to anyone.
 */
export const PRICES = {
  asOf: '2025 (DynamoDB on-demand: since 2024-11-01)',
  region: 'us-east-1',
  lambda: {
    source: 'https://aws.amazon.com/lambda/pricing/',
    armGbSecond: 0.0000133334,
    x86GbSecond: 0.0000166667,
    perRequest: 0.2 / 1e6,
  },
  apiGatewayRest: { source: 'https://aws.amazon.com/api-gateway/pricing/', perRequest: 3.5 / 1e6 },
  s3: {
    source: 'https://aws.amazon.com/s3/pricing/',
    putPostPerRequest: 0.005 / 1000,
    getPerRequest: 0.0004 / 1000,
    standardGbMonth: 0.023,
  },
  dynamodb: {
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    perWriteUnit: 0.625 / 1e6,
    perReadUnit: 0.125 / 1e6,
    storageGbMonth: 0.25,
  },
  stepFunctionsStandard: { source: 'https://aws.amazon.com/step-functions/pricing/', perTransition: 0.025 / 1000 },
  eventBridge: { source: 'https://aws.amazon.com/eventbridge/pricing/', perCustomEvent: 1.0 / 1e6 },
  secretsManager: {
    source: 'https://aws.amazon.com/secrets-manager/pricing/',
    perCall: 0.05 / 10_000,
    perSecretMonth: 0.4,
  },
  rekognition: { source: 'https://aws.amazon.com/rekognition/pricing/', detectFacesPerImage: 0.001 },
  cloudWatchLogs: { source: 'https://aws.amazon.com/cloudwatch/pricing/', ingestPerGb: 0.5 },
  xray: { source: 'https://aws.amazon.com/xray/pricing/', perTraceRecorded: 5.0 / 1e6 },
  dataTransfer: { source: 'https://aws.amazon.com/ec2/pricing/on-demand/ (data transfer out)', outPerGb: 0.09 },
  didit: { source: 'the issue: Didit passive liveness list price', perCheck: 0.1 },
} as const;

/** What the model assumes when the benchmark cannot say; each is printed with the result. */
export const ASSUMPTIONS = {
  /** A client polls GET until COMPLETED; at ~1 s per poll and ~1.3 s per check, about three. */
  pollsPerCheck: 3,
  /** Share of checks whose first Didit call fails retryably and that complete in one Step Functions round. */
  retryRate: 0.02,
  /**
   * State transitions of one retry round that succeeds on its next attempt (lib/parts/retry-workflow.ts): Backoff,
   * HonourRetryAfter, WaitBackoff/WaitRetryAfter, Attempt, NextStep, Done, plus the execution start.
   */
  transitionsPerRetryRound: 7,
  /** Share of invocations that start a new execution environment (INIT billed since 2025-08-01). */
  coldStartRate: 0.05,
  checksPerHour: 1000,
  /**
   * Log bytes per check at INFO: ~5 processor lines, 1 create line, API Gateway access log lines (~400 B) per API
   * request.
   */
  logBytesPerCheck: 3000,
  /** X-Ray's default rule traces the first request each second and 5 % after: at low volume, nearly every request. */
  tracedShare: 1,
  /** S3 lifecycle expiry runs once a day, so an object lives its retention plus half a day on average. */
  uploadRetentionDays: 1.5,
  checkRetentionDays: 30,
  /** Secrets Manager: one GetSecretValue per warm processor container per cache period. */
  secretCacheSeconds: 300,
  /** When there is no benchmark output. */
  defaults: {
    diditLatencyMs: 1000,
    processorMs: 1300,
    imageCpuMs: 200,
    imageWallMs: 200,
    createMs: 40,
    getMs: 15,
    initMs: 300,
    uploadBytes: 1_066_134,
    bytesSentToDidit: 241_821,
    itemSizes: { created: 370, claimed: 435, completed: 755, published: 715 },
  },
} as const;

/** Memory as the settings schema defaults it (lambdas/core/settings). */
function configuredMemory(): { processorMiB: number; apiMiB: number } {
  return { processorMiB: SETTINGS.processorMemorySize.default, apiMiB: SETTINGS.memorySize.default };
}

interface BenchJson {
  diditLatencyMs?: number;
  environment?: { machine?: string; cpuModel?: string };
  image?: { rows: { input: string; oursCpu: { median: number }; ours: { median: number }; inputBytes: number }[] };
  processor?: {
    rows: {
      input: string;
      total: { median: number };
      phases: { image: { median: number } };
      bytesSentToDidit: number;
      inputBytes: number;
    }[];
    create: { median: number };
    get: { median: number };
    itemSizes: { created: number; claimed: number; answerSaved: number; completed: number; published: number };
    dynamoCallsPerCheck?: Record<string, number>;
  };
  coldStart?: { rows: { handler: string; processMs: { median: number } }[] };
}

export interface LineItem {
  readonly service: string;
  readonly what: string;
  readonly quantity: number;
  readonly unit: string;
  readonly unitPrice: number;
  readonly cost: number;
}

function arg(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
}

export function costModel(
  bench: BenchJson | undefined,
  options: {
    arch: 'arm64' | 'x86_64';
    polls: number;
    retryRate: number;
    checksPerHour: number;
    prescreen: boolean;
    input: string;
  },
) {
  const d = ASSUMPTIONS.defaults;
  const memory = configuredMemory();
  const processorRow = bench?.processor?.rows.find((r) => r.input === options.input);
  const imageRow = bench?.image?.rows.find((r) => r.input === options.input);
  const measured = {
    diditLatencyMs: bench?.diditLatencyMs ?? d.diditLatencyMs,
    processorMs: processorRow?.total.median ?? d.processorMs,
    imageCpuMs: imageRow?.oursCpu.median ?? d.imageCpuMs,
    imageWallMs: processorRow?.phases.image.median ?? d.imageWallMs,
    createMs: bench?.processor?.create.median ?? d.createMs,
    getMs: bench?.processor?.get.median ?? d.getMs,
    initMs: bench?.coldStart?.rows.find((r) => r.handler === 'process-upload')?.processMs.median ?? d.initMs,
    uploadBytes: processorRow?.inputBytes ?? d.uploadBytes,
    bytesSentToDidit: processorRow?.bytesSentToDidit ?? d.bytesSentToDidit,
    itemSizes: bench?.processor?.itemSizes ?? d.itemSizes,
    fromBench: bench !== undefined,
  };
  const gbSecond = options.arch === 'arm64' ? PRICES.lambda.armGbSecond : PRICES.lambda.x86GbSecond;
  const n = 1000;
  const items: LineItem[] = [];
  const add = (service: string, what: string, quantity: number, unit: string, unitPrice: number) =>
    items.push({ service, what, quantity, unit, unitPrice, cost: quantity * unitPrice });

  // Lambda: billed duration is wall time, so the processor pays for the Didit wait at its full memory size.
  const retries = n * options.retryRate;
  const sweep = memorySweep(measured, gbSecond);
  // The benchmark machine gave the image step a whole core; at the configured size Lambda gives a share of one.
  const processorMs = modelledDuration(measured, memory.processorMiB);
  const processorGbS = (memory.processorMiB / 1024) * (processorMs / 1000);
  const apiGbS = (memory.apiMiB / 1024) * ((measured.createMs + options.polls * measured.getMs) / 1000);
  const initGbS =
    ASSUMPTIONS.coldStartRate *
    ((memory.processorMiB + memory.apiMiB * (1 + options.polls)) / 1024) *
    (measured.initMs / 1000);
  add(
    'Lambda',
    `processor ${memory.processorMiB} MiB × ${Math.round(processorMs)} ms (incl. Didit wait)`,
    (n + retries) * processorGbS,
    'GB-s',
    gbSecond,
  );
  add('Lambda', `create + ${options.polls} GET, ${memory.apiMiB} MiB`, n * apiGbS, 'GB-s', gbSecond);
  add(
    'Lambda',
    `INIT of ${ASSUMPTIONS.coldStartRate * 100} % cold starts (${Math.round(measured.initMs)} ms)`,
    n * initGbS,
    'GB-s',
    gbSecond,
  );
  add(
    'Lambda',
    'requests (create, GETs, processor, retries)',
    n * (2 + options.polls) + retries,
    'requests',
    PRICES.lambda.perRequest,
  );
  add(
    'API Gateway REST',
    `create + ${options.polls} polling GETs`,
    n * (1 + options.polls),
    'requests',
    PRICES.apiGatewayRest.perRequest,
  );
  add('S3', 'presigned POST upload', n, 'PUT/POST', PRICES.s3.putPostPerRequest);
  add('S3', 'processor GetObject (+1 per retry)', n + retries, 'GET', PRICES.s3.getPerRequest);
  const storedGbMonth = ((n * measured.uploadBytes) / 1e9) * (ASSUMPTIONS.uploadRetentionDays / 30);
  add(
    'S3',
    `storage, ${ASSUMPTIONS.uploadRetentionDays} days avg`,
    storedGbMonth,
    'GB-month',
    PRICES.s3.standardGbMonth,
  );

  const dynamo = dynamoUnits(measured.itemSizes, { dueIndexKeysOnly: false });
  add(
    'DynamoDB',
    'writes: table (create, claim, complete, mark published)',
    n * dynamo.tableWrites,
    'WRU',
    PRICES.dynamodb.perWriteUnit,
  );
  add(
    'DynamoDB',
    'writes: GSIs (due index projects ALL; session index)',
    n * dynamo.indexWrites,
    'WRU',
    PRICES.dynamodb.perWriteUnit,
  );
  const pacer = pacerUnits(options.checksPerHour, 1 + options.retryRate);
  add(
    'DynamoDB',
    `writes: pacer item (ticket${pacer.anchorMoves ? ' + anchor move' : ''} per Didit call)`,
    n * pacer.writes,
    'WRU',
    PRICES.dynamodb.perWriteUnit,
  );
  add(
    'DynamoDB',
    'strongly consistent reads: pacer item after each Didit answer',
    n * pacer.reads,
    'RRU',
    PRICES.dynamodb.perReadUnit,
  );
  add(
    'DynamoDB',
    `strongly consistent reads: ${options.polls} GETs`,
    n * options.polls * strongReadUnits(measured.itemSizes.published),
    'RRU',
    PRICES.dynamodb.perReadUnit,
  );
  const dynamoGbMonth = ((n * measured.itemSizes.published) / 1e9) * (ASSUMPTIONS.checkRetentionDays / 30);
  add(
    'DynamoDB',
    `storage, ${ASSUMPTIONS.checkRetentionDays} days`,
    dynamoGbMonth,
    'GB-month',
    PRICES.dynamodb.storageGbMonth,
  );
  add(
    'Step Functions',
    `${options.retryRate * 100} % of checks retried once`,
    retries * ASSUMPTIONS.transitionsPerRetryRound,
    'transitions',
    PRICES.stepFunctionsStandard.perTransition,
  );
  add('EventBridge', 'one terminal event per check', n, 'events', PRICES.eventBridge.perCustomEvent);

  // Little's law: warm processor containers ≈ arrival rate × duration; each reads the secret once per cache period.
  const containers = Math.max(1, Math.ceil((options.checksPerHour / 3600) * (processorMs / 1000)));
  const secretCallsPerHour = containers * (3600 / ASSUMPTIONS.secretCacheSeconds);
  add(
    'Secrets Manager',
    `GetSecretValue, ${containers} warm container(s), ${options.checksPerHour} checks/h`,
    (secretCallsPerHour / options.checksPerHour) * n,
    'calls',
    PRICES.secretsManager.perCall,
  );
  if (options.prescreen)
    add('Rekognition', 'DetectFaces pre-screen', n, 'images', PRICES.rekognition.detectFacesPerImage);
  add(
    'CloudWatch Logs',
    `~${ASSUMPTIONS.logBytesPerCheck} B of logs per check`,
    (n * ASSUMPTIONS.logBytesPerCheck) / 1e9,
    'GB',
    PRICES.cloudWatchLogs.ingestPerGb,
  );
  add(
    'X-Ray',
    `traces: ${2 + options.polls} requests per check`,
    n * (2 + options.polls) * ASSUMPTIONS.tracedShare,
    'traces',
    PRICES.xray.perTraceRecorded,
  );
  add(
    'Data transfer',
    `to Didit over the internet (${measured.bytesSentToDidit} B per check)`,
    (n * measured.bytesSentToDidit) / 1e9,
    'GB',
    PRICES.dataTransfer.outPerGb,
  );

  const aws = items.reduce((sum, item) => sum + item.cost, 0);
  const didit = n * PRICES.didit.perCheck;
  const improved = dynamoUnits(measured.itemSizes, { dueIndexKeysOnly: true });
  const dynamoSaving =
    n *
    (dynamo.tableWrites + dynamo.indexWrites - improved.tableWrites - improved.indexWrites) *
    PRICES.dynamodb.perWriteUnit;

  return {
    options,
    memory,
    measured,
    items,
    totals: { aws, didit, all: aws + didit, awsShare: aws / (aws + didit) },
    dynamo: { current: dynamo, proposed: improved, savingPer1000: dynamoSaving, pacer },
    processorMs,
    memorySweep: sweep,
    fixedMonthly: fixedMonthly(gbSecond),
  };
}

/**
 * Write units per check, table and indexes. Each write bills the larger of the item before and after; while a check
 * carries due_shard it is also in the due index, which projects ALL attributes, so every write to it is repeated
 * there at full size (twice when due_at, the index's sort key, changes: a delete and a put). Didit's answer goes
 * straight into `complete` (lambdas/services/check-processor.ts runClaimed); `saveDiditAnswer` writes it separately
 * only when that write fails, which is not counted here.
 */
function dynamoUnits(
  s: { created: number; claimed: number; completed: number; published: number },
  change: { dueIndexKeysOnly: boolean },
) {
  const index = (bytes: number) => (change.dueIndexKeysOnly ? 1 : writeUnits(0, bytes));
  const table =
    writeUnits(0, s.created) +
    writeUnits(s.created, s.claimed) +
    writeUnits(s.claimed, s.completed) +
    writeUnits(s.completed, s.published);
  const due =
    index(s.created) + // create: put
    index(s.created) +
    index(s.claimed) + // claim moves due_at: delete + put
    index(s.claimed) +
    index(s.completed) + // complete moves due_at: delete + put
    index(s.completed); // mark published removes due_shard: delete
  const session = 1; // complete sets didit_session_id: one small KEYS_ONLY put
  return { tableWrites: table, indexWrites: due + session };
}

/**
 * The shared Didit budget's item (`pacer#didit`, lambdas/adapters/pacer-state-store.ts): well under 1 KB and in no
 * index, so 1 WRU per write and 1 RRU per strongly consistent read. Every Didit call takes a ticket (an atomic ADD);
 * after an answer the processor reads the item to tell the budget what Didit said (lambdas/services/didit-pacer.ts
 * `report`), and changes it only when Didit pushes back (a 429, a low `X-RateLimit-Remaining`, no credits). When calls
 * come further apart than the budget's interval (60 s / diditRequestsPerMinute: below the budget, steady traffic makes
 * every call such a one), the schedule has fallen behind the clock and the caller first moves its anchor: one more
 * conditional write. Paced waits (traffic above the budget) add a read each time a waiting check asks again.
 */
function pacerUnits(checksPerHour: number, callsPerCheck: number) {
  const anchorMoves = checksPerHour / 60 < SETTINGS.diditRequestsPerMinute.default ? 1 : 0;
  return { anchorMoves, writes: callsPerCheck * (1 + anchorMoves), reads: 1 };
}

/**
 * The processor's cost and latency by memory size. Below 1,769 MB a function gets that fraction of one vCPU, so the
 * image step's CPU time stretches by 1769/M; the rest (Didit, AWS calls) is waiting and does not. Assumes a Lambda
 * vCPU as fast as one core of the benchmark machine (not measured).
 */
function modelledDuration(m: { processorMs: number; imageCpuMs: number; imageWallMs: number }, mib: number): number {
  const waiting = Math.max(0, m.processorMs - m.imageWallMs);
  return waiting + m.imageCpuMs * Math.max(1, 1769 / mib);
}

function memorySweep(m: { processorMs: number; imageCpuMs: number; imageWallMs: number }, gbSecond: number) {
  return [512, 768, 1024, 1536, 1769, 2048, 3008].map((mib) => {
    const ms = modelledDuration(m, mib);
    return { memoryMiB: mib, durationMs: ms, costPer1000: 1000 * (mib / 1024) * (ms / 1000) * gbSecond };
  });
}

/** Costs that do not scale with checks: they are per month, whatever the volume. */
function fixedMonthly(gbSecond: number) {
  const sweeps = 30 * 24 * 60;
  return [
    {
      what: 'Secrets Manager: 3 secrets (Didit API key, Didit webhook, signing)',
      cost: 3 * PRICES.secretsManager.perSecretMonth,
    },
    {
      what: `sweeper: ${sweeps} invocations × 256 MiB × ~100 ms`,
      cost: sweeps * (PRICES.lambda.perRequest + 0.25 * 0.1 * gbSecond),
    },
    { what: 'sweeper: one due-index Query per run (≥ 1 RRU)', cost: sweeps * PRICES.dynamodb.perReadUnit * 0.5 },
  ];
}

function dollars(value: number): string {
  if (value === 0) return '$0';
  if (value < 0.0001) return `$${value.toExponential(2)}`;
  return `$${value.toFixed(value < 1 ? 4 : 2)}`;
}

function main() {
  const file = fileURLToPath(new URL('../test-output/bench.json', import.meta.url));
  const bench = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as BenchJson) : undefined;
  const model = costModel(bench, {
    arch: arg('arch') === 'x86_64' ? 'x86_64' : 'arm64',
    polls: Number(arg('polls') ?? ASSUMPTIONS.pollsPerCheck),
    retryRate: Number(arg('retry-rate') ?? ASSUMPTIONS.retryRate),
    checksPerHour: Number(arg('checks-per-hour') ?? ASSUMPTIONS.checksPerHour),
    prescreen: process.argv.includes('--prescreen'),
    input: arg('input') ?? 'jpeg-12mp-exif6',
  });
  const checksPerMonth = model.options.checksPerHour * PROFILE_ASSUMPTIONS.hoursPerMonth;
  const regulated = regulatedMonthly({
    checksPerMonth,
    apiRequestsPerCheck: 1 + model.options.polls,
    uploadBytes: model.measured.uploadBytes,
    checkRetentionDays: PROFILE_DEFAULTS.checkRetentionDays,
    backupRetentionDays: PROFILE_DEFAULTS.backupRetentionDays,
  });
  if (process.argv.includes('--json')) {
    process.stdout.write(
      `${JSON.stringify(
        {
          prices: PRICES,
          assumptions: ASSUMPTIONS,
          ...model,
          regulated: { prices: PROFILE_PRICES, assumptions: PROFILE_ASSUMPTIONS, checksPerMonth, ...regulated },
        },
        null,
        2,
      )}\n`,
    );
    return;
  }
  const source = bench
    ? `measured: test-output/bench.json (${bench.environment?.machine ?? '?'}, input ${model.options.input})`
    : 'defaults (no test-output/bench.json: run `npm run bench` first)';
  const rows = [
    ['service', 'what', 'per 1,000 checks', 'unit price', 'cost'],
    ...model.items.map((i) => [
      i.service,
      i.what,
      `${Number(i.quantity.toPrecision(4))} ${i.unit}`,
      dollars(i.unitPrice),
      dollars(i.cost),
    ]),
    ['AWS', 'total', '', '', dollars(model.totals.aws)],
    ['Didit', 'passive liveness', '1000 checks', dollars(PRICES.didit.perCheck), dollars(model.totals.didit)],
    ['all', `AWS is ${(model.totals.awsShare * 100).toFixed(2)} % of the total`, '', '', dollars(model.totals.all)],
  ];
  const sweep = [
    ['processor memory', 'modelled duration', 'processor GB-s cost per 1,000 checks'],
    ...model.memorySweep.map((s) => [
      `${s.memoryMiB} MiB${s.memoryMiB === model.memory.processorMiB ? ' (configured)' : ''}`,
      `${Math.round(s.durationMs)} ms`,
      dollars(s.costPer1000),
    ]),
  ];
  const fixed = [['fixed per month', 'cost'], ...model.fixedMonthly.map((f) => [f.what, dollars(f.cost)])];
  const sum = (rows: readonly { monthly: number }[]) => rows.reduce((total, row) => total + row.monthly, 0);
  const perCheckMonthly = (model.totals.aws / 1000) * checksPerMonth;
  const defaultMonthly = perCheckMonthly + model.fixedMonthly.reduce((total, f) => total + f.cost, 0);
  const profile = [
    ['regulated profile', 'what', 'per month'],
    ...regulated.always.map((row) => [row.part, row.what, dollars(row.monthly)]),
    ['', 'profile without VPC placement', dollars(sum(regulated.always))],
    ...regulated.vpc.map((row) => [row.part, row.what, dollars(row.monthly)]),
    [
      '',
      'profile with VPC placement (NAT, no endpoints)',
      dollars(sum(regulated.always) + sum(regulated.vpc.slice(0, 2))),
    ],
    ['default stack', `${checksPerMonth.toLocaleString('en-US')} checks (AWS only) + fixed`, dollars(defaultMonthly)],
  ];
  process.stdout.write(
    [
      `AWS cost per 1,000 checks — ${PRICES.region} list prices (${PRICES.asOf}), ${model.options.arch}, ${source}`,
      `assumptions: ${model.options.polls} polls/check, ${model.options.retryRate * 100} % retried, ${model.options.checksPerHour} checks/h, pre-screen ${model.options.prescreen ? 'on' : 'off'}, Didit latency ${Math.round(model.measured.diditLatencyMs)} ms`,
      '',
      table(rows),
      '',
      `DynamoDB write units per check: ${model.dynamo.current.tableWrites} table + ${model.dynamo.current.indexWrites} index ` +
        `+ ${Number(model.dynamo.pacer.writes.toPrecision(3))} pacer; ` +
        `with a KEYS_ONLY due index: ${model.dynamo.proposed.tableWrites} + ${model.dynamo.proposed.indexWrites} ` +
        `(saves ${dollars(model.dynamo.savingPer1000)} per 1,000 checks)`,
      '',
      table(sweep),
      '',
      table(fixed),
      '',
      `What the regulated profile adds per month at ${model.options.checksPerHour} checks/h (${PRICES.region} list prices; Didit not included):`,
      '',
      table(profile),
      '',
    ].join('\n'),
  );
}

main();

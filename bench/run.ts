/**
 * `npm run bench`: one table of medians, each against a baseline measured in the same run, with PASS/MISS per
 * target; everything measured also goes to test-output/bench.json (read by `npm run cost`) and a Markdown copy of the
 * table to test-output/bench.md.
 *
 *   --quick                 few repetitions (for development on a shared machine; figures are indicative only)
 *   --only=1,2,3,4,heic,tuning   run some sections (default: all)
 *   --didit-latency-ms=N    the fixed Didit latency (default 1000)
 *   --cpu-prof              also run the end-to-end stacks under `node --cpu-prof` and summarise the profiles
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Before any handler module loads: the SDK's Node 20 warning and INFO log lines are noise in a timing run.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';

const { runImageStep } = await import('./image-step');
const { runProcessorOverhead } = await import('./processor-overhead');
const { runColdStart, profileInit, runBundleExperiments } = await import('./cold-start');
const { runEndToEnd } = await import('./end-to-end');
const { runImageTuning, runThreadpool } = await import('./tuning');
const { runHeicBench } = await import('./heic');
const { benchInputs, selfieJpeg } = await import('./inputs');
const { startDiditFloor } = await import('./didit-floor');
const { startBenchMoto } = await import('./moto');
const { profilesIn, summarizeProfile } = await import('./cpu-profile');
const { synthesizeWorkflows } = await import('../local/synthesized-workflows');
const { bytes, ms, ratio, table } = await import('./stats');

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUTPUT_DIR = path.join(REPO_ROOT, 'test-output');

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const quick = flag('quick');
const only = option('only')?.split(',');
const wants = (section: string) => !only || only.includes(section);
const diditLatencyMs = Number(option('didit-latency-ms') ?? 1000);

/** Repetitions per section: quick keeps a development run near a minute on a busy 2-core machine. */
const REPS = quick
  ? {
      image: 3,
      imageWarmup: 1,
      processor: 2,
      processorWarmup: 1,
      cold: 3,
      e2eSequential: 2,
      e2eWaves: 1,
      tuning: 3,
      pool: 2,
      heic: 3,
    }
  : {
      image: 15,
      imageWarmup: 3,
      processor: 8,
      processorWarmup: 2,
      cold: 10,
      e2eSequential: 8,
      e2eWaves: 3,
      tuning: 10,
      pool: 5,
      heic: 7,
    };

/** Targets, as ratios or sizes on this machine (issue 7). */
export const TARGETS = {
  imageVsNative: 1.5,
  bundleBytes: 600 * 1024,
  e2eAt20: 1.25,
  outputBytes: 500_000,
} as const;

function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

function environment() {
  const cpuinfo = (() => {
    try {
      return readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return '';
    }
  })();
  return {
    machine: os.machine(),
    cpuModel: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    loadAverage: os.loadavg(),
  };
}

async function main() {
  const started = Date.now();
  const env = environment();
  log(
    `${env.machine}, ${env.cpuModel}, ${env.cores} cores, Node ${env.node}, load ${env.loadAverage.map((l) => l.toFixed(2)).join(' ')}`,
  );
  const inputs = await benchInputs();
  const twelve = inputs.find((i) => i.name === 'jpeg-12mp-exif6');
  if (!twelve) throw new Error('the 12 MP input is missing');
  const result: Record<string, unknown> = { version: 1, quick, diditLatencyMs, environment: env, reps: REPS };

  if (wants('1')) {
    log('1/5 image step');
    result.image = await runImageStep(inputs, REPS.image, REPS.imageWarmup);
  }
  if (wants('heic')) {
    log('H: 12 MP HEIC vs 12 MP JPEG, time and peak memory (one process each)');
    result.heic = runHeicBench(REPS.heic);
  }
  if (wants('tuning')) {
    log('tuning: libvips threads, long edge, libuv pool');
    result.tuning = {
      image: await runImageTuning(twelve, REPS.tuning, 1),
      threadpool: runThreadpool([1, 2, 4, 8], 4, REPS.pool),
    };
  }
  if (wants('2')) {
    log(`2/5 processor overhead (Didit fixed at ${diditLatencyMs} ms, moto)`);
    // The cached-jsonpath moto: stock moto spends ~100 ms of CPU per PutEvents in its own rule matching
    // (see moto_launcher_cached.py), which would be charged to our publish step here.
    const moto = await startBenchMoto('cached');
    const floor = await startDiditFloor(diditLatencyMs);
    try {
      result.processor = await runProcessorOverhead({
        motoEndpoint: moto.endpoint,
        floor,
        inputs,
        reps: REPS.processor,
        warmups: REPS.processorWarmup,
      });
    } finally {
      await floor.stop();
      await moto.stop();
    }
  }
  if (wants('3')) {
    log('3/5 cold start: bundles and module init');
    const cold = await runColdStart(REPS.cold);
    const profiles: Record<string, unknown> = {};
    for (const row of cold.rows) {
      if (row.bytes > TARGETS.bundleBytes || row.handler === 'process-upload') {
        profiles[row.handler] = await profileInit(row.handler);
      }
    }
    result.coldStart = { ...cold, initProfiles: profiles, experiments: await runBundleExperiments(REPS.cold) };
  }
  if (wants('4')) {
    log('4/5 end to end on the local stack');
    const workflows = synthesizeWorkflows();
    const selfie = await selfieJpeg();
    const profileDir = flag('cpu-prof') ? path.join(OUTPUT_DIR, 'bench', 'profiles') : undefined;
    const e2e = await runEndToEnd({
      latencyMs: diditLatencyMs,
      workflows,
      warmups: 1,
      ...(profileDir ? { cpuProfileDir: profileDir } : {}),
      // The local-stack fixes this benchmark found (moto's jsonpath cache, a pump that keeps receiving) have shipped.
      variants: [{ name: 'as shipped', moto: 'stock', pump: 'stock' }],
      scenarios: [
        { input: 'selfie-1080x1440', bytes: selfie, mime: 'image/jpeg', inFlight: 1, checks: REPS.e2eSequential },
        { input: 'selfie-1080x1440', bytes: selfie, mime: 'image/jpeg', inFlight: 20, checks: 20 * REPS.e2eWaves },
        { input: twelve.name, bytes: twelve.bytes, mime: 'image/jpeg', inFlight: 1, checks: REPS.e2eSequential },
        {
          input: twelve.name,
          bytes: twelve.bytes,
          mime: 'image/jpeg',
          inFlight: 20,
          checks: 20 * Math.max(1, REPS.e2eWaves - 1),
        },
      ],
    });
    const profiles = profileDir
      ? Object.fromEntries(
          ['as shipped'].map((variant) => [
            variant,
            profilesIn(path.join(profileDir, variant)).map((file) => summarizeProfile(file)),
          ]),
        )
      : undefined;
    result.endToEnd = { ...e2e, selfieBytes: selfie.byteLength, ...(profiles ? { profiles } : {}) };
  }
  result.environment = { ...env, loadAverageAtEnd: os.loadavg() };
  result.durationSeconds = Math.round((Date.now() - started) / 1000);

  const rows = tableRows(result);
  result.table = rows;
  mkdirSync(OUTPUT_DIR, { recursive: true });
  writeFileSync(path.join(OUTPUT_DIR, 'bench.json'), `${JSON.stringify(result, null, 2)}\n`);
  const header = `${env.machine} · ${env.cpuModel} · ${env.cores} cores · Node ${env.node} · load ${env.loadAverage
    .map((l) => l.toFixed(1))
    .join('/')} → ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join('/')} · ${quick ? 'QUICK (indicative)' : 'full'} run, ${result.durationSeconds} s`;
  const text = table(rows);
  writeFileSync(path.join(OUTPUT_DIR, 'bench.md'), `${header}\n\n${text}\n`);
  process.stdout.write(`${header}\n\n${text}\n\nfull results: test-output/bench.json · cost: npm run cost\n`);

  // A stray keep-alive socket or timer in a helper must not hold a finished run open; MISSes are findings, not errors.
  process.exit(0);
}

type Row = [string, string, string, string, string, string, string, string];

/** The one table: section, what, median, baseline (same run), ratio, target, result, detail. */
function tableRows(result: Record<string, unknown>): Row[] {
  const rows: Row[] = [['#', 'measurement', 'median', 'baseline (same run)', 'ratio', 'target', 'result', 'detail']];
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');

  const image = result.image as Awaited<ReturnType<typeof runImageStep>> | undefined;
  if (image) {
    for (const r of image.rows) {
      const dims = `${r.inputWidth}×${r.inputHeight}, ${bytes(r.inputBytes)}`;
      const out = `→ ${r.oursOutput.width}×${r.oursOutput.height} ${bytes(r.oursOutput.bytes)} q${r.oursOutput.quality}, ${r.oursOutput.encodes} encode(s)`;
      if (r.vipsWork !== undefined && r.vipsProcess) {
        const isTarget = r.input === 'jpeg-12mp-exif6';
        rows.push([
          '1',
          `image step ${r.label} (${dims})`,
          ms(r.ours.median),
          `vipsthumbnail work ${ms(r.vipsWork)} (process ${ms(r.vipsProcess.median)} − spawn ${ms(image.vips.spawn?.median ?? Number.NaN)})`,
          ratio(r.ours.median, r.vipsWork),
          isTarget ? `≤ ${TARGETS.imageVsNative}×` : '—',
          isTarget ? verdict(r.ours.median / r.vipsWork <= TARGETS.imageVsNative) : 'info',
          `${out}; vips → ${r.vipsOutput?.width}×${r.vipsOutput?.height} ${bytes(r.vipsOutput?.bytes ?? 0)}; CPU ours ${ms(r.oursCpu.median)} vs vips ${ms(r.vipsCpuWork ?? Number.NaN)} (${ratio(r.oursCpu.median, r.vipsCpuWork ?? Number.NaN)})`,
        ]);
      } else {
        rows.push([
          '1',
          `image step ${r.label} (${dims})`,
          ms(r.ours.median),
          'vipsthumbnail: not installed',
          'n/a',
          r.input === 'jpeg-12mp-exif6' ? `≤ ${TARGETS.imageVsNative}×` : '—',
          'n/a',
          `${out}; CPU ${ms(r.oursCpu.median)}`,
        ]);
      }
      rows.push([
        '1',
        `  same, vs naive pipeline (full decode, then resize)`,
        ms(r.ours.median),
        `naive ${ms(r.naive.median)}`,
        ratio(r.ours.median, r.naive.median),
        '—',
        'info',
        `naive → ${r.naiveOutput.width}×${r.naiveOutput.height} ${bytes(r.naiveOutput.bytes)}; one-pipeline variant ${ms(r.direct.median)} (${ratio(r.direct.median, r.ours.median)} of ours)`,
      ]);
    }
  }

  const processor = result.processor as Awaited<ReturnType<typeof runProcessorOverhead>> | undefined;
  if (processor) {
    for (const r of processor.rows) {
      const p = r.phases;
      rows.push([
        '2',
        `processor overhead per check, ${r.input}`,
        ms(r.overhead.median),
        `Didit fixed latency ${ms(processor.diditLatencyMs)}`,
        ratio(r.overhead.median, processor.diditLatencyMs),
        '—',
        'info',
        `claim ${ms(p.claim.median)}, S3 read ${ms(p.read.median)}, image ${ms(p.image.median)}, save answer ${ms(p.saveAnswer.median)}, complete ${ms(p.complete.median)}, publish ${ms(p.publish.median)}, mark published ${ms(p.markPublished.median)}, other ${ms(p.other.median)}; Didit client-side ${ms(r.diditClientSide.median)}`,
      ]);
    }
    rows.push([
      '2',
      'Didit connections / calls (one warm client)',
      `${processor.diditConnections} / ${processor.diditCalls}`,
      '1 connection',
      '—',
      '—',
      'info',
      `Secrets Manager calls: ${processor.secretsManagerCalls} for ${processor.checksProcessed} checks (cached ${300} s)`,
    ]);
  }

  const cold = result.coldStart as
    | (Awaited<ReturnType<typeof runColdStart>> & { experiments: Awaited<ReturnType<typeof runBundleExperiments>> })
    | undefined;
  if (cold) {
    for (const r of cold.rows) {
      rows.push([
        '3',
        `bundle ${r.handler}${r.sharpExternal ? ' (sharp external)' : ''}`,
        bytes(r.bytes),
        `target ${bytes(TARGETS.bundleBytes)}`,
        ratio(r.bytes, TARGETS.bundleBytes),
        `≤ ${bytes(TARGETS.bundleBytes)}`,
        verdict(r.bytes <= TARGETS.bundleBytes),
        r.top.map((t) => `${t.name} ${bytes(t.bytes)}`).join(', '),
      ]);
      rows.push([
        '3',
        `  init ${r.handler}: require() in a fresh process`,
        ms(r.requireMs.median),
        `node -e 0 ${ms(cold.nodeBaseline.median)} (whole process ${ms(r.processMs.median)})`,
        ratio(r.processMs.median, cold.nodeBaseline.median),
        '—',
        'info',
        `without --enable-source-maps ${ms(r.requireNoMapsMs.median)}`,
      ]);
    }
    for (const e of cold.experiments) {
      rows.push([
        '3',
        `  experiment: ${e.name}`,
        bytes(e.bytes),
        `target ${bytes(TARGETS.bundleBytes)}`,
        ratio(e.bytes, TARGETS.bundleBytes),
        '—',
        'info',
        `require() ${ms(e.requireMs.median)} (no source maps)`,
      ]);
    }
  }

  const tuning = result.tuning as
    | {
        image: Awaited<ReturnType<typeof runImageTuning>>;
        threadpool: ReturnType<typeof runThreadpool>;
      }
    | undefined;
  if (tuning) {
    const t = tuning.image;
    rows.push([
      'T',
      'tuning: 12 MP image step, 2 libvips threads (sharp.concurrency(2))',
      ms(t.sharpThreads2.median),
      `1 thread (default here: ${t.defaultSharpConcurrency}) ${ms(t.sharpThreads1.median)}`,
      ratio(t.sharpThreads2.median, t.sharpThreads1.median),
      '—',
      'info',
      t.vipsThreads1 && t.vipsThreadsDefault
        ? `vipsthumbnail: 1 thread ${ms(t.vipsThreads1.median)}, default threads ${ms(t.vipsThreadsDefault.median)}`
        : 'vipsthumbnail: not installed',
    ]);
    rows.push([
      'T',
      'tuning: 12 MP, one pipeline (no raw round trip) with 2 libvips threads',
      ms(t.directThreads2.median),
      `ours, 1 thread ${ms(t.sharpThreads1.median)}`,
      ratio(t.directThreads2.median, t.sharpThreads1.median),
      '—',
      'info',
      `one pipeline, 1 thread ${ms(t.directThreads1.median)}; vs vipsthumbnail (default threads) ${t.vipsThreadsDefault ? ratio(t.directThreads2.median, t.vipsThreadsDefault.median) : 'n/a'} in process time`,
    ]);
    rows.push([
      'T',
      'tuning: 12 MP image step, IMAGE_MAX_LONG_EDGE=1344 (JPEG shrink-on-load ×2)',
      ms(t.longEdge1344.median),
      `long edge 1920 ${ms(t.sharpThreads1.median)}`,
      ratio(t.longEdge1344.median, t.sharpThreads1.median),
      '—',
      'info',
      `→ ${t.longEdge1344Output.width}×${t.longEdge1344Output.height} ${bytes(t.longEdge1344Output.bytes)}`,
    ]);
    const base = tuning.threadpool.find((r) => r.uvThreadpoolSize === 4);
    for (const r of tuning.threadpool) {
      rows.push([
        'T',
        `tuning: UV_THREADPOOL_SIZE=${r.uvThreadpoolSize}, ${r.inFlight} × 12 MP in flight`,
        `${r.imagesPerSecond.toFixed(1)} images/s`,
        `UV_THREADPOOL_SIZE=4 (Node default) ${base ? base.imagesPerSecond.toFixed(1) : 'n/a'} images/s`,
        base ? ratio(r.imagesPerSecond, base.imagesPerSecond) : 'n/a',
        '—',
        'info',
        `round of ${r.inFlight}: ${ms(r.roundMs)}`,
      ]);
    }
  }

  const e2e = result.endToEnd as Awaited<ReturnType<typeof runEndToEnd>> | undefined;
  if (e2e) {
    for (const r of e2e.rows) {
      const isTarget = r.inFlight === 20 && r.input.startsWith('selfie') && r.variant === 'as shipped';
      const c = r.calls;
      const call = (name: string) => (c[name] ? ms(c[name].median) : 'n/a');
      rows.push([
        '4',
        `end to end ${r.input}, ${r.inFlight} in flight, ${r.variant}`,
        ms(r.latency.median),
        `Didit floor ${ms(e2e.diditLatencyMs)}`,
        ratio(r.latency.median, e2e.diditLatencyMs),
        isTarget ? `≤ ${TARGETS.e2eAt20}×` : '—',
        isTarget ? verdict(r.latency.median / e2e.diditLatencyMs <= TARGETS.e2eAt20) : 'info',
        `p75 ${ms(r.latency.p75)}, max ${ms(r.latency.max)}; create ${ms(r.create.median)}, upload ${ms(r.upload.median)}; calls: claim ${call('store.claim')}, S3 read ${call('s3.read')}, Didit ${call('didit.checkLiveness')}, complete ${call('store.complete')}, publish ${call('events.publish')}; CPU per check: stack ${ms(r.stackCpuMsPerCheck)}, moto ${ms(r.motoCpuMsPerCheck ?? Number.NaN)}${r.failed ? `; ${r.failed} not COMPLETED` : ''}`,
      ]);
    }
  }

  const heic = result.heic as ReturnType<typeof runHeicBench> | undefined;
  if (heic) {
    const h = heic.heic;
    const j = heic.jpeg;
    rows.push([
      'H',
      `image step 12 MP phone HEIC (8×6 HEVC tiles, irot + EXIF 6, ${bytes(h.inputBytes)})`,
      ms(h.medianMs),
      `12 MP JPEG, EXIF 6 (${bytes(j.inputBytes)}) ${ms(j.medianMs)}`,
      ratio(h.medianMs, j.medianMs),
      '—',
      'info',
      `libheif decode alone ${ms(h.decodeMedianMs ?? Number.NaN)}; first in a fresh process ${ms(h.firstMs)} (JPEG ${ms(j.firstMs)}); → ${h.output.width}×${h.output.height} ${bytes(h.output.bytes)} q${h.output.quality}`,
    ]);
    rows.push([
      'H',
      'peak resident memory, 12 MP HEIC path (one process)',
      `${h.peakRssMb.toFixed(0)} MB`,
      `12 MP JPEG path ${j.peakRssMb.toFixed(0)} MB`,
      ratio(h.peakRssMb, j.peakRssMb),
      `< processor ${1024} MB`,
      verdict(h.peakRssMb < 1024),
      `before the first image: HEIC ${h.baseRssMb.toFixed(0)} MB, JPEG ${j.baseRssMb.toFixed(0)} MB; JPEG ≤ 500000 B: ${verdict(h.output.bytes <= TARGETS.outputBytes)}`,
    ]);
  }

  if (image) {
    for (const r of image.rows) {
      const sent = processor?.rows.find((p) => p.input === r.input)?.bytesSentToDidit;
      rows.push([
        '5',
        `bytes to Didit, ${r.label}`,
        sent !== undefined ? `${sent} B` : `${r.oursOutput.bytes} B (JPEG)`,
        `original ${r.inputBytes} B`,
        ratio(sent ?? r.oursOutput.bytes, r.inputBytes),
        `JPEG ≤ ${TARGETS.outputBytes} B`,
        verdict(r.oursOutput.bytes <= TARGETS.outputBytes),
        `JPEG ${r.oursOutput.bytes} B${sent !== undefined ? ` + multipart ${sent - r.oursOutput.bytes} B` : ''}`,
      ]);
    }
  }
  return rows;
}

await main();

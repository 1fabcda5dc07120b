import { SETTINGS } from '../lambdas/core/settings/schema';
import { startBanner } from './banner';
import { clientAppsFromEnv, type LocalClientApp } from './client-apps';
import { quotaFromEnv } from './didit-quota';
import { startLocalStack } from './local-stack';
import { MotoUnavailableError, motoPython } from './moto';

/**
 * `npm start`: the whole service on 127.0.0.1 with the embedded defaults. Environment: PORT (3000),
 * LIVENESS_API_KEY (local-dev-key: the "default" client app's key), LIVENESS_API_KEYS ("app-a:key-a,app-b:key-b": one
 * key per client app, each seeing only its own checks), DIDIT_API_KEY (unset → Didit simulator), DIDIT_BASE_URL, PRESCREEN (false),
 * DIDIT_REQUESTS_PER_MINUTE (the shared Didit budget, 280), and for the simulator DIDIT_SIM_RATE_LIMIT (300),
 * DIDIT_SIM_RATE_WINDOW_SECONDS (60) and DIDIT_SIM_CREDITS (unlimited).
 */
// The emulator first: without moto nothing else can start, and the person gets one message saying what to run.
try {
  await motoPython((line) => console.error(line));
} catch (error) {
  if (!(error instanceof MotoUnavailableError)) throw error;
  console.error(error.message);
  process.exit(1);
}

let clientApps: LocalClientApp[];
try {
  clientApps = clientAppsFromEnv(process.env);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}

const port = Number(process.env.PORT || 3000);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT=${process.env.PORT} is not a port number (0-65535).`);
  process.exit(1);
}

const budget = process.env.DIDIT_REQUESTS_PER_MINUTE || String(SETTINGS.diditRequestsPerMinute.default);
const stack = await startLocalStack({
  port,
  clientApps,
  diditApiKey: process.env.DIDIT_API_KEY || undefined,
  diditBaseUrl: process.env.DIDIT_BASE_URL || undefined,
  diditQuota: quotaFromEnv(),
  prescreen: process.env.PRESCREEN === 'true',
  diditWebhookSecret: process.env.DIDIT_WEBHOOK_SECRET || undefined,
  webhookSigningSecret: process.env.LIVENESS_WEBHOOK_SECRET || undefined,
  // The simulator sends Didit's status.updated webhooks back to this API, as Didit would to a deployed one.
  diditWebhooks: { log: (line) => console.log(line) },
  log: (line) => console.error(line),
  onEvent: (event) => {
    const d = event.detail;
    const summary = d.error ? `error=${(d.error as { code: string }).code}` : `decision=${d.decision} score=${d.score}`;
    console.log(`event  ${event['detail-type']}  id=${d.id}  ${summary}`);
  },
}).catch((error: NodeJS.ErrnoException) => {
  // Another `npm start` (or anything else) on the port: say so and how to pick another, not a Node stack trace.
  if (error.code !== 'EADDRINUSE') throw error;
  console.error(
    `Port ${port} on 127.0.0.1 is already in use (another npm start?). Stop it, or run: PORT=${port + 1} npm start`,
  );
  process.exit(1);
});

console.log(startBanner(stack, { env: process.env, budget }));

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping…');
    await stack.stop();
    process.exit(0);
  });
}

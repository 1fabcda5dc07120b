import { SETTINGS } from '../lambdas/core/settings/schema';
import { clientAppsFromEnv, type LocalClientApp } from './client-apps';
import { quotaFromEnv } from './didit-quota';
import { CREDITS_PATH } from './didit-simulator';
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

const budget = process.env.DIDIT_REQUESTS_PER_MINUTE || String(SETTINGS.diditRequestsPerMinute.default);
const stack = await startLocalStack({
  port: Number(process.env.PORT ?? 3000),
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
});

console.log(`
Liveness service running on 127.0.0.1
  API        ${stack.apiUrl}
  Browser    ${stack.apiUrl}/   (sample client: camera or file → decision)
${clientAppLines()}
  Didit      ${stack.diditSimulator ? `simulator at ${stack.diditBaseUrl} (set DIDIT_API_KEY for real Didit)` : stack.diditBaseUrl}
  Budget     ${budget} Didit calls/min for every function together (DIDIT_REQUESTS_PER_MINUTE); past it checks WAIT
${simulatorLines()}
  AWS        moto_server at ${stack.motoEndpoint}
  Pre-screen ${stack.rekognitionSimulator ? `on (Rekognition simulator at ${stack.rekognitionSimulator.url})` : 'off (PRESCREEN=true to enable)'}
  Retries    Step Functions (local runtime, the state machines cdk synth renders), sweeper every 5 s
  Webhooks   callbacks signed per client app (above); ${process.env.LIVENESS_WEBHOOK_SECRET ? `"${stack.clientApps[0]?.app}" with LIVENESS_WEBHOOK_SECRET` : 'each app verifies only its own'}
             callback URLs: https on 443, or http(s) to 127.0.0.1/localhost; never link-local or metadata addresses
             Didit webhooks: POST ${stack.apiUrl}/v1/webhooks/didit (secret: ${process.env.DIDIT_WEBHOOK_SECRET ? 'DIDIT_WEBHOOK_SECRET' : stack.diditWebhookSecret})
             ${stack.diditSimulator ? 'the simulator sends them for saved requests; vendor_data "sim:review" → In Review, then Declined' : ''}

Try it:
  npx liveness verify test/fixtures/astronaut.png
  curl -s -X POST ${stack.apiUrl}/v1/liveness-checks -H 'x-api-key: ${stack.apiKey}' -H 'content-type: application/json' -d '{}'
Press Ctrl-C to stop.
`);

/** Each client app: the key it sends (header x-api-key) and the secret its callbacks are signed with. */
function clientAppLines(): string {
  const lines = stack.clientApps.map((client, index) => {
    const secret =
      index === 0 && process.env.LIVENESS_WEBHOOK_SECRET ? 'LIVENESS_WEBHOOK_SECRET' : client.webhookSigningSecret;
    return `${index === 0 ? '  Clients   ' : '           '} ${client.app}: x-api-key ${client.apiKey}   webhooks signed with ${secret}`;
  });
  lines.push('             (each client app sees only its own checks: LIVENESS_API_KEYS="app-a:key-a,app-b:key-b")');
  return lines.join('\n');
}

/** What the simulator enforces, and how to run it dry or top it up while the stack runs. */
function simulatorLines(): string {
  const sim = stack.diditSimulator;
  if (!sim) return '';
  const credits = sim.quota.credits === undefined ? 'unlimited credits' : `${sim.quota.credits} credits`;
  const url = `${stack.diditBaseUrl}${CREDITS_PATH}`;
  return [
    `  Simulator  ${sim.quota.limit} requests per ${sim.quota.windowMs / 1000} s (429 past it), ${credits} (402 at 0)`,
    `             run it dry: curl -s -X POST ${url} -d '{"credits":0}'   top up: -d '{"credits":1000}'`,
  ].join('\n');
}

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

import { CREDITS_PATH } from './didit-simulator';
import type { LocalStack } from './local-stack';

type BannerStack = Pick<
  LocalStack,
  | 'apiUrl'
  | 'apiKey'
  | 'clientApps'
  | 'diditSimulator'
  | 'diditBaseUrl'
  | 'motoEndpoint'
  | 'rekognitionSimulator'
  | 'diditWebhookSecret'
>;

/**
 * What `npm start` prints once the stack runs: where everything is (the API, the emulator endpoint, Didit), every
 * client app with its key and signing secret, and how to try it. Secrets given by environment are named, not printed.
 */
export function startBanner(
  stack: BannerStack,
  options: { readonly env: Readonly<Record<string, string | undefined>>; readonly budget: string },
): string {
  const { env } = options;
  return `
Liveness service running on 127.0.0.1
  API        ${stack.apiUrl}   (Host must be 127.0.0.1 or localhost with this port)
  Browser    ${stack.apiUrl}/   (sample client: camera or file → decision)
${clientAppLines(stack, env)}
  Didit      ${stack.diditSimulator ? `simulator at ${stack.diditBaseUrl} (set DIDIT_API_KEY for real Didit)` : stack.diditBaseUrl}
  Budget     ${options.budget} Didit calls/min for every function together (DIDIT_REQUESTS_PER_MINUTE); past it checks WAIT
${simulatorLines(stack)}
  AWS        moto_server at ${stack.motoEndpoint}
  Pre-screen ${stack.rekognitionSimulator ? `on (Rekognition simulator at ${stack.rekognitionSimulator.url})` : 'off (PRESCREEN=true to enable)'}
  Retries    Step Functions (local runtime, the state machines cdk synth renders), sweeper every 5 s
  Webhooks   signed per client app (above): each app's receivers verify only its own
             callback URLs: https on 443, or http(s) to 127.0.0.1/localhost; never link-local or metadata addresses
             Didit webhooks: POST ${stack.apiUrl}/v1/webhooks/didit (secret: ${env.DIDIT_WEBHOOK_SECRET ? 'DIDIT_WEBHOOK_SECRET' : stack.diditWebhookSecret})
             ${stack.diditSimulator ? 'the simulator sends them for saved requests; vendor_data "sim:review" → In Review, then Declined' : ''}

Try it:
  npx liveness verify test/fixtures/astronaut.png${stack.clientApps.length > 1 ? ` --key ${stack.apiKey}` : ''}
  curl -s -X POST ${stack.apiUrl}/v1/liveness-checks -H 'x-api-key: ${stack.apiKey}' -H 'content-type: application/json' -d '{}'
  npx liveness list --vendor-data user-123${stack.clientApps.length > 1 ? ` --key ${stack.apiKey}` : ''}
Press Ctrl-C to stop.
`;
}

/** Each client app: the key it sends (header x-api-key) and the secret its callbacks are signed with. */
function clientAppLines(stack: BannerStack, env: Readonly<Record<string, string | undefined>>): string {
  const lines = stack.clientApps.map((client, index) => {
    const secret = index === 0 && env.LIVENESS_WEBHOOK_SECRET ? 'LIVENESS_WEBHOOK_SECRET' : client.webhookSigningSecret;
    const label = index === 0 ? '  Clients   ' : '           ';
    return `${label} ${client.app}: x-api-key ${client.apiKey}   webhooks signed with ${secret}`;
  });
  lines.push('             (each client app sees only its own checks; LIVENESS_API_KEYS="app-a:key-a,app-b:key-b")');
  return lines.join('\n');
}

/** What the simulator enforces, and how to run it dry or top it up while the stack runs. */
function simulatorLines(stack: BannerStack): string {
  const sim = stack.diditSimulator;
  if (!sim) return '';
  const credits = sim.quota.credits === undefined ? 'unlimited credits' : `${sim.quota.credits} credits`;
  const url = `${stack.diditBaseUrl}${CREDITS_PATH}`;
  return [
    `  Simulator  ${sim.quota.limit} requests per ${sim.quota.windowMs / 1000} s (429 past it), ${credits} (402 at 0)`,
    `             run it dry: curl -s -X POST ${url} -d '{"credits":0}'   top up: -d '{"credits":1000}'`,
  ].join('\n');
}

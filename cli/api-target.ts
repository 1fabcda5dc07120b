import { readFile } from 'node:fs/promises';
import { CliError } from './cli-error';

/** Where `npm start` listens, and the key it accepts unless LIVENESS_API_KEY says otherwise. */
export const LOCAL_API_URL = 'http://127.0.0.1:3000';
export const LOCAL_API_KEY = 'local-dev-key';

export interface ApiTarget {
  /** Always ends with `/`, so a deployed stage path (`…/prod/`) survives joining `v1/liveness-checks` onto it. */
  readonly baseUrl: string;
  readonly apiKey: string;
  /** Where the URL came from, for progress output and error hints. */
  readonly source: string;
}

export interface ApiTargetInput {
  readonly api: string | undefined;
  readonly key: string | undefined;
  readonly stackOutputs: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * The API URL comes from --api, else --stack-outputs, else LIVENESS_API_URL, else the local stack; the key from
 * --key, else LIVENESS_API_KEY, else the local stack's key, which is only assumed for a loopback API: sending it to a
 * deployed stack would just earn a 401, so asking for the real key up front is the clearer message.
 */
export async function resolveApiTarget(input: ApiTargetInput): Promise<ApiTarget> {
  let url: string;
  let source: string;
  let apiKeyId: string | undefined;
  if (input.api !== undefined) {
    url = input.api;
    source = '--api';
  } else if (input.stackOutputs !== undefined) {
    const outputs = await readStackOutputs(input.stackOutputs);
    url = outputs.apiUrl;
    apiKeyId = outputs.apiKeyId;
    source = `${input.stackOutputs} (stack ${outputs.stackName})`;
  } else if (input.env.LIVENESS_API_URL) {
    url = input.env.LIVENESS_API_URL;
    source = 'LIVENESS_API_URL';
  } else {
    url = LOCAL_API_URL;
    source = 'the local stack default';
  }
  const baseUrl = normaliseBaseUrl(url, source);

  const apiKey = input.key ?? (input.env.LIVENESS_API_KEY || undefined);
  if (apiKey !== undefined) return { baseUrl, apiKey, source };
  if (isLoopback(baseUrl)) return { baseUrl, apiKey: LOCAL_API_KEY, source };
  throw new CliError('USAGE_ERROR', `no API key for ${baseUrl}: pass --key or set LIVENESS_API_KEY`, {
    hint: `Read a deployed stack's key with: aws apigateway get-api-key --api-key ${apiKeyId ?? '<ApiKeyId output>'} --include-value --query value --output text`,
  });
}

/** Joins an API path onto the base without losing a stage path: `https://x/prod/` + `v1/…` → `https://x/prod/v1/…`. */
export function apiUrl(target: Pick<ApiTarget, 'baseUrl'>, path: string): string {
  return new URL(path.replace(/^\/+/, ''), target.baseUrl).toString();
}

function normaliseBaseUrl(raw: string, source: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError('USAGE_ERROR', `the API URL from ${source} is not a URL: "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError('USAGE_ERROR', `the API URL from ${source} must be http(s), got "${raw}"`);
  }
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.toString();
}

function isLoopback(baseUrl: string): boolean {
  const host = new URL(baseUrl).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * `cdk deploy --outputs-file` writes `{ "<StackName>": { "ApiUrl": "...", "ApiKeyId": "...", ... } }`. Any stack that
 * has an ApiUrl qualifies, so the file of a multi-stack app works as long as only one of them is this service.
 */
async function readStackOutputs(path: string): Promise<{ stackName: string; apiUrl: string; apiKeyId?: string }> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new CliError('USAGE_ERROR', `cannot read --stack-outputs ${path}: ${(error as Error).message}`, {
      hint: 'Write it with: npx cdk deploy --outputs-file cdk-outputs.json',
      cause: error,
    });
  }
  const candidates = Object.entries(isRecord(parsed) ? parsed : {}).flatMap(([stackName, outputs]) =>
    isRecord(outputs) && typeof outputs.ApiUrl === 'string'
      ? [
          {
            stackName,
            apiUrl: outputs.ApiUrl,
            ...(typeof outputs.ApiKeyId === 'string' ? { apiKeyId: outputs.ApiKeyId } : {}),
          },
        ]
      : [],
  );
  const [only, ...others] = candidates;
  if (only === undefined) throw new CliError('USAGE_ERROR', `${path} has no stack with an ApiUrl output`);
  if (others.length > 0) {
    const names = candidates.map((c) => c.stackName).join(', ');
    throw new CliError('USAGE_ERROR', `${path} has several stacks with an ApiUrl (${names}); pass --api instead`);
  }
  return only;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

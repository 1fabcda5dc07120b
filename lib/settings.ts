import * as logs from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';
import { LIMITS } from './liveness-service';

/**
 * Stack-level configuration read from CDK context, validated once before any construct is created. Values come, in
 * this order of precedence, from `cdk synth -c key=value` (or a top-level `cdk.json` context key), from the entry of
 * `cdk.json`'s `environments` selected with `-c env=<name>`, and from {@link DEFAULT_SETTINGS}. Values from `-c`
 * always arrive as strings, so every reader accepts the string form too. docs/operations.md has the table.
 */

export type LambdaArchitecture = 'arm64' | 'x86_64';
export type AuthorizationSetting = 'apiKey' | 'iam' | 'cognito';
export type RemovalPolicySetting = 'retain' | 'destroy';

export interface LivenessSettings {
  /** Run Rekognition DetectFaces before calling Didit. */
  readonly prescreen: boolean;
  /** Didit score (0–100) below which a check is declined when the request names no threshold. */
  readonly defaultDeclineThreshold: number;
  /** Days S3 keeps an uploaded image before the lifecycle rule deletes it. */
  readonly uploadRetentionDays: number;
  /** CPU architecture of every function. */
  readonly architecture: LambdaArchitecture;
  /** Didit API origin, https only. */
  readonly diditBaseUrl: string;
  /** Lifetime of the presigned POST handed to the client. */
  readonly uploadUrlTtlSeconds: number;
  /** Days a check record lives before DynamoDB TTL removes it. */
  readonly checkRetentionDays: number;
  /** Browser origins allowed to POST uploads to the bucket. */
  readonly corsAllowedOrigins: readonly string[];
  /** How callers of the check API authenticate. */
  readonly authorization: AuthorizationSetting;
  /** The user pool whose tokens the API accepts; with `authorization: cognito` only. */
  readonly cognitoUserPoolArn: string | undefined;
  /** Address subscribed to a new alarm topic; no topic when unset. */
  readonly alarmEmail: string | undefined;
  /** Memory of the image processor, MiB. */
  readonly processorMemorySize: number;
  /** Memory of every other function, MiB. */
  readonly memorySize: number;
  /** Didit attempts per check, the first included. */
  readonly diditMaxAttempts: number;
  /** Cap of the first wait before retrying Didit; later caps double. */
  readonly diditRetryBaseDelaySeconds: number;
  /** Largest cap of a wait before retrying Didit. */
  readonly diditRetryMaxDelaySeconds: number;
  /** How long one webhook delivery keeps retrying. */
  readonly webhookRetryHorizonHours: number;
  /** What happens to the stateful resources when they leave the stack. */
  readonly removalPolicy: RemovalPolicySetting;
  /** Days CloudWatch keeps the function, API and workflow logs (a CloudWatch Logs retention value). */
  readonly logRetentionDays: number;
  /** Minutes past due after which a check counts as stuck (alarm). */
  readonly stuckCheckMinutes: number;
  /** Steady-state requests per second per API key and stage. */
  readonly throttlingRateLimit: number;
  /** Request burst per API key and stage. */
  readonly throttlingBurstLimit: number;
}

export const DEFAULT_SETTINGS: LivenessSettings = {
  prescreen: false,
  defaultDeclineThreshold: 30,
  uploadRetentionDays: 1,
  architecture: 'arm64',
  diditBaseUrl: 'https://verification.didit.me',
  uploadUrlTtlSeconds: 300,
  checkRetentionDays: 30,
  corsAllowedOrigins: ['*'],
  authorization: 'apiKey',
  cognitoUserPoolArn: undefined,
  alarmEmail: undefined,
  processorMemorySize: 1024,
  memorySize: 256,
  diditMaxAttempts: 5,
  diditRetryBaseDelaySeconds: 5,
  diditRetryMaxDelaySeconds: 60,
  webhookRetryHorizonHours: 24,
  removalPolicy: 'retain',
  logRetentionDays: 30,
  stuckCheckMinutes: 15,
  throttlingRateLimit: 10,
  throttlingBurstLimit: 20,
};

const SETTING_KEYS = Object.keys(DEFAULT_SETTINGS) as ReadonlyArray<keyof LivenessSettings>;

/** Context key naming the `environments` entry to use. */
export const ENVIRONMENT_KEY = 'env';
/** Context key holding the named environments (`cdk.json`). */
export const ENVIRONMENTS_KEY = 'environments';

/** Where an environment entry deploys; account and region may be pinned in it (prod, usually). */
export interface DeploymentTarget {
  /** The `environments` entry selected with `-c env=<name>`; undefined when none is. */
  readonly name: string | undefined;
  /** 12-digit AWS account id pinned by the entry. */
  readonly account: string | undefined;
  /** AWS region pinned by the entry. */
  readonly region: string | undefined;
}

/** Thrown when a context value is missing its expected shape; the message names the key and the value received. */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

type ContextNode = Pick<Node, 'tryGetContext'>;

/** Reads every setting from the construct tree's context and the selected environment, falling back to defaults. */
export function readSettings(node: ContextNode): LivenessSettings {
  const environment = selectedEnvironment(node).values;
  const get = (key: keyof LivenessSettings): unknown => {
    const value = node.tryGetContext(key);
    return isAbsent(value) ? environment[key] : value;
  };
  const number = (key: keyof LivenessSettings, limits: { min: number; max: number }, integer: boolean): number =>
    readNumber(key, get(key), { fallback: DEFAULT_SETTINGS[key] as number, ...limits, integer });

  const settings: LivenessSettings = {
    prescreen: readBoolean('prescreen', get('prescreen'), DEFAULT_SETTINGS.prescreen),
    defaultDeclineThreshold: number('defaultDeclineThreshold', LIMITS.defaultDeclineThreshold, false),
    uploadRetentionDays: number('uploadRetentionDays', LIMITS.uploadRetentionDays, true),
    architecture: readChoice('architecture', get('architecture'), ['arm64', 'x86_64'], DEFAULT_SETTINGS.architecture),
    diditBaseUrl: readHttpsUrl('diditBaseUrl', get('diditBaseUrl'), DEFAULT_SETTINGS.diditBaseUrl),
    uploadUrlTtlSeconds: number('uploadUrlTtlSeconds', LIMITS.uploadUrlTtlSeconds, true),
    checkRetentionDays: number('checkRetentionDays', LIMITS.checkRetentionDays, true),
    corsAllowedOrigins: readOrigins(get('corsAllowedOrigins')),
    authorization: readChoice(
      'authorization',
      get('authorization'),
      ['apiKey', 'iam', 'cognito'],
      DEFAULT_SETTINGS.authorization,
    ),
    cognitoUserPoolArn: readOptionalString(
      'cognitoUserPoolArn',
      get('cognitoUserPoolArn'),
      /^arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:\d{12}:userpool\/[\w-]+_[0-9a-zA-Z]+$/,
      'a Cognito user pool ARN (arn:aws:cognito-idp:<region>:<account>:userpool/<id>)',
    ),
    alarmEmail: readOptionalString('alarmEmail', get('alarmEmail'), /^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'an email address'),
    processorMemorySize: number('processorMemorySize', LIMITS.processorMemorySize, true),
    memorySize: number('memorySize', LIMITS.memorySize, true),
    diditMaxAttempts: number('diditMaxAttempts', LIMITS.diditMaxAttempts, true),
    diditRetryBaseDelaySeconds: number('diditRetryBaseDelaySeconds', { min: 1, max: 300 }, true),
    diditRetryMaxDelaySeconds: number('diditRetryMaxDelaySeconds', { min: 1, max: 3600 }, true),
    webhookRetryHorizonHours: number('webhookRetryHorizonHours', { min: 1, max: 168 }, true),
    removalPolicy: readChoice(
      'removalPolicy',
      get('removalPolicy'),
      ['retain', 'destroy'],
      DEFAULT_SETTINGS.removalPolicy,
    ),
    logRetentionDays: readLogRetention(get('logRetentionDays')),
    stuckCheckMinutes: number('stuckCheckMinutes', LIMITS.stuckCheckMinutes, true),
    throttlingRateLimit: number('throttlingRateLimit', LIMITS.throttlingRateLimit, false),
    throttlingBurstLimit: number('throttlingBurstLimit', LIMITS.throttlingBurstLimit, true),
  };
  checkCombinations(settings);
  return settings;
}

/** The selected environment's name and pinned account/region (all undefined without `-c env=`). */
export function readDeploymentTarget(node: ContextNode): DeploymentTarget {
  const { name, values } = selectedEnvironment(node);
  const account = readOptionalString(
    `${ENVIRONMENTS_KEY}.${name}.account`,
    values.account,
    /^\d{12}$/,
    'a 12-digit id',
  );
  const region = readOptionalString(
    `${ENVIRONMENTS_KEY}.${name}.region`,
    values.region,
    /^[a-z]{2}(-[a-z]+)+-\d$/,
    'a region like "eu-west-1"',
  );
  return { name, account, region };
}

/** Settings that are valid alone but not together. */
function checkCombinations(settings: LivenessSettings): void {
  if (settings.authorization === 'cognito' && !settings.cognitoUserPoolArn) {
    throw new SettingsError('context "authorization" is "cognito", so "cognitoUserPoolArn" must name the user pool');
  }
  if (settings.authorization !== 'cognito' && settings.cognitoUserPoolArn) {
    throw new SettingsError(
      `context "cognitoUserPoolArn" is set but "authorization" is "${settings.authorization}"; ` +
        'set authorization=cognito or remove the ARN',
    );
  }
  if (settings.diditRetryMaxDelaySeconds < settings.diditRetryBaseDelaySeconds) {
    throw new SettingsError(
      `context "diditRetryMaxDelaySeconds" (${settings.diditRetryMaxDelaySeconds}) must be at least ` +
        `"diditRetryBaseDelaySeconds" (${settings.diditRetryBaseDelaySeconds})`,
    );
  }
  if (settings.checkRetentionDays < settings.uploadRetentionDays) {
    throw new SettingsError(
      `context "checkRetentionDays" (${settings.checkRetentionDays}) must be at least "uploadRetentionDays" ` +
        `(${settings.uploadRetentionDays})`,
    );
  }
}

/** The `environments` entry named by `-c env=`, checked for unknown keys (a typo would otherwise be ignored). */
function selectedEnvironment(node: ContextNode): { name: string | undefined; values: Record<string, unknown> } {
  const name = node.tryGetContext(ENVIRONMENT_KEY) as unknown;
  if (isAbsent(name)) return { name: undefined, values: {} };
  const environments = node.tryGetContext(ENVIRONMENTS_KEY) as unknown;
  const known = isRecord(environments) ? Object.keys(environments) : [];
  if (typeof name !== 'string' || !isRecord(environments) || !isRecord(environments[name])) {
    throw new SettingsError(
      `context "${ENVIRONMENT_KEY}" must name an entry of "${ENVIRONMENTS_KEY}" in cdk.json ` +
        `(${known.map((k) => JSON.stringify(k)).join(', ') || 'none defined'}), got ${JSON.stringify(name)}`,
    );
  }
  const values = environments[name] as Record<string, unknown>;
  const allowed = new Set<string>([...SETTING_KEYS, 'account', 'region']);
  const unknown = Object.keys(values).filter((key) => !allowed.has(key));
  if (unknown.length > 0) {
    throw new SettingsError(
      `${ENVIRONMENTS_KEY}.${name} has unknown keys ${unknown.map((k) => JSON.stringify(k)).join(', ')}; ` +
        `known: ${[...allowed].join(', ')}`,
    );
  }
  return { name, values };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isAbsent(value: unknown): value is undefined | null | '' {
  return value === undefined || value === null || value === '';
}

function readBoolean(key: string, value: unknown, fallback: boolean): boolean {
  if (isAbsent(value)) return fallback;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const text = value.trim().toLowerCase();
    if (text === 'true') return true;
    if (text === 'false') return false;
  }
  throw new SettingsError(`context "${key}" must be true or false, got ${JSON.stringify(value)}`);
}

function readNumber(
  key: string,
  value: unknown,
  opts: { fallback: number; min: number; max: number; integer: boolean },
): number {
  if (isAbsent(value)) return opts.fallback;
  const parsed = typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : Number.NaN;
  const kind = opts.integer ? 'a whole number' : 'a number';
  if (
    !Number.isFinite(parsed) ||
    (typeof value === 'string' && value.trim() === '') ||
    (opts.integer && !Number.isInteger(parsed)) ||
    parsed < opts.min ||
    parsed > opts.max
  ) {
    throw new SettingsError(
      `context "${key}" must be ${kind} from ${opts.min} to ${opts.max}, got ${JSON.stringify(value)}`,
    );
  }
  return parsed;
}

function readChoice<T extends string>(key: string, value: unknown, choices: readonly T[], fallback: T): T {
  if (isAbsent(value)) return fallback;
  if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as T;
  throw new SettingsError(
    `context "${key}" must be ${choices.map((c) => JSON.stringify(c)).join(' or ')}, got ${JSON.stringify(value)}`,
  );
}

function readOptionalString(key: string, value: unknown, pattern: RegExp, what: string): string | undefined {
  if (isAbsent(value)) return undefined;
  if (typeof value === 'string' && pattern.test(value.trim())) return value.trim();
  throw new SettingsError(`context "${key}" must be ${what}, got ${JSON.stringify(value)}`);
}

/** CloudWatch Logs accepts only these retention periods (days). */
const LOG_RETENTION_DAYS: readonly number[] = Object.values(logs.RetentionDays).filter(
  (value): value is number => typeof value === 'number' && value !== logs.RetentionDays.INFINITE,
);

function readLogRetention(value: unknown): number {
  if (isAbsent(value)) return DEFAULT_SETTINGS.logRetentionDays;
  const parsed = typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : Number.NaN;
  if (LOG_RETENTION_DAYS.includes(parsed)) return parsed;
  throw new SettingsError(
    `context "logRetentionDays" must be one of ${LOG_RETENTION_DAYS.join(', ')}, got ${JSON.stringify(value)}`,
  );
}

function readHttpsUrl(key: string, value: unknown, fallback: string): string {
  if (isAbsent(value)) return fallback;
  if (typeof value === 'string') {
    let url: URL | undefined;
    try {
      url = new URL(value.trim());
    } catch {
      url = undefined;
    }
    if (url?.protocol === 'https:' && url.username === '' && url.password === '') {
      return value.trim().replace(/\/+$/, '');
    }
  }
  throw new SettingsError(`context "${key}" must be an https:// URL without credentials, got ${JSON.stringify(value)}`);
}

/** Accepts a JSON array, a JSON-encoded array string, or a comma-separated string (`-c corsAllowedOrigins=a,b`). */
function readOrigins(value: unknown): readonly string[] {
  if (isAbsent(value)) return DEFAULT_SETTINGS.corsAllowedOrigins;
  let list: unknown = value;
  if (typeof value === 'string') {
    const text = value.trim();
    list = text.startsWith('[') ? parseJson(text) : text.split(',').map((origin) => origin.trim());
  }
  if (!Array.isArray(list) || list.length === 0 || !list.every((origin) => typeof origin === 'string')) {
    throw new SettingsError(
      `context "corsAllowedOrigins" must be a non-empty list of origins, got ${JSON.stringify(value)}`,
    );
  }
  for (const origin of list) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new SettingsError(
        'context "corsAllowedOrigins" entries must be "*" or an origin like "https://app.example.com" (no path), ' +
          `got ${JSON.stringify(origin)}`,
      );
    }
  }
  return list;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

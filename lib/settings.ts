import type { Node } from 'constructs';
import { LIMITS } from './liveness-service';

/**
 * Stack-level configuration read from CDK context (`cdk.json` or `cdk synth -c key=value`), validated once before any
 * construct is created. Values from `-c` always arrive as strings, so every reader accepts the string form too.
 */

export type LambdaArchitecture = 'arm64' | 'x86_64';

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
};

/** Thrown when a context value is missing its expected shape; the message names the key and the value received. */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

/** Reads every setting from the construct tree's context, falling back to {@link DEFAULT_SETTINGS}. */
export function readSettings(node: Pick<Node, 'tryGetContext'>): LivenessSettings {
  const get = (key: keyof LivenessSettings): unknown => node.tryGetContext(key);
  return {
    prescreen: readBoolean('prescreen', get('prescreen'), DEFAULT_SETTINGS.prescreen),
    defaultDeclineThreshold: readNumber('defaultDeclineThreshold', get('defaultDeclineThreshold'), {
      fallback: DEFAULT_SETTINGS.defaultDeclineThreshold,
      ...LIMITS.defaultDeclineThreshold,
      integer: false,
    }),
    uploadRetentionDays: readNumber('uploadRetentionDays', get('uploadRetentionDays'), {
      fallback: DEFAULT_SETTINGS.uploadRetentionDays,
      ...LIMITS.uploadRetentionDays,
      integer: true,
    }),
    architecture: readArchitecture(get('architecture')),
    diditBaseUrl: readHttpsUrl('diditBaseUrl', get('diditBaseUrl'), DEFAULT_SETTINGS.diditBaseUrl),
    uploadUrlTtlSeconds: readNumber('uploadUrlTtlSeconds', get('uploadUrlTtlSeconds'), {
      fallback: DEFAULT_SETTINGS.uploadUrlTtlSeconds,
      ...LIMITS.uploadUrlTtlSeconds,
      integer: true,
    }),
    checkRetentionDays: readNumber('checkRetentionDays', get('checkRetentionDays'), {
      fallback: DEFAULT_SETTINGS.checkRetentionDays,
      ...LIMITS.checkRetentionDays,
      integer: true,
    }),
    corsAllowedOrigins: readOrigins(get('corsAllowedOrigins')),
  };
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

function readArchitecture(value: unknown): LambdaArchitecture {
  if (isAbsent(value)) return DEFAULT_SETTINGS.architecture;
  if (value === 'arm64' || value === 'x86_64') return value;
  throw new SettingsError(`context "architecture" must be "arm64" or "x86_64", got ${JSON.stringify(value)}`);
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

import type { CheckRecord } from './check';

/**
 * Who owns a check: the caller that created it, as API Gateway authenticated it. One string per owner, prefixed by how
 * the caller authenticated, so an API-key client app, an IAM principal and a Cognito identity can never collide:
 *
 * - `apikey:<client app>`: the client app the API key belongs to (`clientApps` of the construct, one key each). A key
 *   the deployment does not know (added by hand to the usage plan) owns `apikey-id:<key id>`.
 * - `iam:<principal ARN>`: the signing principal. An assumed-role session counts as its role
 *   (`arn:aws:sts::<account>:assumed-role/<role>`): the session name is chosen by whoever assumes the role, so every
 *   session of one role is one owner.
 * - `cognito:<sub>` for a user's token; `cognito-client:<client_id>` for a client-credentials access token (no user).
 *
 * A check stored before owners existed has none and is visible to nobody ({@link isVisibleTo}).
 */
export type Owner = string;

/** The parts of API Gateway's `requestContext` the owner is read from (a structural subset of aws-lambda's type). */
export interface CallerContext {
  readonly identity?: {
    readonly apiKeyId?: string | null;
    readonly userArn?: string | null;
    readonly caller?: string | null;
  } | null;
  readonly authorizer?: unknown;
}

/** API key id → client app, as the construct hands it to the functions (`app-a=<key id>,app-b=<key id>`). */
export type ClientAppKeys = ReadonlyMap<string, string>;

/** A client app name: what `clientApps` accepts, what the local stack's `LIVENESS_API_KEYS` names. */
export const CLIENT_APP_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * Parses `app-a=<key id>,app-b=<key id>` into key id → app. Throws on a malformed entry: the stack writes this value,
 * so a bad one is a deployment bug to fail on at cold start.
 */
export function parseClientAppKeys(text: string): ClientAppKeys {
  const map = new Map<string, string>();
  for (const entry of text.split(',').map((part) => part.trim())) {
    if (entry === '') continue;
    const at = entry.indexOf('=');
    const app = entry.slice(0, at);
    const keyId = entry.slice(at + 1);
    if (at < 1 || !CLIENT_APP_NAME.test(app) || keyId === '') {
      throw new TypeError(`client app key entries must be "<app>=<api key id>", got "${entry}"`);
    }
    map.set(keyId, app);
  }
  return map;
}

/** The owner a request acts as, or undefined when API Gateway authenticated nobody (never the case behind it). */
export function ownerOf(context: CallerContext | null | undefined, appKeys: ClientAppKeys): Owner | undefined {
  const claims = (context?.authorizer as { claims?: Record<string, unknown> } | null | undefined)?.claims;
  if (claims && typeof claims === 'object') {
    const isUser = typeof claims.username === 'string' || typeof claims['cognito:username'] === 'string';
    if (!isUser && claims.token_use === 'access' && typeof claims.client_id === 'string' && claims.client_id) {
      return `cognito-client:${claims.client_id}`;
    }
    if (typeof claims.sub === 'string' && claims.sub) return `cognito:${claims.sub}`;
    return undefined;
  }
  const identity = context?.identity;
  // `userArn` is the signing principal's ARN (`caller` is only its unique id, e.g. AROA…:session).
  if (identity?.userArn) return `iam:${principalOf(identity.userArn)}`;
  const keyId = identity?.apiKeyId;
  if (keyId) {
    const app = appKeys.get(keyId);
    return app ? `apikey:${app}` : `apikey-id:${keyId}`;
  }
  return undefined;
}

/** `arn:aws:sts::1:assumed-role/Role/session` → `arn:aws:sts::1:assumed-role/Role`; any other ARN as it is. */
export function principalOf(arn: string): string {
  const match = /^(arn:[^:]+:sts::\d+:assumed-role\/[^/]+)\/.+$/.exec(arn);
  return match?.[1] ?? arn;
}

/** The client app an owner is, when it is an API-key client app (its webhooks are signed with that app's secret). */
export function clientAppOf(owner: Owner | undefined): string | undefined {
  return owner?.startsWith('apikey:') ? owner.slice('apikey:'.length) : undefined;
}

/**
 * The one rule of who sees a check: its owner, nobody else. A check without an owner (stored before checks had one)
 * is visible to nobody until an operator assigns it one (SECURITY.md, "Tenancy").
 */
export function isVisibleTo(record: Pick<CheckRecord, 'owner'>, owner: Owner): boolean {
  return record.owner !== undefined && record.owner === owner;
}

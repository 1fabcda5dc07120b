import { CLIENT_APP_NAME } from '../lambdas/core/caller';

/** One client app of the local stack: its name (the owner of its checks) and the `x-api-key` it sends. */
export interface LocalClientApp {
  readonly app: string;
  readonly apiKey: string;
}

/** The app a lone `LIVENESS_API_KEY` (or no key setting at all) belongs to: the construct's default client app. */
export const DEFAULT_CLIENT_APP = 'default';

/** The id API Gateway would give the app's key; the local API server puts it in `requestContext.identity.apiKeyId`. */
export function localApiKeyId(app: string): string {
  return `local-key-${app}`;
}

/**
 * Reads `LIVENESS_API_KEYS="app-a:key-a,app-b:key-b"` (client app : key) and `LIVENESS_API_KEY` (the key of the
 * client app "default"; `local-dev-key` when neither is set). Given both, "default" comes first, then the list.
 * Throws with one message naming the variable and the bad entry.
 */
export function clientAppsFromEnv(env: Record<string, string | undefined>): LocalClientApp[] {
  const list = env.LIVENESS_API_KEYS?.trim();
  if (!list) return [{ app: DEFAULT_CLIENT_APP, apiKey: env.LIVENESS_API_KEY || 'local-dev-key' }];
  const apps: LocalClientApp[] = env.LIVENESS_API_KEY
    ? [{ app: DEFAULT_CLIENT_APP, apiKey: env.LIVENESS_API_KEY }]
    : [];
  for (const entry of list.split(',').map((part) => part.trim())) {
    const at = entry.indexOf(':');
    const app = entry.slice(0, at);
    const apiKey = entry.slice(at + 1);
    if (at < 1 || !CLIENT_APP_NAME.test(app) || !/^[\x21-\x7e]{1,128}$/.test(apiKey)) {
      throw new Error(
        `LIVENESS_API_KEYS entries must be "<client app>:<key>" (app: lowercase letters, digits and "-"; key: up to ` +
          `128 printable characters without spaces or commas), got "${entry}"`,
      );
    }
    if (apps.some((other) => other.app === app)) {
      throw new Error(`LIVENESS_API_KEYS names client app "${app}" twice (or "default" beside LIVENESS_API_KEY)`);
    }
    if (apps.some((other) => other.apiKey === apiKey)) {
      throw new Error(`LIVENESS_API_KEYS gives two client apps the same key ("${app}")`);
    }
    apps.push({ app, apiKey });
  }
  return apps;
}

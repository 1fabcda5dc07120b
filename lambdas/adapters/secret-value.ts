import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError } from '../errors';

/**
 * A secret string fetched from Secrets Manager and cached for `maxAgeSeconds` (Powertools Parameters), so a warm
 * container makes no call per check yet picks up a rotated value within minutes. `{ fresh: true }` bypasses the cache
 * at most once per `refreshSeconds`, so requests that ask for it (e.g. forged webhooks) cannot each cost a call.
 */
export function cachedSecret(
  client: SecretsManagerClient,
  secretId: string,
  maxAgeSeconds: number,
  refreshSeconds = 30,
  clock: () => number = Date.now,
) {
  const provider = new SecretsProvider({ awsSdkV3Client: client });
  let lastFreshAt = Number.NEGATIVE_INFINITY;
  return async (options: { readonly fresh?: boolean } = {}): Promise<string> => {
    const forceFetch = options.fresh === true && clock() - lastFreshAt >= refreshSeconds * 1000;
    if (forceFetch) lastFreshAt = clock();
    const value = await provider.get(secretId, { maxAge: maxAgeSeconds, forceFetch });
    if (typeof value !== 'string' || value.trim() === '') {
      throw new ConfigError('The secret has no string value; set it with `aws secretsmanager put-secret-value`');
    }
    return value.trim();
  };
}

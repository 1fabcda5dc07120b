import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError } from '../errors';

/**
 * A secret string fetched from Secrets Manager and cached for `maxAgeSeconds` (Powertools Parameters), so a warm
 * container makes no call per check yet picks up a rotated value within minutes.
 */
export function cachedSecret(client: SecretsManagerClient, secretId: string, maxAgeSeconds: number) {
  const provider = new SecretsProvider({ awsSdkV3Client: client });
  return async (): Promise<string> => {
    const value = await provider.get(secretId, { maxAge: maxAgeSeconds });
    if (typeof value !== 'string' || value.trim() === '') {
      throw new ConfigError('The secret has no string value; set it with `aws secretsmanager put-secret-value`');
    }
    return value.trim();
  };
}

import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { cachedSecret } from '../../lambdas/adapters/secret-value';

/** A Secrets Manager client answered in memory: every GetSecretValue is counted and returns `value.current`. */
function fakeSecretsManager(value: { current: string }) {
  const client = new SecretsManagerClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  const calls = { count: 0 };
  client.middlewareStack.add(
    () => async () => {
      calls.count++;
      return { output: { SecretString: value.current, $metadata: {} }, response: {} };
    },
    { step: 'initialize', name: 'inMemorySecretsManager' },
  );
  return { client, calls };
}

describe('cachedSecret', () => {
  it('answers from its cache, and asks again past it when a fresh value is wanted, at most once per interval', async () => {
    const value = { current: 'old' };
    const { client, calls } = fakeSecretsManager(value);
    let now = 1_000_000;
    const secret = cachedSecret(client, `arn:test:${Math.random()}`, 300, 30, () => now);

    expect(await secret()).toBe('old');
    value.current = 'new old';
    expect(await secret()).toBe('old');
    expect(await secret({ fresh: true })).toBe('new old');
    expect(calls.count).toBe(2);

    value.current = 'newer';
    now += 29_000;
    expect(await secret({ fresh: true })).toBe('new old');
    now += 1_000;
    expect(await secret({ fresh: true })).toBe('newer');
    expect(calls.count).toBe(3);
  });
});

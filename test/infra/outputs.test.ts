import { describe, expect, it } from 'vitest';
import { buildLivenessStack } from '../helpers/cdk';

const { template } = buildLivenessStack();
const outputs = template.toJSON().Outputs as Record<string, { Description: string; Value: unknown }>;

describe('stack outputs', () => {
  it('give a client integration everything it needs', () => {
    expect(Object.keys(outputs).sort()).toEqual([
      'ApiKeyId',
      'ApiUrl',
      'ChecksTableName',
      'DiditApiKeySecretArn',
      'EventBusName',
      'UploadsBucketName',
    ]);
  });

  it('explain how to read the API key value', () => {
    expect(outputs.ApiKeyId?.Description).toMatch(/aws apigateway get-api-key --api-key \S+ --include-value/);
    expect(outputs.ApiKeyId?.Value).toEqual({ Ref: expect.stringMatching(/ApiKey/) });
  });

  it('name the secret by ARN and explain how to set it', () => {
    expect(outputs.DiditApiKeySecretArn?.Value).toEqual({ Ref: expect.stringMatching(/DiditApiKey/) });
    expect(outputs.DiditApiKeySecretArn?.Description).toMatch(/aws secretsmanager put-secret-value/);
  });
});

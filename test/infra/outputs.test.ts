import { Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { buildLivenessStack } from '../helpers/cdk';

const { stack, template } = buildLivenessStack();
const outputs = template.toJSON().Outputs as Record<string, { Description: string; Value: unknown }>;

/** The output's value with every token rendered as `<LogicalId>` / `<LogicalId.Attr>`, as an operator would read it. */
function rendered(value: unknown): string {
  if (typeof value === 'string') return value;
  const token = value as { Ref?: string; 'Fn::GetAtt'?: string[]; 'Fn::Join'?: [string, unknown[]] };
  if (token.Ref) return `<${token.Ref}>`;
  if (token['Fn::GetAtt']) return `<${token['Fn::GetAtt'].join('.')}>`;
  if (token['Fn::Join']) return token['Fn::Join'][1].map(rendered).join(token['Fn::Join'][0]);
  return JSON.stringify(value);
}

describe('stack outputs', () => {
  it('give a client integration and an operator everything they need', () => {
    expect(Object.keys(outputs).sort()).toEqual([
      'ApiKeyId',
      'ApiUrl',
      'ChecksTableName',
      'DashboardUrl',
      'DiditApiKeySecretArn',
      'DiditWebhookSecretArn',
      'EventBusName',
      'SetDiditApiKeyCommand',
      'SetDiditWebhookSecretCommand',
      'SetWebhookSigningSecretCommand',
      'UploadsBucketName',
      'WebhookSigningSecretArn',
    ]);
  });

  it('explain how to read the API key value', () => {
    expect(outputs.ApiKeyId?.Description).toMatch(/aws apigateway get-api-key --api-key \S+ --include-value/);
    expect(outputs.ApiKeyId?.Value).toEqual({ Ref: expect.stringMatching(/ApiKey/) });
  });

  it('name the secret by ARN and explain how to set it', () => {
    expect(outputs.DiditApiKeySecretArn?.Value).toEqual({ Ref: expect.stringMatching(/DiditApiKey/) });
    expect(outputs.DiditApiKeySecretArn?.Description).toMatch(/SetDiditApiKeyCommand/);
  });

  it.each([
    ['SetDiditApiKeyCommand', stack.service.diditApiKeySecret, '"$DIDIT_API_KEY"'],
    ['SetDiditWebhookSecretCommand', stack.service.diditWebhookSecret, '"$DIDIT_WEBHOOK_SECRET"'],
    ['SetWebhookSigningSecretCommand', stack.service.webhookSigningSecret, '"whsec_$(openssl rand -base64 32)"'],
  ])('%s is the one command that fills in its secret', (name, secret, value) => {
    const secretRef = Stack.of(secret).resolve(secret.secretArn) as { Ref: string };
    expect(rendered(outputs[name]?.Value)).toBe(
      `aws secretsmanager put-secret-value --secret-id <${secretRef.Ref}> --secret-string ${value}`,
    );
  });

  it('link the dashboard', () => {
    expect(rendered(outputs.DashboardUrl?.Value)).toMatch(
      /^https:\/\/<AWS::Region>\.console\.aws\.amazon\.com\/cloudwatch\/home\?region=<AWS::Region>#dashboards\/dashboard\/<LivenessObservabilityDashboard\w+>$/,
    );
  });

  it('leave out the API key id when the API is not API-key authorized', () => {
    const iam = buildLivenessStack({ authorization: 'iam' });
    expect(Object.keys(iam.template.toJSON().Outputs)).not.toContain('ApiKeyId');
  });
});

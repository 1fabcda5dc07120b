import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { DIDIT_WEBHOOK_SOURCE_IP } from '../../lambdas/core/didit-webhook';
import { buildLivenessStack } from '../helpers/cdk';

// diditWebhookSourceIps: an API Gateway resource policy that lets only Didit's address call the Didit route.
type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

interface Statement {
  Sid?: string;
  Effect: string;
  Principal: unknown;
  Action: string;
  Resource: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

function built(context: Record<string, unknown>) {
  const { stack, template } = buildLivenessStack(context);
  const resources = template.toJSON().Resources as Resources;
  const of = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const api = of('AWS::ApiGateway::RestApi')[0]?.[1];
  const policy = api?.Properties.Policy as { Statement: Statement[] } | undefined;
  const deployments = of('AWS::ApiGateway::Deployment').map(([logicalId]) => logicalId);
  return { stack, statements: policy?.Statement, deployments };
}

const DIDIT_ROUTE = 'execute-api:/*/POST/v1/webhooks/didit';

describe('diditWebhookSourceIps', () => {
  it('is off by default: the API has no resource policy', () => {
    expect(built({}).statements).toBeUndefined();
  });

  it("with Didit's address: every other source is denied the Didit route, the check routes stay open", () => {
    const { statements } = built({ diditWebhookSourceIps: DIDIT_WEBHOOK_SOURCE_IP });

    expect(statements).toEqual([
      {
        Sid: 'DiditWebhookOnlyFromDidit',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'execute-api:Invoke',
        Resource: DIDIT_ROUTE,
        Condition: { NotIpAddress: { 'aws:SourceIp': ['18.203.201.92'] } },
      },
      {
        Sid: 'DiditWebhook',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: 'execute-api:Invoke',
        Resource: DIDIT_ROUTE,
        Condition: { IpAddress: { 'aws:SourceIp': ['18.203.201.92'] } },
      },
      {
        Sid: 'CheckRoutes',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: 'execute-api:Invoke',
        Resource: 'execute-api:/*',
      },
    ]);
  });

  it('takes several addresses and CIDR blocks (a list, as Didit may publish more)', () => {
    const { statements } = built({ diditWebhookSourceIps: '18.203.201.92, 203.0.113.0/24' });
    expect(statements?.[0]?.Condition).toEqual({
      NotIpAddress: { 'aws:SourceIp': ['18.203.201.92', '203.0.113.0/24'] },
    });
  });

  it('with IAM authorization allows nothing beyond the Didit route (IAM policies keep deciding the check routes)', () => {
    const { statements } = built({ diditWebhookSourceIps: DIDIT_WEBHOOK_SOURCE_IP, authorization: 'iam' });
    expect(statements?.map((s) => s.Sid)).toEqual(['DiditWebhookOnlyFromDidit', 'DiditWebhook']);
  });

  it('redeploys the stage when it changes (a resource policy takes effect only with a new deployment)', () => {
    const open = built({}).deployments;
    const restricted = built({ diditWebhookSourceIps: DIDIT_WEBHOOK_SOURCE_IP }).deployments;
    const other = built({ diditWebhookSourceIps: '203.0.113.7' }).deployments;
    expect(open).toHaveLength(1);
    expect(new Set([...open, ...restricted, ...other]).size).toBe(3);
  });

  it.each([
    ['a host name', 'didit.me', /diditWebhookSourceIps.*IPv4 address or CIDR/],
    ['an address out of range', '18.203.201.256', /diditWebhookSourceIps.*IPv4 address or CIDR/],
    ['* with an address', '*,18.203.201.92', /diditWebhookSourceIps/],
  ])('refuses %s', (_case, value, message) => {
    expect(() => built({ diditWebhookSourceIps: value })).toThrow(message);
  });

  it('leaves no unacknowledged cdk-nag finding', () => {
    const { stack } = built({ diditWebhookSourceIps: DIDIT_WEBHOOK_SOURCE_IP });
    expect(new AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
  });
});

import { App, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { describe, expect, it } from 'vitest';
import { DEFAULT_COGNITO_SCOPE, LivenessAuthorization } from '../../lib/authorization';
import {
  allowStatementsForRole,
  buildLivenessStack,
  functionLogicalId,
  logicalIdOf,
  roleLogicalId,
} from '../helpers/cdk';

// Tenancy and the stored truth on the synthesized template: one key per client app in the usage plan and the map the
// functions read to name a key's app, the list route and its one index, one signing secret per app, the Cognito scope,
// the bus policy that keeps liveness.service events to the service's roles, and an ids-only delivery input.

type Resources = Record<string, { Type: string; Properties: Record<string, unknown>; DependsOn?: unknown }>;
const { stack, template } = buildLivenessStack({ clientApps: 'app-a,app-b' });
const service = stack.service;
const resources = template.toJSON().Resources as Resources;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const envOf = (fn: Parameters<typeof functionLogicalId>[0]) =>
  (resources[functionLogicalId(fn)]?.Properties.Environment as { Variables: Record<string, unknown> } | undefined)
    ?.Variables ?? {};

describe('client apps with API keys', () => {
  it('gives each app its own key, every key in the usage plan; the first keeps the single key of earlier versions', () => {
    const keys = ofType('AWS::ApiGateway::ApiKey');
    expect(keys).toHaveLength(2);
    expect(Object.keys(service.apiKeys)).toEqual(['app-a', 'app-b']);
    expect(logicalIdOf(service.apiKey?.node.defaultChild as never)).toBe('LivenessApiApiKeyBA7907E9');
    const planKeys = ofType('AWS::ApiGateway::UsagePlanKey').map(([, r]) => r.Properties.KeyId);
    expect(planKeys).toEqual(expect.arrayContaining(keys.map(([id]) => ({ Ref: id }))));
    expect(planKeys).toHaveLength(2);
  });

  it('tells the create and read functions which app each key id belongs to', () => {
    const [keyA, keyB] = ['app-a', 'app-b'].map((app) => logicalIdOf(service.apiKeys[app]?.node.defaultChild as never));
    const expected = {
      'Fn::Join': [
        ',',
        [{ 'Fn::Join': ['=', ['app-a', { Ref: keyA }]] }, { 'Fn::Join': ['=', ['app-b', { Ref: keyB }]] }],
      ],
    };
    expect(envOf(service.functions.createCheck).CLIENT_APP_API_KEY_IDS).toEqual(expected);
    expect(envOf(service.functions.getCheck).CLIENT_APP_API_KEY_IDS).toEqual(expected);
  });

  it('serves GET /v1/liveness-checks (the list) by the read function, behind an API key', () => {
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'GET',
      ApiKeyRequired: true,
      ResourceId: { Ref: Match.stringLikeRegexp('livenesschecks') },
      RequestParameters: { 'method.request.querystring.vendor_data': false },
      Integration: Match.objectLike({
        Uri: Match.objectLike({
          'Fn::Join': Match.arrayWith([
            Match.arrayWith([{ 'Fn::GetAtt': [functionLogicalId(service.functions.getCheck), 'Arn'] }]),
          ]),
        }),
      }),
    });
  });

  it('lets the read function query the by-owner-vendor index and nothing else but GetItem', () => {
    const statements = allowStatementsForRole(template, roleLogicalId(service.functions.getCheck));
    const dynamo = statements.filter((s) => JSON.stringify(s.Action).includes('dynamodb:'));
    expect(dynamo.flatMap((s) => s.Action).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
    const query = dynamo.find((s) => JSON.stringify(s.Action).includes('Query'));
    expect(JSON.stringify(query?.Resource)).toContain('/index/by-owner-vendor');
  });

  it('creates the sparse by-owner-vendor index: owner_vendor_key, newest first by created_at', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: Match.arrayWith([
        {
          IndexName: 'by-owner-vendor',
          KeySchema: [
            { AttributeName: 'owner_vendor_key', KeyType: 'HASH' },
            { AttributeName: 'created_at', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ]),
    });
  });
});

describe('webhook signing per client app', () => {
  it('makes one secret per app, readable by the deliverer alone, and names each for its app', () => {
    const secrets = service.webhookSigningSecrets;
    expect(Object.keys(secrets)).toEqual(['app-a', 'app-b']);
    expect(secrets['app-a']).toBe(service.webhookSigningSecret);
    const [arnA, arnB] = ['app-a', 'app-b'].map((app) => ({
      Ref: logicalIdOf(secrets[app]?.node.defaultChild as never),
    }));
    expect(envOf(service.functions.deliverWebhook).WEBHOOK_SIGNING_SECRET_IDS).toEqual({
      'Fn::Join': [',', [{ 'Fn::Join': ['=', ['app-a', arnA]] }, { 'Fn::Join': ['=', ['app-b', arnB]] }]],
    });
    // Every policy statement that may read either secret is attached to the deliverer's role alone.
    const policies = ofType('AWS::IAM::Policy').map(([, r]) => r.Properties) as Array<{
      Roles: Array<{ Ref: string }>;
      PolicyDocument: { Statement: Array<{ Action: unknown; Resource: unknown }> };
    }>;
    for (const arn of [arnA, arnB]) {
      const readers = policies
        .filter((policy) =>
          policy.PolicyDocument.Statement.some(
            (s) =>
              JSON.stringify(s.Action).includes('secretsmanager:GetSecretValue') &&
              [s.Resource].flat().some((resource) => JSON.stringify(resource) === JSON.stringify(arn)),
          ),
        )
        .flatMap((policy) => policy.Roles.map((role) => role.Ref));
      expect(readers).toEqual([roleLogicalId(service.functions.deliverWebhook)]);
    }
  });
});

describe('the delivery workflow input', () => {
  it('is the event id, kind, time and check id: never the detail', () => {
    const rule = ofType('AWS::Events::Rule').find(([id]) => id.includes('DeliverCheckEvents'))?.[1];
    const target = (rule?.Properties.Targets as Array<Record<string, unknown>> | undefined)?.[0] as {
      InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: string };
    };
    expect(Object.values(target.InputTransformer.InputPathsMap).sort()).toEqual(
      ['$.detail-type', '$.detail.id', '$.id', '$.time'].sort(),
    );
    expect(target.InputTransformer.InputTemplate).not.toMatch(/vendor_data|metadata|decision/);
  });
});

describe('the event bus', () => {
  it("denies PutEvents claiming source liveness.service to every principal but the service's writers", () => {
    const policies = ofType('AWS::Events::EventBusPolicy');
    expect(policies).toHaveLength(1);
    const statement = (policies[0]?.[1].Properties as { Statement: Record<string, unknown> } | undefined)
      ?.Statement as {
      Effect: string;
      Principal: unknown;
      Action: string;
      Condition: { StringEquals: Record<string, string>; ArnNotEquals: Record<string, unknown[]> };
    };
    expect(statement).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'events:PutEvents' });
    expect(statement.Condition.StringEquals).toEqual({ 'events:source': 'liveness.service' });
    const writers = statement.Condition.ArnNotEquals['aws:PrincipalArn'];
    const expected = [
      service.functions.processUpload,
      service.functions.deleteCheck,
      service.functions.sweepChecks,
      service.functions.deliverWebhook,
      service.functions.diditWebhook,
    ].map((fn) => ({ 'Fn::GetAtt': [roleLogicalId(fn), 'Arn'] }));
    expect(writers).toEqual(expected);
    // Exactly the roles that may put events at all.
    const putters = Object.values(service.functions).filter((fn) =>
      allowStatementsForRole(template, roleLogicalId(fn)).some((s) =>
        JSON.stringify(s.Action).includes('events:PutEvents'),
      ),
    );
    expect(putters.map((fn) => roleLogicalId(fn)).sort()).toEqual(expected.map((e) => e['Fn::GetAtt'][0]).sort());
  });
});

describe('Cognito authorization', () => {
  it(`requires a scope on every check route (default ${DEFAULT_COGNITO_SCOPE}); the Didit webhook stays open`, () => {
    const { template: cognitoTemplate } = buildLivenessStack({
      authorization: 'cognito',
      cognitoUserPoolArn: 'arn:aws:cognito-idp:us-east-1:111122223333:userpool/us-east-1_Example1',
    });
    const methods = Object.values(cognitoTemplate.toJSON().Resources as Resources).filter(
      (r) => r.Type === 'AWS::ApiGateway::Method',
    );
    const cognitoMethods = methods.filter((m) => m.Properties.AuthorizationType === 'COGNITO_USER_POOLS');
    expect(cognitoMethods).toHaveLength(4);
    for (const method of cognitoMethods) expect(method.Properties.AuthorizationScopes).toEqual([DEFAULT_COGNITO_SCOPE]);
    expect(methods.filter((m) => m.Properties.AuthorizationType === 'NONE')).toHaveLength(1);
  });

  it('refuses an empty scope list', () => {
    const pool = new cognito.UserPool(new Stack(new App(), 'Pools'), 'Pool');
    expect(() => LivenessAuthorization.cognito(pool, [])).toThrow(/at least one OAuth scope/);
  });
});

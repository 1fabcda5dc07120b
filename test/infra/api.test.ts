import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildLivenessStack, functionLogicalId } from '../helpers/cdk';

const { stack, template } = buildLivenessStack();
const service = stack.service;

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
const resources = template.toJSON().Resources as Resources;

function methods(): Array<Record<string, unknown>> {
  return Object.values(resources)
    .filter((resource) => resource.Type === 'AWS::ApiGateway::Method')
    .map((resource) => resource.Properties);
}

function resourcePath(resourceRef: { Ref: string }): string {
  const parts: string[] = [];
  let current = resources[resourceRef.Ref];
  while (current?.Type === 'AWS::ApiGateway::Resource') {
    parts.unshift(current.Properties.PathPart as string);
    const parent = current.Properties.ParentId as { Ref?: string };
    current = parent.Ref ? resources[parent.Ref] : undefined;
  }
  return `/${parts.join('/')}`;
}

/** Renders a gateway response template with sample $context values, as API Gateway would. */
function renderGatewayTemplate(text: string): unknown {
  return JSON.parse(
    text
      .replace('$context.error.messageString', JSON.stringify('Invalid request body'))
      .replace('$context.error.responseType', 'BAD_REQUEST_BODY'),
  );
}

function gatewayResponse(type: string): { status?: string; body: unknown } {
  const found = Object.values(resources).find(
    (resource) => resource.Type === 'AWS::ApiGateway::GatewayResponse' && resource.Properties.ResponseType === type,
  );
  if (!found) throw new Error(`no gateway response for ${type}`);
  const templates = found.Properties.ResponseTemplates as Record<string, string>;
  return {
    status: found.Properties.StatusCode as string | undefined,
    body: renderGatewayTemplate(templates['application/json'] ?? ''),
  };
}

describe('REST API', () => {
  it('routes the check API and the Didit webhook to their functions', () => {
    const routes = methods().map((method) => ({
      route: `${method.HttpMethod} ${resourcePath(method.ResourceId as { Ref: string })}`,
      integration: (method.Integration as { Type: string; Uri: unknown }).Type,
      uri: JSON.stringify((method.Integration as { Uri: unknown }).Uri),
    }));
    expect(routes.map((route) => route.route).sort()).toEqual([
      'DELETE /v1/liveness-checks/{id}',
      'GET /v1/liveness-checks',
      'GET /v1/liveness-checks/{id}',
      'POST /v1/liveness-checks',
      'POST /v1/webhooks/didit',
    ]);
    const webhook = routes.find((route) => route.route === 'POST /v1/webhooks/didit');
    expect(webhook?.uri).toContain(functionLogicalId(service.functions.diditWebhook));
    const post = routes.find((route) => route.route.startsWith('POST'));
    expect(post?.integration).toBe('AWS_PROXY');
    expect(post?.uri).toContain(functionLogicalId(service.functions.createCheck));
    // One read function serves a check and the list (it routes by resource).
    for (const get of routes.filter((route) => route.route.startsWith('GET'))) {
      expect(get.integration).toBe('AWS_PROXY');
      expect(get.uri).toContain(functionLogicalId(service.functions.getCheck));
    }
    const del = routes.find((route) => route.route.startsWith('DELETE'));
    expect(del?.integration).toBe('AWS_PROXY');
    expect(del?.uri).toContain(functionLogicalId(service.functions.deleteCheck));
  });

  it('requires an API key on every method but the Didit webhook, which is signature-authenticated', () => {
    const all = methods();
    expect(all.length).toBe(5);
    for (const method of all) {
      const isWebhook = resourcePath(method.ResourceId as { Ref: string }) === '/v1/webhooks/didit';
      expect(method.ApiKeyRequired ?? false).toBe(!isWebhook);
    }
  });

  it('attaches the API key to a usage plan that throttles it', () => {
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 10, BurstLimit: 20 },
      ApiStages: [Match.objectLike({ ApiId: { Ref: Match.anyValue() } })],
    });
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
    template.hasResourceProperties('AWS::ApiGateway::UsagePlanKey', {
      KeyType: 'API_KEY',
      KeyId: { Ref: Match.stringLikeRegexp('ApiKey') },
    });
  });

  it('logs access as JSON, traces with X-Ray and throttles at the stage', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      TracingEnabled: true,
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('"requestId"') },
      MethodSettings: [
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
          ThrottlingRateLimit: 10,
          ThrottlingBurstLimit: 20,
        }),
      ],
    });
  });

  it('answers a missing or invalid API key with a 401 JSON error', () => {
    expect(gatewayResponse('INVALID_API_KEY')).toEqual({
      status: '401',
      body: { error: { code: 'UNAUTHORIZED', message: expect.stringContaining('x-api-key') } },
    });
  });

  it('answers unauthorized, forbidden and unknown routes with JSON errors', () => {
    expect(gatewayResponse('UNAUTHORIZED')).toMatchObject({ status: '401', body: { error: { code: 'UNAUTHORIZED' } } });
    expect(gatewayResponse('ACCESS_DENIED')).toMatchObject({ status: '403', body: { error: { code: 'FORBIDDEN' } } });
    expect(gatewayResponse('MISSING_AUTHENTICATION_TOKEN')).toMatchObject({
      status: '404',
      body: { error: { code: 'NOT_FOUND' } },
    });
  });

  it('answers any other 4xx and 5xx from the gateway with the same JSON error shape', () => {
    expect(gatewayResponse('DEFAULT_4XX')).toEqual({
      status: undefined,
      body: { error: { code: 'BAD_REQUEST_BODY', message: 'Invalid request body' } },
    });
    expect(gatewayResponse('DEFAULT_5XX')).toMatchObject({ body: { error: { code: 'INTERNAL_ERROR' } } });
  });
});

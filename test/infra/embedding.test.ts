import { App, type CfnElement, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { LivenessAuthorization } from '../../lib/authorization';
import { LivenessService, type LivenessServiceProps } from '../../lib/liveness-service';
import { allowedActions, allowStatementsForRole, environmentOf, functionLogicalId, logicalIdOf } from '../helpers/cdk';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

/** A customer's stack embedding the service; `extras` creates what the props refer to inside that stack. */
function embed(extras: (stack: Stack) => LivenessServiceProps = () => ({})) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Customer');
  const service = new LivenessService(stack, 'Liveness', extras(stack));
  const template = Template.fromStack(stack);
  return { stack, service, template, resources: template.toJSON().Resources as Resources };
}

/** A table shaped the way the service needs (what docs/operations.md tells a customer to create). */
function checksTable(
  stack: Stack,
  indexes: { due?: boolean; session?: boolean; waiting?: boolean } = {},
  encryptionKey?: kms.IKey,
): dynamodb.Table {
  const table = new dynamodb.Table(stack, 'ExistingChecks', {
    partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    timeToLiveAttribute: 'expires_at',
    ...(encryptionKey ? { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey } : {}),
  });
  if (indexes.due ?? true) {
    table.addGlobalSecondaryIndex({
      indexName: 'by-due',
      partitionKey: { name: 'due_shard', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'due_at', type: dynamodb.AttributeType.NUMBER },
    });
  }
  if (indexes.session ?? true) {
    table.addGlobalSecondaryIndex({
      indexName: 'by-didit-session',
      partitionKey: { name: 'didit_session_id', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
  }
  if (indexes.waiting ?? true) {
    table.addGlobalSecondaryIndex({
      indexName: 'by-waiting',
      partitionKey: { name: 'waiting_shard', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'wait_since', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
  }
  table.addGlobalSecondaryIndex({
    indexName: 'by-owner-vendor',
    partitionKey: { name: 'owner_vendor_key', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'created_at', type: dynamodb.AttributeType.STRING },
  });
  return table;
}

function methods(resources: Resources): Array<Record<string, unknown>> {
  return Object.values(resources)
    .filter((resource) => resource.Type === 'AWS::ApiGateway::Method')
    .map((resource) => resource.Properties);
}

/** Each API method's authorization, named by the function it integrates with. */
function authOf(built: { service: LivenessService; resources: Resources }) {
  return methods(built.resources)
    .map((method) => {
      const uri = JSON.stringify((method.Integration as { Uri: unknown }).Uri);
      const target = Object.entries(built.service.functions).find(([, fn]) => uri.includes(functionLogicalId(fn)));
      return {
        target: target?.[0],
        authorizationType: method.AuthorizationType,
        apiKeyRequired: method.ApiKeyRequired ?? false,
      };
    })
    .sort((a, b) => String(a.target).localeCompare(String(b.target)));
}

describe('an existing event bus', () => {
  const built = embed((stack) => ({ eventBus: new events.EventBus(stack, 'AppBus') }));

  it('receives the events: the service creates no bus of its own', () => {
    expect(Object.values(built.resources).filter((r) => r.Type === 'AWS::Events::EventBus')).toHaveLength(1);
    expect(built.service.eventBus.node.path).toBe('Customer/AppBus');
  });

  it('is where every publisher writes and the delivery rule listens', () => {
    const busRef = { Ref: expect.stringMatching(/^AppBus/) };
    for (const fn of [built.service.functions.processUpload, built.service.functions.sweepChecks]) {
      expect(environmentOf(built.template, functionLogicalId(fn)).EVENT_BUS_NAME).toEqual(busRef);
    }
    built.template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: Match.stringLikeRegexp('^AppBus') },
    });
  });
});

describe('an existing checks table', () => {
  it('is used as is when it has the key and the three indexes', () => {
    const built = embed((stack) => ({ table: checksTable(stack) }));
    expect(Object.values(built.resources).filter((r) => r.Type === 'AWS::DynamoDB::Table')).toHaveLength(1);
    expect(environmentOf(built.template, functionLogicalId(built.service.functions.getCheck)).TABLE_NAME).toEqual({
      Ref: expect.stringMatching(/^ExistingChecks/),
    });
  });

  it('throws when it lacks the by-due index', () => {
    expect(() => embed((stack) => ({ table: checksTable(stack, { due: false }) }))).toThrow(
      /table passed as `table` has no global secondary index "by-due"/,
    );
  });

  it('throws when it lacks the by-didit-session index', () => {
    expect(() => embed((stack) => ({ table: checksTable(stack, { session: false }) }))).toThrow(
      /no global secondary index "by-didit-session"/,
    );
  });

  it('throws when it lacks the by-waiting index', () => {
    expect(() => embed((stack) => ({ table: checksTable(stack, { waiting: false }) }))).toThrow(
      /no global secondary index "by-waiting"/,
    );
  });

  it('throws when its key is not id (S)', () => {
    expect(() =>
      embed((stack) => ({
        table: new dynamodb.Table(stack, 'Wrong', {
          partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        }),
      })),
    ).toThrow(/table's primary key must be keyed .*"id:S".*got .*"pk:S"/);
  });

  it('is trusted when imported, since its indexes cannot be read at synth', () => {
    const built = embed((stack) => ({
      table: dynamodb.Table.fromTableAttributes(stack, 'Imported', {
        tableName: 'liveness-checks',
        globalIndexes: ['by-due', 'by-didit-session', 'by-waiting', 'by-owner-vendor'],
      }),
    }));
    expect(Object.values(built.resources).filter((r) => r.Type === 'AWS::DynamoDB::Table')).toHaveLength(0);
  });

  it('lets the functions use its customer-managed key', () => {
    const built = embed((stack) => ({
      table: checksTable(stack, {}, new kms.Key(stack, 'TableKey', { enableKeyRotation: true })),
    }));
    const role = logicalIdOf(built.service.functions.getCheck.role?.node.defaultChild as CfnElement);
    expect(allowedActions(built.template, role)).toContain('kms:Decrypt');
  });
});

describe('an existing uploads bucket', () => {
  const built = embed((stack) => ({
    bucket: new s3.Bucket(stack, 'AppUploads', {
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      versioned: true,
    }),
  }));
  const bucketId = Object.entries(built.resources).find(([id]) => id.startsWith('AppUploads'))?.[0] ?? '';

  it('gets the expiry and multipart rules, noncurrent versions included, and the CORS rule', () => {
    const properties = built.resources[bucketId]?.Properties ?? {};
    expect((properties.LifecycleConfiguration as { Rules: unknown[] }).Rules).toEqual([
      expect.objectContaining({
        Id: 'ExpireUploads',
        Prefix: 'uploads/',
        ExpirationInDays: 1,
        NoncurrentVersionExpiration: { NoncurrentDays: 1 },
      }),
      expect.objectContaining({ Id: 'AbortIncompleteMultipartUploads' }),
    ]);
    expect(properties.CorsConfiguration).toEqual({
      CorsRules: [expect.objectContaining({ AllowedMethods: ['POST'], AllowedOrigins: ['*'] })],
    });
  });

  it('triggers the processor; the service creates no bucket of its own', () => {
    built.template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { Ref: bucketId },
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          Match.objectLike({ Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'uploads/' }] } } }),
        ],
      },
    });
    expect(Object.values(built.resources).filter((r) => r.Type === 'AWS::S3::Bucket')).toHaveLength(1);
  });

  it('throws when imported, because no lifecycle rule can be added to it', () => {
    expect(() => embed((stack) => ({ bucket: s3.Bucket.fromBucketName(stack, 'Imported', 'someone-elses') }))).toThrow(
      /bucket passed as `bucket` \(Customer\/Imported\) is imported, so the service cannot add the lifecycle rule/,
    );
  });

  it('lets create-check and the processor use its customer-managed key', () => {
    const kmsBuilt = embed((stack) => ({
      bucket: new s3.Bucket(stack, 'KmsUploads', {
        encryption: s3.BucketEncryption.KMS,
        encryptionKey: new kms.Key(stack, 'BucketKey', { enableKeyRotation: true }),
        enforceSSL: true,
      }),
    }));
    const roleOf = (name: 'createCheck' | 'processUpload') =>
      logicalIdOf(kmsBuilt.service.functions[name].role?.node.defaultChild as CfnElement);
    expect(allowedActions(kmsBuilt.template, roleOf('createCheck'))).toEqual(
      expect.arrayContaining(['kms:Encrypt', 'kms:GenerateDataKey*']),
    );
    expect(allowedActions(kmsBuilt.template, roleOf('processUpload'))).toContain('kms:Decrypt');
  });
});

describe('authorization', () => {
  it('requires an API key on the check routes by default', () => {
    const built = embed();
    expect(authOf(built)).toEqual([
      { target: 'createCheck', authorizationType: 'NONE', apiKeyRequired: true },
      { target: 'deleteCheck', authorizationType: 'NONE', apiKeyRequired: true },
      { target: 'diditWebhook', authorizationType: 'NONE', apiKeyRequired: false },
      { target: 'getCheck', authorizationType: 'NONE', apiKeyRequired: true },
      { target: 'getCheck', authorizationType: 'NONE', apiKeyRequired: true },
    ]);
    expect(built.service.authorization.mode).toBe('API_KEY');
  });

  it('requires SigV4 with iam(), creates no API key, and grants invoke on the check routes only', () => {
    const built = embed(() => ({ authorization: LivenessAuthorization.iam() }));
    expect(authOf(built)).toEqual([
      { target: 'createCheck', authorizationType: 'AWS_IAM', apiKeyRequired: false },
      { target: 'deleteCheck', authorizationType: 'AWS_IAM', apiKeyRequired: false },
      { target: 'diditWebhook', authorizationType: 'NONE', apiKeyRequired: false },
      { target: 'getCheck', authorizationType: 'AWS_IAM', apiKeyRequired: false },
      { target: 'getCheck', authorizationType: 'AWS_IAM', apiKeyRequired: false },
    ]);
    built.template.resourceCountIs('AWS::ApiGateway::ApiKey', 0);
    built.template.resourceCountIs('AWS::ApiGateway::UsagePlan', 0);
    expect(built.service.apiKey).toBeUndefined();

    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Caller');
    const service = new LivenessService(stack, 'Liveness', { authorization: LivenessAuthorization.iam() });
    const caller = new iam.Role(stack, 'Backend', { assumedBy: new iam.AccountRootPrincipal() });
    service.grantInvoke(caller);
    const statements = allowStatementsForRole(
      Template.fromStack(stack),
      logicalIdOf(caller.node.defaultChild as CfnElement),
    );
    expect(statements).toHaveLength(1);
    expect(statements[0]?.Action).toBe('execute-api:Invoke');
    expect(JSON.stringify(statements[0]?.Resource)).toMatch(
      /\/POST\/v1\/liveness-checks".*\/GET\/v1\/liveness-checks".*\/GET\/v1\/liveness-checks\/\*".*\/DELETE\/v1\/liveness-checks\/\*"/,
    );
  });

  it('answers an unsigned request with 403, not a misleading 404, with iam()', () => {
    const built = embed(() => ({ authorization: LivenessAuthorization.iam() }));
    built.template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'MISSING_AUTHENTICATION_TOKEN',
      StatusCode: '403',
    });
    built.template.resourcePropertiesCountIs(
      'AWS::ApiGateway::GatewayResponse',
      { ResponseType: 'INVALID_API_KEY' },
      0,
    );
  });

  it('checks user pool tokens with cognito(), scopes included, and leaves the Didit webhook open', () => {
    const built = embed((stack) => ({
      authorization: LivenessAuthorization.cognito(
        cognito.UserPool.fromUserPoolArn(
          stack,
          'Pool',
          'arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_Abc123',
        ),
        ['liveness/checks'],
      ),
    }));
    built.template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'COGNITO_USER_POOLS',
      ProviderARNs: ['arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_Abc123'],
    });
    const byRoute = methods(built.resources).map((method) => ({
      type: method.AuthorizationType,
      scopes: method.AuthorizationScopes,
      authorizer: method.AuthorizerId !== undefined,
    }));
    expect(byRoute).toEqual(
      expect.arrayContaining([
        { type: 'COGNITO_USER_POOLS', scopes: ['liveness/checks'], authorizer: true },
        { type: 'NONE', scopes: undefined, authorizer: false },
      ]),
    );
    expect(byRoute.filter((route) => route.type === 'COGNITO_USER_POOLS')).toHaveLength(4);
    built.template.resourceCountIs('AWS::ApiGateway::ApiKey', 0);
  });
});

describe('sizes and policies', () => {
  const built = embed(() => ({ processorMemorySize: 2048, memorySize: 512 }));

  it('give the processor and the other functions the memory asked for', () => {
    const memory = Object.fromEntries(
      Object.entries(built.service.functions).map(([name, fn]) => [
        name,
        built.resources[functionLogicalId(fn)]?.Properties.MemorySize,
      ]),
    );
    expect(memory).toEqual({
      createCheck: 512,
      getCheck: 512,
      deleteCheck: 512,
      processUpload: 2048,
      sweepChecks: 512,
      deliverWebhook: 512,
      diditWebhook: 512,
    });
  });
});

describe('invalid combinations', () => {
  it.each<[string, (stack: Stack) => LivenessServiceProps, RegExp]>([
    [
      'the processor gets less memory than sharp needs',
      () => ({ processorMemorySize: 256 }),
      /processorMemorySize must be a whole number from 512 to 10240, got 256/,
    ],
    [
      'a function gets more memory than Lambda offers',
      () => ({ memorySize: 20_000 }),
      /memorySize must be .* 128 to 10240/,
    ],
    [
      'the removal policy is SNAPSHOT, which buckets and tables do not support',
      () => ({ removalPolicy: RemovalPolicy.SNAPSHOT }),
      /removalPolicy must be RETAIN, RETAIN_ON_UPDATE_OR_DELETE or DESTROY/,
    ],
    [
      'the stuck-check threshold is shorter than the alarm can tell',
      () => ({ stuckCheckThreshold: Duration.minutes(2) }),
      /stuckCheckThreshold must be from 5 minutes to 24 hours/,
    ],
    [
      'the metrics namespace is one AWS reserves',
      () => ({ metricsNamespace: 'AWS/Liveness' }),
      /metricsNamespace .* must not start with "AWS\/"/,
    ],
    [
      'the Didit retry delays are inverted',
      () => ({ diditRetryBaseDelay: Duration.seconds(30), diditRetryMaxDelay: Duration.seconds(10) }),
      /diditRetryMaxDelay \(10 seconds\) must be at least diditRetryBaseDelay \(30 seconds\)/,
    ],
  ])('throws when %s', (_name, props, message) => {
    expect(() => embed(props)).toThrow(message);
  });
});

import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { FunctionRole } from '../../lambdas/core/settings/kinds';
import { settingEntries } from '../../lambdas/core/settings/schema';
import { buildLivenessStack, environmentOf, functionLogicalId, propertiesOf } from '../helpers/cdk';

const built = buildLivenessStack();
const { stack, template } = built;
const { createCheck, getCheck, processUpload } = stack.service.functions;
const serviceFunctions = { createCheck, getCheck, processUpload };
/** Read by lambdas/observability.ts in every function. */
const POWERTOOLS_ENV = {
  POWERTOOLS_SERVICE_NAME: stack.service.serviceName,
  POWERTOOLS_METRICS_NAMESPACE: 'Liveness',
};

describe('functions', () => {
  it('run on arm64 by default', () => {
    for (const fn of Object.values(serviceFunctions)) {
      expect(propertiesOf(built, fn).Architectures, fn.node.path).toEqual(['arm64']);
    }
  });

  it('run on x86_64 when the architecture context says so', () => {
    const x86 = buildLivenessStack({ architecture: 'x86_64' });
    for (const fn of Object.values(x86.stack.service.functions)) {
      expect(propertiesOf(x86, fn).Architectures, fn.node.path).toEqual(['x86_64']);
    }
  });

  it('use the Node.js 24 runtime with active tracing and JSON logs', () => {
    for (const fn of Object.values(serviceFunctions)) {
      expect(propertiesOf(built, fn), fn.node.path).toMatchObject({
        Runtime: 'nodejs24.x',
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: expect.any(String) } },
      });
    }
  });

  it('log to their own log group, kept 30 days by default', () => {
    const logGroups = Object.values(serviceFunctions).map(
      (fn) => (propertiesOf(built, fn).LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref,
    );
    expect(new Set(logGroups).size).toBe(3);
    for (const logGroup of logGroups) {
      expect(template.toJSON().Resources[logGroup]).toMatchObject({
        Type: 'AWS::Logs::LogGroup',
        Properties: { RetentionInDays: 30 },
      });
    }
  });

  it('give the processor 1024 MB and a 90 s timeout', () => {
    expect(propertiesOf(built, processUpload)).toMatchObject({ MemorySize: 1024, Timeout: 90 });
  });

  it('name the deployment in every function for Powertools: log service key, metrics namespace and dimension', () => {
    for (const fn of Object.values(stack.service.functions)) {
      expect(environmentOf(template, functionLogicalId(fn)), fn.node.path).toMatchObject({
        POWERTOOLS_SERVICE_NAME: stack.service.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: 'Liveness',
      });
    }
    expect(stack.service.serviceName).toMatch(/^TestLiveness-[0-9A-F]{8}$/);
  });

  it('pass create-check the variables loadCreateCheckConfig reads', () => {
    expect(environmentOf(template, functionLogicalId(createCheck))).toEqual({
      ...POWERTOOLS_ENV,
      NODE_OPTIONS: '--enable-source-maps',
      TABLE_NAME: { Ref: expect.any(String) },
      BUCKET_NAME: { Ref: expect.any(String) },
      UPLOAD_PREFIX: 'uploads/',
      UPLOAD_URL_TTL_SECONDS: '300',
      DEFAULT_DECLINE_THRESHOLD: '30',
      CHECK_RETENTION_DAYS: '30',
      CALLBACK_ALLOWED_ORIGINS: '',
      CLIENT_APP_API_KEY_IDS: { 'Fn::Join': ['=', ['default', { Ref: expect.any(String) }]] },
    });
  });

  it('pass get-check the table name, which client app each API key id belongs to, and the face-attribute setting', () => {
    expect(environmentOf(template, functionLogicalId(getCheck))).toEqual({
      ...POWERTOOLS_ENV,
      NODE_OPTIONS: '--enable-source-maps',
      TABLE_NAME: { Ref: expect.any(String) },
      CLIENT_APP_API_KEY_IDS: { 'Fn::Join': ['=', ['default', { Ref: expect.any(String) }]] },
      STORE_FACE_ATTRIBUTES: 'false',
    });
  });

  it('pass delete-check the table, bucket, prefix and bus, nothing else', () => {
    expect(environmentOf(template, functionLogicalId(stack.service.functions.deleteCheck))).toEqual({
      ...POWERTOOLS_ENV,
      NODE_OPTIONS: '--enable-source-maps',
      TABLE_NAME: { Ref: expect.any(String) },
      BUCKET_NAME: { Ref: expect.any(String) },
      UPLOAD_PREFIX: 'uploads/',
      EVENT_BUS_NAME: { Ref: expect.any(String) },
      CLIENT_APP_API_KEY_IDS: { 'Fn::Join': ['=', ['default', { Ref: expect.any(String) }]] },
    });
  });

  it('pass the processor the variables loadProcessorConfig reads, the secret as an ARN', () => {
    expect(environmentOf(template, functionLogicalId(processUpload))).toEqual({
      ...POWERTOOLS_ENV,
      NODE_OPTIONS: '--enable-source-maps',
      TABLE_NAME: { Ref: expect.any(String) },
      BUCKET_NAME: { Ref: expect.any(String) },
      UPLOAD_PREFIX: 'uploads/',
      EVENT_BUS_NAME: { Ref: expect.any(String) },
      PRESCREEN_ENABLED: 'false',
      KEEP_UPLOADS_UNTIL_LIFECYCLE: 'false',
      STORE_FACE_ATTRIBUTES: 'false',
      DIDIT_BASE_URL: 'https://verification.didit.me',
      DIDIT_API_KEY_SECRET_ID: { Ref: expect.stringMatching(/DiditApiKey/) },
      DIDIT_REQUESTS_PER_MINUTE: '280',
      DIDIT_FAILURE_HORIZON_SECONDS: '3600',
      DIDIT_CIRCUIT_PROBE_SECONDS: '60',
      RETRY_STATE_MACHINE_ARN: {
        'Fn::Join': ['', expect.arrayContaining([expect.stringMatching(/:stateMachine:.*RetryWorkflow/)])],
      },
    });
  });

  it('carry context settings into the environment', () => {
    const configured = buildLivenessStack({
      prescreen: 'true',
      defaultDeclineThreshold: '45.5',
      uploadUrlTtlSeconds: '120',
      checkRetentionDays: '7',
      diditBaseUrl: 'https://didit.example.com/',
    });
    const { createCheck: create, processUpload: processor } = configured.stack.service.functions;
    expect(environmentOf(configured.template, functionLogicalId(create))).toMatchObject({
      DEFAULT_DECLINE_THRESHOLD: '45.5',
      UPLOAD_URL_TTL_SECONDS: '120',
      CHECK_RETENTION_DAYS: '7',
    });
    expect(environmentOf(configured.template, functionLogicalId(processor))).toMatchObject({
      PRESCREEN_ENABLED: 'true',
      DIDIT_BASE_URL: 'https://didit.example.com',
    });
  });
});

describe('function environments and the settings schema', () => {
  // Named by Node and Powertools, not by this service: not schema entries (lambdas/observability.ts reads them).
  const PLATFORM_VARIABLES = ['NODE_OPTIONS', 'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE'];
  const variables = (role: FunctionRole, setBy?: 'stack') =>
    settingEntries()
      .flatMap(([, spec]) =>
        spec.env?.readBy.includes(role) && (!setBy || spec.env.setBy === setBy) ? [spec.env.name] : [],
      )
      .sort();

  it.each(Object.keys(stack.service.functions) as FunctionRole[])(
    'set on %s only variables its loader reads, and every one the stack owes it',
    (role) => {
      const set = Object.keys(environmentOf(template, functionLogicalId(stack.service.functions[role])))
        .filter((name) => !PLATFORM_VARIABLES.includes(name))
        .sort();
      // test/unit/config.test.ts checks that each loader reads exactly `variables(role)`.
      expect(variables(role)).toEqual(expect.arrayContaining(set));
      expect(set).toEqual(variables(role, 'stack'));
    },
  );
});

describe('S3 trigger', () => {
  it('invokes the processor for objects created under uploads/', () => {
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { Ref: Match.stringLikeRegexp('Uploads') },
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          {
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'uploads/' }] } },
            LambdaFunctionArn: { 'Fn::GetAtt': [functionLogicalId(processUpload), 'Arn'] },
          },
        ],
      },
    });
  });

  it('lets only the uploads bucket invoke the processor', () => {
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [functionLogicalId(processUpload), 'Arn'] },
      Principal: 's3.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('Uploads'), 'Arn'] },
    });
  });
});

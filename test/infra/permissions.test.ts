import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { LivenessService } from '../../lib/liveness-service';
import {
  allowedActions,
  allowStatementsForRole,
  buildLivenessStack,
  environmentOf,
  functionLogicalId,
  roleLogicalId,
} from '../helpers/cdk';

const { stack, template } = buildLivenessStack();
const { createCheck, getCheck, deleteCheck, processUpload, sweepChecks } = stack.service.functions;
const all = { createCheck, getCheck, deleteCheck, processUpload };

/** Actions every function has for its own logs and X-Ray; not what the tests below are about. */
const HOUSEKEEPING = new Set([
  'logs:CreateLogStream',
  'logs:PutLogEvents',
  'xray:PutTelemetryRecords',
  'xray:PutTraceSegments',
]);

function businessActions(role: string, fromTemplate = template): string[] {
  return allowedActions(fromTemplate, role).filter((action) => !HOUSEKEEPING.has(action));
}

describe('least privilege', () => {
  it('lets create-check put, read and update items (a replayed create) and upload objects under uploads/ only', () => {
    const role = roleLogicalId(createCheck);
    expect(businessActions(role)).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      's3:PutObject',
    ]);
    const put = allowStatementsForRole(template, role).find((statement) => statement.Action === 's3:PutObject');
    expect(JSON.stringify(put?.Resource)).toMatch(/"\/uploads\/\*"/);
  });

  it('lets get-check read one item, and query the by-owner-vendor index for the list, and nothing else', () => {
    expect(businessActions(roleLogicalId(getCheck))).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
  });

  it('lets only the processor and the sweeper (Didit session erasure) read the Didit API key secret', () => {
    expect(allowedActions(template, roleLogicalId(processUpload))).toContain('secretsmanager:GetSecretValue');
    expect(allowedActions(template, roleLogicalId(sweepChecks))).toContain('secretsmanager:GetSecretValue');
    for (const fn of [createCheck, getCheck, deleteCheck]) {
      expect(
        allowedActions(template, roleLogicalId(fn)).filter((action) => action.startsWith('secretsmanager:')),
      ).toEqual([]);
    }
  });

  it('lets only the processor and delete-check (of the API-facing functions) publish to the event bus', () => {
    const publishers = Object.entries(all)
      .filter(([, fn]) => allowedActions(template, roleLogicalId(fn)).includes('events:PutEvents'))
      .map(([name]) => name);
    expect(publishers).toEqual(['deleteCheck', 'processUpload']);
    const put = allowStatementsForRole(template, roleLogicalId(processUpload)).find(
      (statement) => statement.Action === 'events:PutEvents',
    );
    expect(put?.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/EventsBus/), 'Arn'] });
  });

  it('gives the processor reads and conditional updates on the table, Get/DeleteObject under uploads/, retry starts', () => {
    expect(businessActions(roleLogicalId(processUpload))).toEqual([
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
      'events:PutEvents',
      's3:DeleteObject',
      's3:GetObject',
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      // The on-failure destination: Lambda sends failed async invocations as the function's role.
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
      'states:StartExecution',
    ]);
  });

  it('lets delete-check read, replace and update items, delete objects under uploads/ only, and publish', () => {
    const role = roleLogicalId(deleteCheck);
    expect(businessActions(role)).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'events:PutEvents',
      's3:DeleteObject',
    ]);
  });

  it('scopes every s3:DeleteObject to the uploads prefix, and gives it only to the functions that end or erase checks', () => {
    const deleters = Object.entries(stack.service.functions).filter(([, fn]) =>
      allowedActions(template, roleLogicalId(fn)).includes('s3:DeleteObject'),
    );
    expect(deleters.map(([name]) => name).sort()).toEqual(['deleteCheck', 'processUpload', 'sweepChecks']);
    for (const [name, fn] of deleters) {
      const statements = allowStatementsForRole(template, roleLogicalId(fn)).filter((statement) =>
        JSON.stringify(statement.Action).includes('s3:DeleteObject'),
      );
      expect(statements.length, name).toBeGreaterThan(0);
      for (const statement of statements) expect(JSON.stringify(statement.Resource), name).toMatch(/"\/uploads\/\*"/);
    }
    // The sweeper deletes but never reads an upload.
    expect(allowedActions(template, roleLogicalId(sweepChecks))).not.toContain('s3:GetObject');
  });

  it('lets the processor send only to its own dead-letter queue', () => {
    const sqsStatements = allowStatementsForRole(template, roleLogicalId(processUpload)).filter((statement) =>
      JSON.stringify(statement.Action).includes('sqs:'),
    );
    expect(sqsStatements.map((statement) => statement.Resource)).toEqual([
      { 'Fn::GetAtt': [expect.stringMatching(/^LivenessProcessorFailedInvocations/), 'Arn'] },
    ]);
  });

  it('grants rekognition:DetectFaces to nobody while the pre-screen is off', () => {
    for (const fn of Object.values(all)) {
      expect(allowedActions(template, roleLogicalId(fn))).not.toContain('rekognition:DetectFaces');
    }
  });

  it('grants rekognition:DetectFaces to the processor alone when the pre-screen is on', () => {
    const prescreen = buildLivenessStack({ prescreen: true });
    const fns = prescreen.stack.service.functions;
    expect(allowedActions(prescreen.template, roleLogicalId(fns.processUpload))).toContain('rekognition:DetectFaces');
    for (const fn of [fns.createCheck, fns.getCheck]) {
      expect(allowedActions(prescreen.template, roleLogicalId(fn))).not.toContain('rekognition:DetectFaces');
    }
  });

  it('uses no AWS managed policy on the service functions', () => {
    for (const fn of Object.values(all)) {
      const role = template.toJSON().Resources[roleLogicalId(fn)] as { Properties: Record<string, unknown> };
      expect(role.Properties.ManagedPolicyArns, fn.node.path).toBeUndefined();
    }
  });

  it('allows "*" only for X-Ray (and DetectFaces), which have no resource ARNs', () => {
    const prescreen = buildLivenessStack({ prescreen: true });
    for (const fn of Object.values(prescreen.stack.service.functions)) {
      const wildcard = allowStatementsForRole(prescreen.template, roleLogicalId(fn))
        .filter((statement) => statement.Resource === '*')
        .flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]));
      for (const action of wildcard) {
        expect(['xray:PutTelemetryRecords', 'xray:PutTraceSegments', 'rekognition:DetectFaces']).toContain(action);
      }
    }
  });
});

describe('Didit API key', () => {
  it('lives in a Secrets Manager secret that says how to set it', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Description: Match.stringLikeRegexp('aws secretsmanager put-secret-value'),
    });
  });

  it('is never in an environment variable: functions get the secret ARN only', () => {
    const secretValueRef = /resolve:secretsmanager|SecretString|GenerateSecretString/;
    for (const fn of Object.values(all)) {
      const env = environmentOf(template, functionLogicalId(fn));
      expect(JSON.stringify(env), fn.node.path).not.toMatch(secretValueRef);
      for (const [name, value] of Object.entries(env)) {
        if (name === 'CLIENT_APP_API_KEY_IDS') {
          // API key ids (a Ref to an AWS::ApiGateway::ApiKey is its id), never a key's value.
          const refs = [...JSON.stringify(value).matchAll(/"Ref":"([^"]+)"/g)].map((match) => match[1] as string);
          expect(refs.length, fn.node.path).toBeGreaterThan(0);
          for (const ref of refs) expect(template.toJSON().Resources[ref].Type).toBe('AWS::ApiGateway::ApiKey');
          continue;
        }
        if (/KEY|SECRET|TOKEN|PASSWORD/i.test(name)) {
          expect(name, fn.node.path).toBe('DIDIT_API_KEY_SECRET_ID');
          // A Ref to an AWS::SecretsManager::Secret resolves to its ARN.
          const ref = (value as { Ref: string }).Ref;
          expect(template.toJSON().Resources[ref].Type).toBe('AWS::SecretsManager::Secret');
        }
      }
    }
  });

  it('uses a secret passed in props instead of creating one', () => {
    const outdir = mkdtempSync(path.join(os.tmpdir(), 'liveness-infra-'));
    try {
      const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
      const own = new Stack(app, 'Own');
      const secret = secretsmanager.Secret.fromSecretCompleteArn(
        own,
        'Existing',
        'arn:aws:secretsmanager:eu-west-1:111122223333:secret:didit-api-key-AbCdEf',
      );
      const service = new LivenessService(own, 'Liveness', {
        diditApiKeySecret: secret,
        diditWebhookSecret: secretsmanager.Secret.fromSecretNameV2(own, 'Hook', 'didit-webhook'),
        webhookSigningSecret: secretsmanager.Secret.fromSecretNameV2(own, 'Signing', 'liveness-whsec'),
      });
      const ownTemplate = Template.fromStack(own);

      expect(service.diditApiKeySecret).toBe(secret);
      ownTemplate.resourceCountIs('AWS::SecretsManager::Secret', 0);
      expect(environmentOf(ownTemplate, functionLogicalId(service.functions.processUpload))).toMatchObject({
        DIDIT_API_KEY_SECRET_ID: secret.secretArn,
      });
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});

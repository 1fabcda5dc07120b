import type { CfnElement } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { PACK_FINDINGS } from '../../lib/profile/acknowledgements';
import { KEY_USAGE_ACTIONS } from '../../lib/profile/encryption';
import { DIDIT_WEBHOOK_PATH, REDACTED_HEADERS, WEB_ACL_RULES } from '../../lib/profile/web-acl';
import { buildLivenessStack, functionLogicalId, logicalIdOf, roleLogicalId } from '../helpers/cdk';
import { acknowledgementsUnder, findings, includeTemplate, PACKS } from '../helpers/nag';

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };

const SUBNETS = ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'];
const SECURITY_GROUP = 'sg-0123456789abcdef0';

// As an operator would deploy it: `cdk synth -c regulated=true -c vpcSubnetIds=… -c securityGroupIds=…`.
const regulated = buildLivenessStack({
  regulated: 'true',
  vpcSubnetIds: SUBNETS.join(','),
  securityGroupIds: SECURITY_GROUP,
});
const { stack, template } = regulated;
const service = stack.service;
const json = template.toJSON() as { Resources: Record<string, Resource>; Outputs: Record<string, unknown> };
const resources = json.Resources;
const ofType = (type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);
const only = (type: string): [string, Resource] => {
  const found = ofType(type);
  expect(found, type).toHaveLength(1);
  return found[0] as [string, Resource];
};
const [keyId, key] = only('AWS::KMS::Key');
const keyArn = { 'Fn::GetAtt': [keyId, 'Arn'] };
const functionRoles = Object.values(service.functions).map((fn) => roleLogicalId(fn));

describe('the regulated profile with VPC subnets: compliance packs', () => {
  it.each(PACKS)('%s reports no unacknowledged finding', (_name, pack) => {
    expect(findings(pack(), stack)).toEqual([]);
  });

  it('acknowledges in the compliance packs only what contradicts the purpose, each with its reason', () => {
    const acknowledged = acknowledgementsUnder(stack).filter(
      (ack) => !ack.id.startsWith('AwsSolutions-') && !ack.id.startsWith('Serverless-'),
    );
    const allowed = new Set<string>(Object.values(PACK_FINDINGS).flat());
    for (const ack of acknowledged) {
      expect(allowed, ack.id).toContain(ack.id);
      expect(ack.reason.length, `${ack.id} on ${ack.path}`).toBeGreaterThan(60);
    }
    const where = (finding: keyof typeof PACK_FINDINGS) => {
      const id = PACK_FINDINGS[finding].find((candidate) => candidate.startsWith('HIPAA.'));
      return [...new Set(acknowledged.filter((ack) => ack.id === id).map((ack) => ack.path))].sort();
    };
    const service = 'TestLiveness/Liveness';
    expect(where('bucketReplication')).toEqual([`${service}/Storage/AccessLogs`, `${service}/Storage/Uploads`]);
    expect(where('secretRotation')).toEqual([
      `${service}/DiditApiKey`,
      `${service}/Webhooks/DiditWebhookSecret`,
      `${service}/Webhooks/SigningSecret`,
    ]);
    expect(where('apiStageCache')).toEqual([`${service}/Api/Api/DeploymentStage.prod`]);
    expect(where('apiClientCertificate')).toEqual([`${service}/Api/Api/DeploymentStage.prod`]);
    // CDK's deploy-time handler is a Lambda function only in the template (see the template tests below).
    for (const finding of ['functionOutsideVpc', 'functionConcurrency', 'functionDeadLetterQueue'] as const) {
      expect(where(finding)).toEqual(['TestLiveness/BucketNotificationsHandler050a0587b7544547bf325f094a3db834']);
    }
  });

  it('gives every acknowledgement of any pack a reason', () => {
    for (const ack of acknowledgementsUnder(stack)) expect(ack.reason.trim().length, ack.id).toBeGreaterThan(30);
  });
});

describe('the regulated profile: acknowledgements in the template', () => {
  it('writes each acknowledgement and its reason into the metadata of the resources it covers', () => {
    const uploads = resources[logicalIdOf(service.bucket.node.defaultChild as CfnElement)] as Resource & {
      Metadata?: { cdk_nag?: { rules_to_suppress: Array<{ id: string; reason: string }> } };
    };
    expect(uploads.Metadata?.cdk_nag?.rules_to_suppress).toEqual(
      expect.arrayContaining(
        PACK_FINDINGS.bucketReplication.map((id) => ({ id, reason: expect.stringContaining('face images') })),
      ),
    );
  });

  it.each(PACKS)('%s run on the template alone gives the answer it gives at synth', (_name, pack) => {
    const { stack: reviewed, acknowledgements } = includeTemplate(json);
    expect(acknowledgements).toBeGreaterThan(100);
    expect(findings(pack(), reviewed)).toEqual(findings(pack(), stack));
  });

  it('needs the metadata for that: without it the template reports the acknowledged findings', () => {
    const { stack: reviewed } = includeTemplate(json, false);
    const hipaa = findings(PACKS[0]?.[1]() as never, reviewed);
    expect(hipaa).toEqual(
      expect.arrayContaining([
        `HIPAA.Security-S3BucketReplicationEnabled ${logicalIdOf(service.bucket.node.defaultChild as CfnElement)}`,
        `HIPAA.Security-SecretsManagerRotationEnabled ${logicalIdOf(service.diditApiKeySecret.node.defaultChild as CfnElement)}`,
        expect.stringMatching(/^HIPAA\.Security-LambdaInsideVPC BucketNotificationsHandler/),
      ]),
    );
  });
});

describe('the regulated profile: customer-managed key', () => {
  const policy = key.Properties.KeyPolicy as { Statement: Array<Record<string, unknown>> };
  const statement = (sid: string) => policy.Statement.find((s) => s.Sid === sid) as Record<string, unknown>;

  it('rotates yearly and is kept when it leaves the stack', () => {
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect((key as Resource & { DeletionPolicy?: string }).DeletionPolicy).toBe('Retain');
  });

  it('has a key policy of the account, exactly the service’s function roles, and the services that use it', () => {
    expect(policy.Statement.map((s) => s.Sid ?? 'account root')).toEqual([
      'account root',
      'ServiceFunctionsUseTheKeyThroughTheirServices',
      'CloudWatchLogsEncryptsThisAccountsLogGroups',
      'EventBridgeEncryptsTheBusAndDeliversToQueues',
      'S3LogDeliveryWritesAccessLogs',
      'CloudWatchAlarmsPublishToTheTopic',
    ]);
    const roles = statement('ServiceFunctionsUseTheKeyThroughTheirServices');
    expect(
      ((roles.Principal as { AWS: Array<{ 'Fn::GetAtt': string[] }> }).AWS ?? []).map((arn) => arn['Fn::GetAtt'][0]),
    ).toEqual(expect.arrayContaining(functionRoles));
    expect((roles.Principal as { AWS: unknown[] }).AWS).toHaveLength(functionRoles.length);
    expect(roles.Action).toEqual([...KEY_USAGE_ACTIONS]);
    expect(JSON.stringify(roles.Condition)).toMatch(
      /"kms:ViaService":\[.*"dynamodb\.".*"s3\.".*"secretsmanager\.".*"sqs\.".*"events\."/,
    );
  });

  it('lets CloudWatch Logs use it only for log groups of this account and region', () => {
    const logs = statement('CloudWatchLogsEncryptsThisAccountsLogGroups');
    expect(JSON.stringify(logs.Principal)).toContain('"logs."');
    expect(JSON.stringify(logs.Condition)).toMatch(/ArnLike.*kms:EncryptionContext:aws:logs:arn.*:log-group:\*/);
  });

  it('lets EventBridge use it only on behalf of this account', () => {
    expect(statement('EventBridgeEncryptsTheBusAndDeliversToQueues')).toMatchObject({
      Principal: { Service: 'events.amazonaws.com' },
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
  });

  it('encrypts every bucket, table, queue, secret, log group, the bus, the topic and the backup vault', () => {
    for (const [id, bucket] of ofType('AWS::S3::Bucket')) {
      expect(bucket.Properties.BucketEncryption, id).toEqual({
        ServerSideEncryptionConfiguration: [
          {
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn },
            BucketKeyEnabled: true,
          },
        ],
      });
    }
    expect(only('AWS::DynamoDB::Table')[1].Properties.SSESpecification).toEqual({
      SSEEnabled: true,
      SSEType: 'KMS',
      KMSMasterKeyId: keyArn,
    });
    const keyed: Array<[string, string]> = [
      ['AWS::SQS::Queue', 'KmsMasterKeyId'],
      ['AWS::SecretsManager::Secret', 'KmsKeyId'],
      ['AWS::Logs::LogGroup', 'KmsKeyId'],
      ['AWS::Events::EventBus', 'KmsKeyIdentifier'],
      ['AWS::SNS::Topic', 'KmsMasterKeyId'],
      ['AWS::Backup::BackupVault', 'EncryptionKeyArn'],
    ];
    for (const [type, property] of keyed) {
      expect(ofType(type).length, type).toBeGreaterThan(0);
      for (const [id, resource] of ofType(type)) {
        expect(JSON.stringify(resource.Properties[property]), `${id}.${property}`).toContain(keyId);
      }
    }
    expect(ofType('AWS::Logs::LogGroup')).toHaveLength(11);
    expect(ofType('AWS::SecretsManager::Secret')).toHaveLength(3);
  });
});

describe('the regulated profile: web ACL', () => {
  const [aclId, acl] = only('AWS::WAFv2::WebACL');
  const rules = acl.Properties.Rules as Array<Record<string, unknown> & { Name: string; Priority: number }>;
  const rule = (name: string) => rules.find((r) => r.Name === name) as Record<string, unknown>;

  it('is associated with the API stage', () => {
    const [, association] = only('AWS::WAFv2::WebACLAssociation');
    expect(association.Properties.WebACLArn).toEqual({ 'Fn::GetAtt': [aclId, 'Arn'] });
    const stage = logicalIdOf(service.api.deploymentStage.node.defaultChild as CfnElement);
    const api = logicalIdOf(service.api.node.defaultChild as CfnElement);
    const arn = JSON.stringify(association.Properties.ResourceArn);
    expect(arn).toContain(`{"Ref":"${api}"}`);
    expect(arn).toContain(`{"Ref":"${stage}"}`);
    expect(arn).toContain('/restapis/');
  });

  it('runs the rate limits, then the AWS managed known-bad-inputs and common rule groups', () => {
    expect(acl.Properties).toMatchObject({ Scope: 'REGIONAL', DefaultAction: { Allow: {} } });
    expect(rules.map((r) => [r.Priority, r.Name])).toEqual([
      [0, WEB_ACL_RULES.webhookRate],
      [1, WEB_ACL_RULES.rate],
      [2, WEB_ACL_RULES.knownBadInputs],
      [3, WEB_ACL_RULES.common],
    ]);
    expect(rule(WEB_ACL_RULES.rate)).toMatchObject({
      Action: { Block: {} },
      Statement: { RateBasedStatement: { Limit: 3000, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } },
    });
    for (const name of [WEB_ACL_RULES.knownBadInputs, WEB_ACL_RULES.common]) {
      expect(rule(name)).toMatchObject({
        OverrideAction: { None: {} },
        Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: name } },
      });
    }
    expect(rule(WEB_ACL_RULES.common)).toMatchObject({
      Statement: {
        ManagedRuleGroupStatement: {
          RuleActionOverrides: [{ Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } }],
        },
      },
    });
  });

  it('limits the Didit webhook route more strictly, matched by its path however it is encoded', () => {
    expect(rule(WEB_ACL_RULES.webhookRate)).toMatchObject({
      Action: { Block: {} },
      Statement: {
        RateBasedStatement: {
          Limit: 300,
          AggregateKeyType: 'IP',
          ScopeDownStatement: {
            ByteMatchStatement: {
              FieldToMatch: { UriPath: {} },
              PositionalConstraint: 'CONTAINS',
              SearchString: DIDIT_WEBHOOK_PATH,
              TextTransformations: [
                { Priority: 0, Type: 'URL_DECODE' },
                { Priority: 1, Type: 'LOWERCASE' },
              ],
            },
          },
        },
      },
    });
  });

  it('logs to an encrypted aws-waf-logs- group without the credential headers, and samples nothing', () => {
    const [, logging] = only('AWS::WAFv2::LoggingConfiguration');
    expect(logging.Properties.ResourceArn).toEqual({ 'Fn::GetAtt': [aclId, 'Arn'] });
    expect(logging.Properties.RedactedFields).toEqual(REDACTED_HEADERS.map((Name) => ({ SingleHeader: { Name } })));
    const group = ofType('AWS::Logs::LogGroup').find(([, g]) =>
      String(g.Properties.LogGroupName).startsWith('aws-waf-logs-'),
    );
    expect(group?.[1].Properties).toMatchObject({ RetentionInDays: 30 });
    expect(JSON.stringify(logging.Properties.LogDestinationConfigs)).toContain(':log-group:');
    for (const r of [acl.Properties, ...rules]) {
      expect((r.VisibilityConfig as { SampledRequestsEnabled: boolean }).SampledRequestsEnabled).toBe(false);
    }
  });
});

describe('the regulated profile: backups, alarms, storage, functions', () => {
  it('backs the checks table up daily into its own vault, kept 35 days, without granting restores', () => {
    const [planId, plan] = only('AWS::Backup::BackupPlan');
    expect(plan.Properties.BackupPlan).toMatchObject({
      BackupPlanRule: [
        {
          RuleName: 'DailyTables',
          ScheduleExpression: 'cron(0 3 * * ? *)',
          Lifecycle: { DeleteAfterDays: 35 },
          TargetBackupVault: { 'Fn::GetAtt': [only('AWS::Backup::BackupVault')[0], 'BackupVaultName'] },
        },
      ],
    });
    const [, selection] = only('AWS::Backup::BackupSelection');
    expect(selection.Properties.BackupPlanId).toEqual({ 'Fn::GetAtt': [planId, 'BackupPlanId'] });
    const table = logicalIdOf(service.table.node.defaultChild as CfnElement);
    expect((selection.Properties.BackupSelection as { Resources: unknown[] }).Resources).toEqual([
      { 'Fn::GetAtt': [table, 'Arn'] },
    ]);
    const role = (selection.Properties.BackupSelection as { IamRoleArn: { 'Fn::GetAtt': string[] } }).IamRoleArn;
    const managed = JSON.stringify(resources[role['Fn::GetAtt'][0] as string]?.Properties.ManagedPolicyArns);
    expect(managed).toContain('AWSBackupServiceRolePolicyForBackup');
    expect(managed).not.toContain('Restores');
  });

  it('sends every alarm and its recovery to the topic it creates, and names the topic in an output', () => {
    const [topicId, topic] = only('AWS::SNS::Topic');
    expect(topic.Properties.KmsMasterKeyId).toEqual(keyArn);
    const alarms = ofType('AWS::CloudWatch::Alarm');
    expect(alarms).toHaveLength(13);
    for (const [id, alarm] of alarms) {
      expect(alarm.Properties.AlarmActions, id).toEqual([{ Ref: topicId }]);
      expect(alarm.Properties.OKActions, id).toEqual([{ Ref: topicId }]);
    }
    expect(json.Outputs.AlarmTopicArn).toMatchObject({ Value: { Ref: topicId } });
  });

  it('versions both buckets and expires a version one day after it stops being current', () => {
    for (const [id, bucket] of ofType('AWS::S3::Bucket')) {
      expect(bucket.Properties.VersioningConfiguration, id).toEqual({ Status: 'Enabled' });
      expect((bucket.Properties.LifecycleConfiguration as { Rules: unknown[] }).Rules, id).toContainEqual({
        Id: 'ExpireNoncurrentVersions',
        Status: 'Enabled',
        NoncurrentVersionExpiration: { NoncurrentDays: 1 },
        ExpiredObjectDeleteMarker: true,
      });
    }
  });

  it('places every function in the given subnets and security group, after their network-interface policy', () => {
    const vpcPolicy = logicalIdOf(service.profile?.vpcPolicy?.node.defaultChild as CfnElement);
    const policy = resources[vpcPolicy] as Resource;
    expect(policy.Properties.Roles).toEqual(functionRoles.map((role) => ({ Ref: role })));
    expect(JSON.stringify(policy.Properties.PolicyDocument)).toContain('ec2:CreateNetworkInterface');
    for (const [name, fn] of Object.entries(service.functions)) {
      const resource = resources[functionLogicalId(fn)] as Resource;
      expect(resource.Properties.VpcConfig, name).toEqual({ SubnetIds: SUBNETS, SecurityGroupIds: [SECURITY_GROUP] });
      expect(resource.DependsOn, name).toContain(vpcPolicy);
    }
  });

  it('reserves concurrency: the processor its own figure, the sweeper one, every other function the common one', () => {
    const reserved = Object.fromEntries(
      Object.entries(service.functions).map(([name, fn]) => [
        name,
        (resources[functionLogicalId(fn)] as Resource).Properties.ReservedConcurrentExecutions,
      ]),
    );
    expect(reserved).toEqual({
      createCheck: 20,
      getCheck: 20,
      deleteCheck: 20,
      processUpload: 50,
      sweepChecks: 1,
      deliverWebhook: 20,
      diditWebhook: 20,
    });
  });

  it('gives every function a dead-letter queue on the key, and each role the right to send to it', () => {
    const queue = logicalIdOf(service.deadLetterQueue.node.defaultChild as CfnElement);
    for (const [name, fn] of Object.entries(service.functions)) {
      expect((resources[functionLogicalId(fn)] as Resource).Properties.DeadLetterConfig, name).toEqual({
        TargetArn: { 'Fn::GetAtt': [queue, 'Arn'] },
      });
    }
    expect(resources[queue]?.Properties.KmsMasterKeyId).toEqual(keyArn);
  });

  it('leaves no inline IAM policy: each became a managed policy with the same roles', () => {
    expect(ofType('AWS::IAM::Policy')).toEqual([]);
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Role' && r.Properties.Policies)).toEqual([]);
    const processorRole = roleLogicalId(service.functions.processUpload);
    const managed = ofType('AWS::IAM::ManagedPolicy').filter(([, p]) =>
      JSON.stringify(p.Properties.Roles).includes(processorRole),
    );
    expect(managed.map(([, p]) => JSON.stringify(p.Properties.PolicyDocument)).join()).toMatch(
      /dynamodb:GetItem.*s3:GetObject|s3:GetObject.*dynamodb:GetItem/,
    );
  });
});

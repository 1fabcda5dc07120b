import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { describe, expect, it } from 'vitest';
import { LivenessService, type LivenessServiceProps } from '../../lib/liveness-service';
import { WEB_ACL_RULES } from '../../lib/profile/web-acl';
import { readSettings } from '../../lib/settings';
import { buildLivenessStack, functionLogicalId } from '../helpers/cdk';
import { findings, includeTemplate, PACKS } from '../helpers/nag';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

/** A customer's stack embedding the service; `extras` creates what the props refer to inside that stack. */
function embed(extras: (stack: Stack) => LivenessServiceProps) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Customer');
  const service = new LivenessService(stack, 'Liveness', extras(stack));
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Resources;
  const ofType = (type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);
  return { stack, service, template, resources, ofType };
}

const COMPLIANCE = PACKS.filter(([name]) => name !== 'AwsSolutions');

describe('regulated without VPC subnets', () => {
  const { stack } = buildLivenessStack({ regulated: 'true' });

  it.each(COMPLIANCE)('%s reports only the functions outside a VPC, which subnets would close', (_name, pack) => {
    const reported = findings(pack(), stack);
    expect(reported).toHaveLength(Object.keys(stack.service.functions).length);
    for (const finding of reported) expect(finding).toMatch(/-LambdaInsideVPC /);
    expect(reported.map((finding) => finding.split(' ')[1]).sort()).toEqual(
      Object.values(stack.service.functions)
        .map((fn) => functionLogicalId(fn))
        .sort(),
    );
  });
});

describe('regulated dev (removal policy destroy: CDK adds its auto-delete function)', () => {
  const { stack, template } = buildLivenessStack({
    env: 'dev',
    regulated: 'true',
    vpcSubnetIds: 'subnet-0123456789abcdef0',
    securityGroupIds: 'sg-0123456789abcdef0',
  });

  it.each(PACKS)('%s reports nothing, at synth and from the template alone', (_name, pack) => {
    expect(findings(pack(), stack)).toEqual([]);
    expect(findings(pack(), includeTemplate(template.toJSON()).stack)).toEqual([]);
  });
});

describe('the default stack', () => {
  const { stack, template } = buildLivenessStack();
  const types = new Set(Object.values(template.toJSON().Resources as Resources).map((resource) => resource.Type));

  it('creates nothing of the profile: no key, web ACL, backup plan or alarm topic, and keeps inline policies', () => {
    for (const type of ['AWS::KMS::Key', 'AWS::WAFv2::WebACL', 'AWS::Backup::BackupPlan', 'AWS::SNS::Topic']) {
      expect(types, type).not.toContain(type);
    }
    expect(types).toContain('AWS::IAM::Policy');
    expect(stack.service.profile).toBeUndefined();
  });

  it.each(PACKS)('%s gives the same answer from the template alone as at synth', (_name, pack) => {
    const atSynth = findings(pack(), stack);
    expect(findings(pack(), includeTemplate(template.toJSON()).stack)).toEqual(atSynth);
    if (_name !== 'AwsSolutions') expect(atSynth.length).toBeGreaterThan(30);
  });
});

describe('parts of the profile alone', () => {
  it('encryptionKey alone: the service’s data on that key, nothing else of the profile', () => {
    const built = embed((stack) => ({ encryptionKey: new kms.Key(stack, 'AppKey', { enableKeyRotation: true }) }));
    const [table] = built.ofType('AWS::DynamoDB::Table');
    expect(JSON.stringify(table?.[1].Properties.SSESpecification)).toContain('AppKey');
    expect(built.ofType('AWS::WAFv2::WebACL')).toEqual([]);
    expect(built.ofType('AWS::Backup::BackupPlan')).toEqual([]);
    expect(built.ofType('AWS::IAM::Policy').length).toBeGreaterThan(0);
    const [, key] = built.ofType('AWS::KMS::Key')[0] ?? [];
    expect(JSON.stringify(key?.Properties.KeyPolicy)).toContain('ServiceFunctionsUseTheKeyThroughTheirServices');
  });

  it('an imported key: grants the roles through their own policies and warns that its key policy is yours', () => {
    const built = embed((stack) => ({
      encryptionKey: kms.Key.fromKeyArn(
        stack,
        'Imported',
        'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      ),
    }));
    Annotations.fromStack(built.stack).hasWarning(
      '/Customer/Liveness',
      Match.stringLikeRegexp('encryptionKey is imported'),
    );
    const processorPolicies = JSON.stringify(built.ofType('AWS::IAM::Policy'));
    expect(processorPolicies).toContain('arn:aws:kms:eu-west-1:111122223333:key/1234abcd');
  });

  it('webAclArn: associates that ACL with the stage and creates none', () => {
    const arn =
      'arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/shared/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111'.replace(
        'EXAMPLE11111',
        '111111111111',
      );
    const built = embed(() => ({ webAclArn: arn }));
    expect(built.ofType('AWS::WAFv2::WebACL')).toEqual([]);
    expect(built.ofType('AWS::WAFv2::WebACLAssociation')[0]?.[1].Properties.WebACLArn).toBe(arn);
  });

  it('diditWebhookSourceIps: only those sources reach the Didit webhook route, checked first', () => {
    const built = embed(() => ({ webAcl: true, diditWebhookSourceIps: ['18.203.201.92/32'] }));
    const [ipSetId, ipSet] = built.ofType('AWS::WAFv2::IPSet')[0] ?? [];
    expect(ipSet?.Properties.Addresses).toEqual(['18.203.201.92/32']);
    const rules = built.ofType('AWS::WAFv2::WebACL')[0]?.[1].Properties.Rules as Array<Record<string, unknown>>;
    expect(rules[0]).toMatchObject({
      Name: WEB_ACL_RULES.webhookSources,
      Priority: 0,
      Action: { Block: {} },
      Statement: {
        AndStatement: {
          Statements: [
            { ByteMatchStatement: { SearchString: '/v1/webhooks/didit' } },
            { NotStatement: { Statement: { IPSetReferenceStatement: { Arn: { 'Fn::GetAtt': [ipSetId, 'Arn'] } } } } },
          ],
        },
      },
    });
  });

  it('backupPlan with a table of the app: backs that table up', () => {
    const built = embed((stack) => {
      const table = new dynamodb.Table(stack, 'AppChecks', {
        partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      });
      table.addGlobalSecondaryIndex({
        indexName: 'by-due',
        partitionKey: { name: 'due_shard', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'due_at', type: dynamodb.AttributeType.NUMBER },
      });
      table.addGlobalSecondaryIndex({
        indexName: 'by-didit-session',
        partitionKey: { name: 'didit_session_id', type: dynamodb.AttributeType.STRING },
      });
      table.addGlobalSecondaryIndex({
        indexName: 'by-waiting',
        partitionKey: { name: 'waiting_shard', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'wait_since', type: dynamodb.AttributeType.STRING },
      });
      table.addGlobalSecondaryIndex({
        indexName: 'by-owner-vendor',
        partitionKey: { name: 'owner_vendor_key', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'created_at', type: dynamodb.AttributeType.STRING },
      });
      return { table, backupPlan: true };
    });
    const selection = built.ofType('AWS::Backup::BackupSelection')[0]?.[1].Properties.BackupSelection;
    expect(JSON.stringify(selection)).toContain('AppChecks');
  });

  it.each<[string, (stack: Stack) => LivenessServiceProps, RegExp]>([
    [
      'subnets without security groups',
      (stack) => ({ vpcSubnets: [ec2.Subnet.fromSubnetId(stack, 'S', 'subnet-0123456789abcdef0')] }),
      /vpcSubnets is set, so securityGroups must be set too/,
    ],
    [
      'no subnets',
      (stack) => ({
        vpcSubnets: [],
        securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(stack, 'G', 'sg-01234567')],
      }),
      /vpcSubnets must hold 1–16 subnets, got 0/,
    ],
    [
      'webAcl off with a web ACL to associate',
      () => ({
        webAcl: false,
        webAclArn: 'arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/x/a1b2c3d4-5678-90ab-cdef-111111111111',
      }),
      /webAcl is false but webAclArn/,
    ],
    [
      'a webhook source that is neither an address nor a CIDR',
      () => ({ diditWebhookSourceIps: ['didit.me'] }),
      /diditWebhookSourceIps/,
    ],
    [
      'a backup kept past the PITR window',
      () => ({ backupRetentionDays: 36 }),
      /backupRetentionDays must be a whole number from 1 to 35/,
    ],
  ])('throws on %s', (_name, extras, message) => {
    expect(() => embed(extras)).toThrow(message);
  });

  it('takes the profile from context, and subnets only together with security groups', () => {
    expect(readSettings({ tryGetContext: (key: string) => ({ regulated: 'true' })[key] }).regulated).toBe(true);
    const environments = { bank: { regulated: true, wafRateLimit: 6000 } };
    expect(
      readSettings({ tryGetContext: (key: string) => ({ environments, env: 'bank' })[key as 'env'] }),
    ).toMatchObject({ regulated: true, wafRateLimit: 6000 });
    expect(() =>
      readSettings({ tryGetContext: (key: string) => ({ vpcSubnetIds: 'subnet-0123456789abcdef0' })[key] }),
    ).toThrow(/"vpcSubnetIds" is set, so "securityGroupIds" must be set too/);
  });
});

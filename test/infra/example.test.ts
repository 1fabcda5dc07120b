import type { CfnElement } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { allowedActions, buildEmbedExample, environmentOf, functionLogicalId, logicalIdOf } from '../helpers/cdk';

// examples/embed: a customer's stack embedding the construct through the package entry point with non-default props.
// It must synthesize (bundling skipped) and use what it was given; cdk-nag runs on it in nag.test.ts.
const { stack, template } = buildEmbedExample();
const service = stack.liveness;
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;
const ofType = (type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);

describe('the embedding example', () => {
  it('publishes to the app bus it already has, creating none of its own', () => {
    expect(ofType('AWS::Events::EventBus').map(([id]) => id)).toEqual([expect.stringMatching(/^AppEvents/)]);
    expect(environmentOf(template, functionLogicalId(service.functions.processUpload)).EVENT_BUS_NAME).toEqual({
      Ref: expect.stringMatching(/^AppEvents/),
    });
  });

  it('authorizes the check API with IAM and lets the back-end role call it', () => {
    const checkMethods = ofType('AWS::ApiGateway::Method').filter(
      ([, method]) => method.Properties.AuthorizationType !== 'NONE',
    );
    expect(checkMethods.map(([, method]) => method.Properties.AuthorizationType)).toEqual([
      'AWS_IAM',
      'AWS_IAM',
      'AWS_IAM',
      'AWS_IAM',
    ]);
    expect(ofType('AWS::ApiGateway::ApiKey')).toEqual([]);
    const backend = logicalIdOf(stack.backendRole.node.defaultChild as CfnElement);
    expect(allowedActions(template, backend)).toEqual(['execute-api:Invoke']);
  });

  it('runs every function on x86_64 with the memory it asked for', () => {
    for (const [name, fn] of Object.entries(service.functions)) {
      expect(resources[functionLogicalId(fn)]?.Properties, name).toMatchObject({
        Architectures: ['x86_64'],
        MemorySize: name === 'processUpload' ? 1536 : 512,
      });
    }
  });

  it('pre-screens with Rekognition', () => {
    expect(environmentOf(template, functionLogicalId(service.functions.processUpload)).PRESCREEN_ENABLED).toBe('true');
    expect(
      allowedActions(template, logicalIdOf(service.functions.processUpload.role?.node.defaultChild as CfnElement)),
    ).toContain('rekognition:DetectFaces');
  });

  it('pages its own topic from every alarm, on its own metrics namespace', () => {
    const pager = ofType('AWS::SNS::Topic').map(([id]) => ({ Ref: id }));
    expect(pager).toEqual([{ Ref: expect.stringMatching(/^Pager/) }]);
    const alarms = ofType('AWS::CloudWatch::Alarm');
    expect(alarms).toHaveLength(13);
    for (const [id, alarm] of alarms) expect(alarm.Properties.AlarmActions, id).toEqual(pager);
    expect(
      alarms.filter(([, alarm]) => alarm.Properties.Namespace === 'Example/Liveness').map(([id]) => id),
    ).toHaveLength(6);
  });

  it('runs the regulated profile: its key, a web ACL with Didit’s webhook address allowed, a 14-day backup plan', () => {
    const [keyId] = ofType('AWS::KMS::Key').find(([id]) => id.startsWith('LivenessProfileKey')) ?? [];
    expect(keyId).toBeDefined();
    const [table] = ofType('AWS::DynamoDB::Table');
    expect(table?.[1].Properties.SSESpecification).toMatchObject({ KMSMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    expect(ofType('AWS::WAFv2::IPSet')[0]?.[1].Properties.Addresses).toEqual(['18.203.201.92/32']);
    expect(ofType('AWS::WAFv2::WebACLAssociation')).toHaveLength(1);
    expect(ofType('AWS::Backup::BackupPlan')[0]?.[1].Properties.BackupPlan).toMatchObject({
      BackupPlanRule: [{ Lifecycle: { DeleteAfterDays: 14 } }],
    });
    // Alarms page the app's own topic: the profile creates none.
    expect(service.alarmTopic).toBe(stack.node.findChild('Pager'));
    // The service's policies are managed ones; the app's own back-end role keeps its inline policy.
    expect(ofType('AWS::IAM::Policy').map(([id]) => id)).toEqual([expect.stringMatching(/^BackendRole/)]);
  });
});

import type { CfnElement } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { buildLivenessStack, logicalIdOf } from '../helpers/cdk';

const { stack, template } = buildLivenessStack();
const service = stack.service;
const resources = template.toJSON().Resources as Record<
  string,
  { Type: string; DeletionPolicy?: string; UpdateReplacePolicy?: string; Properties: Record<string, unknown> }
>;

/**
 * A changed logical id makes CloudFormation create a new resource and delete (or, with RETAIN, orphan) the old one:
 * a new empty table, a new bus without the consumers' rules, new empty secrets. These are the ids the first release
 * deployed; a failure here means an upgrade would replace data, so rename the construct back instead of updating the
 * list.
 */
const PINNED: Record<string, { id: string; type: string }> = {
  'checks table': { id: 'LivenessStorageChecksF2C40B99', type: 'AWS::DynamoDB::Table' },
  'uploads bucket': { id: 'LivenessStorageUploads47ECEEC5', type: 'AWS::S3::Bucket' },
  'access-log bucket': { id: 'LivenessStorageAccessLogs81D0BBC7', type: 'AWS::S3::Bucket' },
  'event bus': { id: 'LivenessEventsBusC522593A', type: 'AWS::Events::EventBus' },
  'Didit API key secret': { id: 'LivenessDiditApiKey783280BE', type: 'AWS::SecretsManager::Secret' },
  'Didit webhook secret': { id: 'LivenessWebhooksDiditWebhookSecret1A9B4109', type: 'AWS::SecretsManager::Secret' },
  'webhook signing secret': { id: 'LivenessWebhooksSigningSecret9F780FC9', type: 'AWS::SecretsManager::Secret' },
  'retry state machine': { id: 'LivenessRetryWorkflowStateMachine4727E02B', type: 'AWS::StepFunctions::StateMachine' },
  'delivery state machine': {
    id: 'LivenessWebhooksDeliveryStateMachine886B71BA',
    type: 'AWS::StepFunctions::StateMachine',
  },
};

describe('upgrades', () => {
  it.each(Object.entries(PINNED))('keep the logical id of the %s', (_name, { id, type }) => {
    expect(resources[id]?.Type).toBe(type);
  });

  it('pin exactly the stateful resources the service creates', () => {
    const stateful = Object.entries(resources)
      .filter(([, resource]) =>
        [
          'AWS::DynamoDB::Table',
          'AWS::S3::Bucket',
          'AWS::Events::EventBus',
          'AWS::SecretsManager::Secret',
          'AWS::StepFunctions::StateMachine',
        ].includes(resource.Type),
      )
      .map(([id]) => id)
      .sort();
    expect(stateful).toEqual(
      Object.values(PINNED)
        .map((pinned) => pinned.id)
        .sort(),
    );
  });

  it('keep the retry state machine name, which the processor and sweeper address by ARN', () => {
    const id = logicalIdOf(service.retryWorkflow.stateMachine.node.defaultChild as CfnElement);
    // Derived from the construct path; renaming a parent construct would start a second state machine.
    expect(resources[id]?.Properties.StateMachineName).toMatch(/^TestLiveness-RetryWorkflow-[0-9A-F]{8}$/);
  });

  it('retain every bucket, table, secret, bus, queue and log group by default', () => {
    const kept = [
      'AWS::S3::Bucket',
      'AWS::DynamoDB::Table',
      'AWS::SecretsManager::Secret',
      'AWS::Events::EventBus',
      'AWS::SQS::Queue',
      'AWS::Logs::LogGroup',
    ];
    const checked = Object.entries(resources).filter(([, resource]) => kept.includes(resource.Type));
    expect(checked.length).toBeGreaterThanOrEqual(kept.length);
    for (const [id, resource] of checked) {
      expect({ id, deletion: resource.DeletionPolicy, replace: resource.UpdateReplacePolicy }).toEqual({
        id,
        deletion: 'Retain',
        replace: 'Retain',
      });
    }
  });

  it('delete them, emptying the buckets first, with removalPolicy=destroy (dev)', () => {
    const dev = buildLivenessStack({ removalPolicy: 'destroy' });
    const devResources = dev.template.toJSON().Resources as typeof resources;
    for (const [id, resource] of Object.entries(devResources)) {
      if (['AWS::S3::Bucket', 'AWS::DynamoDB::Table', 'AWS::SecretsManager::Secret'].includes(resource.Type)) {
        expect({ id, deletion: resource.DeletionPolicy }).toEqual({ id, deletion: 'Delete' });
      }
    }
    const autoDeletes = Object.values(devResources).filter((r) => r.Type === 'Custom::S3AutoDeleteObjects');
    expect(autoDeletes).toHaveLength(2);
  });

  it('never delete the account-wide API Gateway logging role, whatever the removal policy', () => {
    const dev = buildLivenessStack({ removalPolicy: 'destroy' });
    const role = Object.entries(dev.template.toJSON().Resources as typeof resources).find(([id, r]) => {
      return r.Type === 'AWS::IAM::Role' && id.includes('CloudWatchRole');
    });
    expect(role?.[1].DeletionPolicy).toBe('Retain');
  });
});

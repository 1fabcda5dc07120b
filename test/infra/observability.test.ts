import { App, type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { METRICS } from '../../lambdas/core/metrics';
import { LivenessService } from '../../lib/liveness-service';
import { buildLivenessStack, functionLogicalId, logicalIdOf } from '../helpers/cdk';

const built = buildLivenessStack();
const { stack, template } = built;
const service = stack.service;
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;
const serviceDimension = [{ Name: 'service', Value: service.serviceName }];

function alarmProperties(alarm: keyof typeof service.alarms): Record<string, unknown> {
  const resource = resources[logicalIdOf(service.alarms[alarm].node.defaultChild as CfnElement)];
  if (resource?.Type !== 'AWS::CloudWatch::Alarm') throw new Error(`${alarm} is not an alarm in the template`);
  return resource.Properties;
}

const PAGE_ON_FIRST = {
  ComparisonOperator: 'GreaterThanOrEqualToThreshold',
  EvaluationPeriods: 1,
  DatapointsToAlarm: 1,
  Period: 300,
  TreatMissingData: 'notBreaching',
};

describe('alarms', () => {
  it('are exactly the thirteen operators need', () => {
    expect(Object.keys(service.alarms).sort()).toEqual([
      'deadLetterQueue',
      'deliveryWorkflowFailed',
      'diditAuthFailures',
      'diditErasuresFailing',
      'diditOutOfCredits',
      'diditThrottling',
      'processorErrors',
      'processorThrottles',
      'retryWorkflowFailed',
      'stuckChecks',
      'undeliveredEvents',
      'waitsNearHorizon',
      'webhookDeliveryFailures',
    ]);
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm')).toHaveLength(13);
  });

  it('page when Didit erasures of deleted checks keep failing: 3 refusals within an hour', () => {
    expect(alarmProperties('diditErasuresFailing')).toMatchObject({
      ...PAGE_ON_FIRST,
      Namespace: 'Liveness',
      MetricName: 'DiditErasureFailures',
      Statistic: 'Sum',
      Period: 3600,
      Threshold: 3,
    });
  });

  it('page while Didit is out of credits (the circuit is open) on the first period', () => {
    expect(alarmProperties('diditOutOfCredits')).toMatchObject({
      ...PAGE_ON_FIRST,
      Namespace: 'Liveness',
      MetricName: 'DiditCircuitOpen',
      Statistic: 'Maximum',
      Threshold: 1,
    });
  });

  it('fire when a check has waited 80 % of the failure horizon', () => {
    expect(alarmProperties('waitsNearHorizon')).toMatchObject({
      ...PAGE_ON_FIRST,
      Namespace: 'Liveness',
      MetricName: 'OldestWaitAge',
      Statistic: 'Maximum',
      Threshold: 2880,
    });
  });

  it('fire on any event EventBridge could not deliver', () => {
    expect(alarmProperties('undeliveredEvents')).toMatchObject({
      ...PAGE_ON_FIRST,
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [expect.stringMatching(/UndeliveredEvents/), 'QueueName'] } },
      ],
      Threshold: 1,
    });
  });

  it('fire on 5 processor errors in 5 minutes', () => {
    expect(alarmProperties('processorErrors')).toMatchObject({
      ...PAGE_ON_FIRST,
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionLogicalId(service.functions.processUpload) } }],
      Statistic: 'Sum',
      Threshold: 5,
    });
  });

  it('fire on any processor throttle', () => {
    expect(alarmProperties('processorThrottles')).toMatchObject({
      ...PAGE_ON_FIRST,
      Namespace: 'AWS/Lambda',
      MetricName: 'Throttles',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionLogicalId(service.functions.processUpload) } }],
      Statistic: 'Sum',
      Threshold: 1,
    });
  });

  it.each([
    ['retryWorkflowFailed', service.retryWorkflow.stateMachine],
    ['deliveryWorkflowFailed', service.webhooks.deliveryStateMachine],
  ] as const)('%s fires on any failed execution of its state machine', (alarm, stateMachine) => {
    expect(alarmProperties(alarm)).toMatchObject({
      ...PAGE_ON_FIRST,
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsFailed',
      Dimensions: [
        { Name: 'StateMachineArn', Value: { Ref: logicalIdOf(stateMachine.node.defaultChild as CfnElement) } },
      ],
      Statistic: 'Sum',
      Threshold: 1,
    });
  });

  it('fire when the oldest due check is 15 minutes late, or the sweeper stops reporting', () => {
    expect(alarmProperties('stuckChecks')).toMatchObject({
      ...PAGE_ON_FIRST,
      Namespace: 'Liveness',
      MetricName: METRICS.oldestDueCheckAge.name,
      Dimensions: serviceDimension,
      Statistic: 'Maximum',
      Threshold: 900,
      TreatMissingData: 'breaching',
    });
  });

  it('take the stuck-check threshold from the props', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const own = new Stack(app, 'Stuck');
    const custom = new LivenessService(own, 'Liveness', { stuckCheckThreshold: Duration.hours(1) });
    const id = logicalIdOf(custom.alarms.stuckChecks.node.defaultChild as CfnElement);
    expect(Template.fromStack(own).toJSON().Resources[id].Properties.Threshold).toBe(3600);
  });

  it('page on the first Didit 401/403', () => {
    expect(alarmProperties('diditAuthFailures')).toMatchObject({
      ...PAGE_ON_FIRST,
      Namespace: 'Liveness',
      MetricName: METRICS.diditAuthFailures.name,
      Dimensions: serviceDimension,
      Statistic: 'Sum',
      Threshold: 1,
    });
  });

  it('fire when 10% of Didit calls are answered 429 in 2 of 3 periods', () => {
    const properties = alarmProperties('diditThrottling');
    expect(properties).toMatchObject({
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 10,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
      TreatMissingData: 'notBreaching',
    });
    const metrics = properties.Metrics as Array<Record<string, unknown>>;
    expect(metrics).toEqual([
      expect.objectContaining({ Expression: '100 * FILL(throttled, 0) / calls', ReturnData: true }),
      {
        Id: 'throttled',
        MetricStat: {
          Metric: { Namespace: 'Liveness', MetricName: METRICS.diditThrottled.name, Dimensions: serviceDimension },
          Period: 300,
          Stat: 'Sum',
        },
        ReturnData: false,
      },
      {
        Id: 'calls',
        MetricStat: {
          Metric: { Namespace: 'Liveness', MetricName: METRICS.diditCalls.name, Dimensions: serviceDimension },
          Period: 300,
          Stat: 'Sum',
        },
        ReturnData: false,
      },
    ]);
  });

  it('fire on any webhook delivery that ended without success', () => {
    expect(alarmProperties('webhookDeliveryFailures')).toMatchObject({
      ...PAGE_ON_FIRST,
      Namespace: 'Liveness',
      MetricName: METRICS.webhookDeliveryFailures.name,
      Dimensions: serviceDimension,
      Statistic: 'Sum',
      Threshold: 1,
    });
  });

  it('fire on any message in the dead-letter queue', () => {
    expect(alarmProperties('deadLetterQueue')).toMatchObject({
      ...PAGE_ON_FIRST,
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [expect.stringMatching(/FailedInvocations/), 'QueueName'] } },
      ],
      Statistic: 'Maximum',
      Threshold: 1,
    });
  });

  it('have no actions without a topic, and notify alarm and recovery with one', () => {
    for (const name of Object.keys(service.alarms) as Array<keyof typeof service.alarms>) {
      expect(alarmProperties(name).AlarmActions, name).toBeUndefined();
    }
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const own = new Stack(app, 'WithTopic');
    const topic = new sns.Topic(own, 'Pager');
    const withTopic = new LivenessService(own, 'Liveness', { alarmTopic: topic });
    const ownResources = Template.fromStack(own).toJSON().Resources;
    const topicRef = { Ref: logicalIdOf(topic.node.defaultChild as CfnElement) };
    for (const alarm of Object.values(withTopic.alarms)) {
      const properties = ownResources[logicalIdOf(alarm.node.defaultChild as CfnElement)].Properties;
      expect(properties.AlarmActions, alarm.node.path).toEqual([topicRef]);
      expect(properties.OKActions, alarm.node.path).toEqual([topicRef]);
    }
  });

  it('subscribe the alarmEmail to an encrypted, TLS-only topic CloudWatch can publish to', () => {
    const withEmail = buildLivenessStack({ alarmEmail: 'oncall@example.com' });
    withEmail.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
    withEmail.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    withEmail.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    const key = Object.values(withEmail.template.toJSON().Resources as typeof resources).find(
      (r) => r.Type === 'AWS::KMS::Key',
    );
    expect(key?.Properties.EnableKeyRotation).toBe(true);
    expect(JSON.stringify(key?.Properties.KeyPolicy)).toContain('cloudwatch.amazonaws.com');
  });
});

describe('dead-letter queue of the processor', () => {
  const queueId = logicalIdOf(service.deadLetterQueue.node.defaultChild as CfnElement);

  it('receives S3-triggered invocations that failed after two retries', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: functionLogicalId(service.functions.processUpload) },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
    });
  });

  it('is encrypted, TLS-only and keeps messages 14 days', () => {
    expect(resources[queueId]?.Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 86_400,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: [Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })],
      },
    });
  });
});

describe('dashboard', () => {
  const dashboard = Object.values(resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard');
  /** The body with its tokens flattened, enough to look for metric names, widget titles and alarm references. */
  const body = JSON.stringify(dashboard?.Properties.DashboardBody);

  it('exists, one per service', () => {
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Dashboard')).toHaveLength(1);
  });

  it('shows the flow: API, checks, decisions, Didit, processor, workflows, webhooks and sweeper', () => {
    for (const title of [
      'API requests and errors',
      'Checks',
      'Decisions',
      'Failed checks by code',
      'Didit calls by status',
      'Didit latency (ms)',
      'Image bytes',
      'Processor',
      'Retry workflow',
      'Webhooks',
      'Sweeper',
    ]) {
      expect(body, title).toContain(`\\"title\\":\\"${title}\\"`);
    }
  });

  it('plots every custom metric the functions emit', () => {
    for (const metric of Object.values(METRICS)) expect(body, metric.name).toContain(metric.name);
  });

  it('shows the state of every alarm', () => {
    for (const alarm of Object.values(service.alarms)) {
      expect(body).toContain(logicalIdOf(alarm.node.defaultChild as CfnElement));
    }
  });
});

import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { LivenessService } from '../../lib/liveness-service';
import { renderedDefinitions } from '../../local/asl-from-template';
import { allowedActions, buildLivenessStack, functionLogicalId, logicalIdOf, roleLogicalId } from '../helpers/cdk';

const built = buildLivenessStack();
const { template } = built;
const service = built.stack.service;
const definitions = renderedDefinitions(template.toJSON());
const retry = definitions[logicalIdOf(service.retryWorkflow.stateMachine.node.defaultChild as never)] as {
  States: Record<string, Record<string, unknown>>;
};
const delivery = definitions[logicalIdOf(service.webhooks.deliveryStateMachine.node.defaultChild as never)] as {
  States: Record<string, Record<string, unknown>>;
};

describe('retry workflow', () => {
  it('is a Standard state machine with logs (no execution data) and tracing', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: false }),
    });
  });

  it('draws each wait after a failure with FULL jitter under doubling caps 5/10/20/40/60 s, in the definition itself', () => {
    expect(retry.States.Backoff?.Parameters).toMatchObject({
      'delay_seconds.$': 'States.MathRandom(0, States.ArrayGetItem(States.Array(5, 5, 10, 20, 40, 60), $.attempt))',
    });
    // Past the list every wait is capped at the maximum.
    expect(retry.States.PickCap).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.attempt', NumericGreaterThanEquals: 6, Next: 'BackoffAtMax' }],
      Default: 'Backoff',
    });
    expect(retry.States.BackoffAtMax?.Parameters).toMatchObject({ 'delay_seconds.$': 'States.MathRandom(0, 60)' });
    expect(retry.States.WaitBackoff).toMatchObject({ Type: 'Wait', SecondsPath: '$.delay_seconds' });
  });

  it('waits until the resume time the processor returns, without an attempt, and starts there when WAITING', () => {
    expect(retry.States.WaitUntil).toMatchObject({ Type: 'Wait', TimestampPath: '$.resume_at', Next: 'Attempt' });
    expect(retry.States.Route).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.resume_at', IsPresent: true, Next: 'WaitUntil' }],
      Default: 'PickCap',
    });
    expect(retry.States.NextStep).toMatchObject({
      Choices: [
        { Variable: '$.outcome', StringEquals: 'WAIT', Next: 'WaitUntil' },
        { Variable: '$.outcome', StringEquals: 'RETRY', Next: 'PickCap' },
      ],
      Default: 'Done',
    });
  });

  it("waits Didit's Retry-After instead when it is longer", () => {
    expect(retry.States.HonourRetryAfter).toMatchObject({
      Type: 'Choice',
      Choices: [
        { Variable: '$.retry_after_seconds', NumericGreaterThanPath: '$.delay_seconds', Next: 'WaitRetryAfter' },
      ],
      Default: 'WaitBackoff',
    });
  });

  it('leaves the end to the processor (the failure horizon), and gives up on any attempt that keeps crashing', () => {
    expect(JSON.stringify(retry.States.NextStep)).not.toContain('NumericGreaterThanEquals');
    expect(retry.States.Attempt?.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.attempt_error', Next: 'GiveUp' },
    ]);
    expect(retry.States.Attempt?.Retry).toEqual([expect.objectContaining({ JitterStrategy: 'FULL' })]);
  });

  it('takes its schedule from the props', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Custom');
    new LivenessService(stack, 'Liveness', {
      diditRetryBaseDelay: Duration.seconds(2),
      diditRetryMaxDelay: Duration.seconds(3),
    });
    const defs = renderedDefinitions(Template.fromStack(stack).toJSON());
    const machine = Object.values(defs).find((d) => JSON.stringify(d).includes('"GiveUp"'));
    expect(JSON.stringify(machine)).toContain('States.Array(2, 2, 3)');
    expect(JSON.stringify(machine)).toContain('"NumericGreaterThanEquals":3');
  });

  it('refuses a schedule it cannot run', () => {
    const stack = new Stack(new App(), 'Bad');
    expect(() => new LivenessService(stack, 'Liveness', { diditFailureHorizon: Duration.seconds(10) })).toThrow(
      /diditFailureHorizon/,
    );
    expect(
      () =>
        new LivenessService(new Stack(new App(), 'Bad2'), 'Liveness', {
          diditRetryBaseDelay: Duration.seconds(10),
          diditRetryMaxDelay: Duration.seconds(5),
        }),
    ).toThrow(/diditRetryBaseDelay/);
  });

  it('runs its tasks on the processor, which may start rounds of this state machine only', () => {
    expect(JSON.stringify(retry.States.Attempt?.Resource)).toContain(
      functionLogicalId(service.functions.processUpload),
    );
    expect(allowedActions(template, roleLogicalId(service.functions.processUpload))).toContain('states:StartExecution');
    for (const fn of [service.functions.createCheck, service.functions.getCheck, service.functions.deliverWebhook]) {
      expect(allowedActions(template, roleLogicalId(fn))).not.toContain('states:StartExecution');
    }
  });
});

describe('sweeper', () => {
  it('runs every minute', () => {
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
  });

  it('may query only the due index', () => {
    const actions = allowedActions(template, roleLogicalId(service.functions.sweepChecks));
    expect(actions).toContain('dynamodb:Query');
    expect(actions).not.toContain('dynamodb:Scan');
    expect(JSON.stringify(template.toJSON())).toContain('/index/by-due');
  });
});

describe('webhook echo', () => {
  it('starts a delivery for check events whose check has a callback', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['liveness.service'],
        'detail-type': [
          'Liveness Check Completed',
          'Liveness Check Failed',
          'Liveness Check Expired',
          'Liveness Check Updated',
        ],
        detail: { has_callback: [true] },
      },
    });
  });

  it('retries a delivery with FULL jitter and reports failures', () => {
    expect(delivery.States.Backoff?.Parameters).toMatchObject({
      'delay_seconds.$': expect.stringMatching(
        /^States\.MathRandom\(0, States\.ArrayGetItem\(States\.Array\(30, 60, 120/,
      ),
    });
    expect(delivery.States.ReportFailure).toBeDefined();
  });

  it('gives the delivery function the signing secret and not the Didit secrets', () => {
    const actions = allowedActions(template, roleLogicalId(service.functions.deliverWebhook));
    expect(actions).toContain('secretsmanager:GetSecretValue');
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain(logicalIdOf(service.webhooks.signingSecret.node.defaultChild as never));
  });
});

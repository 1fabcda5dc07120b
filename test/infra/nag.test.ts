import { App, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { buildEmbedExample, buildLivenessStack } from '../helpers/cdk';

/** Rule id and offending construct paths, so a failure message says what to fix. */
function unacknowledgedFindings(context: Record<string, unknown> | 'embed-example') {
  const { stack } = context === 'embed-example' ? buildEmbedExample() : buildLivenessStack(context);
  const violations = [
    ...new AwsSolutionsChecks().validateScope(stack).violations,
    ...new ServerlessChecks().validateScope(stack).violations,
  ];
  return violations.map((violation) => ({
    rule: violation.ruleName,
    severity: violation.severity,
    resources: violation.violatingResources.map((resource) => resource.constructPath),
  }));
}

describe('cdk-nag AwsSolutions and Serverless', () => {
  it('is live: it reports a bucket without access logs or TLS enforcement', () => {
    const stack = new Stack(new App(), 'Scratch');
    new s3.Bucket(stack, 'Plain');
    const rules = new AwsSolutionsChecks().validateScope(stack).violations.map((violation) => violation.ruleName);
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-S1', 'AwsSolutions-S10']));
  });

  it('is live: the Serverless pack reports a function and a rule target without a dead-letter queue', () => {
    const stack = new Stack(new App(), 'Scratch');
    const fn = new lambda.Function(stack, 'Plain', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => {}'),
    });
    new events.Rule(stack, 'Tick', {
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(fn)],
    });
    const rules = new ServerlessChecks().validateScope(stack).violations.map((violation) => violation.ruleName);
    expect(rules).toEqual(expect.arrayContaining(['Serverless-LambdaDLQ', 'Serverless-EventBusDLQ']));
  });

  it('reports no unacknowledged error or warning for the default stack', () => {
    expect(unacknowledgedFindings({})).toEqual([]);
  });

  it('reports no unacknowledged error or warning with the Rekognition pre-screen on', () => {
    expect(unacknowledgedFindings({ prescreen: true })).toEqual([]);
  });

  it('reports no unacknowledged error or warning on x86_64', () => {
    expect(unacknowledgedFindings({ architecture: 'x86_64' })).toEqual([]);
  });

  it('reports no unacknowledged error or warning with IAM authorization', () => {
    expect(unacknowledgedFindings({ authorization: 'iam' })).toEqual([]);
  });

  it('reports no unacknowledged error or warning with a Cognito authorizer', () => {
    expect(
      unacknowledgedFindings({
        authorization: 'cognito',
        cognitoUserPoolArn: 'arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_Abc123',
      }),
    ).toEqual([]);
  });

  it('reports no unacknowledged error or warning for dev (removal policy destroy) with an alarm e-mail', () => {
    expect(unacknowledgedFindings({ env: 'dev', alarmEmail: 'oncall@example.com' })).toEqual([]);
  });

  it('reports no unacknowledged error or warning for the embedding example (examples/embed)', () => {
    expect(unacknowledgedFindings('embed-example')).toEqual([]);
  });
});

import { App, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { buildLivenessStack } from '../helpers/cdk';

/** Rule id and offending construct paths, so a failure message says what to fix. */
function unacknowledgedFindings(context: Record<string, unknown>) {
  const { stack } = buildLivenessStack(context);
  const report = new AwsSolutionsChecks().validateScope(stack);
  return report.violations.map((violation) => ({
    rule: violation.ruleName,
    severity: violation.severity,
    resources: violation.violatingResources.map((resource) => resource.constructPath),
  }));
}

describe('cdk-nag AwsSolutions', () => {
  it('is live: it reports a bucket without access logs or TLS enforcement', () => {
    const stack = new Stack(new App(), 'Scratch');
    new s3.Bucket(stack, 'Plain');
    const rules = new AwsSolutionsChecks().validateScope(stack).violations.map((violation) => violation.ruleName);
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-S1', 'AwsSolutions-S10']));
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
});

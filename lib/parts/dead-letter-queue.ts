import { Duration, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * The end of an asynchronous hop: where a failed Lambda invocation (after its retries) or an event EventBridge could
 * not deliver (after 24 h of retries) is kept for an operator — encrypted, TLS-only, 14 days, alarmed on. Nothing
 * consumes it automatically; the runbook in docs/operations.md says what to do with each kind of message.
 */
export function deadLetterQueue(scope: Construct, id: string, holds: string): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(queue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: `This queue is itself a dead-letter queue (${holds}); its depth is alarmed on and an operator inspects it.`,
  });
  Validations.of(queue).acknowledge({
    id: 'Serverless-SQSRedrivePolicy',
    reason:
      `This queue is itself a dead-letter queue (${holds}): the end of the line. A redrive policy would only move ` +
      'its messages to yet another queue nobody reads; its depth is alarmed on and the runbook says how to replay.',
  });
  return queue;
}

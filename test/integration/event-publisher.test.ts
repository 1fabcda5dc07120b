import { randomUUID } from 'node:crypto';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { EventPublisher } from '../../lambdas/adapters/event-publisher';
import { DependencyThrottledError } from '../../lambdas/errors';
import { emulatorClientConfig } from '../../local/aws-env';
import { type LocalResources, provisionLocalResources } from '../../local/provision';

let resources: LocalResources;
let client: EventBridgeClient;

beforeAll(async () => {
  resources = await provisionLocalResources(inject('motoEndpoint'), {
    prefix: `events-${randomUUID().slice(0, 8)}`,
    diditApiKey: 'unused',
  });
  client = new EventBridgeClient(emulatorClientConfig(inject('motoEndpoint')));
});

describe('EventPublisher against EventBridge (moto)', () => {
  it('puts events on the bus where a rule delivers them', async () => {
    const id = randomUUID();
    await new EventPublisher(client, resources.eventBusName).publish([
      { detailType: 'Liveness Check Completed', detail: { id } },
    ]);
    const sqs = new SQSClient(emulatorClientConfig(inject('motoEndpoint')));
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: resources.eventQueueUrl, WaitTimeSeconds: 2 }));
    const event = JSON.parse(out.Messages?.[0]?.Body ?? '{}');
    expect(event).toMatchObject({
      source: 'liveness.service',
      'detail-type': 'Liveness Check Completed',
      detail: { id },
    });
  });

  it('resends entries refused inside a 200 answer and gives up with a retryable error', async () => {
    let sends = 0;
    const counting = new EventBridgeClient(emulatorClientConfig(inject('motoEndpoint')));
    counting.middlewareStack.add(
      (next) => async (args) => {
        sends++;
        return next(args);
      },
      { step: 'initialize' },
    );
    // An entry without a detail-type is refused per entry (ErrorCode InvalidArgument) inside a 200 answer, while
    // the valid entry next to it is accepted: only the refused one may be sent again.
    const id = randomUUID();
    const publisher = new EventPublisher(counting, resources.eventBusName, 3, 1);
    const failure = await publisher
      .publish([
        { detailType: 'Liveness Check Completed', detail: { id } },
        { detailType: '', detail: { id } },
      ])
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(DependencyThrottledError);
    expect((failure as Error).message).toMatch(/refused 1 event\(s\) after 3 attempts: InvalidArgument/);
    expect(sends).toBe(3);

    const sqs = new SQSClient(emulatorClientConfig(inject('motoEndpoint')));
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: resources.eventQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    const delivered = (out.Messages ?? []).map((m) => JSON.parse(m.Body ?? '{}')).filter((e) => e.detail?.id === id);
    expect(delivered).toHaveLength(1);
  });
});

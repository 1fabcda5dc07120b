import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { emulatorClientConfig } from './aws-env';

/**
 * Long-polls an SQS queue in moto and hands each message body to a callback; a message is deleted only when the
 * callback resolves, so a failure is redelivered after the visibility timeout (as Lambda's retries would).
 */
export class QueuePump {
  private readonly sqs: SQSClient;
  private running = false;
  private loop: Promise<void> | undefined;
  /** Messages handed out and not yet finished (deleted, or failed and left for redelivery). */
  private readonly inFlight = new Set<Promise<void>>();
  private receivedCount = 0;

  constructor(
    endpoint: string,
    private readonly queueUrl: string,
    private readonly onMessage: (body: string) => Promise<void>,
    private readonly onError: (error: unknown) => void = () => {},
    private readonly concurrency = 32,
  ) {
    this.sqs = new SQSClient(emulatorClientConfig(endpoint));
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.sqs.destroy();
  }

  /** Messages received so far (a redelivered message counts again): moves whenever the pump starts work. */
  get received(): number {
    return this.receivedCount;
  }

  /** Messages being handled right now. */
  get busy(): number {
    return this.inFlight.size;
  }

  /**
   * Messages in the queue that are not finished: waiting, delayed, or received and not yet deleted. moto counts
   * exactly (SQS itself only approximately), so 0 there means every message sent so far has been handled.
   */
  async unfinished(): Promise<number> {
    const { Attributes = {} } = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.queueUrl,
        AttributeNames: [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateNumberOfMessagesDelayed',
        ],
      }),
    );
    return (
      Number(Attributes.ApproximateNumberOfMessages ?? 0) +
      Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
      Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0)
    );
  }

  /**
   * Receives again as soon as a batch is handed out (up to `concurrency` messages in flight), so one slow message —
   * a check waiting on Didit — does not hold back the uploads queued behind it.
   */
  private async run(): Promise<void> {
    const inFlight = this.inFlight;
    const handle = async (message: Message) => {
      try {
        await this.onMessage(message.Body ?? '');
        await this.sqs.send(
          new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
      } catch (error) {
        this.onError(error);
      }
    };
    while (this.running) {
      try {
        while (inFlight.size >= this.concurrency) await Promise.race(inFlight);
        const out = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.queueUrl,
            MaxNumberOfMessages: Math.min(10, this.concurrency - inFlight.size),
            WaitTimeSeconds: 1,
            VisibilityTimeout: 10,
          }),
        );
        for (const message of out.Messages ?? []) {
          this.receivedCount++;
          const task = handle(message).finally(() => inFlight.delete(task));
          inFlight.add(task);
        }
      } catch (error) {
        if (!this.running) break;
        this.onError(error);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    await Promise.all(inFlight);
  }
}

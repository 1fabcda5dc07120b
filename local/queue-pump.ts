import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { emulatorClientConfig } from './aws-env';

/**
 * Long-polls an SQS queue in moto and hands each message body to a callback; a message is deleted only when the
 * callback resolves, so a failure is redelivered after the visibility timeout (as Lambda's retries would).
 */
export class QueuePump {
  private readonly sqs: SQSClient;
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    endpoint: string,
    private readonly queueUrl: string,
    private readonly onMessage: (body: string) => Promise<void>,
    private readonly onError: (error: unknown) => void = () => {},
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

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const out = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            VisibilityTimeout: 10,
          }),
        );
        await Promise.all(
          (out.Messages ?? []).map(async (message) => {
            try {
              await this.onMessage(message.Body ?? '');
              await this.sqs.send(
                new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: message.ReceiptHandle }),
              );
            } catch (error) {
              this.onError(error);
            }
          }),
        );
      } catch (error) {
        if (!this.running) return;
        this.onError(error);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}

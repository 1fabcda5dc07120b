import { type EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE } from '../core/check-events';
import type { DomainEvent, EventSinkPort } from '../core/ports';
import { DependencyThrottledError } from '../errors';
import { classifyAwsError } from './aws-errors';

/**
 * PutEvents with the partial-failure handling the API requires: a 200 can still carry failed entries, which are
 * resent a few times before giving up with a retryable error.
 */
export class EventPublisher implements EventSinkPort {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
    private readonly attempts = 3,
    private readonly backoffMs = 100,
  ) {}

  async publish(events: readonly DomainEvent[]): Promise<void> {
    let pending: PutEventsRequestEntry[] = events.map((event) => ({
      EventBusName: this.busName,
      Source: EVENT_SOURCE,
      DetailType: event.detailType,
      Detail: JSON.stringify(event.detail),
    }));
    for (let attempt = 1; pending.length > 0; attempt++) {
      let failedCodes: string[] = [];
      try {
        const out = await this.client.send(new PutEventsCommand({ Entries: pending }));
        const results = out.Entries ?? [];
        const failed = pending.filter((_, i) => results[i]?.ErrorCode);
        failedCodes = results.flatMap((r) => (r.ErrorCode ? [r.ErrorCode] : []));
        pending = failed;
      } catch (error) {
        const classified = classifyAwsError(error, 'EventBridge');
        if (!(classified instanceof DependencyThrottledError) || attempt >= this.attempts) throw classified;
        failedCodes = [(error as Error).name];
      }
      if (pending.length === 0) return;
      if (attempt >= this.attempts) {
        throw new DependencyThrottledError(
          `EventBridge refused ${pending.length} event(s) after ${attempt} attempts: ${failedCodes.join(', ')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, this.backoffMs * 2 ** (attempt - 1)));
    }
  }
}

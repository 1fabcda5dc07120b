import * as events from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';

/**
 * The service's own EventBridge bus. Check results ("Liveness Check Completed/Failed/Updated") go here rather than
 * to the default bus, so consumers subscribe with rules on one bus and nothing else in the account can publish to it
 * without an explicit grant.
 */
export class CheckEvents extends Construct {
  public readonly eventBus: events.EventBus;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.eventBus = new events.EventBus(this, 'Bus', {
      description: 'Didit liveness check results: one event per terminal or updated check, keyed on detail.id',
    });
  }
}

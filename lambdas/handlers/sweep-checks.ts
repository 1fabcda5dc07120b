import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SFNClient } from '@aws-sdk/client-sfn';
import { CheckStore } from '../adapters/check-store';
import { EventPublisher } from '../adapters/event-publisher';
import { RetryWorkflow } from '../adapters/retry-workflow';
import { loadSweeperConfig } from '../config';
import { instrumented, metricsPort, tracer } from '../observability';
import { CheckSweeper, type SweepAction } from '../services/check-sweeper';

const config = loadSweeperConfig();
const sweeper = new CheckSweeper(
  {
    store: new CheckStore(tracer.captureAWSv3Client(new DynamoDBClient({})), config.tableName),
    events: new EventPublisher(tracer.captureAWSv3Client(new EventBridgeClient({})), config.eventBusName),
    retries: new RetryWorkflow(tracer.captureAWSv3Client(new SFNClient({})), config.retryStateMachineArn),
    clock: () => new Date(),
    metrics: metricsPort,
  },
  { batchSize: config.batchSize, leaseSeconds: config.claimLeaseSeconds, retryDueSeconds: config.retryDueSeconds },
);

/** Scheduled every minute: expires abandoned checks, restarts quiet retry rounds, republishes lost events. */
export const handler = instrumented(async (): Promise<Record<SweepAction, number>> => sweeper.sweep());

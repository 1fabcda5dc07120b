import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { RetrySchedulerPort } from '../core/ports';
import { executionName, type RetryRoundInput } from '../core/retry-round';
import { logger } from '../observability';
import { classifyAwsError } from './aws-errors';

/**
 * Starts one Step Functions execution per check and round, named after both: a second start of the same round (a
 * duplicate event, a retried Lambda) is refused by Step Functions as ExecutionAlreadyExists, which is success here.
 */
export class RetryWorkflow implements RetrySchedulerPort {
  constructor(
    private readonly client: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async startRound(input: RetryRoundInput): Promise<void> {
    try {
      await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: executionName(input.check_id, input.round),
          input: JSON.stringify(input),
        }),
      );
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists || (error as Error).name === 'ExecutionAlreadyExists') {
        logger.info('Retry round already started', { checkId: input.check_id, round: input.round });
        return;
      }
      throw classifyAwsError(error, 'Step Functions');
    }
  }
}

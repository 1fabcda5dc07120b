import { ArnFormat, Duration, Names, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { type BackoffSchedule, backoffCaps } from '../../lambdas/core/backoff';

export interface RetryWorkflowProps {
  /** The processor function: it runs the Attempt and GiveUp tasks. */
  readonly processor: lambda.IFunction;
  /** Waits between attempts: FULL jitter under caps that double from the base up to the maximum. */
  readonly backoff: BackoffSchedule;
  /** Didit attempts per check, the first (S3-triggered) one included. */
  readonly maxAttempts: number;
  readonly logRetention: logs.RetentionDays;
}

/** State names are part of the contract with the local runner and the tests (time compression, assertions). */
export const RETRY_STATES = {
  backoff: 'Backoff',
  honourRetryAfter: 'HonourRetryAfter',
  waitRetryAfter: 'WaitRetryAfter',
  waitBackoff: 'WaitBackoff',
  attempt: 'Attempt',
  next: 'NextStep',
  giveUp: 'GiveUp',
  done: 'Done',
} as const;

/** Lambda's own transient failures: the task is re-invoked; our code's errors come back as task results instead. */
const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
];

/**
 * The Standard state machine that owns every Didit retry that outlives one invocation. The whole schedule is in the
 * definition: the wait before attempt n+1 is `States.MathRandom(0, cap[n])` (FULL jitter under exponential caps
 * with a maximum), raised to Didit's Retry-After when that is longer; after `maxAttempts` the GiveUp task fails the
 * check with the last error. One execution per check and round, named `<check id>-r<round>`.
 */
export class RetryWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  /** Known before the state machine exists, so the processor can be told it without a dependency cycle. */
  public readonly stateMachineArn: string;

  constructor(scope: Construct, id: string, props: RetryWorkflowProps) {
    super(scope, id);
    if (!Number.isInteger(props.maxAttempts) || props.maxAttempts < 2 || props.maxAttempts > 20) {
      throw new Error(`maxAttempts must be a whole number from 2 to 20, got ${props.maxAttempts}`);
    }
    const caps = backoffCaps(props.backoff, props.maxAttempts - 1);
    const stateMachineName = Names.uniqueResourceName(this, { maxLength: 80, separator: '-' });
    this.stateMachineArn = Stack.of(this).formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    const roundFields = {
      check_id: sfn.JsonPath.stringAt('$.check_id'),
      round: sfn.JsonPath.numberAt('$.round'),
      attempt: sfn.JsonPath.numberAt('$.attempt'),
      retry_after_seconds: sfn.JsonPath.numberAt('$.retry_after_seconds'),
    };

    const done = new sfn.Succeed(this, RETRY_STATES.done);

    const giveUp = new tasks.LambdaInvoke(this, RETRY_STATES.giveUp, {
      lambdaFunction: props.processor,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({
        action: 'give_up',
        check_id: sfn.JsonPath.stringAt('$.check_id'),
        round: sfn.JsonPath.numberAt('$.round'),
      }),
      retryOnServiceExceptions: false,
    });
    // Giving up must not be lost either: any error is retried for a while; the sweeper covers the rest.
    giveUp.addRetry({
      errors: ['States.ALL'],
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 6,
      maxDelay: Duration.minutes(1),
      jitterStrategy: sfn.JitterType.FULL,
    });
    giveUp.next(done);

    const attempt = new tasks.LambdaInvoke(this, RETRY_STATES.attempt, {
      lambdaFunction: props.processor,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({ action: 'attempt', ...roundFields }),
      retryOnServiceExceptions: false,
    });
    attempt.addRetry({
      errors: LAMBDA_SERVICE_ERRORS,
      interval: Duration.seconds(1),
      backoffRate: 2,
      maxAttempts: 3,
      maxDelay: Duration.seconds(10),
      jitterStrategy: sfn.JitterType.FULL,
    });
    // An attempt that keeps crashing (timeout, out of memory, a bug) ends the check FAILED rather than stuck.
    attempt.addCatch(giveUp, { errors: ['States.ALL'], resultPath: '$.attempt_error' });

    const backoff = new sfn.Pass(this, RETRY_STATES.backoff, {
      parameters: {
        ...roundFields,
        // FULL jitter: uniform in [0, cap) where cap doubles per attempt up to the maximum delay.
        'delay_seconds.$': `States.MathRandom(0, States.ArrayGetItem(States.Array(${caps.join(', ')}), States.MathAdd($.attempt, -1)))`,
      },
    });
    const waitBackoff = new sfn.Wait(this, RETRY_STATES.waitBackoff, {
      time: sfn.WaitTime.secondsPath('$.delay_seconds'),
    });
    const waitRetryAfter = new sfn.Wait(this, RETRY_STATES.waitRetryAfter, {
      time: sfn.WaitTime.secondsPath('$.retry_after_seconds'),
    });
    const honourRetryAfter = new sfn.Choice(this, RETRY_STATES.honourRetryAfter)
      // Retry-After is a lower bound: when Didit asks for longer than the jittered wait, wait what it asked.
      .when(sfn.Condition.numberGreaterThanJsonPath('$.retry_after_seconds', '$.delay_seconds'), waitRetryAfter)
      .otherwise(waitBackoff);
    waitBackoff.next(attempt);
    waitRetryAfter.next(attempt);

    const next = new sfn.Choice(this, RETRY_STATES.next)
      .when(
        sfn.Condition.and(
          sfn.Condition.stringEquals('$.outcome', 'RETRY'),
          sfn.Condition.numberGreaterThanEquals('$.attempt', props.maxAttempts),
        ),
        giveUp,
      )
      .when(sfn.Condition.stringEquals('$.outcome', 'RETRY'), backoff)
      .otherwise(done);
    attempt.next(next);

    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: `Didit retries: up to ${props.maxAttempts} attempts, FULL-jitter waits capped at ${caps.join('/')} s, Retry-After honoured`,
      definitionBody: sfn.DefinitionBody.fromChainable(backoff.next(honourRetryAfter)),
      tracingEnabled: true,
      // Execution data stays out of the logs: inputs carry check ids only, but outputs are not ours to log.
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    acknowledgeTaskInvokeGrants(this.stateMachine, [props.processor]);
  }

  /** Lets a function start rounds, on this state machine only. */
  grantStartRound(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['states:StartExecution'], resourceArns: [this.stateMachineArn] });
  }
}

/**
 * The two wildcards CDK puts in a state machine role that invokes Lambda tasks and traces with X-Ray: `<fn>:*`
 * (any version or alias of that one function) and `*` (X-Ray has no resource-level permissions).
 */
export function acknowledgeTaskInvokeGrants(stateMachine: sfn.StateMachine, functions: lambda.IFunction[]): void {
  for (const fn of functions) {
    const arn = Stack.of(fn).resolve(fn.functionArn) as { 'Fn::GetAtt'?: [string, string] };
    const name = arn['Fn::GetAtt'] ? `<${arn['Fn::GetAtt'].join('.')}>` : undefined;
    if (!name) throw new Error(`cannot name the ARN of ${fn.node.path} for cdk-nag`);
    Validations.of(stateMachine.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${name}:*]`,
      reason:
        'lambda:InvokeFunction on the versions and aliases of this one function (CDK grants `<arn>:*` next to the ' +
        'unqualified ARN); no other function is reachable.',
    });
  }
  Validations.of(stateMachine.role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'xray:PutTraceSegments, xray:PutTelemetryRecords and the sampling reads for tracing support no resource-level ' +
      'permissions; every other statement on this role names its function.',
  });
}

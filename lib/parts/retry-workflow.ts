import { ArnFormat, Duration, Names, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { type BackoffSchedule, distinctCaps } from '../../lambdas/core/backoff';

export interface RetryWorkflowProps {
  /** The processor function: it runs the Attempt and GiveUp tasks. */
  readonly processor: lambda.IFunction;
  /** Waits between attempts after a real failure: FULL jitter under caps that double from the base up to the maximum. */
  readonly backoff: BackoffSchedule;
  readonly logRetention: logs.RetentionDays;
}

/** State names are part of the contract with the local runner and the tests (time compression, assertions). */
export const RETRY_STATES = {
  route: 'Route',
  waitUntil: 'WaitUntil',
  pickCap: 'PickCap',
  backoffAtMax: 'BackoffAtMax',
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
 * The Standard state machine that owns every wait and retry that outlives one invocation. Two kinds of pause, both in
 * the definition:
 *
 * - WAIT (no attempt spent): the processor returns `resume_at` — the slot the shared Didit budget reserved, the end of
 *   a global back-off, or the next out-of-credits probe — and the execution waits until that timestamp
 *   (`WaitUntil`) before the next attempt. A round that starts WAITING begins there.
 * - RETRY (a real Didit failure): the wait before the next attempt is `States.MathRandom(0, cap)` (FULL jitter under
 *   caps that double from the base to the maximum, then stay there), raised to Didit's Retry-After when that is longer.
 *
 * The processor decides when a check has failed for longer than the failure horizon and ends it; the GiveUp task only
 * ends a check whose attempts keep crashing. One execution per check and round, named `<check id>-r<round>`.
 */
export class RetryWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  /** Known before the state machine exists, so the processor can be told it without a dependency cycle. */
  public readonly stateMachineArn: string;

  constructor(scope: Construct, id: string, props: RetryWorkflowProps) {
    super(scope, id);
    const caps = distinctCaps(props.backoff);
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

    // Until the reserved slot, the end of Didit's back-off or the next probe: real time, no attempt spent.
    const waitUntil = new sfn.Wait(this, RETRY_STATES.waitUntil, {
      time: sfn.WaitTime.timestampPath('$.resume_at'),
    });
    waitUntil.next(attempt);

    // FULL jitter: uniform in [0, cap) where the cap doubles per failed attempt up to the maximum delay. The list is
    // indexed by failed attempts (the first cap twice: 0 and 1 failures), and every later attempt uses the maximum.
    const capList = [caps[0] ?? 1, ...caps].join(', ');
    const backoff = new sfn.Pass(this, RETRY_STATES.backoff, {
      parameters: {
        ...roundFields,
        'delay_seconds.$': `States.MathRandom(0, States.ArrayGetItem(States.Array(${capList}), $.attempt))`,
      },
    });
    const backoffAtMax = new sfn.Pass(this, RETRY_STATES.backoffAtMax, {
      parameters: { ...roundFields, 'delay_seconds.$': `States.MathRandom(0, ${caps.at(-1) ?? 1})` },
    });
    const pickCap = new sfn.Choice(this, RETRY_STATES.pickCap)
      .when(sfn.Condition.numberGreaterThanEquals('$.attempt', caps.length + 1), backoffAtMax)
      .otherwise(backoff);
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
    backoff.next(honourRetryAfter);
    backoffAtMax.next(honourRetryAfter);
    waitBackoff.next(attempt);
    waitRetryAfter.next(attempt);

    const next = new sfn.Choice(this, RETRY_STATES.next)
      .when(sfn.Condition.stringEquals('$.outcome', 'WAIT'), waitUntil)
      .when(sfn.Condition.stringEquals('$.outcome', 'RETRY'), pickCap)
      .otherwise(done);
    attempt.next(next);

    const route = new sfn.Choice(this, RETRY_STATES.route)
      .when(sfn.Condition.isPresent('$.resume_at'), waitUntil)
      .otherwise(pickCap);

    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment:
        `Didit waits (until a reserved slot, a back-off's end or a probe) and retries (FULL-jitter waits capped at ` +
        `${caps.join('/')} s, Retry-After honoured) until the processor ends the check`,
      definitionBody: sfn.DefinitionBody.fromChainable(route),
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

import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeLambdaArn } from '../../local/asl-from-template';
import { emulatorClientConfig } from '../../local/aws-env';
import { type HistoryEvent, LocalStepFunctions, StepFunctionsError } from '../../local/step-functions';
import { type StepFunctionsServer, startStepFunctionsServer } from '../../local/step-functions-server';

const DELIVER_ARN = fakeLambdaArn('DeliverFunction');
const DOUBLE_ARN = fakeLambdaArn('DoubleFunction');
const TIME_SCALE = 0.001;

class EndpointBusyError extends Error {
  override readonly name = 'EndpointBusyError';
}
class PermanentDeliveryError extends Error {
  override readonly name = 'PermanentDeliveryError';
}

/**
 * A webhook-style loop: wait `waitSeconds` (SecondsPath), deliver, retry a busy endpoint with capped FULL-jitter
 * backoff, go round again until delivered; a permanent refusal is caught and reported as the output.
 */
const deliveryDefinition = {
  StartAt: 'Pause',
  States: {
    Pause: { Type: 'Wait', SecondsPath: '$.waitSeconds', Next: 'Deliver' },
    Deliver: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: DELIVER_ARN, 'Payload.$': '$' },
      ResultSelector: { 'delivered.$': '$.Payload.delivered', 'statusCode.$': '$.StatusCode' },
      ResultPath: '$.result',
      Retry: [
        {
          ErrorEquals: ['EndpointBusyError'],
          IntervalSeconds: 20,
          BackoffRate: 2,
          MaxAttempts: 5,
          MaxDelaySeconds: 60,
          JitterStrategy: 'FULL',
        },
      ],
      Catch: [{ ErrorEquals: ['PermanentDeliveryError'], ResultPath: '$.failure', Next: 'GiveUp' }],
      Next: 'Delivered?',
    },
    'Delivered?': {
      Type: 'Choice',
      Choices: [{ Variable: '$.result.delivered', BooleanEquals: true, Next: 'Done' }],
      Default: 'NextRound',
    },
    NextRound: {
      Type: 'Pass',
      Parameters: { 'key.$': '$.key', 'waitSeconds.$': '$.waitSeconds', 'round.$': 'States.MathAdd($.round, 1)' },
      Next: 'Pause',
    },
    Done: { Type: 'Succeed' },
    GiveUp: { Type: 'Pass', OutputPath: '$.failure', End: true },
  },
};

/** Plain-ARN Tasks nested in a Parallel branch and a Map iterator, and a TimestampPath wait. */
const nestedDefinition = {
  StartAt: 'Until',
  States: {
    Until: { Type: 'Wait', TimestampPath: '$.until', Next: 'Both' },
    Both: {
      Type: 'Parallel',
      Branches: [
        {
          StartAt: 'DoubleOne',
          States: { DoubleOne: { Type: 'Task', Resource: DOUBLE_ARN, InputPath: '$.one', End: true } },
        },
        {
          StartAt: 'DoubleEach',
          States: {
            DoubleEach: {
              Type: 'Map',
              ItemsPath: '$.many',
              ItemProcessor: {
                ProcessorConfig: { Mode: 'INLINE' },
                StartAt: 'DoubleItem',
                States: { DoubleItem: { Type: 'Task', Resource: DOUBLE_ARN, End: true } },
              },
              End: true,
            },
          },
        },
      ],
      End: true,
    },
  },
};

interface Behaviour {
  busyTimes?: number;
  deliverFromRound?: number;
  permanent?: boolean;
  crash?: boolean;
  hold?: Promise<void>;
}

describe('LocalStepFunctions behind the Step Functions API', () => {
  const behaviours = new Map<string, Behaviour>();
  const calls = new Map<string, number>();
  let sfn: LocalStepFunctions;
  let server: StepFunctionsServer;
  let client: SFNClient;
  let deliveryArn: string;
  let nestedArn: string;

  async function deliver(event: unknown): Promise<unknown> {
    const { key, round } = event as { key: string; round: number };
    const behaviour = behaviours.get(key) ?? {};
    const call = (calls.get(key) ?? 0) + 1;
    calls.set(key, call);
    await behaviour.hold;
    if (behaviour.crash) throw new TypeError(`cannot read the endpoint of ${key}`);
    if (behaviour.permanent) throw new PermanentDeliveryError(`endpoint for ${key} answered 410`);
    if (call <= (behaviour.busyTimes ?? 0)) throw new EndpointBusyError(`endpoint for ${key} answered 503`);
    return { delivered: round >= (behaviour.deliverFromRound ?? 0) };
  }

  async function start(input: Record<string, unknown>, name?: string): Promise<string> {
    const started = await client.send(
      new StartExecutionCommand({ stateMachineArn: deliveryArn, name, input: JSON.stringify(input) }),
    );
    return started.executionArn as string;
  }

  beforeAll(async () => {
    sfn = new LocalStepFunctions({ timeScale: TIME_SCALE });
    deliveryArn = sfn.registerStateMachine({
      name: 'delivery',
      definition: deliveryDefinition,
      taskHandlers: { [DELIVER_ARN]: deliver },
    }).arn;
    nestedArn = sfn.registerStateMachine({
      name: 'nested',
      definition: JSON.stringify(nestedDefinition),
      taskHandlers: { [DOUBLE_ARN]: async (n) => (n as number) * 2 },
    }).arn;
    server = await startStepFunctionsServer(sfn);
    client = new SFNClient(emulatorClientConfig(server.endpoint));
  });

  afterAll(async () => {
    client?.destroy();
    await sfn?.stop();
    await server?.close();
  });

  it('runs waits, retries and the loop time-compressed, and the history shows the definition as written', async () => {
    behaviours.set('loop', { busyTimes: 3, deliverFromRound: 1 });
    const began = performance.now();
    const arn = await start({ key: 'loop', waitSeconds: 30, round: 0 }, 'loop-1');
    await sfn.waitForExecution(arn);
    const elapsed = performance.now() - began;

    const described = await client.send(new DescribeExecutionCommand({ executionArn: arn }));
    expect(described.status).toBe('SUCCEEDED');
    expect(JSON.parse(described.output as string)).toEqual({
      key: 'loop',
      waitSeconds: 30,
      round: 1,
      result: { delivered: true, statusCode: 200 },
    });
    expect(described.stopDate?.getTime()).toBeGreaterThanOrEqual(described.startDate?.getTime() as number);
    // Unscaled: 2 × 30 s of Wait plus up to 20 + 40 + 60 s of retry pauses.
    expect(elapsed).toBeLessThan(1000);
    expect(calls.get('loop')).toBe(5);

    const { history } = sfn.describeExecution(arn);
    const retried = history.filter((event) => event.type === 'StateRetried');
    // The engine numbers retries from 1.
    expect(retried.map((event) => event.retry.attempt)).toEqual([1, 2, 3]);
    expect(retried[0]?.retry.retrier).toEqual(deliveryDefinition.States.Deliver.Retry[0]);
    const failed = history.filter((event) => event.type === 'StateFailed');
    expect(failed.map((event) => event.Error)).toEqual(['EndpointBusyError', 'EndpointBusyError', 'EndpointBusyError']);

    const pauses = history.filter(
      (event): event is Extract<HistoryEvent, { type: 'StateEntered' | 'StateExited' }> =>
        (event.type === 'StateEntered' || event.type === 'StateExited') && event.state.name === 'Pause',
    );
    expect(pauses.map((event) => `${event.type}:${event.state.type}`)).toEqual([
      'StateEntered:Wait',
      'StateExited:Wait',
      'StateEntered:Wait',
      'StateExited:Wait',
    ]);
    // 30 s × 0.001, computed from the input at run time.
    const firstPause = (pauses[1]?.timestamp as number) - (pauses[0]?.timestamp as number);
    expect(firstPause).toBeGreaterThanOrEqual(29);
    expect(firstPause).toBeLessThan(300);
  });

  it('surfaces a handler error by its name: caught with the Lambda error payload as Cause', async () => {
    behaviours.set('gone', { permanent: true });
    const arn = await start({ key: 'gone', waitSeconds: 1, round: 0 });
    const finished = await sfn.waitForExecution(arn);

    expect(finished.status).toBe('SUCCEEDED');
    const failure = JSON.parse(finished.output as string) as { Error: string; Cause: string };
    expect(failure.Error).toBe('PermanentDeliveryError');
    expect(JSON.parse(failure.Cause)).toMatchObject({
      errorType: 'PermanentDeliveryError',
      errorMessage: 'endpoint for gone answered 410',
      trace: expect.arrayContaining([
        expect.stringContaining('PermanentDeliveryError: endpoint for gone answered 410'),
      ]),
    });
    expect(calls.get('gone')).toBe(1);
    expect(finished.history.some((event) => event.type === 'StateCaught')).toBe(true);
  });

  it('ends FAILED with the error name and cause when nothing catches it', async () => {
    behaviours.set('crash', { crash: true });
    const arn = await start({ key: 'crash', waitSeconds: 0, round: 0 }, 'crash-1');
    await sfn.waitForExecution(arn);

    const described = await client.send(new DescribeExecutionCommand({ executionArn: arn }));
    expect(described.status).toBe('FAILED');
    expect(described.error).toBe('TypeError');
    expect(JSON.parse(described.cause as string)).toMatchObject({
      errorType: 'TypeError',
      errorMessage: 'cannot read the endpoint of crash',
    });
    expect(described.output).toBeUndefined();
  });

  it('gives a running execution back for the same name and input, and refuses any other reuse of the name', async () => {
    let release: () => void = () => {};
    behaviours.set('held', { hold: new Promise<void>((resolve) => (release = resolve)) });
    const input = { key: 'held', waitSeconds: 0, round: 0 };
    const first = await client.send(
      new StartExecutionCommand({ stateMachineArn: deliveryArn, name: 'held-1', input: JSON.stringify(input) }),
    );
    expect(first.executionArn).toBe(`${deliveryArn.replace(':stateMachine:', ':execution:')}:held-1`);

    const again = await client.send(
      new StartExecutionCommand({ stateMachineArn: deliveryArn, name: 'held-1', input: JSON.stringify(input) }),
    );
    expect(again.executionArn).toBe(first.executionArn);
    expect(again.startDate).toEqual(first.startDate);

    await expect(start({ ...input, round: 7 }, 'held-1')).rejects.toBeInstanceOf(ExecutionAlreadyExists);

    const running = await client.send(
      new ListExecutionsCommand({ stateMachineArn: deliveryArn, statusFilter: 'RUNNING' }),
    );
    expect(running.executions?.map((execution) => execution.name)).toContain('held-1');

    release();
    await sfn.waitForExecution(first.executionArn as string);
    expect(calls.get('held')).toBe(1);
    await expect(start(input, 'held-1')).rejects.toBeInstanceOf(ExecutionAlreadyExists);

    const succeeded = await client.send(
      new ListExecutionsCommand({ stateMachineArn: deliveryArn, statusFilter: 'SUCCEEDED' }),
    );
    expect(succeeded.executions?.find((execution) => execution.name === 'held-1')).toMatchObject({
      status: 'SUCCEEDED',
      stopDate: expect.any(Date),
    });
  });

  it('names an unnamed execution with a UUID', async () => {
    behaviours.set('anon', {});
    const arn = await start({ key: 'anon', waitSeconds: 0, round: 0 });
    expect(arn.split(':').at(-1)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect((await sfn.waitForExecution(arn)).status).toBe('SUCCEEDED');
  });

  it('stops an execution in the middle of a (long) wait', async () => {
    behaviours.set('stopped', {});
    const arn = await start({ key: 'stopped', waitSeconds: 86_400, round: 0 }, 'stopped-1');
    const stopped = await client.send(
      new StopExecutionCommand({ executionArn: arn, error: 'Cancelled', cause: 'test' }),
    );
    expect(stopped.stopDate).toBeInstanceOf(Date);

    const described = await client.send(new DescribeExecutionCommand({ executionArn: arn }));
    expect(described).toMatchObject({ status: 'ABORTED', error: 'Cancelled', cause: 'test' });
    const began = performance.now();
    await sfn.waitForIdle();
    expect(performance.now() - began).toBeLessThan(500);
    expect(calls.get('stopped')).toBeUndefined();
  });

  it('binds Tasks inside Parallel branches and Map iterations, and waits a TimestampPath in real time', async () => {
    // A timestamp is a moment on the real clock (a reserved Didit slot): compressing it would wake the check early.
    const until = new Date(Date.now() + 300).toISOString();
    const started = await client.send(
      new StartExecutionCommand({
        stateMachineArn: nestedArn,
        input: JSON.stringify({ until, one: 21, many: [1, 2, 3] }),
      }),
    );
    const finished = await sfn.waitForExecution(started.executionArn as string);
    expect(finished.status).toBe('SUCCEEDED');
    expect(JSON.parse(finished.output as string)).toEqual([42, [2, 4, 6]]);
    expect(finished.stopDate?.getTime()).toBeGreaterThanOrEqual(Date.parse(until));
  });

  it('answers unknown state machines and executions with the service errors', async () => {
    const missing = deliveryArn.replace(/delivery$/, 'missing');
    await expect(
      client.send(new StartExecutionCommand({ stateMachineArn: missing, input: '{}' })),
    ).rejects.toBeInstanceOf(StateMachineDoesNotExist);
    await expect(
      client.send(
        new DescribeExecutionCommand({ executionArn: `${missing.replace(':stateMachine:', ':execution:')}:x` }),
      ),
    ).rejects.toBeInstanceOf(ExecutionDoesNotExist);
  });

  it('refuses to register a definition with a Task nothing is bound to', () => {
    expect(() =>
      sfn.registerStateMachine({ name: 'unbound', definition: deliveryDefinition, taskHandlers: {} }),
    ).toThrow(StepFunctionsError);
    expect(() =>
      sfn.registerStateMachine({ name: 'unbound', definition: deliveryDefinition, taskHandlers: {} }),
    ).toThrow(/Task state 'Deliver' invokes .*DeliverFunction, which has no task handler/);
  });
});

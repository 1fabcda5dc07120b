import './node20-polyfills';
import { randomUUID } from 'node:crypto';
import { types } from 'node:util';
import { ExecutionAbortedError, ExecutionError, ExecutionTimeoutError, StateMachine } from 'aws-local-stepfunctions';
import { LOCAL_ACCOUNT_ID, LOCAL_PARTITION } from './asl-from-template';
import { LOCAL_REGION } from './aws-env';

/**
 * Standard-workflow executions in process: the state machine JSON runs on aws-local-stepfunctions, each Task bound to
 * an in-process handler (normally the real Lambda handler), with Wait states and Retry intervals time-compressed.
 * {@link ./step-functions-server} puts the Step Functions API in front of it for the real SFNClient.
 */

/** A Lambda handler (or a stand-in for another service integration) as a Task sees it: JSON in, JSON out. */
export type TaskHandler = (input: unknown) => Promise<unknown>;

export interface StateMachineRegistration {
  readonly name: string;
  /** @default `arn:aws:states:us-east-1:000000000000:stateMachine:<name>` */
  readonly arn?: string;
  /** The ASL, e.g. from `renderedDefinitions()`. */
  readonly definition: object | string;
  /**
   * By Lambda function ARN for Tasks whose Resource is a function ARN or `arn:aws:states:::lambda:invoke`; by the
   * exact Resource string for any other integration (the handler gets the state's effective input and returns the
   * state's result). Every Task must have a handler: registration fails otherwise.
   */
  readonly taskHandlers: Readonly<Record<string, TaskHandler>>;
  /** What `$$.Execution.RoleArn` shows. */
  readonly roleArn?: string;
}

export interface LocalStepFunctionsOptions {
  /**
   * Multiplies every Wait state's duration (Seconds, SecondsPath) and every Retry interval (and MaxDelaySeconds); 0
   * skips them. Waits until a timestamp (Timestamp, TimestampPath) are moments on the real clock and stay real, as do
   * task and execution timeouts: handlers run at real speed. @default 1
   */
  readonly timeScale?: number;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

type EngineEvent = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

/**
 * An aws-local-stepfunctions event log entry, as the registered definition would produce it: Wait states show as
 * Wait and retriers/catchers are the definition's own (not the time-scaled copies that ran).
 */
export type HistoryEvent = EngineEvent;

export interface ExecutionSnapshot {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly status: ExecutionStatus;
  /** JSON text, as StartExecution received it. */
  readonly input: string;
  /** JSON text; only when SUCCEEDED. */
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
  readonly startDate: Date;
  readonly stopDate?: Date;
  readonly history: readonly HistoryEvent[];
}

export type StepFunctionsErrorCode =
  | 'ExecutionAlreadyExists'
  | 'ExecutionDoesNotExist'
  | 'StateMachineAlreadyExists'
  | 'StateMachineDoesNotExist'
  | 'InvalidArn'
  | 'InvalidName'
  | 'InvalidExecutionInput'
  | 'InvalidDefinition'
  | 'ValidationException';

/** An API error, named as the Step Functions service names it (the server sends `name` as `__type`). */
export class StepFunctionsError extends Error {
  constructor(
    readonly code: StepFunctionsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

/** What a Task handler's failure becomes: `Error` is the thrown error's name, `Cause` the Lambda error payload. */
class TaskFailure extends Error {
  constructor(errorName: string, cause: string) {
    // The engine reports `message` as the Cause (Catch output, ExecutionFailed); no `cause` option, it would win.
    super(cause);
    this.name = errorName;
  }

  /** Like the Node.js Lambda runtime: errorType is the error's name, the Cause is its JSON error payload. */
  static fromThrown(thrown: unknown): TaskFailure {
    const payload = isErrorLike(thrown)
      ? {
          errorType: String(thrown.name),
          errorMessage: String(thrown.message),
          trace: typeof thrown.stack === 'string' ? thrown.stack.split('\n') : [],
        }
      : { errorType: typeof thrown, errorMessage: String(thrown), trace: [] };
    return new TaskFailure(payload.errorType, JSON.stringify(payload));
  }
}

function isErrorLike(value: unknown): value is Error {
  return types.isNativeError(value) || (value instanceof Object && 'name' in value && 'message' in value);
}

/** States.Runtime: the engine lets neither Retry nor Catch see an error whose isRetryable/isCatchable are false. */
class StatesRuntimeFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'States.Runtime';
  }
  get isRetryable(): boolean {
    return false;
  }
  get isCatchable(): boolean {
    return false;
  }
}

/** setTimeout's ceiling (~24.8 days); longer delays fire at once, so timeouts beyond it are dropped or capped. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);
const MAX_INPUT_BYTES = 256 * 1024;
/** The Resource a Wait state runs as locally (see prepareDefinition); never invoked remotely. */
const LOCAL_WAIT_RESOURCE = `arn:${LOCAL_PARTITION}:states:::local:wait`;

const LAMBDA_INVOKE_RESOURCE = /^arn:[\w-]+:states:::lambda:invoke$/;
const LAMBDA_FUNCTION_ARN = /^arn:([\w-]+):lambda:([\w-]+):(\d{12}):function:([\w-]+)(?::([\w$-]+))?$/;
const STATE_MACHINE_ARN = /^arn:([\w-]+):states:([\w-]+):(\d{12}):stateMachine:([^:]+)$/;
const EXECUTION_ARN = /^arn:([\w-]+):states:([\w-]+):(\d{12}):execution:([^:]+):([^:]+)$/;
// Names: 1–80 characters, none of whitespace, brackets, wildcards, `"#%\^|~`$&,;:/` or control characters.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are exactly what the rule excludes
const INVALID_NAME_CHARACTER = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/;

function validName(name: string): boolean {
  return name.length >= 1 && name.length <= 80 && !INVALID_NAME_CHARACTER.test(name);
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type StateDefinition = Record<string, unknown>;
interface Scope {
  StartAt: string;
  States: Record<string, StateDefinition>;
  [key: string]: unknown;
}

interface WaitSpec {
  readonly seconds?: unknown;
  readonly timestamp?: unknown;
  readonly secondsPath?: unknown;
  readonly timestampPath?: unknown;
}

type TaskBinding =
  | { readonly kind: 'function'; readonly handler: TaskHandler }
  | { readonly kind: 'lambda-invoke' }
  | { readonly kind: 'resource'; readonly handler: TaskHandler };

/** Handlers by function: an unqualified ARN, or a bare name when that name is unambiguous. */
class FunctionTable {
  private readonly byArn = new Map<string, TaskHandler>();
  private readonly byName = new Map<string, TaskHandler | 'ambiguous'>();

  constructor(handlers: Readonly<Record<string, TaskHandler>>) {
    for (const [key, handler] of Object.entries(handlers)) {
      const match = LAMBDA_FUNCTION_ARN.exec(key);
      if (!match) continue;
      const [, partition, region, account, name] = match as unknown as [string, string, string, string, string];
      this.byArn.set(`arn:${partition}:lambda:${region}:${account}:function:${name}`, handler);
      this.byName.set(name, this.byName.has(name) ? 'ambiguous' : handler);
    }
  }

  /** FunctionName as Lambda accepts it: name, `name:qualifier`, partial `account:function:name`, or an ARN. */
  find(functionName: string): TaskHandler | undefined {
    const arn = LAMBDA_FUNCTION_ARN.exec(functionName);
    if (arn) {
      const [, partition, region, account, name] = arn as unknown as [string, string, string, string, string];
      return this.byArn.get(`arn:${partition}:lambda:${region}:${account}:function:${name}`);
    }
    const name = /^(?:\d{12}:function:)?([\w-]+)(?::[\w$-]+)?$/.exec(functionName)?.[1];
    const handler = name === undefined ? undefined : this.byName.get(name);
    return handler === 'ambiguous' ? undefined : handler;
  }

  describe(): string {
    return [...this.byArn.keys()].join(', ') || 'none';
  }
}

interface PreparedDefinition {
  readonly runnable: Scope;
  readonly waits: ReadonlyMap<string, WaitSpec>;
  readonly tasks: ReadonlyMap<string, TaskBinding>;
  /** Rewritten retriers and catchers → the definition's own, for the history. */
  readonly originals: ReadonlyMap<object, object>;
}

/**
 * The definition as the engine runs it. Every change preserves semantics except time, or works around an engine bug:
 * - Wait → a Task bound to a local wait handler (same InputPath/OutputPath data flow): the engine's waitTimeOverrides
 *   are one fixed duration per state name, which cannot express SecondsPath/TimestampPath or a Timestamp's
 *   remaining time, so the handler computes the wait as Step Functions does and sleeps it × timeScale.
 * - Retry: IntervalSeconds (default 1) and MaxDelaySeconds × timeScale. The pause is
 *   min(MaxDelay, Interval · Backoff^n), optionally drawn uniformly below that (FULL jitter): linear in both, so
 *   backoff, cap and jitter distribution are kept, only compressed. (retryIntervalOverrides would drop all three.)
 * - Task TimeoutSeconds defaults to 99999999 in Step Functions but 60 in the engine: set it to the timer ceiling.
 * - ResultPath "$" (state or catcher) is the default written out; the engine stores the result under a "$" key.
 * - Pass with a falsy Result (0, false, "", null): the engine passes the input through; run it as Parameters.
 * - Execution TimeoutSeconds beyond the timer ceiling would fire at once: dropped.
 */
function prepareDefinition(
  definition: Scope,
  timeScale: number,
  handlers: Readonly<Record<string, TaskHandler>>,
): PreparedDefinition {
  const runnable = structuredClone(definition);
  const waits = new Map<string, WaitSpec>();
  const tasks = new Map<string, TaskBinding>();
  const originals = new Map<object, object>();
  const functions = new FunctionTable(handlers);
  const seen = new Set<string>();

  const functionHandler = (functionName: string, stateName: string): TaskHandler => {
    const handler = functions.find(functionName);
    if (!handler) {
      throw new Error(
        `Task state '${stateName}' invokes ${functionName}, which has no task handler (handlers: ${functions.describe()})`,
      );
    }
    return handler;
  };

  const visit = (scope: Scope, original: Scope): void => {
    if (scope.QueryLanguage === 'JSONata') throw new Error('JSONata state machines are not supported by the engine');
    for (const [stateName, state] of Object.entries(scope.States)) {
      if (seen.has(stateName)) throw new Error(`state name '${stateName}' is used twice`);
      seen.add(stateName);
      const originalState = original.States[stateName] as StateDefinition;
      for (const field of ['QueryLanguage', 'Assign', 'Arguments', 'Output', 'Items']) {
        if (field in state) throw new Error(`state '${stateName}': ${field} (JSONata or variables) is not supported`);
      }

      if (state.ResultPath === '$') delete state.ResultPath;
      if (Array.isArray(state.Retry)) {
        state.Retry = (state.Retry as Record<string, unknown>[]).map((retrier, index) => {
          const scaled: Record<string, unknown> = {
            ...retrier,
            IntervalSeconds: (typeof retrier.IntervalSeconds === 'number' ? retrier.IntervalSeconds : 1) * timeScale,
          };
          if (typeof retrier.MaxDelaySeconds === 'number') scaled.MaxDelaySeconds = retrier.MaxDelaySeconds * timeScale;
          originals.set(scaled, (originalState.Retry as object[])[index] as object);
          return scaled;
        });
      }
      if (Array.isArray(state.Catch)) {
        state.Catch = (state.Catch as Record<string, unknown>[]).map((catcher, index) => {
          const copy = { ...catcher };
          if (copy.ResultPath === '$') delete copy.ResultPath;
          originals.set(copy, (originalState.Catch as object[])[index] as object);
          return copy;
        });
      }

      switch (state.Type) {
        case 'Wait': {
          waits.set(stateName, {
            seconds: state.Seconds,
            timestamp: state.Timestamp,
            secondsPath: state.SecondsPath,
            timestampPath: state.TimestampPath,
          });
          const task: StateDefinition = {
            Type: 'Task',
            Resource: LOCAL_WAIT_RESOURCE,
            TimeoutSeconds: MAX_TIMER_SECONDS,
          };
          for (const field of ['Comment', 'InputPath', 'OutputPath', 'Next', 'End']) {
            if (field in state) task[field] = state[field];
          }
          scope.States[stateName] = task;
          break;
        }
        case 'Task': {
          const resource = state.Resource;
          if (typeof resource !== 'string') throw new Error(`Task state '${stateName}' has no Resource string`);
          if (typeof state.TimeoutSeconds !== 'number' && state.TimeoutSecondsPath === undefined) {
            state.TimeoutSeconds = MAX_TIMER_SECONDS;
          } else if (typeof state.TimeoutSeconds === 'number') {
            state.TimeoutSeconds = Math.min(state.TimeoutSeconds, MAX_TIMER_SECONDS);
          }
          if (LAMBDA_INVOKE_RESOURCE.test(resource)) {
            const parameters = (state.Parameters ?? {}) as Record<string, unknown>;
            if (typeof parameters.FunctionName === 'string') functionHandler(parameters.FunctionName, stateName);
            else if (typeof parameters['FunctionName.$'] !== 'string') {
              throw new Error(`Task state '${stateName}' calls lambda:invoke without a FunctionName`);
            }
            const invocationType = parameters.InvocationType;
            if (invocationType !== undefined && invocationType !== 'RequestResponse') {
              throw new Error(`Task state '${stateName}': InvocationType ${String(invocationType)} is not supported`);
            }
            tasks.set(stateName, { kind: 'lambda-invoke' });
          } else if (LAMBDA_FUNCTION_ARN.test(resource)) {
            tasks.set(stateName, { kind: 'function', handler: functionHandler(resource, stateName) });
          } else {
            const handler = handlers[resource];
            if (!handler) {
              throw new Error(
                `Task state '${stateName}' uses ${resource}: the engine has no AWS integrations, register a task handler under that Resource`,
              );
            }
            tasks.set(stateName, { kind: 'resource', handler });
          }
          break;
        }
        case 'Pass':
          if ('Result' in state && !state.Result) {
            state.Parameters = state.Result;
            delete state.Result;
            delete state.InputPath;
          }
          break;
        case 'Parallel':
          (state.Branches as Scope[]).forEach((branch, index) => {
            visit(branch, (originalState.Branches as Scope[])[index] as Scope);
          });
          break;
        case 'Map': {
          for (const field of ['ItemReader', 'ItemBatcher', 'ResultWriter']) {
            if (field in state)
              throw new Error(`Map state '${stateName}': ${field} (distributed map) is not supported`);
          }
          const processorField = 'ItemProcessor' in state ? 'ItemProcessor' : 'Iterator';
          visit(state[processorField] as Scope, originalState[processorField] as Scope);
          break;
        }
      }
    }
  };

  visit(runnable, definition);
  if (typeof runnable.TimeoutSeconds === 'number' && runnable.TimeoutSeconds > MAX_TIMER_SECONDS) {
    delete runnable.TimeoutSeconds;
  }
  return { runnable, waits, tasks, originals };
}

/** Evaluates a Reference Path (`$.a.b`, `$['a'][0]`, `$$.Execution.Input.x`): the only kind ASL allows here. */
function referencePath(path: string, input: unknown, context: unknown): unknown {
  if (!path.startsWith('$')) throw new StatesRuntimeFailure(`'${path}' is not a reference path`);
  const root = path.startsWith('$$') ? context : input;
  const rest = path.slice(path.startsWith('$$') ? 2 : 1);
  let value: unknown = root;
  const segment = /\.([^.[\]]+)|\['([^']*)'\]|\["([^"]*)"\]|\[(\d+)\]/y;
  let at = 0;
  while (at < rest.length) {
    segment.lastIndex = at;
    const match = segment.exec(rest);
    if (!match || match[1] === '*') throw new StatesRuntimeFailure(`'${path}' is not a reference path`);
    at = segment.lastIndex;
    const key = match[4] !== undefined ? Number(match[4]) : (match[1] ?? match[2] ?? match[3] ?? '');
    const container = value as Record<string | number, unknown> | null;
    value =
      container !== null && typeof container === 'object' && Object.hasOwn(container, key) ? container[key] : undefined;
    if (value === undefined) throw new StatesRuntimeFailure(`Path expression '${path}' does not point to a value`);
  }
  return value;
}

const RFC3339 =
  /^\d{4}-(0[1-9]|1[012])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/** The wait in milliseconds Step Functions would make, before scaling. */
function waitMillis(spec: WaitSpec, input: unknown, context: unknown): number {
  const untilTimestamp = (timestamp: unknown, source: string): number => {
    if (typeof timestamp !== 'string' || !RFC3339.test(timestamp)) {
      throw new StatesRuntimeFailure(`${source} evaluated to ${JSON.stringify(timestamp)}, not an RFC 3339 timestamp`);
    }
    return Math.max(0, Date.parse(timestamp) - Date.now());
  };
  if (typeof spec.seconds === 'number') return spec.seconds * 1000;
  if (spec.timestamp !== undefined) return untilTimestamp(spec.timestamp, 'Timestamp');
  if (typeof spec.secondsPath === 'string') {
    const seconds = referencePath(spec.secondsPath, input, context);
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0) {
      throw new StatesRuntimeFailure(
        `Path expression '${spec.secondsPath}' evaluated to ${JSON.stringify(seconds)}, but expected an integer >= 0`,
      );
    }
    return seconds * 1000;
  }
  if (typeof spec.timestampPath === 'string') {
    return untilTimestamp(referencePath(spec.timestampPath, input, context), `'${spec.timestampPath}'`);
  }
  throw new StatesRuntimeFailure('Wait state has no Seconds, Timestamp, SecondsPath or TimestampPath');
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Lambda serializes both ways: what a handler sees and returns is plain JSON (undefined → null). */
function asJson(value: unknown): Json {
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as Json);
}

interface RegisteredStateMachine {
  readonly name: string;
  readonly arn: string;
  readonly roleArn: string | undefined;
  readonly definition: object;
  readonly engine: StateMachine;
  readonly prepared: PreparedDefinition;
  readonly functions: FunctionTable;
}

interface Execution {
  readonly arn: string;
  readonly name: string;
  readonly machine: RegisteredStateMachine;
  readonly input: string;
  readonly startDate: Date;
  readonly context: Record<string, unknown>;
  readonly history: HistoryEvent[];
  /** Ends this execution's local waits and refuses further handler calls once it is closed. */
  readonly controller: AbortController;
  status: ExecutionStatus;
  output?: string;
  error?: string;
  cause?: string;
  stopDate?: Date;
  abortEngine: () => void;
  settled: Promise<void>;
}

export class LocalStepFunctions {
  readonly timeScale: number;
  private readonly machines = new Map<string, RegisteredStateMachine>();
  private readonly executions = new Map<string, Execution>();
  /** Handler calls still running: an aborted execution's Task keeps going until its handler returns. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private stopped = false;

  constructor(options: LocalStepFunctionsOptions = {}) {
    const timeScale = options.timeScale ?? 1;
    if (!Number.isFinite(timeScale) || timeScale < 0) throw new Error(`timeScale must be ≥ 0, got ${timeScale}`);
    this.timeScale = timeScale;
  }

  /** Validates the definition and binds every Task; throws InvalidDefinition naming what is missing. */
  registerStateMachine(registration: StateMachineRegistration): { readonly name: string; readonly arn: string } {
    const { name } = registration;
    if (!validName(name)) throw new StepFunctionsError('InvalidName', `Invalid Name: '${name}'`);
    const arn =
      registration.arn ?? `arn:${LOCAL_PARTITION}:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:${name}`;
    if (STATE_MACHINE_ARN.exec(arn)?.[4] !== name) {
      throw new StepFunctionsError('InvalidArn', `Invalid Arn: '${arn}' is not a state machine ARN ending in ${name}`);
    }
    if (this.machines.has(arn))
      throw new StepFunctionsError('StateMachineAlreadyExists', `State Machine Already Exists: '${arn}'`);
    try {
      const definition = (
        typeof registration.definition === 'string' ? JSON.parse(registration.definition) : registration.definition
      ) as Scope;
      // Validation (asl-validator: fields, reachability, JSONPaths, ARNs) runs on the definition as registered; the
      // rewritten one carries fractional intervals and a local Resource that only this runtime understands.
      new StateMachine(structuredClone(definition) as never);
      const prepared = prepareDefinition(definition, this.timeScale, registration.taskHandlers);
      const engine = new StateMachine(prepared.runnable as never, { validationOptions: { noValidate: true } });
      this.machines.set(arn, {
        name,
        arn,
        roleArn: registration.roleArn,
        definition,
        engine,
        prepared,
        functions: new FunctionTable(registration.taskHandlers),
      });
    } catch (error) {
      throw new StepFunctionsError('InvalidDefinition', `${name}: ${(error as Error).message}`);
    }
    return { name, arn };
  }

  /**
   * Standard-workflow naming: a name already used by a RUNNING execution with the same input returns that execution;
   * any other reuse is ExecutionAlreadyExists. Without a name, a UUID. Input defaults to "{}".
   */
  startExecution(request: { stateMachineArn: string; name?: string; input?: string }): {
    executionArn: string;
    startDate: Date;
  } {
    if (this.stopped) throw new Error('LocalStepFunctions is stopped');
    const machine = this.machineFor(request.stateMachineArn);
    const name = request.name ?? randomUUID();
    if (!validName(name)) throw new StepFunctionsError('InvalidName', `Invalid Name: '${name}'`);
    const input = request.input ?? '{}';
    let parsedInput: Json;
    try {
      parsedInput = JSON.parse(input) as Json;
    } catch (error) {
      throw new StepFunctionsError(
        'InvalidExecutionInput',
        `Invalid State Machine Execution Input: '${(error as Error).message}'`,
      );
    }
    if (Buffer.byteLength(input) > MAX_INPUT_BYTES) {
      throw new StepFunctionsError(
        'InvalidExecutionInput',
        'Invalid State Machine Execution Input: larger than 256 KiB',
      );
    }

    const executionArn = `${machine.arn.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === input) {
        return { executionArn, startDate: existing.startDate };
      }
      throw new StepFunctionsError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }

    const startDate = new Date();
    const execution: Execution = {
      arn: executionArn,
      name,
      machine,
      input,
      startDate,
      context: {
        Execution: { Id: executionArn, Name: name, RoleArn: machine.roleArn, RedriveCount: 0 },
        StateMachine: { Id: machine.arn, Name: machine.name },
      },
      history: [],
      controller: new AbortController(),
      status: 'RUNNING',
      abortEngine: () => {},
      settled: Promise.resolve(),
    };
    this.executions.set(executionArn, execution);

    const run = machine.engine.run(parsedInput, {
      context: execution.context,
      overrides: { taskResourceLocalHandlers: this.localHandlers(execution) },
    });
    execution.abortEngine = run.abort;
    const recorded = this.record(execution, run.eventLogs);
    const finished = run.result.then(
      (output) => this.close(execution, 'SUCCEEDED', { output: JSON.stringify(output) }),
      (error: unknown) => this.close(execution, ...outcomeOf(error)),
    );
    execution.settled = Promise.all([recorded, finished]).then(() => undefined);
    return { executionArn, startDate };
  }

  describeExecution(executionArn: string): ExecutionSnapshot {
    return snapshot(this.executionFor(executionArn));
  }

  /** Newest first, like ListExecutions. */
  listExecutions(request: { stateMachineArn: string; statusFilter?: ExecutionStatus }): ExecutionSnapshot[] {
    const machine = this.machineFor(request.stateMachineArn);
    return [...this.executions.values()]
      .filter((execution) => execution.machine === machine)
      .filter((execution) => request.statusFilter === undefined || execution.status === request.statusFilter)
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime())
      .map(snapshot);
  }

  /** ABORTED at once, like the service; stopping a closed execution changes nothing. */
  stopExecution(executionArn: string, details: { error?: string; cause?: string } = {}): { stopDate: Date } {
    const execution = this.executionFor(executionArn);
    if (execution.status === 'RUNNING') {
      this.close(execution, 'ABORTED', { error: details.error, cause: details.cause });
      execution.abortEngine();
    }
    return { stopDate: execution.stopDate ?? new Date() };
  }

  /** Resolves once the execution is closed and its history complete. */
  async waitForExecution(executionArn: string, options: { timeoutMs?: number } = {}): Promise<ExecutionSnapshot> {
    const execution = this.executionFor(executionArn);
    if (options.timeoutMs === undefined) await execution.settled;
    else {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${executionArn} still ${execution.status} after ${options.timeoutMs} ms`)),
          options.timeoutMs,
        );
      });
      try {
        await Promise.race([execution.settled, timeout]);
      } finally {
        clearTimeout(timer);
      }
    }
    return snapshot(execution);
  }

  /** Executions started so far, on every state machine: moves whenever this runtime starts work. */
  get startedExecutions(): number {
    return this.executions.size;
  }

  /** True at this instant when no execution is running and no handler call is in flight. */
  isIdle(): boolean {
    if (this.inFlight.size > 0) return false;
    for (const execution of this.executions.values()) if (execution.status === 'RUNNING') return false;
    return true;
  }

  /** Resolves when no execution is running and no handler call is in flight, including ones started meanwhile. */
  async waitForIdle(): Promise<void> {
    for (;;) {
      const pending = [
        ...[...this.executions.values()].filter((execution) => execution.status === 'RUNNING').map((e) => e.settled),
        ...this.inFlight,
      ];
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  /** Aborts every running execution (error `LocalStepFunctions.Stopped`) and waits for their handlers to return. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const execution of this.executions.values()) {
      if (execution.status === 'RUNNING') {
        this.stopExecution(execution.arn, { error: 'LocalStepFunctions.Stopped', cause: 'the local runtime stopped' });
      }
    }
    await Promise.allSettled([...this.executions.values()].map((execution) => execution.settled));
    await this.waitForIdle();
  }

  private machineFor(stateMachineArn: string): RegisteredStateMachine {
    if (!STATE_MACHINE_ARN.test(stateMachineArn)) {
      throw new StepFunctionsError(
        'InvalidArn',
        `Invalid Arn: 'Resource type not valid in this context: ${stateMachineArn}'`,
      );
    }
    const machine = this.machines.get(stateMachineArn);
    if (!machine)
      throw new StepFunctionsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    return machine;
  }

  private executionFor(executionArn: string): Execution {
    if (!EXECUTION_ARN.test(executionArn)) {
      throw new StepFunctionsError(
        'InvalidArn',
        `Invalid Arn: 'Resource type not valid in this context: ${executionArn}'`,
      );
    }
    const execution = this.executions.get(executionArn);
    if (!execution)
      throw new StepFunctionsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return execution;
  }

  private close(
    execution: Execution,
    status: Exclude<ExecutionStatus, 'RUNNING'>,
    details: { output?: string; error?: string; cause?: string },
  ): void {
    if (execution.status !== 'RUNNING') return;
    execution.status = status;
    execution.stopDate = new Date();
    execution.output = details.output;
    execution.error = details.error;
    execution.cause = details.cause;
    execution.controller.abort();
  }

  private async record(execution: Execution, events: AsyncGenerator<EngineEvent>): Promise<void> {
    const { waits, originals } = execution.machine.prepared;
    for await (const event of events) {
      let presented: EngineEvent = event;
      if ('state' in event && event.state.type === 'Task' && waits.has(event.state.name)) {
        presented = { ...presented, state: { ...event.state, type: 'Wait' } } as EngineEvent;
      }
      if (presented.type === 'StateRetried') {
        const retrier = originals.get(presented.retry.retrier) ?? presented.retry.retrier;
        presented = { ...presented, retry: { ...presented.retry, retrier: retrier as typeof presented.retry.retrier } };
      }
      if (presented.type === 'StateCaught') {
        const catcher = originals.get(presented.catch.catcher) ?? presented.catch.catcher;
        presented = { ...presented, catch: { catcher: catcher as typeof presented.catch.catcher } };
      }
      execution.history.push(presented);
    }
  }

  /** Per execution, by state name: the engine's only hook. State names are unique machine-wide (checked). */
  private localHandlers(execution: Execution): Record<string, (input: Json) => Promise<Json>> {
    const { prepared, functions } = execution.machine;
    const signal = execution.controller.signal;
    const guarded = (call: (input: Json) => Promise<Json>) => (input: Json) => {
      // After an abort the engine still finishes a pending retry pause and re-runs the Task: refuse it.
      if (signal.aborted) return Promise.reject(new StatesRuntimeFailure(`${execution.arn} is closed`));
      const promise = call(input);
      const tracked = promise.then(
        () => undefined,
        () => undefined,
      );
      this.inFlight.add(tracked);
      void tracked.then(() => this.inFlight.delete(tracked));
      return promise;
    };

    const handlers: Record<string, (input: Json) => Promise<Json>> = {};
    for (const [stateName, spec] of prepared.waits) {
      handlers[stateName] = guarded(async (input) => {
        const context = { ...execution.context };
        context.Execution = {
          ...(context.Execution as object),
          Input: JSON.parse(execution.input),
          StartTime: execution.startDate.toISOString(),
        };
        // A timestamp is a moment on the real clock (a reserved Didit slot, the end of Didit's back-off): waiting for it
        // is never compressed; only durations are.
        const absolute = spec.timestamp !== undefined || spec.timestampPath !== undefined;
        const ms = waitMillis(spec, input, context) * (absolute ? 1 : this.timeScale);
        if (ms > MAX_TIMER_MS) {
          throw new StatesRuntimeFailure(`Wait '${stateName}' would last ${ms} ms locally; lower timeScale`);
        }
        await sleep(ms, signal);
        return input;
      });
    }
    for (const [stateName, binding] of prepared.tasks) {
      switch (binding.kind) {
        case 'function':
        case 'resource':
          handlers[stateName] = guarded((input) => invokeHandler(binding.handler, input));
          break;
        case 'lambda-invoke':
          handlers[stateName] = guarded(async (input) => {
            const parameters = (input ?? {}) as Record<string, Json>;
            const functionName = String(parameters.FunctionName);
            const handler = functions.find(functionName);
            if (!handler) {
              throw new TaskFailure(
                'Lambda.ResourceNotFoundException',
                `Function not found: ${functionName} (no local task handler; handlers: ${functions.describe()})`,
              );
            }
            const payload = await invokeHandler(handler, parameters.Payload ?? {});
            return lambdaInvokeResult(payload);
          });
          break;
      }
    }
    return handlers;
  }
}

async function invokeHandler(handler: TaskHandler, input: Json): Promise<Json> {
  let result: unknown;
  try {
    result = await handler(asJson(input));
  } catch (thrown) {
    throw TaskFailure.fromThrown(thrown);
  }
  return asJson(result);
}

/** The lambda:invoke integration's result: the invocation response around the function's payload. */
function lambdaInvokeResult(payload: Json): Json {
  const requestId = randomUUID();
  const headers = {
    'Content-Type': 'application/json',
    'X-Amz-Executed-Version': '$LATEST',
    'x-amzn-RequestId': requestId,
  };
  return {
    ExecutedVersion: '$LATEST',
    Payload: payload,
    SdkHttpMetadata: {
      AllHttpHeaders: Object.fromEntries(Object.entries(headers).map(([key, value]) => [key, [value]])),
      HttpHeaders: headers,
      HttpStatusCode: 200,
    },
    SdkResponseMetadata: { RequestId: requestId },
    StatusCode: 200,
  };
}

function outcomeOf(error: unknown): [Exclude<ExecutionStatus, 'RUNNING'>, { error?: string; cause?: string }] {
  if (error instanceof ExecutionAbortedError) return ['ABORTED', {}];
  if (error instanceof ExecutionTimeoutError) {
    return ['TIMED_OUT', { error: 'States.Timeout', cause: 'The execution timed out (TimeoutSeconds)' }];
  }
  if (error instanceof ExecutionError && error.cause instanceof Error) {
    // As the engine's ExecutionFailed event reports it.
    const failure = error.cause;
    const cause = failure.cause ?? failure.message;
    return ['FAILED', { error: failure.name, cause: typeof cause === 'string' ? cause : JSON.stringify(cause) }];
  }
  return ['FAILED', { error: 'States.Runtime', cause: error instanceof Error ? error.message : String(error) }];
}

function snapshot(execution: Execution): ExecutionSnapshot {
  return {
    executionArn: execution.arn,
    stateMachineArn: execution.machine.arn,
    name: execution.name,
    status: execution.status,
    input: execution.input,
    output: execution.output,
    error: execution.error,
    cause: execution.cause,
    startDate: execution.startDate,
    stopDate: execution.stopDate,
    history: [...execution.history],
  };
}

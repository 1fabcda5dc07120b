import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type ExecutionSnapshot,
  type ExecutionStatus,
  type LocalStepFunctions,
  StepFunctionsError,
} from './step-functions';

/**
 * The Step Functions API (JSON 1.0 protocol, `X-Amz-Target: AWSStepFunctions.<Operation>`) on 127.0.0.1, backed by
 * {@link LocalStepFunctions}, so production code's real SFNClient works against it through `endpoint`. Covers
 * StartExecution, DescribeExecution, ListExecutions and StopExecution; errors carry the service's `__type` names.
 */

export interface StepFunctionsServer {
  /** For an SDK client's `endpoint`. */
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}

const TARGET_PREFIX = 'AWSStepFunctions.';
const STATUSES: readonly string[] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'];
const DEFAULT_MAX_RESULTS = 100;

/** A 400 the SDK turns into a typed exception by `__type`. */
class ClientError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

type Body = Record<string, unknown>;

/** Epoch seconds with a fraction: how the JSON protocol carries timestamps. */
function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}

function requiredString(body: Body, member: string): string {
  const value = body[member];
  if (typeof value === 'string' && value.length > 0) return value;
  throw new ClientError(
    'ValidationException',
    `1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must not be null`,
  );
}

function optionalString(body: Body, member: string): string | undefined {
  const value = body[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  throw new ClientError('SerializationException', `${member} must be a string`);
}

function describe(execution: ExecutionSnapshot): Body {
  return {
    executionArn: execution.executionArn,
    stateMachineArn: execution.stateMachineArn,
    name: execution.name,
    status: execution.status,
    startDate: epochSeconds(execution.startDate),
    stopDate: execution.stopDate && epochSeconds(execution.stopDate),
    input: execution.input,
    inputDetails: { included: true },
    output: execution.output,
    outputDetails: execution.output === undefined ? undefined : { included: true },
    error: execution.error,
    cause: execution.cause,
    redriveCount: 0,
  };
}

function operations(sfn: LocalStepFunctions): Record<string, (body: Body) => Body> {
  return {
    StartExecution: (body) => {
      const started = sfn.startExecution({
        stateMachineArn: requiredString(body, 'stateMachineArn'),
        name: optionalString(body, 'name'),
        input: optionalString(body, 'input'),
      });
      return { executionArn: started.executionArn, startDate: epochSeconds(started.startDate) };
    },
    DescribeExecution: (body) => describe(sfn.describeExecution(requiredString(body, 'executionArn'))),
    ListExecutions: (body) => {
      const statusFilter = optionalString(body, 'statusFilter');
      if (statusFilter !== undefined && !STATUSES.includes(statusFilter)) {
        throw new ClientError('ValidationException', `Value '${statusFilter}' at 'statusFilter' is not a valid status`);
      }
      const maxResults =
        typeof body.maxResults === 'number' && body.maxResults > 0 ? body.maxResults : DEFAULT_MAX_RESULTS;
      const nextToken = optionalString(body, 'nextToken');
      const offset = nextToken === undefined ? 0 : Number(Buffer.from(nextToken, 'base64url').toString());
      if (!Number.isInteger(offset) || offset < 0)
        throw new ClientError('InvalidToken', `Invalid Token: '${nextToken}'`);
      const all = sfn.listExecutions({
        stateMachineArn: requiredString(body, 'stateMachineArn'),
        statusFilter: statusFilter as ExecutionStatus | undefined,
      });
      const page = all.slice(offset, offset + maxResults);
      return {
        executions: page.map((execution) => ({
          executionArn: execution.executionArn,
          stateMachineArn: execution.stateMachineArn,
          name: execution.name,
          status: execution.status,
          startDate: epochSeconds(execution.startDate),
          stopDate: execution.stopDate && epochSeconds(execution.stopDate),
        })),
        nextToken:
          offset + maxResults < all.length ? Buffer.from(String(offset + maxResults)).toString('base64url') : undefined,
      };
    },
    StopExecution: (body) => {
      const stopped = sfn.stopExecution(requiredString(body, 'executionArn'), {
        error: optionalString(body, 'error'),
        cause: optionalString(body, 'cause'),
      });
      return { stopDate: epochSeconds(stopped.stopDate) };
    },
  };
}

async function readBody(request: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ClientError('SerializationException', 'The request body is not JSON');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new ClientError('SerializationException', 'The request body is not a JSON object');
  }
  return body as Body;
}

function send(response: ServerResponse, status: number, body: Body): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/x-amz-json-1.0',
    'Content-Length': Buffer.byteLength(text),
    'x-amzn-RequestId': randomUUID(),
  });
  response.end(text);
}

/** Listens on 127.0.0.1 (`port` 0, the default, picks a free one). */
export async function startStepFunctionsServer(
  sfn: LocalStepFunctions,
  options: { readonly port?: number } = {},
): Promise<StepFunctionsServer> {
  const handlers = operations(sfn);
  const server = createServer((request, response) => {
    void (async () => {
      try {
        if (request.method !== 'POST') throw new ClientError('UnknownOperationException', 'Only POST is supported');
        const target = request.headers['x-amz-target'];
        const operation =
          typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
        const handler = Object.hasOwn(handlers, operation) ? handlers[operation] : undefined;
        if (!handler) throw new ClientError('UnknownOperationException', `Unsupported operation: ${String(target)}`);
        send(response, 200, handler(await readBody(request)));
      } catch (error) {
        if (error instanceof StepFunctionsError) send(response, 400, { __type: error.code, message: error.message });
        else if (error instanceof ClientError) send(response, 400, { __type: error.type, message: error.message });
        else send(response, 500, { __type: 'InternalFailure', message: (error as Error).message ?? String(error) });
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // SDK clients keep connections alive; close() alone would wait for them to time out.
        server.closeAllConnections();
      }),
  };
}

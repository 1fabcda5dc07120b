import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { DEFAULT_CLIENT_APP, type LocalClientApp, localApiKeyId } from './client-apps';

export type ApiHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

export interface ApiRoute {
  readonly method: string;
  /** API Gateway resource path, e.g. `/v1/liveness-checks/{id}`. */
  readonly resource: string;
  readonly handler: ApiHandler;
  /** Routes such as the Didit webhook authenticate by signature instead of API key. */
  readonly apiKeyRequired?: boolean;
}

/** A file served as is at a fixed path, without an API key: the browser sample client (web/). */
export interface StaticFile {
  /** The URL path, e.g. `/` or `/app.js`. */
  readonly path: string;
  /** Produces the body on every request, so edits show on reload without restarting the stack. */
  readonly read: () => Promise<Uint8Array>;
  readonly contentType: string;
}

/**
 * The sample page talks to the API URL typed into it and uploads to whatever URL the API presigns, so connect-src
 * cannot be narrower than http(s); everything else is locked to this origin.
 */
const STATIC_SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' blob: data:; media-src blob:; " +
    "connect-src 'self' http: https:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/** API Gateway's own payload limit; larger bodies never reach a handler. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

/**
 * A stand-in for the REST API Gateway: API-key check, routing, and Lambda proxy events of the same shape API
 * Gateway sends, so the deployed handlers run unchanged. Auth failures and unknown routes answer with the same
 * status and body as the stack's gateway responses (lib/parts/upload-api.ts).
 *
 * `apiKeys` is one key (the "default" client app's) or every client app's key; a call names the key's id
 * (`localApiKeyId(app)`) in `requestContext.identity.apiKeyId`, as API Gateway does.
 *
 * Every request must name this server in its `Host` header (`127.0.0.1:<port>` or `localhost:<port>`): a web page on
 * another origin whose DNS name was rebound to 127.0.0.1 sends its own name and is refused (403) before anything is
 * read, so it can neither call the API nor read the sample page.
 */
export function createApiServer(
  routes: readonly ApiRoute[],
  apiKeys: string | readonly LocalClientApp[],
  staticFiles: readonly StaticFile[] = [],
): Server {
  const apps: readonly LocalClientApp[] =
    typeof apiKeys === 'string' ? [{ app: DEFAULT_CLIENT_APP, apiKey: apiKeys }] : apiKeys;
  const compiled = routes.map((route) => ({ ...route, pattern: compile(route.resource) }));
  return createServer(async (req, res) => {
    try {
      if (!hostAllowed(req.headers.host, req.socket.localPort)) {
        return send(res, error(403, 'HOST_NOT_ALLOWED', 'The Host header must name this server (127.0.0.1:<port>).'));
      }
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      // Only exact paths, GET and HEAD: every other request reaches the API routing below exactly as before.
      const staticFile = staticFiles.find((f) => f.path === url.pathname);
      if (staticFile && (req.method === 'GET' || req.method === 'HEAD')) return await sendFile(req, res, staticFile);
      const route = compiled.find((r) => r.method === req.method && r.pattern.regex.test(url.pathname));
      if (!route) return send(res, error(404, 'NOT_FOUND', 'No route matches this method and path.'));
      const client =
        route.apiKeyRequired === false ? undefined : apps.find((a) => keyMatches(req.headers['x-api-key'], a.apiKey));
      if (route.apiKeyRequired !== false && !client) {
        return send(res, error(401, 'UNAUTHORIZED', 'Missing or invalid API key: send it in the x-api-key header.'));
      }
      const body = await readBody(req);
      if (body === undefined) return send(res, error(413, 'PAYLOAD_TOO_LARGE', 'Request body is too large'));
      const event = toProxyEvent(req, url, route.resource, route.pattern, body);
      // API Gateway names the key that authorized the call (its id, never its value).
      if (client) event.requestContext.identity.apiKeyId = localApiKeyId(client.app);
      send(res, await route.handler(event));
    } catch {
      send(res, error(502, 'BAD_GATEWAY', 'The handler failed'));
    }
  });
}

/** The id the local stack gives the default client app's key (API Gateway's own ids are random). */
export const LOCAL_API_KEY_ID = localApiKeyId(DEFAULT_CLIENT_APP);

/** DNS-rebinding defence: only this server's own loopback names, with the port the request arrived on. */
export function hostAllowed(host: string | undefined, port: number | undefined): boolean {
  if (host === undefined || port === undefined) return false;
  const names = ['127.0.0.1', 'localhost'];
  const lower = host.toLowerCase();
  return names.some((name) => lower === `${name}:${port}` || (port === 80 && lower === name));
}

function keyMatches(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function compile(resource: string): { regex: RegExp; names: string[] } {
  const names: string[] = [];
  const source = resource.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{(\w+)\\?\}|\{(\w+)\}/g, (_, a, b) => {
    names.push(a ?? b);
    return '([^/]+)';
  });
  return { regex: new RegExp(`^${source}/?$`), names };
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function toProxyEvent(
  req: IncomingMessage,
  url: URL,
  resource: string,
  pattern: { regex: RegExp; names: string[] },
  body: Buffer,
): APIGatewayProxyEvent {
  const match = pattern.regex.exec(url.pathname);
  const pathParameters: Record<string, string> = {};
  pattern.names.forEach((name, i) => {
    pathParameters[name] = decodePathSegment(match?.[i + 1] ?? '');
  });
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    headers[name] = values.join(',');
    multiValueHeaders[name] = values;
  }
  const query = Object.fromEntries(url.searchParams);
  const isText = body.length === 0 || /json|text|x-www-form-urlencoded/.test(headers['content-type'] ?? 'json');
  return {
    resource,
    path: url.pathname,
    httpMethod: req.method ?? 'GET',
    headers,
    multiValueHeaders,
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    multiValueQueryStringParameters: null,
    pathParameters: pattern.names.length > 0 ? pathParameters : null,
    stageVariables: null,
    body: body.length === 0 ? null : isText ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: body.length > 0 && !isText,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: req.method ?? 'GET',
      path: `/local${url.pathname}`,
      stage: 'local',
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: resource,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        user: null,
        userAgent: headers['user-agent'] ?? null,
        userArn: null,
      },
    },
  };
}

function error(statusCode: number, code: string, message: string): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ error: { code, message } }),
  };
}

function send(res: ServerResponse, result: APIGatewayProxyResult): void {
  const headers: Record<string, string | number | boolean> = { ...(result.headers ?? {}) };
  res.writeHead(result.statusCode, headers as Record<string, string>);
  res.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
}

async function sendFile(req: IncomingMessage, res: ServerResponse, file: StaticFile): Promise<void> {
  const body = await file.read();
  res.writeHead(200, { ...STATIC_SECURITY_HEADERS, 'content-type': file.contentType, 'content-length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Like API Gateway, a malformed escape (`%ZZ`) reaches the handler as it was sent instead of failing the request. */
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { checkListSchema } from '../../contracts/api';
import { CheckStore } from '../../lambdas/adapters/check-store';
import { encodeCursor } from '../../lambdas/core/list-request';
import { emulatorClientConfig, LOCAL_REGION } from '../../local/aws-env';
import { provisionLocalResources, UPLOAD_PREFIX } from '../../local/provision';
import { storedCheck } from '../helpers/transition-cases';

// The tenancy matrix at the handlers, against DynamoDB in moto: every read route, for each way a caller can
// authenticate (API key, IAM, Cognito), answers the owner and answers anyone else exactly as it answers an unknown id.
// The identities are put into requestContext the way API Gateway does for each authorization mode.

type Handler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
let createCheck: Handler;
let getCheck: Handler;
let deleteCheck: Handler;
let store: CheckStore;

interface Identity {
  readonly label: string;
  readonly context: Partial<APIGatewayProxyEvent['requestContext']>;
}

const apiKey = (keyId: string): Identity['context'] => ({
  identity: { apiKeyId: keyId } as APIGatewayProxyEvent['requestContext']['identity'],
  authorizer: null,
});
const iam = (arn: string): Identity['context'] => ({
  identity: { userArn: arn, caller: 'AROAEXAMPLE:session' } as APIGatewayProxyEvent['requestContext']['identity'],
  authorizer: null,
});
const cognito = (claims: Record<string, string>): Identity['context'] => ({
  identity: {} as APIGatewayProxyEvent['requestContext']['identity'],
  authorizer: { claims },
});

/** Per mode: the owner, another client of the same mode, and (where it exists) the owner in another form. */
const MODES: Record<string, { owner: Identity; other: Identity; sameOwner?: Identity }> = {
  'API key': {
    owner: { label: 'app-a', context: apiKey('key-id-a') },
    other: { label: 'app-b', context: apiKey('key-id-b') },
  },
  IAM: {
    owner: { label: 'role A', context: iam('arn:aws:sts::111122223333:assumed-role/ClientA/session-1') },
    other: { label: 'role B', context: iam('arn:aws:sts::111122223333:assumed-role/ClientB/session-1') },
    // Another session of the same role is the same principal.
    sameOwner: { label: 'role A, session 2', context: iam('arn:aws:sts::111122223333:assumed-role/ClientA/s2') },
  },
  Cognito: {
    owner: {
      label: 'user 1',
      context: cognito({ sub: 'sub-1', username: 'u1', token_use: 'access', client_id: 'web' }),
    },
    other: {
      label: 'user 2',
      context: cognito({ sub: 'sub-2', username: 'u2', token_use: 'access', client_id: 'web' }),
    },
  },
  'Cognito client credentials': {
    owner: { label: 'client 1', context: cognito({ sub: 'client-1', token_use: 'access', client_id: 'client-1' }) },
    other: { label: 'client 2', context: cognito({ sub: 'client-2', token_use: 'access', client_id: 'client-2' }) },
  },
};

function event(
  identity: Identity,
  method: string,
  resource: string,
  extra: Partial<APIGatewayProxyEvent> = {},
): APIGatewayProxyEvent {
  return {
    resource,
    path: resource,
    httpMethod: method,
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: { requestId: randomUUID(), ...identity.context } as APIGatewayProxyEvent['requestContext'],
    ...extra,
  };
}

async function create(identity: Identity, vendorData: string): Promise<string> {
  const res = await createCheck(
    event(identity, 'POST', '/v1/liveness-checks', { body: JSON.stringify({ vendor_data: vendorData }) }),
  );
  expect(res.statusCode, res.body).toBe(201);
  return JSON.parse(res.body).id as string;
}

const get = (identity: Identity, id: string) =>
  getCheck(event(identity, 'GET', '/v1/liveness-checks/{id}', { pathParameters: { id } }));

const erase = (identity: Identity, id: string) =>
  deleteCheck(event(identity, 'DELETE', '/v1/liveness-checks/{id}', { pathParameters: { id } }));

const list = (identity: Identity, query: Record<string, string>) =>
  getCheck(event(identity, 'GET', '/v1/liveness-checks', { queryStringParameters: query }));

beforeAll(async () => {
  const endpoint = inject('motoEndpoint');
  const resources = await provisionLocalResources(endpoint, {
    prefix: `tenancy-${randomUUID().slice(0, 8)}`,
    diditApiKey: 'unused',
  });
  Object.assign(process.env, {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL: endpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    S3_FORCE_PATH_STYLE: 'true',
    TABLE_NAME: resources.tableName,
    BUCKET_NAME: resources.bucketName,
    UPLOAD_PREFIX,
    CLIENT_APP_API_KEY_IDS: 'app-a=key-id-a,app-b=key-id-b',
    EVENT_BUS_NAME: resources.eventBusName,
  });
  // Like Lambda, each handler reads its configuration once, when it is loaded.
  ({ handler: createCheck } = (await import('../../lambdas/handlers/create-check')) as { handler: Handler });
  ({ handler: getCheck } = (await import('../../lambdas/handlers/get-check')) as { handler: Handler });
  ({ handler: deleteCheck } = (await import('../../lambdas/handlers/delete-check')) as { handler: Handler });
  store = new CheckStore(
    new DynamoDBClient({ ...emulatorClientConfig(endpoint), maxAttempts: 1 }),
    resources.tableName,
  );
});

describe.each(Object.entries(MODES))('%s', (_mode, { owner, other, sameOwner }) => {
  it('GET: the owner reads its check; another client gets the 404 of an unknown id', async () => {
    const vendor = `user-${randomUUID()}`;
    const id = await create(owner, vendor);

    const mine = await get(owner, id);
    expect(mine.statusCode, mine.body).toBe(200);
    expect(JSON.parse(mine.body)).toMatchObject({ id, vendor_data: vendor, status: 'AWAITING_UPLOAD' });

    const theirs = await get(other, id);
    const unknown = await get(other, randomUUID());
    expect(theirs.statusCode).toBe(404);
    expect(theirs.body).toBe(unknown.body);
    expect(theirs.body).not.toContain(vendor);
    if (sameOwner) expect((await get(sameOwner, id)).statusCode).toBe(200);
  });

  it('DELETE: another client gets the 404 of an unknown id and erases nothing; the owner erases, twice 204', async () => {
    const vendor = `user-${randomUUID()}`;
    const id = await create(owner, vendor);

    const theirs = await erase(other, id);
    const unknown = await erase(other, randomUUID());
    expect(theirs.statusCode, theirs.body).toBe(404);
    expect(theirs.body).toBe(unknown.body);
    expect((await get(owner, id)).statusCode).toBe(200);

    expect((await erase(owner, id)).statusCode).toBe(204);
    expect((await get(owner, id)).statusCode).toBe(404);
    expect((await erase(owner, id)).statusCode).toBe(204);
    // The tombstone keeps its owner: to another client it is still an unknown id.
    const afterwards = await erase(other, id);
    expect(afterwards.statusCode).toBe(404);
    expect(afterwards.body).toBe(unknown.body);
    expect(await store.get(id)).toMatchObject({ id, status: 'DELETED' });
  });

  it('list: the owner finds its check under its vendor_data; another client finds nothing there', async () => {
    const vendor = `user-${randomUUID()}`;
    const id = await create(owner, vendor);

    const mine = await list(owner, { vendor_data: vendor });
    expect(mine.statusCode, mine.body).toBe(200);
    expect(JSON.parse(mine.body)).toMatchObject({ items: [{ id, vendor_data: vendor }], next_cursor: null });
    // The contract the OpenAPI document publishes (CheckList) is what the handler answers.
    expect(checkListSchema.safeParse(JSON.parse(mine.body)).success).toBe(true);

    const theirs = await list(other, { vendor_data: vendor });
    expect(theirs.statusCode, theirs.body).toBe(200);
    expect(JSON.parse(theirs.body)).toEqual({ items: [], next_cursor: null });
  });
});

describe('the list', () => {
  const appA = MODES['API key']?.owner as Identity;
  const appB = MODES['API key']?.other as Identity;

  it("shows only the caller's checks for that vendor_data, newest first, a page at a time by cursor", async () => {
    const vendor = `user-${randomUUID()}`;
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) {
      mine.push(await create(appA, vendor));
      // Distinct creation times, so "newest first" has one right answer.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await create(appB, vendor); // another client's check for the same end user
    await create(appA, `${vendor}-other`); // the caller's check for another end user

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await list(appA, { vendor_data: vendor, limit: '2', ...(cursor ? { cursor } : {}) });
      expect(res.statusCode, res.body).toBe(200);
      const page = JSON.parse(res.body) as { items: Array<{ id: string; vendor_data: string }>; next_cursor: string };
      expect(page.items.length).toBeLessThanOrEqual(2);
      for (const item of page.items) expect(item.vendor_data).toBe(vendor);
      seen.push(...page.items.map((item) => item.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor && pages < 10);

    expect(seen).toEqual([...mine].reverse());
    expect(pages).toBeGreaterThanOrEqual(3);
  });

  it("a cursor made from another client's check cannot reach into that client's list", async () => {
    const vendor = `user-${randomUUID()}`;
    const theirs = await create(appB, vendor);
    const stored = await store.get(theirs);
    const forged = encodeCursor({ created_at: '9999-12-31T00:00:00.000Z', id: theirs });
    expect(stored?.owner).toBe('apikey:app-b');
    const res = await list(appA, { vendor_data: vendor, cursor: forged });
    expect(res.statusCode, res.body).toBe(200);
    expect(JSON.parse(res.body).items).toEqual([]);
  });

  it.each([
    ['no vendor_data', {}, 'vendor_data'],
    ['an empty vendor_data', { vendor_data: '' }, 'vendor_data'],
    ['a vendor_data over 1024 characters', { vendor_data: 'x'.repeat(1025) }, 'vendor_data'],
    ['limit 0', { vendor_data: 'u', limit: '0' }, 'limit'],
    ['limit 101', { vendor_data: 'u', limit: '101' }, 'limit'],
    ['limit "ten"', { vendor_data: 'u', limit: 'ten' }, 'limit'],
    ['a cursor that is not base64url', { vendor_data: 'u', cursor: 'not a cursor' }, 'cursor'],
    [
      'a cursor of another shape',
      { vendor_data: 'u', cursor: Buffer.from('{"id":1}').toString('base64url') },
      'cursor',
    ],
    ['an unknown parameter', { vendor_data: 'u', owner: 'apikey:app-b' }, 'owner'],
  ])('refuses %s, naming the field', async (_label, query, field) => {
    const res = await list(appA, query as Record<string, string>);
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).error).toMatchObject({ code: 'VALIDATION_FAILED', fields: [{ field }] });
  });
});

describe('checks stored before owners existed', () => {
  it('are visible to nobody until an operator assigns an owner', async () => {
    const id = randomUUID();
    await store.create(storedCheck(id, 'COMPLETED', { vendor_data: 'legacy-user' }));
    for (const { owner, other } of Object.values(MODES)) {
      expect((await get(owner, id)).statusCode).toBe(404);
      expect((await get(other, id)).statusCode).toBe(404);
    }
  });
});

describe('a request API Gateway authenticated nobody for', () => {
  it('is refused with 401, never served as an anonymous owner', async () => {
    const nobody: Identity = { label: 'nobody', context: { identity: {} as never, authorizer: null } };
    const res = await createCheck(event(nobody, 'POST', '/v1/liveness-checks', { body: '{}' }));
    expect(res.statusCode).toBe(401);
    expect((await list(nobody, { vendor_data: 'u' })).statusCode).toBe(401);
  });
});

import { describe, expect, it } from 'vitest';
import { clientAppOf, isVisibleTo, ownerOf, parseClientAppKeys, principalOf } from '../../lambdas/core/caller';
import { callbackUrlProblem, parseCreateCheckRequest } from '../../lambdas/core/create-request';
import { decodeCursor, encodeCursor, ownerVendorKey, parseListRequest } from '../../lambdas/core/list-request';
import { RequestValidationError } from '../../lambdas/errors';

// The pure rules of tenancy: who a request acts as, who sees a check, the list's query and cursor, and which callback
// URLs a check may name.

const KEYS = parseClientAppKeys('app-a=k1,app-b=k2');

describe('the owner of a request', () => {
  it.each([
    ['an API key of a client app', { identity: { apiKeyId: 'k2' } }, 'apikey:app-b'],
    ['an API key no client app has', { identity: { apiKeyId: 'k9' } }, 'apikey-id:k9'],
    [
      'an IAM user',
      { identity: { userArn: 'arn:aws:iam::111122223333:user/ci', apiKeyId: 'k1' } },
      'iam:arn:aws:iam::111122223333:user/ci',
    ],
    [
      'an assumed-role session (its role)',
      { identity: { userArn: 'arn:aws:sts::111122223333:assumed-role/Backend/i-0abc' } },
      'iam:arn:aws:sts::111122223333:assumed-role/Backend',
    ],
    [
      'a Cognito user access token',
      { authorizer: { claims: { sub: 's-1', username: 'u', token_use: 'access', client_id: 'c' } } },
      'cognito:s-1',
    ],
    [
      'a Cognito client-credentials token',
      { authorizer: { claims: { sub: 'c-1', token_use: 'access', client_id: 'c-1' } } },
      'cognito-client:c-1',
    ],
  ])('%s', (_label, context, owner) => {
    expect(ownerOf(context, KEYS)).toBe(owner);
  });

  it('is nobody without an identity, and claims without a subject are nobody', () => {
    expect(ownerOf({ identity: {} }, KEYS)).toBeUndefined();
    expect(ownerOf(undefined, KEYS)).toBeUndefined();
    expect(ownerOf({ authorizer: { claims: { token_use: 'id' } } }, KEYS)).toBeUndefined();
  });

  it('keeps a principal ARN that is not an assumed-role session as it is', () => {
    expect(principalOf('arn:aws:iam::1:role/x')).toBe('arn:aws:iam::1:role/x');
  });

  it('names the client app of an API-key owner only', () => {
    expect(clientAppOf('apikey:app-a')).toBe('app-a');
    expect(clientAppOf('iam:arn:aws:iam::1:user/x')).toBeUndefined();
    expect(clientAppOf(undefined)).toBeUndefined();
  });

  it('refuses a malformed key map', () => {
    expect(() => parseClientAppKeys('App=k1')).toThrow(/client app key entries/);
    expect(() => parseClientAppKeys('app-a=')).toThrow(/client app key entries/);
  });
});

describe('who sees a check', () => {
  it('its owner and nobody else; a check without an owner nobody', () => {
    expect(isVisibleTo({ owner: 'apikey:app-a' }, 'apikey:app-a')).toBe(true);
    expect(isVisibleTo({ owner: 'apikey:app-a' }, 'apikey:app-b')).toBe(false);
    expect(isVisibleTo({ owner: 'apikey:app-a' }, 'apikey-id:app-a')).toBe(false);
    expect(isVisibleTo({}, 'apikey:app-a')).toBe(false);
  });

  it('keys the list index by owner and vendor_data together, unambiguously', () => {
    expect(ownerVendorKey('a', 'b:c')).not.toBe(ownerVendorKey('a:b', 'c'));
    expect(ownerVendorKey('a', 'b')).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('the list query', () => {
  it('defaults the limit to 20 and round-trips its cursor', () => {
    const cursor = encodeCursor({ created_at: '2026-11-26T10:00:00.000Z', id: '4f0c2f7e-3c1b-4d8e-9a51-0a4c1e9b7d21' });
    expect(parseListRequest({ vendor_data: 'u', cursor })).toEqual({
      vendorData: 'u',
      limit: 20,
      after: { created_at: '2026-11-26T10:00:00.000Z', id: '4f0c2f7e-3c1b-4d8e-9a51-0a4c1e9b7d21' },
    });
    expect(decodeCursor(`${cursor}x`)).toBeUndefined();
  });

  it('names every refused parameter at once', () => {
    try {
      parseListRequest({ limit: '1000', cursor: '%%', sort: 'asc' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(RequestValidationError);
      expect((error as RequestValidationError).fields.map((f) => f.field).sort()).toEqual([
        'cursor',
        'limit',
        'sort',
        'vendor_data',
      ]);
    }
  });
});

describe('callback URLs', () => {
  it.each([
    ['https://hooks.example.com/liveness', undefined],
    ['https://hooks.example.com:443/liveness', undefined],
    ['https://hooks.example.com:8443/liveness', /port 443/],
    ['https://hooks.example.com:80/liveness', /port 443/],
    ['http://hooks.example.com/liveness', /https/],
    ['https://169.254.169.254/', /public host/],
    ['https://[fd00:ec2::254]/', /public host/],
  ])('in AWS: %s', (url, problem) => {
    const found = callbackUrlProblem(url, false);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });

  it('takes another port only for an origin on the deploy-time allowlist, exactly', () => {
    const allow = ['https://hooks.example.com:8443'];
    expect(callbackUrlProblem('https://hooks.example.com:8443/x', false, allow)).toBeUndefined();
    expect(callbackUrlProblem('https://hooks.example.com:9443/x', false, allow)).toMatch(/port 443/);
    expect(callbackUrlProblem('https://evil.example.com:8443/x', false, allow)).toMatch(/port 443/);
    const rules = { defaultDeclineThreshold: 30, allowInsecureCallbacks: false, callbackAllowedOrigins: allow };
    expect(parseCreateCheckRequest('{"callback_url":"https://hooks.example.com:8443/x"}', rules).callback_url).toBe(
      'https://hooks.example.com:8443/x',
    );
  });

  it.each([
    'http://169.254.169.254/latest/meta-data/',
    'http://169.254.170.2/v2/credentials',
    'http://[fd00:ec2::254]/latest/meta-data/',
    'http://[fe80::a9fe:a9fe]/',
    'http://[::ffff:169.254.169.254]/',
    'http://metadata.google.internal/',
    'http://192.168.1.1/',
    'http://0.0.0.0:3000/',
    'http://hooks.example.com/',
  ])('the local stack still refuses %s', (url) => {
    expect(callbackUrlProblem(url, true)).toBeDefined();
  });

  it.each(['http://127.0.0.1:4000/hook', 'http://127.8.9.10/hook', 'http://localhost:3000/', 'http://[::1]:9/'])(
    'the local stack allows loopback %s on any port',
    (url) => {
      expect(callbackUrlProblem(url, true)).toBeUndefined();
      expect(callbackUrlProblem(url, false)).toBeDefined();
    },
  );
});

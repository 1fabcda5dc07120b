import type { LookupAddress } from 'node:dns';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type AddressClass,
  assertDeliverableUrl,
  CallbackRefusedError,
  classifyAddress,
  createCallbackAgent,
  type HostResolver,
  isAllowedAddress,
} from '../../lambdas/adapters/callback-guard';

const AWS = { allowLoopbackHttp: false };
const LOCAL = { allowLoopbackHttp: true };

describe('classifyAddress', () => {
  it.each<[string, AddressClass]>([
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.254', 'shared'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.169.254', 'link_local'],
    ['169.254.0.1', 'link_local'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['192.88.99.1', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.254', 'reserved'],
    ['255.255.255.255', 'broadcast'],
  ])('IPv4 %s is %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });

  it.each<[string, AddressClass]>([
    ['::', 'unspecified'],
    ['0:0:0:0:0:0:0:0', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    // IPv4-mapped: judged by the IPv4 address, whichever way it is written.
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0:0:0:0:0:ffff:c0a8:0101', 'private'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'link_local'],
    ['::FFFF:A9FE:A9FE', 'link_local'],
    ['::ffff:0.0.0.0', 'unspecified'],
    // NAT64 well-known prefix: the gateway would dial the embedded IPv4 address.
    ['64:ff9b::10.0.0.1', 'private'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'link_local'],
    ['64:ff9b:1::a00:1', 'reserved'],
    ['fe80::1', 'link_local'],
    ['febf:ffff::1', 'link_local'],
    ['fc00::1', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fec0::1', 'private'],
    ['ff02::1', 'multicast'],
    ['ff0e::101', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['2001:2::1', 'benchmarking'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved'],
    ['2002:7f00:1::1', 'reserved'],
    ['::127.0.0.1', 'reserved'],
    ['::ffff:0:7f00:1', 'reserved'],
    ['100::1', 'reserved'],
    ['4000::1', 'reserved'],
  ])('IPv6 %s is %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '100.63.255.255',
    '100.128.0.1',
    '172.15.255.255',
    '172.32.0.1',
    '192.169.0.1',
    '223.255.255.255',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::8.8.8.8',
  ])('%s is public', (address) => {
    expect(classifyAddress(address)).toBe('public');
    expect(isAllowedAddress(address, AWS)).toBe(true);
  });

  it.each(['fe80::1%eth0', 'example.com', '', '127.1', '1.2.3.4.5', '::ffff:1.2.3'])('%j is invalid', (address) => {
    expect(classifyAddress(address)).toBe('invalid');
  });

  it('allows loopback only under the local-stack policy, and nothing else besides public', () => {
    expect(isAllowedAddress('127.0.0.1', AWS)).toBe(false);
    expect(isAllowedAddress('::1', AWS)).toBe(false);
    expect(isAllowedAddress('127.0.0.1', LOCAL)).toBe(true);
    expect(isAllowedAddress('::ffff:127.0.0.1', LOCAL)).toBe(true);
    expect(isAllowedAddress('10.0.0.1', LOCAL)).toBe(false);
    expect(isAllowedAddress('169.254.169.254', LOCAL)).toBe(false);
  });
});

function refusalOf(action: () => unknown): CallbackRefusedError {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(CallbackRefusedError);
  return caught as CallbackRefusedError;
}

describe('assertDeliverableUrl', () => {
  it('accepts https to a hostname and returns the parsed URL', () => {
    const url = assertDeliverableUrl('https://hooks.example.com/didit?tenant=1', AWS);

    expect(url.hostname).toBe('hooks.example.com');
    expect(url.port).toBe('');
    expect(assertDeliverableUrl('https://hooks.example.com:443/x', AWS).port).toBe('');
  });

  it('refuses a port other than 443 unless the origin is in the allowlist (callbackAllowedOrigins)', () => {
    const refused = (() => {
      try {
        assertDeliverableUrl('https://hooks.example.com:8443/didit', AWS);
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(CallbackRefusedError);
    expect((refused as CallbackRefusedError).reason).toBe('port_not_allowed');
    const allowed = { ...AWS, allowedOrigins: ['https://hooks.example.com:8443'] };
    expect(assertDeliverableUrl('https://hooks.example.com:8443/didit', allowed).port).toBe('8443');
    // The allowlist names origins exactly: another host or port on it is still refused.
    expect(() => assertDeliverableUrl('https://other.example.com:8443/', allowed)).toThrow(CallbackRefusedError);
    expect(() => assertDeliverableUrl('https://hooks.example.com:9443/', allowed)).toThrow(CallbackRefusedError);
    // An allowed origin never makes a private address deliverable.
    const privateOrigin = { ...AWS, allowedOrigins: ['https://10.0.0.1:8443'] };
    expect(() => assertDeliverableUrl('https://10.0.0.1:8443/', privateOrigin)).toThrow(CallbackRefusedError);
  });

  it('accepts https to a public address literal', () => {
    expect(assertDeliverableUrl('https://93.184.216.34/hook', AWS).hostname).toBe('93.184.216.34');
    expect(assertDeliverableUrl('https://[2606:4700:4700::1111]/hook', AWS).hostname).toBe('[2606:4700:4700::1111]');
  });

  it.each([
    ['http://hooks.example.com/', AWS],
    ['http://hooks.example.com/', LOCAL],
    ['http://10.0.0.1/', LOCAL],
    ['ftp://hooks.example.com/', AWS],
    ['file:///etc/passwd', LOCAL],
    ['gopher://127.0.0.1:6379/', LOCAL],
  ])('refuses the scheme of %s', (url, policy) => {
    expect(refusalOf(() => assertDeliverableUrl(url, policy)).reason).toBe('scheme_not_allowed');
  });

  it.each(['not a url', '/relative/path', 'https://'])('refuses %j as invalid', (url) => {
    expect(refusalOf(() => assertDeliverableUrl(url, AWS)).reason).toBe('invalid_url');
  });

  it('refuses credentials in the URL', () => {
    expect(refusalOf(() => assertDeliverableUrl('https://user:pass@hooks.example.com/', AWS)).reason).toBe(
      'credentials_in_url',
    );
  });

  it.each<[string, AddressClass]>([
    ['https://169.254.169.254/latest/meta-data/', 'link_local'],
    ['https://127.0.0.1/', 'loopback'],
    ['https://0x7f.1/', 'loopback'],
    ['https://2130706433/', 'loopback'],
    ['https://0177.0.0.1/', 'loopback'],
    ['https://[::1]/', 'loopback'],
    ['https://[::ffff:127.0.0.1]/', 'loopback'],
    ['https://[::ffff:a9fe:a9fe]/', 'link_local'],
    ['https://localhost/', 'loopback'],
    ['https://LOCALHOST./', 'loopback'],
    ['https://api.localhost/', 'loopback'],
    ['https://10.1.2.3/', 'private'],
    ['https://172.20.0.1/', 'private'],
    ['https://192.168.0.10/', 'private'],
    ['https://100.100.100.200/', 'shared'],
    ['https://0.0.0.0/', 'unspecified'],
    ['https://[fd00:ec2::254]/', 'private'],
    ['https://[fe80::1]/', 'link_local'],
    ['https://[64:ff9b::a00:1]/', 'private'],
    ['https://224.0.0.1/', 'multicast'],
    ['https://255.255.255.255/', 'broadcast'],
    ['https://192.0.2.10/', 'documentation'],
  ])('refuses %s (%s) in AWS', (url, kind) => {
    const error = refusalOf(() => assertDeliverableUrl(url, AWS));

    expect(error.reason).toBe('address_not_allowed');
    expect(error.addressClass).toBe(kind);
    expect(error.retryable).toBe(false);
  });

  it.each([
    'http://127.0.0.1:3000/hook',
    'http://localhost:3000/hook',
    'http://[::1]:3000/hook',
    'https://localhost/hook',
  ])('allows %s on the local stack only', (url) => {
    expect(assertDeliverableUrl(url, LOCAL).pathname).toBe('/hook');
    expect(() => assertDeliverableUrl(url, AWS)).toThrow(CallbackRefusedError);
  });

  it('still refuses private addresses on the local stack', () => {
    expect(refusalOf(() => assertDeliverableUrl('https://10.0.0.1/', LOCAL)).addressClass).toBe('private');
    expect(refusalOf(() => assertDeliverableUrl('https://169.254.169.254/', LOCAL)).addressClass).toBe('link_local');
  });

  it('does not claim to stop a hostname by itself (that happens at connect time)', () => {
    expect(assertDeliverableUrl('https://resolves-to-private.example/', AWS).hostname).toBe(
      'resolves-to-private.example',
    );
  });
});

describe('createCallbackAgent: connect-time checks', () => {
  let server: Server;
  let port: number;
  let connections = 0;
  const agents: Agent[] = [];

  beforeAll(async () => {
    server = createServer((_request, response) => response.end('ok'));
    server.on('connection', () => {
      connections += 1;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterEach(async () => {
    await Promise.all(agents.splice(0).map((agent) => agent.close()));
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** A DNS server we control: `rebind.example` points wherever the test says. */
  function fakeDns(table: Record<string, readonly string[]>, asked: string[] = []): HostResolver {
    return async (hostname) => {
      asked.push(hostname);
      const addresses = table[hostname];
      if (addresses === undefined) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      return addresses.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 }));
    };
  }

  function agentFor(policy: { allowLoopbackHttp: boolean }, resolveHost?: HostResolver): Agent {
    const agent = createCallbackAgent({
      ...policy,
      connectTimeoutMs: 2_000,
      headersTimeoutMs: 2_000,
      bodyTimeoutMs: 2_000,
      ...(resolveHost ? { resolveHost } : {}),
    });
    agents.push(agent);
    return agent;
  }

  async function failure(agent: Agent, origin: string): Promise<unknown> {
    try {
      const response = await agent.request({ origin, path: '/', method: 'GET' });
      await response.body.dump();
    } catch (error) {
      return error;
    }
    throw new Error('expected the request to fail');
  }

  it('refuses a hostname that resolves to a private address, before connecting', async () => {
    const asked: string[] = [];
    const agent = agentFor(AWS, fakeDns({ 'internal.example': ['10.0.0.7'] }, asked));

    const error = await failure(agent, 'https://internal.example');

    expect(error).toBeInstanceOf(CallbackRefusedError);
    expect((error as CallbackRefusedError).addressClass).toBe('private');
    expect(asked).toEqual(['internal.example']);
  });

  it('refuses a hostname rebound to loopback: no connection reaches the server', async () => {
    const before = connections;
    const agent = agentFor(AWS, fakeDns({ 'rebind.example': ['127.0.0.1'] }));

    const error = await failure(agent, `https://rebind.example:${port}`);

    expect(error).toBeInstanceOf(CallbackRefusedError);
    expect((error as CallbackRefusedError).addressClass).toBe('loopback');
    expect(connections).toBe(before);
  });

  it('refuses a name whose answer mixes public and private addresses', async () => {
    const agent = agentFor(AWS, fakeDns({ 'mixed.example': ['93.184.216.34', '169.254.169.254'] }));

    const error = await failure(agent, 'https://mixed.example');

    expect((error as CallbackRefusedError).addressClass).toBe('link_local');
  });

  it('refuses IPv4-mapped and NAT64 answers carrying a private address', async () => {
    const agent = agentFor(
      AWS,
      fakeDns({ 'v6.example': ['::ffff:10.0.0.1'], 'nat64.example': ['64:ff9b::a9fe:a9fe'] }),
    );

    expect((await failure(agent, 'https://v6.example')) as CallbackRefusedError).toMatchObject({
      addressClass: 'private',
    });
    expect((await failure(agent, 'https://nat64.example')) as CallbackRefusedError).toMatchObject({
      addressClass: 'link_local',
    });
  });

  it('refuses localhost through the system resolver in AWS: no connection reaches the server', async () => {
    const before = connections;
    const agent = agentFor(AWS);

    const error = await failure(agent, `https://localhost:${port}`);

    expect(error).toBeInstanceOf(CallbackRefusedError);
    expect(connections).toBe(before);
  });

  it('refuses loopback IP literals in AWS without connecting, over https and http', async () => {
    const before = connections;
    const agent = agentFor(AWS);

    expect(await failure(agent, `https://127.0.0.1:${port}`)).toBeInstanceOf(CallbackRefusedError);
    expect(await failure(agent, `http://127.0.0.1:${port}`)).toBeInstanceOf(CallbackRefusedError);
    expect(await failure(agent, `http://[::ffff:127.0.0.1]:${port}`)).toBeInstanceOf(CallbackRefusedError);
    expect(connections).toBe(before);
  });

  it('on the local stack, connects to loopback by literal, by localhost and by a name resolving to it', async () => {
    const agent = agentFor(LOCAL, fakeDns({ 'receiver.test': ['127.0.0.1'] }));

    for (const origin of [`http://127.0.0.1:${port}`, `http://receiver.test:${port}`]) {
      const response = await agent.request({ origin, path: '/', method: 'GET' });
      expect(response.statusCode).toBe(200);
      await response.body.dump();
    }
    const system = agentFor(LOCAL);
    const response = await system.request({ origin: `http://localhost:${port}`, path: '/', method: 'GET' });
    expect(response.statusCode).toBe(200);
    await response.body.dump();
  });

  it('on the local stack, still refuses a name resolving to a private address', async () => {
    const agent = agentFor(LOCAL, fakeDns({ 'internal.example': ['192.168.1.20'] }));

    expect(await failure(agent, 'http://internal.example')).toBeInstanceOf(CallbackRefusedError);
    expect(await failure(agent, 'https://internal.example')).toBeInstanceOf(CallbackRefusedError);
  });

  it('lets DNS failures through as they are, for the sender to classify', async () => {
    const agent = agentFor(AWS, fakeDns({}));

    expect(await failure(agent, 'https://missing.example')).toMatchObject({ code: 'ENOTFOUND' });
  });
});

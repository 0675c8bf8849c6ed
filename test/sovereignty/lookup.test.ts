// The connect-time guard: DNS rebinding cannot move the upstream, the JWKS endpoint or Redis out of the allowed ranges.

import http from 'node:http';
import type { LookupAddress } from 'node:dns';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCidr, type Cidr } from '../../src/sovereignty/cidr.js';
import { guardedLookup, resolveGuarded, SOVEREIGNTY_ERROR_CODE, sovereignLookup, type Resolver } from '../../src/sovereignty/lookup.js';
import { sovereignDnsLookup, sovereignNatMap, sovereignRedisConnector } from '../../src/sovereignty/redis.js';
import { KeyStore } from '../../src/auth/keystore.js';
import { Forwarder } from '../../src/pipeline/forward.js';
import { buildRuntime } from '../../src/config/load.js';
import { baseConfig, TEST_ENV } from '../helpers/harness.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

const ranges: Cidr[] = ['127.0.0.0/8', '10.20.0.0/16', 'fd00:abcd::/32'].map((r) => parseCidr(r)!);
const OUTSIDE = '203.0.113.7';

/** A resolver whose answers the test changes between calls, the way a rebinding attacker's DNS server would. */
function rebindingResolver(first: string[], then: string[]): Resolver & { calls: Array<{ host: string; family?: number }> } {
  const calls: Array<{ host: string; family?: number }> = [];
  const r = ((host, options, cb) => {
    calls.push({ host, ...(typeof options.family === 'number' && options.family ? { family: options.family } : {}) });
    const addrs = calls.length === 1 ? first : then;
    setImmediate(() => cb(null, addrs.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 }))));
  }) as Resolver & { calls: typeof calls };
  r.calls = calls;
  return r;
}

function lookupOnce(lookup: ReturnType<typeof guardedLookup>, host: string, all: boolean, family?: number): Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family?: number }> {
  return new Promise((resolve) => lookup(host, { all, ...(family ? { family } : {}) }, (err, address, fam) => resolve({ err, address, ...(fam !== undefined ? { family: fam } : {}) })));
}

describe('guardedLookup', () => {
  it('answers like dns.lookup while the name resolves inside the ranges (single and all forms)', async () => {
    const lookup = guardedLookup(ranges, rebindingResolver(['10.20.1.5', 'fd00:abcd::5'], ['10.20.1.5', 'fd00:abcd::5']));
    expect(await lookupOnce(lookup, 'upstream.internal', false)).toEqual({ err: null, address: '10.20.1.5', family: 4 });
    expect(await lookupOnce(lookup, 'upstream.internal', true)).toEqual({
      err: null,
      address: [
        { address: '10.20.1.5', family: 4 },
        { address: 'fd00:abcd::5', family: 6 },
      ],
    });
  });

  it('refuses a rebinding: the second answer lies outside the ranges', async () => {
    const resolver = rebindingResolver(['10.20.1.5'], [OUTSIDE]);
    const lookup = guardedLookup(ranges, resolver);
    expect((await lookupOnce(lookup, 'upstream.internal', true)).err).toBeNull();
    const second = await lookupOnce(lookup, 'upstream.internal', true);
    expect(second.err).toMatchObject({ code: SOVEREIGNTY_ERROR_CODE, host: 'upstream.internal', addresses: [OUTSIDE] });
    expect(second.err!.message).toBe(`sovereignty guard: upstream.internal resolves to ${OUTSIDE}, outside the allowed ranges (127.0.0.0/8, 10.20.0.0/16, fd00:abcd::/32); connection refused`);
    expect(second.address).toEqual([]);
    expect(resolver.calls).toHaveLength(2);
  });

  it('refuses an answer that is only partly outside (happy-eyeballs could pick the outside address)', async () => {
    const lookup = guardedLookup(ranges, rebindingResolver(['10.20.1.5', '2001:db8::1'], []));
    const r = await lookupOnce(lookup, 'idp.internal', false);
    expect(r.err).toMatchObject({ code: SOVEREIGNTY_ERROR_CODE, addresses: ['2001:db8::1'] });
  });

  it('refuses IPv4-mapped IPv6 answers outside the ranges and accepts mapped ones inside', async () => {
    expect((await lookupOnce(guardedLookup(ranges, rebindingResolver(['::ffff:203.0.113.7'], [])), 'x.internal', false)).err?.code).toBe(SOVEREIGNTY_ERROR_CODE);
    expect((await lookupOnce(guardedLookup(ranges, rebindingResolver(['::ffff:10.20.0.1'], [])), 'x.internal', false)).err).toBeNull();
  });

  it('checks IP literals itself without asking the resolver', async () => {
    const resolver = rebindingResolver([], []);
    const lookup = guardedLookup(ranges, resolver);
    expect((await lookupOnce(lookup, OUTSIDE, false)).err?.code).toBe(SOVEREIGNTY_ERROR_CODE);
    expect((await lookupOnce(lookup, '[2001:db8::1]', true)).err?.code).toBe(SOVEREIGNTY_ERROR_CODE);
    expect(await lookupOnce(lookup, '127.0.0.1', false)).toEqual({ err: null, address: '127.0.0.1', family: 4 });
    expect(resolver.calls).toHaveLength(0);
  });

  it('passes the family on and reports resolver failures and empty answers as errors', async () => {
    const resolver = rebindingResolver(['10.20.0.9'], []);
    await lookupOnce(guardedLookup(ranges, resolver), 'a.internal', false, 4);
    expect(resolver.calls[0]).toEqual({ host: 'a.internal', family: 4 });
    const failing: Resolver = (_h, _o, cb) => cb(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }), []);
    expect((await lookupOnce(guardedLookup(ranges, failing), 'gone.internal', false)).err?.code).toBe('ENOTFOUND');
    expect((await lookupOnce(guardedLookup(ranges, rebindingResolver([], [])), 'empty.internal', true)).err?.code).toBe('ENOTFOUND');
  });

  it('resolveGuarded returns every address or rejects with the sovereignty error', async () => {
    await expect(resolveGuarded('a.internal', ranges, rebindingResolver(['10.20.0.1', '127.0.0.2'], []))).resolves.toHaveLength(2);
    await expect(resolveGuarded('a.internal', ranges, rebindingResolver([OUTSIDE], []))).rejects.toMatchObject({ code: SOVEREIGNTY_ERROR_CODE });
  });

  it('sovereignLookup is off (undefined) without ranges and on with them', () => {
    const cfg = (allowedRanges: string[]) => {
      const c = baseConfig({ upstreamUrl: 'http://127.0.0.1:1', jwksUrl: 'http://127.0.0.1:2/jwks.json' }) as Record<string, unknown>;
      c.sovereignty = { allowedRanges };
      return buildRuntime(c, { env: TEST_ENV });
    };
    expect(sovereignLookup(cfg([]))).toBeUndefined();
    expect(sovereignLookup(cfg(['127.0.0.0/8']))).toBeTypeOf('function');
  });
});

describe('the guard plugged into each outbound client', () => {
  let server: http.Server;
  let port = 0;
  let connections = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/jwks.json') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', kid: 'k1' }] }));
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('node:http with the lookup option: connects while inside, refuses after rebinding', async () => {
    const lookup = guardedLookup(ranges, rebindingResolver(['127.0.0.1'], [OUTSIDE]));
    const get = () =>
      new Promise<number | string>((resolve) => {
        const req = http.get({ host: 'upstream.internal', port, path: '/x', lookup, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      });
    expect(await get()).toBe(200);
    const before = connections;
    expect(await get()).toBe(SOVEREIGNTY_ERROR_CODE);
    expect(connections).toBe(before);
  });

  it('the upstream forwarder (undici pool) with the lookup: refuses a rebound upstream name', async () => {
    const lookup = guardedLookup(ranges, rebindingResolver(['127.0.0.1'], [OUTSIDE]));
    const upstream = { url: `http://upstream.internal:${port}`, connections: 1, connectTimeoutMs: 1000, responseTimeoutMs: 1000 } as ConstructorParameters<typeof Forwarder>[0];
    const fwd = new Forwarder(upstream, { lookup });
    try {
      const first = await fwd.get('/x', { host: 'upstream.internal' });
      expect(first.ok).toBe(true);
      // a fresh connection (the pool's socket is gone) must look the name up again, through the guard
      server.closeAllConnections();
      await new Promise((r) => setTimeout(r, 50));
      const before = connections;
      const second = await fwd.get('/x', { host: 'upstream.internal' });
      expect(second).toEqual({ ok: false, kind: 'connect' });
      expect(connections).toBe(before);
    } finally {
      await fwd.close();
    }
  });

  it('the KeyStore with the lookup: a JWKS refresh to a rebound name fails and names the guard', async () => {
    const lookup = guardedLookup(ranges, rebindingResolver(['127.0.0.1'], [OUTSIDE]));
    const keys = new KeyStore({ url: `http://idp.internal:${port}/jwks.json`, refreshIntervalSec: 300, maxStalenessSec: 3600, cooldownSec: 1, timeoutMs: 1000 }, { lookup });
    await keys.refresh();
    expect(keys.status()).toMatchObject({ ok: true, keyCount: 1 });
    await keys.refresh();
    expect(keys.status().lastError).toContain('sovereignty guard: idp.internal resolves to 203.0.113.7');
    keys.stop();
  });
});

describe('Redis through the sovereign connector', () => {
  let redis: RedisServerHandle;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(() => redis?.stop());

  const client = (host: string, resolver: Resolver) =>
    new Redis({ host, port: redis.port, Connector: sovereignRedisConnector(ranges, resolver), lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false });

  it('connects to a name that resolves inside the ranges', async () => {
    const c = client('redis.internal', rebindingResolver(['127.0.0.1'], ['127.0.0.1']));
    c.on('error', () => {});
    try {
      await c.connect();
      expect(await c.ping()).toBe('PONG');
    } finally {
      c.disconnect();
    }
  });

  it('refuses a name rebound outside the ranges on (re)connect', async () => {
    const c = client('redis.internal', rebindingResolver([OUTSIDE], []));
    const errors: string[] = [];
    c.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
    await expect(c.connect()).rejects.toThrow();
    // ioredis reports the socket's error, then rejects connect() with its own "Connection is closed."
    expect(errors).toContain(SOVEREIGNTY_ERROR_CODE);
    expect(c.status).not.toBe('ready');
    c.disconnect();
  });

  it('refuses an address literal outside the ranges (cluster and sentinel hand these out)', async () => {
    const c = new Redis({ host: OUTSIDE, port: 6379, Connector: sovereignRedisConnector(ranges), lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    c.on('error', () => {});
    await expect(c.connect()).rejects.toMatchObject({ code: SOVEREIGNTY_ERROR_CODE });
    c.disconnect();
  });

  it('sentinel NAT map and cluster dnsLookup refuse outside addresses', async () => {
    const nat = sovereignNatMap(ranges, rebindingResolver([OUTSIDE], [])) as (key: string) => { host: string; port: number; lookup?: unknown };
    expect(() => nat(`${OUTSIDE}:6379`)).toThrow(/outside the allowed ranges/);
    expect(nat('10.20.3.4:6379')).toEqual({ host: '10.20.3.4', port: 6379 });
    expect(nat('redis-master.internal:6379')).toMatchObject({ host: 'redis-master.internal', port: 6379, lookup: expect.any(Function) });
    const dnsLookup = sovereignDnsLookup(ranges, rebindingResolver(['10.20.0.3'], [OUTSIDE]));
    const ask = () => new Promise<[string | undefined, string]>((r) => dnsLookup('node.internal', (err, address) => r([err?.code, address])));
    expect(await ask()).toEqual([undefined, '10.20.0.3']);
    expect((await ask())[0]).toBe(SOVEREIGNTY_ERROR_CODE);
  });
});

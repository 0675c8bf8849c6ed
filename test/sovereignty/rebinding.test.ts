// End to end: the gateway resolves its outbound names through the sovereignty guard on every new connection, so a
// name that was inside the ranges at start and is rebound outside later is refused (upstream → 502, Redis → down).
// (The JWKS URL must be https unless loopback; KeyStore's use of `lookup` is covered in lookup.test.ts.)
// Needs the wiring in src/gateway.ts (Forwarder and KeyStore `lookup`) and src/state (Redis connector).

import dns, { type LookupAddress } from 'node:dns';
import dnsPromises from 'node:dns/promises';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';
import { request } from '../helpers/http.js';
import { DEMO_TABLE_ID } from '../../src/demo/platform.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

const OUTSIDE = '203.0.113.9';
/** what the fake DNS answers for each *.rebind.test name right now */
const answers = new Map<string, string>();
const realLookup = dns.lookup;
const realPromiseLookup = dnsPromises.lookup;

function fake(host: string): LookupAddress[] | null {
  const a = answers.get(host);
  return a ? [{ address: a, family: 4 }] : null;
}

beforeAll(() => {
  // the guard's resolver and the start-time check both go through node's dns module: answer *.rebind.test here
  (dns as { lookup: unknown }).lookup = (host: string, opts: unknown, cb?: unknown) => {
    const callback = (typeof opts === 'function' ? opts : cb) as (err: Error | null, a: unknown, f?: number) => void;
    const all = typeof opts === 'object' && opts !== null && (opts as { all?: boolean }).all;
    const hit = fake(host);
    if (!hit) return (realLookup as (...a: unknown[]) => void)(host, opts, cb);
    setImmediate(() => (all ? callback(null, hit) : callback(null, hit[0]!.address, 4)));
  };
  (dnsPromises as { lookup: unknown }).lookup = async (host: string, opts?: { all?: boolean }) => {
    const hit = fake(host);
    if (!hit) return (realPromiseLookup as (...a: unknown[]) => Promise<unknown>)(host, opts);
    return opts?.all ? hit : hit[0];
  };
  syncBuiltinESMExports();
});
afterAll(() => {
  (dns as { lookup: unknown }).lookup = realLookup;
  (dnsPromises as { lookup: unknown }).lookup = realPromiseLookup;
  syncBuiltinESMExports();
});

describe('DNS rebinding after start', () => {
  let h: Harness;
  let redis: RedisServerHandle;
  beforeAll(async () => {
    redis = await startRedisServer();
    answers.set('platform.rebind.test', '127.0.0.1');
    answers.set('redis.rebind.test', '127.0.0.1');
    h = await startHarness({
      configure: (c) => {
        const up = new URL(c.upstream.url);
        c.upstream.url = `http://platform.rebind.test:${up.port}`;
        c.state = { backend: 'redis', redis: { mode: 'single', url: `redis://redis.rebind.test:${redis.port}` }, rateLimit: { perSubject: 100000, windowSec: 60 } };
        c.sovereignty = { allowedRanges: ['127.0.0.0/8'] };
      },
    });
  });
  afterAll(async () => {
    await h?.close();
    await redis?.stop();
  });

  it('serves while the names resolve inside the ranges', async () => {
    const res = await request(h.vendorUrl, `/api/v1/tables/${DEMO_TABLE_ID}`, { headers: { authorization: `Bearer ${await h.token('geheim')}` } });
    expect(res.status).toBe(200);
  });

  it('refuses a new upstream connection once the platform name is rebound outside: 502 at once, nothing sent', async () => {
    const token = await h.token('geheim');
    // the platform closes each connection after answering, so every request needs a new connection (and a lookup)
    h.upstream.setHandler((_req, res) => res.writeHead(200, { 'content-type': 'application/json', connection: 'close' }).end('{"id":"x"}'));
    expect((await request(h.vendorUrl, `/api/v1/tables/${DEMO_TABLE_ID}`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    answers.set('platform.rebind.test', OUTSIDE);
    const before = h.upstream.requests.length;
    // watch every socket's name lookup: the outside address must never be handed to connect()
    const lookups: Array<{ host: string; err?: string; address?: string }> = [];
    const connect = net.Socket.prototype.connect;
    net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
      this.once('lookup', (err: NodeJS.ErrnoException | null, address: string, _family: unknown, host: string) => lookups.push({ host, ...(err ? { err: err.code ?? err.message } : { address }) }));
      return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
    } as typeof connect;
    const started = Date.now();
    const res = await request(h.vendorUrl, `/api/v1/tables/${DEMO_TABLE_ID}`, { headers: { authorization: `Bearer ${token}` } }).finally(() => {
      net.Socket.prototype.connect = connect;
    });
    expect(lookups.filter((l) => l.host === 'platform.rebind.test')).toEqual([{ host: 'platform.rebind.test', err: 'ERR_METAGATE_SOVEREIGNTY' }]);
    expect(res.status).toBe(502);
    expect(res.json().code).toBe('upstream_error');
    expect(Date.now() - started).toBeLessThan(900);
    expect(h.upstream.requests.length).toBe(before);
  });

  it('a Redis reconnect to a rebound name is refused: state unavailable, readiness false', async () => {
    answers.set('redis.rebind.test', OUTSIDE);
    await redis.restart(); // drops the gateway's connections; ioredis reconnects through the connector
    await new Promise((r) => setTimeout(r, 500));
    const health = h.gateway.gateway.store.health();
    expect(health.ok).toBe(false);
    // refused by the guard, not merely unreachable
    expect(health.detail).toContain('ERR_METAGATE_SOVEREIGNTY');
    expect(h.gateway.gateway.readiness().checks.store).toBe(false);
  });
});

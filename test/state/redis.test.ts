// Runs the StateStore contract against a real Redis, then what only Redis has: replicas, one round trip, outages.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRedisStore, RedisStore, type RedisStoreOptions } from '../../src/state/redis.js';
import { MemoryStore } from '../../src/state/memory.js';
import { StateUnavailableError, type CheckInput, type CheckResult, type RateLimitPolicy, type Revocation, type StateStore } from '../../src/state/store.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { runStoreContract, T0 } from './contract.js';

let server: RedisServerHandle;

beforeAll(async () => {
  server = await startRedisServer();
}, 20_000);

afterAll(async () => {
  await server?.stop();
});

let prefixes = 0;
function uniquePrefix(): string {
  return `mgtest-${process.pid}-${++prefixes}:`;
}

function options(rateLimit: RateLimitPolicy, overrides: Partial<RedisStoreOptions> = {}): RedisStoreOptions {
  return {
    rateLimit,
    keyPrefix: uniquePrefix(),
    connection: { mode: 'single', url: server.url },
    commandTimeoutMs: 500,
    maxReconnectDelayMs: 200,
    ...overrides,
  };
}

const POLICY: RateLimitPolicy = { perSubject: 100, global: 0, windowMs: 60_000 };

function revocation(kind: Revocation['kind'], id: string): Revocation {
  return { kind, id, reason: 'test', by: 'operator@ministry', createdAt: T0 };
}

runStoreContract('redis', (rateLimit) => createRedisStore(options(rateLimit), 5_000));

describe('RedisStore', () => {
  const opened: RedisStore[] = [];
  const raw: Redis[] = [];

  async function open(opts: RedisStoreOptions): Promise<RedisStore> {
    const store = await createRedisStore(opts, 5_000);
    opened.push(store);
    return store;
  }

  function rawClient(): Redis {
    const client = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    raw.push(client);
    return client;
  }

  /** The commands that reached Redis over a socket while `fn` ran (MONITOR); what scripts run inside is left out. */
  async function sentDuring<T>(fn: () => Promise<T>): Promise<{ result: T; seen: string[][] }> {
    const monitor = await rawClient().monitor();
    const seen: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      // commands a script runs show up with source "lua"; only what came over a socket is a round trip
      if (source !== 'lua') seen.push(args);
    });
    await sleep(50);
    const result = await fn();
    await sleep(100);
    monitor.disconnect();
    return { result, seen };
  }

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await Promise.all(raw.splice(0).map((c) => c.quit().catch(() => c.disconnect())));
  });

  describe('replicas sharing one Redis', () => {
    it('a revocation through one replica is seen by the other, whose onChange fires within a second', async () => {
      const opts = options(POLICY);
      const a = await open(opts);
      const b = await open({ ...opts });
      const notified = new Promise<number>((resolve) => {
        const start = Date.now();
        b.onChange(() => resolve(Date.now() - start));
      });

      await a.revoke(revocation('subject', 'alice'));
      expect((await b.check({ subject: 'alice', now: T0 })).subjectRevoked?.id).toBe('alice');
      const elapsed = await Promise.race([notified, sleep(1_000).then(() => Number.POSITIVE_INFINITY)]);
      expect(elapsed).toBeLessThan(1_000);
    });

    it('suspensions and windows made on one replica reach the other', async () => {
      const opts = options(POLICY);
      const a = await open(opts);
      const b = await open({ ...opts });
      let bCalls = 0;
      b.onChange(() => bCalls++);

      await a.suspend({ org: 'acme', reason: 'audit', by: 'soc', createdAt: T0 });
      await a.scheduleWindow({ id: 'ex', label: 'exercise', start: T0, end: T0 + 1_000, reason: 'drill', by: 'soc', createdAt: T0 });
      expect((await b.check({ subject: 's', org: 'acme', now: T0 })).suspended?.source).toBe('kill_switch');
      expect((await b.check({ subject: 's', org: 'globex', now: T0 })).suspended?.label).toBe('exercise');
      await expect.poll(() => bCalls, { timeout: 1_000 }).toBe(2);
    });

    it('a replica is not notified twice of its own change', async () => {
      const opts = options(POLICY);
      const a = await open(opts);
      const b = await open({ ...opts });
      let aCalls = 0;
      let bCalls = 0;
      a.onChange(() => aCalls++);
      b.onChange(() => bCalls++);

      await a.revoke(revocation('token', 'jti-1'));
      await expect.poll(() => bCalls, { timeout: 1_000 }).toBe(1);
      await sleep(100);
      expect(aCalls).toBe(1);
    });

    it('rate limits are counted across replicas', async () => {
      const opts = options({ perSubject: 3, global: 4, windowMs: 1_000 });
      const a = await open(opts);
      const b = await open({ ...opts });

      expect((await a.check({ subject: 'alice', now: T0 })).rateLimit.remaining).toBe(2);
      expect((await b.check({ subject: 'alice', now: T0 })).rateLimit.remaining).toBe(1);
      expect((await a.check({ subject: 'alice', now: T0 })).rateLimit.remaining).toBe(0);
      expect((await b.check({ subject: 'alice', now: T0 })).rateLimit).toMatchObject({ allowed: false, scope: 'subject' });

      expect((await b.check({ subject: 'bob', now: T0 })).rateLimit.allowed).toBe(true);
      expect((await a.check({ subject: 'carol', now: T0 })).rateLimit).toMatchObject({ allowed: false, scope: 'global', limit: 4 });
      expect((await b.rateLimitState('alice', T0)).global).toMatchObject({ remaining: 0, limit: 4 });
    });

    it('different key prefixes do not share state', async () => {
      const a = await open(options(POLICY));
      const b = await open(options(POLICY));
      await a.suspend({ reason: 'kill', by: 'soc', createdAt: T0 });
      expect((await b.check({ subject: 'alice', now: T0 })).suspended).toBeUndefined();
      expect(await b.listSuspensions()).toEqual([]);
    });
  });

  describe('wire behaviour', () => {
    it('check() is one round trip: a single script call', async () => {
      const store = await open(options({ perSubject: 10, global: 10, windowMs: 1_000 }));
      await store.revoke(revocation('token', 'jti-1'));
      await store.check({ subject: 'warm-up', now: T0 }); // the first call on a connection sends EVAL, later ones EVALSHA

      const { seen } = await sentDuring(() => store.check({ subject: 'alice', jti: 'jti-1', org: 'acme', now: T0 }));

      expect(seen).toHaveLength(1);
      expect(seen[0]![0]!.toLowerCase()).toBe('evalsha');
    });

    it('the checks of one event-loop turn go out as one script call, one round trip for all of them', async () => {
      const store = await open(options({ perSubject: 100, global: 0, windowMs: 1_000 }));
      await store.check({ subject: 'warm-up', now: T0 });
      const { result: results, seen } = await sentDuring(() => Promise.all(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].map((subject) => store.check({ subject, now: T0 }))));
      expect(results.every((r) => r.rateLimit.allowed && r.rateLimit.remaining === 99)).toBe(true);
      expect(seen).toHaveLength(1);
      expect(seen[0]![0]!.toLowerCase()).toBe('evalsha');
      // 4 shared keys and 4 per shape: ten subjects, ten shapes
      expect(seen[0]![2]).toBe(String(4 + 4 * 10));
    });

    it('requests of one caller share their keys in the script call, and each is still checked and counted on its own', async () => {
      const opts = options({ perSubject: 5, global: 0, windowMs: 60_000 });
      const store = await open(opts);
      await store.revoke(revocation('token', 'jti-stolen'));
      await store.suspend({ reason: 'incident', by: 'soc', createdAt: T0, org: 'acme' });
      await store.check({ subject: 'warm-up', now: T0 });
      const inputs = [
        { subject: 'alice', now: T0 },
        { subject: 'bob', now: T0 },
        { subject: 'alice', now: T0 + 1 },
        { subject: 'alice', jti: 'jti-stolen', now: T0 + 2 },
        { subject: 'alice', org: 'acme', now: T0 + 3 },
        { subject: 'alice', now: T0 + 4 },
        { subject: 'alice', now: T0 + 5 },
        { subject: 'alice', now: T0 + 6 },
        { subject: 'alice', now: T0 + 7 },
      ];
      const { result: results, seen } = await sentDuring(() => Promise.all(inputs.map((i) => store.check(i))));
      expect(seen).toHaveLength(1);
      // four shapes (alice, bob, alice with the token id, alice with the organisation): 4 shared keys and 4 per shape
      expect(seen[0]![2]).toBe(String(4 + 4 * 4));
      // the restricted ones consume nothing; alice's five units go to her first five unrestricted requests, in order
      expect(results.map((r) => [r.rateLimit.allowed, r.rateLimit.remaining, r.tokenRevoked?.id ?? null, r.suspended?.org ?? null])).toEqual([
        [true, 4, null, null],
        [true, 4, null, null],
        [true, 3, null, null],
        [true, 3, 'jti-stolen', null],
        [true, 3, null, 'acme'],
        [true, 2, null, null],
        [true, 1, null, null],
        [true, 0, null, null],
        [false, 0, null, null],
      ]);
      const index = Math.floor(T0 / 60_000);
      expect(await rawClient().get(`${opts.keyPrefix}{mg}:rl:${index}:s:alice`)).toBe('5');
      // the requests travel as one argument, the last: each one's shape and time, in order
      const shapeOf = [0, 1, 0, 2, 3, 0, 0, 0, 0];
      expect(seen[0]!.at(-1)).toBe(inputs.map((input, i) => `${shapeOf[i]} ${input.now}`).join(','));
      expect(seen[0]!.length).toBe(3 + (4 + 4 * 4) + 5 + 4 * 4 + 1);
    });

    it('checkLater answers each check exactly once, after it returns, as check() would', async () => {
      const store = await open(options({ perSubject: 2, global: 0, windowMs: 60_000 }));
      await store.revoke(revocation('subject', 'mallory'));
      const inputs = [
        { subject: 'alice', now: T0 },
        { subject: 'mallory', now: T0 },
        { subject: 'alice', now: T0 + 0.5 },
        { subject: 'alice', now: T0 + 1 },
      ];
      const calls: (CheckResult | Error)[][] = inputs.map(() => []);
      let returned = 0;
      const answered = new Promise<void>((resolve) => {
        inputs.forEach((input, i) => {
          store.checkLater(input, (outcome) => {
            // never called before checkLater has returned for every input of the turn
            expect(returned).toBe(inputs.length);
            calls[i]!.push(outcome);
            if (calls.every((c) => c.length > 0)) resolve();
          });
          returned++;
        });
      });
      await answered;
      await sleep(50);
      expect(calls.map((c) => c.length)).toEqual([1, 1, 1, 1]);
      const got = calls.map(([o]) => (o instanceof Error ? `error ${o.message}` : [o!.rateLimit.allowed, o!.rateLimit.remaining, o!.subjectRevoked?.id ?? null]));
      expect(got).toEqual([
        [true, 1, null],
        [true, 2, 'mallory'],
        [true, 0, null],
        [false, 0, null],
      ]);
    });

    it('checkLater throws at once, and never calls back, for a time it cannot use or a closed store', async () => {
      const store = await open(options(POLICY));
      const done = vi.fn();
      for (const now of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) expect(() => store.checkLater({ subject: 'alice', now }, done)).toThrow();
      await store.close();
      expect(() => store.checkLater({ subject: 'alice', now: T0 }, done)).toThrow(StateUnavailableError);
      await sleep(50);
      expect(done).not.toHaveBeenCalled();
    });

    it('a callback that throws leaves no other check of its turn unanswered, and its error is thrown again, not hidden', async () => {
      const store = await open(options(POLICY));
      const boom = new Error('callback bug');
      const rethrown: (() => void)[] = [];
      const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((fn) => void rethrown.push(fn));
      try {
        const others = new Promise<(CheckResult | Error)[]>((resolve) => {
          const got: (CheckResult | Error)[] = [];
          store.checkLater({ subject: 'a', now: T0 }, (o) => void got.push(o));
          store.checkLater({ subject: 'b', now: T0 }, () => {
            throw boom;
          });
          store.checkLater({ subject: 'c', now: T0 }, (o) => {
            got.push(o);
            resolve(got);
          });
        });
        const got = await others;
        expect(got.map((o) => (o instanceof Error ? 'error' : o.rateLimit.allowed))).toEqual([true, true]);
      } finally {
        spy.mockRestore();
      }
      expect(rethrown).toHaveLength(1);
      expect(() => rethrown[0]!()).toThrow(boom);
    });

    it('an unreadable record fails only the check it belongs to, not the others of its turn', async () => {
      const opts = options(POLICY);
      const store = await open(opts);
      await rawClient().set(`${opts.keyPrefix}{mg}:rev:subject:mallory`, 'not json');
      const [a, m, b] = await Promise.allSettled([
        store.check({ subject: 'alice', now: T0 }),
        store.check({ subject: 'mallory', now: T0 }),
        store.check({ subject: 'bob', now: T0 }),
      ]);
      expect(a.status).toBe('fulfilled');
      expect(b.status).toBe('fulfilled');
      expect(m.status).toBe('rejected');
      expect((m as PromiseRejectedResult).reason).toBeInstanceOf(StateUnavailableError);
    });

    // Review findings on the batched check (each failed before its fix)
    it('a counter that is not a number fails only its own request, and charges no one else', async () => {
      const opts = options(POLICY);
      const store = await open(opts);
      const { index } = { index: Math.floor(T0 / POLICY.windowMs) };
      await rawClient().set(`${opts.keyPrefix}{mg}:rl:${index}:s:mallory`, 'not a number');
      const [a, m, b] = await Promise.allSettled([
        store.check({ subject: 'alice', now: T0 }),
        store.check({ subject: 'mallory', now: T0 }),
        store.check({ subject: 'bob', now: T0 }),
      ]);
      expect([a.status, m.status, b.status]).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((m as PromiseRejectedResult).reason).toBeInstanceOf(StateUnavailableError);
      expect((a as PromiseFulfilledResult<{ rateLimit: { remaining: number } }>).value.rateLimit.remaining).toBe(99);
    });

    it('a counter INCR cannot add to (tonumber reads "1.5") refuses the request before its subject is charged', async () => {
      const opts = options({ perSubject: 100, global: 1_000, windowMs: 60_000 });
      const store = await open(opts);
      const index = Math.floor(T0 / 60_000);
      const raw = rawClient();
      await raw.set(`${opts.keyPrefix}{mg}:rl:${index}:g`, '1.5');
      await expect(store.check({ subject: 'alice', now: T0 })).rejects.toBeInstanceOf(StateUnavailableError);
      expect(await raw.get(`${opts.keyPrefix}{mg}:rl:${index}:s:alice`)).toBeNull();
    });

    // The script answers each request with one value (sixteenth session): its count (an integer) when it passed with
    // nothing restricting it, else [decision, count, restrictions]. Whatever else a reply holds refuses that request alone, and a
    // reply with the wrong number of values refuses the whole turn. The values are handed to the store as ioredis
    // decodes a reply; a real Redis cannot be made to send these.
    it('each request is read from its own reply value, strictly: anything but the two shapes refuses it alone', async () => {
      const store = await open(options(POLICY));
      type Pending = { input: CheckInput; index: number; resetMs: number; done: (outcome: CheckResult | Error) => void };
      const answer = (resolve: (r: CheckResult) => void, reject: (e: unknown) => void) => (outcome: CheckResult | Error) => (outcome instanceof Error ? reject(outcome) : resolve(outcome));
      const settle = (batch: Pending[], reply: unknown) => (store as unknown as { settleChecks(b: Pending[], r: unknown, fresh: string): void }).settleChecks(batch, reply, 'lost:test');
      const revoked = JSON.stringify({ kind: 'subject', id: 'alice', reason: 'gone', by: 'soc', createdAt: T0 });
      const cases: [string, unknown, 'allowed' | 'limited' | 'revoked' | 'refused'][] = [
        ['a count', 3, 'allowed'],
        ['a count of 0', 0, 'allowed'],
        ['ok, spelled out', ['ok', 2, ''], 'allowed'],
        ['over the subject limit', ['subject', 100, ''], 'limited'],
        ['over the global ceiling', ['global', 7, ''], 'limited'],
        ['a revocation', ['ok', 0, JSON.stringify([revoked, '', '', ''])], 'revoked'],
        ['a fraction', 1.5, 'refused'],
        ['not a number', Number.NaN, 'refused'],
        ['not finite', Number.POSITIVE_INFINITY, 'refused'],
        ['a count as text', '3', 'refused'],
        ['a bare decision', 'ok', 'refused'],
        ['nothing', null, 'refused'],
        ['an empty array', [], 'refused'],
        ['two values', ['ok', 2], 'refused'],
        ['four values (the old shape)', ['ok', 2, 2, ''], 'refused'],
        ['a fourth value after a whole answer', ['ok', 2, '', ''], 'refused'],
        ['the script could not read the state', ['error', 0, ''], 'refused'],
        ['an unknown decision', ['maybe', 1, ''], 'refused'],
        ['a count that is not an integer', ['subject', '100', ''], 'refused'],
        ['restrictions that are not JSON', ['ok', 1, 'not json'], 'refused'],
      ];
      const results = await Promise.allSettled(
        cases.map(
          ([, value]) =>
            new Promise<CheckResult>((resolve, reject) => {
              settle([{ input: { subject: 'alice', now: T0 }, index: 0, resetMs: 60_000, done: answer(resolve, reject) }], [0, value]);
            }),
        ),
      );
      const got = results.map((r, i) => {
        if (r.status === 'rejected') return [cases[i]![0], r.reason instanceof StateUnavailableError ? 'refused' : `threw ${String(r.reason)}`];
        const v = r.value;
        return [cases[i]![0], v.subjectRevoked ? 'revoked' : v.rateLimit.allowed ? 'allowed' : 'limited'];
      });
      expect(got).toEqual(cases.map(([name, , want]) => [name, want]));

      // a turn of three: each request is read from its own value, and one bad value refuses only its request
      const turn = (reply: (n: number) => unknown[]) => {
        const batch: Pending[] = [];
        const promises = [0, 1, 2].map((i) => new Promise<CheckResult>((resolve, reject) => batch.push({ input: { subject: `s${i}`, now: T0 }, index: 0, resetMs: 60_000, done: answer(resolve, reject) })));
        settle(batch, reply(batch.length));
        return Promise.allSettled(promises).then((rs) => rs.map((r) => (r.status === 'fulfilled' ? r.value.rateLimit.allowed : r.reason instanceof StateUnavailableError ? 'refused' : 'threw')));
      };
      expect(await turn(() => [0, 4, 'bad', ['subject', 100, '']])).toEqual([true, 'refused', false]);
      // a reply with a value too many or too few refuses every request of the turn
      expect(await turn((n) => [0, ...Array.from({ length: n - 1 }, () => 1)])).toEqual(['refused', 'refused', 'refused']);
      expect(await turn((n) => [0, ...Array.from({ length: n + 1 }, () => 1)])).toEqual(['refused', 'refused', 'refused']);
      expect(await turn(() => 'not an array' as unknown as unknown[])).toEqual(['refused', 'refused', 'refused']);
    });

    // The script reads a turn's requests from one text argument (CHECK_LUA). The store never writes a bad one; if one
    // reached Redis, the script must refuse rather than read past it or make requests up.
    it('the script refuses a call whose argument count is wrong, and reads nothing but "shape now" pairs from the requests', async () => {
      const opts = options(POLICY);
      const store = await open(opts);
      await store.check({ subject: 'warm-up', now: T0 });
      const call = (args: (string | number)[]) => (store as unknown as { scripts: { metagateCheck(a: (string | number)[]): Promise<unknown> } }).scripts.metagateCheck(args);
      const k = (name: string) => `${opts.keyPrefix}{mg}:${name}`;
      const keys = [k('rev:index'), k('susp'), k('win'), k('epoch'), k('rev:subject:alice'), k('rev:token:'), k('rl:x:s:alice'), k('rl:x:g')];
      const head = [keys.length, ...keys, 'lost:test', POLICY.perSubject, POLICY.global, '', 1, '0', '0', '', 60_000];
      const counts = async (requests: string) => {
        const reply = (await call([...head, requests])) as unknown[];
        return reply.slice(1).map((v) => (typeof v === 'number' ? 'ok' : (v as unknown[])[0]));
      };
      // one request per pair, in order; separators and garbage between pairs make no request
      expect(await counts(`0 ${T0},0 ${T0 + 1}`)).toEqual(['ok', 'ok']);
      expect(await counts('')).toEqual([]);
      expect(await counts(',,,')).toEqual([]);
      expect(await counts('0')).toEqual([]);
      // a pair the script cannot use is that request's error, not a pass: a shape out of range, or not a number
      expect(await counts(`1 ${T0},-1 ${T0},x ${T0},0 now`)).toEqual(['error', 'error', 'error', 'error']);
      // too many or too few arguments: the whole call fails
      await expect(call([...head, `0 ${T0}`, 'extra'])).rejects.toThrow(/bad arguments/);
      await expect(call(head)).rejects.toThrow(/bad arguments/);
    });

    it('a check whose time a Date cannot hold does not take the other checks of its turn with it', async () => {
      const store = await open(options(POLICY));
      const [far, near] = await Promise.allSettled([store.check({ subject: 'alice', now: 9e15 }), store.check({ subject: 'bob', now: T0 })]);
      expect(near.status).toBe('fulfilled');
      expect(far.status).toBe('fulfilled');
    });

    it('a check made before an unrevoke in the same turn is decided before it', async () => {
      const store = await open(options(POLICY));
      await store.revoke(revocation('subject', 'alice'));
      const before = store.check({ subject: 'alice', now: T0 });
      const undone = store.unrevoke('subject', 'alice');
      expect((await before).subjectRevoked?.id).toBe('alice');
      expect(await undone).toBe(true);
      expect((await store.check({ subject: 'alice', now: T0 })).subjectRevoked).toBeUndefined();
    });

    it('runs with an ACL user that has exactly the commands docs/state.md lists', async () => {
      const doc = readFileSync(new URL('../../docs/state.md', import.meta.url), 'utf8');
      const listed = /commands\s+`([A-Z ]+)`, plus\s+`([A-Z|  ]+)`/.exec(doc.replace(/\n/g, ' '));
      expect(listed).not.toBeNull();
      const commands = `${listed![1]} ${listed![2]}`.split(/\s+/).filter(Boolean).map((c) => `+${c.toLowerCase()}`);
      const prefix = uniquePrefix();
      const admin = rawClient();
      const user = `metagate-acl-${process.pid}-${prefixes}`;
      // a command this Redis does not know (CLIENT SETINFO before 7.2) cannot be granted, and is not sent to it either
      for (;;) {
        try {
          await admin.call('ACL', 'SETUSER', user, 'on', '>acl-test-password', 'resetkeys', `~${prefix}*`, 'resetchannels', `&${prefix}*`, '-@all', ...commands);
          break;
        } catch (err) {
          const unknown = /modifier '([^']+)': Unknown command/.exec(String(err))?.[1];
          if (unknown === undefined || !commands.includes(unknown)) throw err;
          commands.splice(commands.indexOf(unknown), 1);
        }
      }
      try {
        const url = new URL(server.url);
        url.username = user;
        url.password = 'acl-test-password';
        const store = await open({ ...options(POLICY), keyPrefix: prefix, connection: { mode: 'single', url: url.toString() } });
        await store.revoke(revocation('subject', 'mallory'));
        const [ok, revoked] = await Promise.all([store.check({ subject: 'alice', now: T0 }), store.check({ subject: 'mallory', now: T0 })]);
        expect(ok.rateLimit.allowed).toBe(true);
        expect(revoked.subjectRevoked?.id).toBe('mallory');
        expect((await store.listRevocations(T0)).map((r) => r.id)).toEqual(['mallory']);
      } finally {
        await admin.call('ACL', 'DELUSER', user);
      }
    });

    it('keeps every key under the prefix with the {mg} hash tag, with TTLs on counters and expiring revocations', async () => {
      const opts = options({ perSubject: 10, global: 10, windowMs: 1_000 });
      const store = await open(opts);
      await store.revoke({ ...revocation('subject', 'alice'), expiresAt: T0 + 30_000 });
      await store.revoke(revocation('token', 'jti-1'));
      await store.suspend({ org: 'acme', reason: 'r', by: 'b', createdAt: T0 });
      await store.scheduleWindow({ id: 'w', label: 'l', start: T0 + 10_000, end: T0 + 20_000, reason: 'r', by: 'b', createdAt: T0 });
      await store.check({ subject: 'bob', now: T0 });

      const client = rawClient();
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await client.scan(cursor, 'MATCH', `${opts.keyPrefix}*`, 'COUNT', 1_000);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');

      const base = `${opts.keyPrefix}{mg}:`;
      const window = Math.floor(T0 / 1_000);
      expect(keys.sort()).toEqual(
        [
          `${base}rev:subject:alice`,
          `${base}rev:token:jti-1`,
          `${base}rev:index`,
          `${base}susp`,
          `${base}win`,
          `${base}rl:${window}:s:bob`,
          `${base}rl:${window}:g`,
          `${base}epoch`,
        ].sort(),
      );
      expect(await client.pttl(`${base}rev:subject:alice`)).toBeGreaterThan(30_000);
      expect(await client.pttl(`${base}rev:token:jti-1`)).toBe(-1);
      expect(await client.pttl(`${base}rl:${window}:s:bob`)).toBeGreaterThan(1_000);
      expect(await client.pttl(`${base}rl:${window}:g`)).toBeGreaterThan(1_000);
    });

    // Availability review: FLUSHALL (or a restart without persistence, or eviction) silently lifted revocations and
    // the kill switch. The gateway cannot know what was lost; it reports the loss, once, at the first check after it.
    it('a state lost while the store runs (FLUSHALL) is reported once, by the first check that finds it', async () => {
      const opts = options(POLICY);
      const a = await open(opts);
      const b = await open({ ...opts });
      const lost = [0, 0];
      a.onStateLost(() => lost[0]!++);
      b.onStateLost(() => lost[1]!++);
      await a.revoke(revocation('subject', 'alice'));
      expect((await a.check({ subject: 'alice', now: T0 })).subjectRevoked?.id).toBe('alice');
      expect(lost).toEqual([0, 0]); // a fresh state is started, not lost

      await rawClient().flushall();
      expect((await b.check({ subject: 'alice', now: T0 })).subjectRevoked).toBeUndefined(); // gone, as documented
      await a.check({ subject: 'bob', now: T0 });
      await b.check({ subject: 'bob', now: T0 });
      expect(lost).toEqual([0, 1]);
    });

    // Review (session 7): once stores set the epoch when they first reach Redis, a replica started after Redis came
    // back empty set it before any running gateway's check could find it missing, and the loss went unreported.
    it('a Redis emptied while a store runs is reported even when another store starts on it first', async () => {
      const opts = options(POLICY);
      const a = await open(opts);
      let lost = 0;
      a.onStateLost(() => lost++);
      await a.revoke(revocation('subject', 'alice'));
      await a.check({ subject: 'bob', now: T0 });
      await rawClient().flushall();
      // a replica starting now (as the gateway builds its store: not waiting), which starts a state of its own
      const b = new RedisStore({ ...opts });
      opened.push(b);
      let lostB = 0;
      b.onStateLost(() => lostB++);
      await b.ready(5_000);
      expect((await b.check({ subject: 'alice', now: T0 })).subjectRevoked).toBeUndefined(); // gone: no persistence here
      await a.check({ subject: 'bob', now: T0 });
      await a.check({ subject: 'bob', now: T0 });
      expect(lost).toBe(1); // the running store reports it, once
      expect(lostB).toBe(0); // the new one never knew another state
    });

    it('a new store on a Redis that already holds the state reports nothing', async () => {
      const opts = options(POLICY);
      const a = await open(opts);
      await a.revoke(revocation('subject', 'alice'));
      const b = await open({ ...opts });
      let lost = 0;
      b.onStateLost(() => lost++);
      expect((await b.check({ subject: 'alice', now: T0 })).subjectRevoked?.id).toBe('alice');
      expect(lost).toBe(0);
    });

    it('refuses an unreadable record instead of treating it as absent', async () => {
      const opts = options(POLICY);
      const store = await open(opts);
      await rawClient().set(`${opts.keyPrefix}{mg}:rev:subject:mallory`, 'not json');
      await expect(store.check({ subject: 'mallory', now: T0 })).rejects.toBeInstanceOf(StateUnavailableError);
      expect((await store.check({ subject: 'alice', now: T0 })).subjectRevoked).toBeUndefined();
    });

    // The script reads each record and counter once per call and writes each counter once, after the last request.
    // Counters INCRBY could not add to must fail in the read, per request: a failing INCRBY at the end would fail the
    // whole call, every request of the turn with it.
    it.each([
      ['007', 'a leading zero'],
      ['-0', 'minus zero'],
      ['+5', 'a plus sign'],
      [' 5', 'a leading space'],
      ['5 ', 'a trailing space'],
      ['1e3', 'an exponent'],
      ['1.5', 'a fraction'],
      ['1234567890123456789', '19 digits'],
      ['-1234567890123456789', 'minus and 19 digits'],
      ['', 'nothing'],
    ])('a counter holding %j (%s) fails only its own request, and its turn is still counted', async (value) => {
      const opts = options(POLICY);
      const store = await open(opts);
      const index = Math.floor(T0 / POLICY.windowMs);
      const raw = rawClient();
      await raw.set(`${opts.keyPrefix}{mg}:rl:${index}:s:mallory`, value);
      const [a, m, b, a2] = await Promise.allSettled([
        store.check({ subject: 'alice', now: T0 }),
        store.check({ subject: 'mallory', now: T0 }),
        store.check({ subject: 'bob', now: T0 }),
        store.check({ subject: 'alice', now: T0 + 1 }),
      ]);
      expect([a.status, m.status, b.status, a2.status]).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      expect((m as PromiseRejectedResult).reason).toBeInstanceOf(StateUnavailableError);
      expect(await raw.get(`${opts.keyPrefix}{mg}:rl:${index}:s:alice`)).toBe('2');
      expect(await raw.get(`${opts.keyPrefix}{mg}:rl:${index}:s:bob`)).toBe('1');
      expect(await raw.get(`${opts.keyPrefix}{mg}:rl:${index}:s:mallory`)).toBe(value);
    });

    it.each([
      ['0', true, '1'],
      ['-3', true, '-2'],
      ['99', true, '100'],
      ['100', false, '100'],
      ['123456789012345678', false, '123456789012345678'],
    ])('a counter holding %j is read as a number: allowed %s, then %j', async (value, allowed, after) => {
      const opts = options(POLICY);
      const store = await open(opts);
      const index = Math.floor(T0 / POLICY.windowMs);
      const raw = rawClient();
      const key = `${opts.keyPrefix}{mg}:rl:${index}:s:mallory`;
      await raw.set(key, value);
      const result = await store.check({ subject: 'mallory', now: T0 });
      expect(result.rateLimit.allowed).toBe(allowed);
      expect(await raw.get(key)).toBe(after);
    });

    it('a counter the call starts gets its TTL from the request that brought it to 1; one that exists keeps its own', async () => {
      const opts = options({ perSubject: 100, global: 1_000, windowMs: 60_000 });
      const store = await open(opts);
      const index = Math.floor(T0 / 60_000);
      const raw = rawClient();
      await raw.set(`${opts.keyPrefix}{mg}:rl:${index}:g`, '7', 'PX', 5_000);
      await Promise.all([store.check({ subject: 'alice', now: T0 + 10_000 }), store.check({ subject: 'alice', now: T0 + 20_000 })]);
      // the window has 50 s left at T0 + 10 s; a counter lives for the rest of its window plus one window
      const ttl = await raw.pttl(`${opts.keyPrefix}{mg}:rl:${index}:s:alice`);
      expect(ttl).toBeGreaterThan(110_000 - 2_000);
      expect(ttl).toBeLessThanOrEqual(110_000);
      expect(await raw.get(`${opts.keyPrefix}{mg}:rl:${index}:s:alice`)).toBe('2');
      expect(await raw.get(`${opts.keyPrefix}{mg}:rl:${index}:g`)).toBe('9');
      expect(await raw.pttl(`${opts.keyPrefix}{mg}:rl:${index}:g`)).toBeLessThanOrEqual(5_000);
    });

    it('a revocation that expires during a turn refuses the requests before its expiry and not those after, and is pruned', async () => {
      const opts = options(POLICY);
      const store = await open(opts);
      await store.revoke({ ...revocation('subject', 'alice'), expiresAt: T0 + 5 });
      const results = await Promise.all([0, 4, 5, 6].map((dt) => store.check({ subject: 'alice', now: T0 + dt })));
      expect(results.map((r) => r.subjectRevoked?.id ?? null)).toEqual(['alice', 'alice', null, null]);
      expect(results.map((r) => r.rateLimit.remaining)).toEqual([100, 100, 99, 98]);
      const raw = rawClient();
      expect(await raw.exists(`${opts.keyPrefix}{mg}:rev:subject:alice`)).toBe(0);
      expect(await raw.sismember(`${opts.keyPrefix}{mg}:rev:index`, `${opts.keyPrefix}{mg}:rev:subject:alice`)).toBe(0);
    });

    it('a window that begins during a turn suspends the requests from its start on, and counts only those before', async () => {
      const store = await open(options(POLICY));
      await store.scheduleWindow({ id: 'drill', label: 'drill', start: T0 + 5, end: T0 + 8, reason: 'exercise', by: 'planner', createdAt: T0 - 1_000 });
      const results = await Promise.all([0, 4, 5, 7, 8, 9].map((dt) => store.check({ subject: 'alice', now: T0 + dt })));
      expect(results.map((r) => r.suspended?.reason ?? null)).toEqual([null, null, 'exercise', 'exercise', null, null]);
      expect(results.map((r) => r.rateLimit.remaining)).toEqual([99, 98, 98, 98, 97, 96]);
    });

    // Differential: the same state and the same checks, one turn on Redis against one by one on the memory store,
    // must give the same answers and leave the same counters.
    it('a turn of checks on Redis answers exactly as the memory store does one by one (property)', async () => {
      const subjects = ['alice', 'bob', 'carol', 'dave'];
      const jtis = ['j1', 'j2', 'j3'];
      const orgs = ['acme', 'rogue', 'other'];
      const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
      const scenario = fc.record({
        perSubject: fc.integer({ min: 1, max: 6 }),
        global: fc.oneof(fc.constant(0), fc.integer({ min: 2, max: 14 })),
        revoked: fc.array(fc.record({ kind: fc.constantFrom<Revocation['kind']>('subject', 'token'), id: fc.constantFrom(...subjects, ...jtis), expiresIn: maybe(fc.integer({ min: 850, max: 1_400 })) }), { maxLength: 3 }),
        kill: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
        suspended: fc.subarray(orgs, { maxLength: 1 }),
        // windows and expiries that begin and end among the checks, which run from T0 + 900 ms
        windows: fc.array(fc.record({ start: fc.integer({ min: 850, max: 1_300 }), length: fc.integer({ min: 1, max: 400 }), org: maybe(fc.constantFrom(...orgs)) }), { maxLength: 3 }),
        checks: fc.array(fc.record({ subject: fc.constantFrom(...subjects), jti: maybe(fc.constantFrom(...jtis)), org: maybe(fc.constantFrom(...orgs)), dt: fc.integer({ min: 0, max: 40 }) }), { minLength: 1, maxLength: 40 }),
      });
      await fc.assert(
        fc.asyncProperty(scenario, async (sc) => {
          const policy: RateLimitPolicy = { perSubject: sc.perSubject, global: sc.global, windowMs: 1_000 };
          const memory = new MemoryStore({ rateLimit: policy });
          const opts = options(policy);
          const redis = await open(opts);
          try {
            for (const store of [memory, redis] as StateStore[]) {
              for (const [k, r] of sc.revoked.entries()) {
                await store.revoke({ ...revocation(r.kind, r.id), createdAt: T0 - 1_000 + k, ...(r.expiresIn === undefined ? {} : { expiresAt: T0 + r.expiresIn }) });
              }
              if (sc.kill) await store.suspend({ reason: 'kill', by: 'soc', createdAt: T0 - 1_000 });
              for (const org of sc.suspended) await store.suspend({ org, reason: `${org} out`, by: 'soc', createdAt: T0 - 1_000 });
              for (const [k, w] of sc.windows.entries()) {
                await store.scheduleWindow({ id: `w${k}`, label: `w${k}`, start: T0 + w.start, end: T0 + w.start + w.length, reason: `window ${k}`, by: 'planner', createdAt: T0 - 1_000, ...(w.org === undefined ? {} : { org: w.org }) });
              }
            }
            // arrival order: time never goes back; the checks cross into the next rate-limit window at T0 + 1 s
            let now = T0 + 900;
            const inputs: CheckInput[] = sc.checks.map((c) => {
              now += c.dt;
              return { subject: c.subject, now, ...(c.jti === undefined ? {} : { jti: c.jti }), ...(c.org === undefined ? {} : { org: c.org }) };
            });
            const expected: CheckResult[] = [];
            for (const input of inputs) expected.push(await memory.check(input));
            const got = await Promise.all(inputs.map((input) => redis.check(input)));
            expect(got).toEqual(expected);
            // the counters left behind, as of the last check (the memory store forgets windows that have ended)
            for (const subject of subjects) expect(await redis.rateLimitState(subject, now)).toEqual(await memory.rateLimitState(subject, now));
          } finally {
            // each run's store is closed with it, not after the last of 150 runs (close is idempotent for afterEach)
            await Promise.all([memory.close(), redis.close()]);
          }
        }),
        { numRuns: 150 },
      );
    }, 60_000);
  });

  describe('configuration', () => {
    it('rejects a key prefix that would change the hash tag', () => {
      expect(() => new RedisStore(options(POLICY, { keyPrefix: 'a{b}:' }))).toThrow(/keyPrefix/);
      expect(() => new RedisStore(options(POLICY, { keyPrefix: '' }))).toThrow(/keyPrefix/);
    });

    it('rejects a non-redis URL without echoing the password in it', () => {
      let message = '';
      try {
        new RedisStore(options(POLICY, { connection: { mode: 'single', url: 'http://user:s3cret@example:6379' } }));
      } catch (err) {
        message = String(err);
      }
      expect(message).toMatch(/redis:\/\/ or rediss:\/\//);
      expect(message).not.toContain('s3cret');
    });

    it('reports every problem at once, with option paths', () => {
      expect(() =>
        new RedisStore(
          options(POLICY, { commandTimeoutMs: 0, connection: { mode: 'cluster', nodes: [{ host: '', port: 70_000 }] } }),
        ),
      ).toThrow(/commandTimeoutMs.*nodes\[0\]\.host.*nodes\[0\]\.port/);
    });
  });

  describe('failure: fail closed', () => {
    it('createRedisStore rejects with StateUnavailableError when Redis is unreachable', async () => {
      const url = `redis://127.0.0.1:${await closedPort()}`;
      const started = Date.now();
      await expect(createRedisStore(options(POLICY, { connection: { mode: 'single', url } }), 500)).rejects.toBeInstanceOf(
        StateUnavailableError,
      );
      expect(Date.now() - started).toBeLessThan(2_000);
    });

    it('a store whose Redis is unreachable refuses at once and is not healthy', async () => {
      const url = `redis://127.0.0.1:${await closedPort()}`;
      const store = new RedisStore(options(POLICY, { connection: { mode: 'single', url } }));
      try {
        const started = Date.now();
        await expect(store.check({ subject: 'alice', now: T0 })).rejects.toBeInstanceOf(StateUnavailableError);
        await expect(store.revoke(revocation('subject', 'x'))).rejects.toBeInstanceOf(StateUnavailableError);
        await expect(store.listRevocations(T0)).rejects.toBeInstanceOf(StateUnavailableError);
        expect(Date.now() - started).toBeLessThan(500);
        expect(store.health()).toMatchObject({ ok: false, backend: 'redis' });
      } finally {
        await store.close();
      }
    });

    it('a command without a reply within commandTimeoutMs fails with StateUnavailableError', async () => {
      const store = await open(options(POLICY, { commandTimeoutMs: 200 }));
      const admin = rawClient();
      await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
      try {
        const started = Date.now();
        const err = await store.check({ subject: 'alice', now: T0 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StateUnavailableError);
        expect((err as Error).message).toMatch(/timed out/);
        expect(Date.now() - started).toBeLessThan(1_000);
      } finally {
        await admin.call('CLIENT', 'UNPAUSE');
      }
      expect((await store.check({ subject: 'alice', now: T0 + 1 })).rateLimit.allowed).toBe(true);
    });

    it('probe() fails within commandTimeoutMs while the server is paused, and answers once it is not', async () => {
      const store = await open(options(POLICY, { commandTimeoutMs: 200 }));
      await expect(store.probe()).resolves.toBeUndefined();
      const admin = rawClient();
      await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
      try {
        const started = Date.now();
        await expect(store.probe()).rejects.toBeInstanceOf(StateUnavailableError);
        expect(Date.now() - started).toBeLessThan(1_000);
      } finally {
        await admin.call('CLIENT', 'UNPAUSE');
      }
      await expect(store.probe()).resolves.toBeUndefined();
    });

    // Last in the file: it kills the shared server and brings it back.
    it('SIGKILL: in-flight and new checks are refused fast, health goes false; after restart it works again', async () => {
      const opts = options(POLICY, { commandTimeoutMs: 5_000 });
      const store = await open(opts);
      let changes = 0;
      store.onChange(() => changes++);
      let lost = 0;
      store.onStateLost(() => lost++);
      expect((await store.check({ subject: 'alice', now: T0 })).rateLimit.allowed).toBe(true);
      expect(store.health()).toEqual({ ok: true, backend: 'redis' });

      // A check that is on the wire when Redis dies must be refused, not parked until Redis returns.
      const admin = rawClient();
      await admin.call('CLIENT', 'PAUSE', '10000', 'ALL');
      const inFlight = store.check({ subject: 'alice', now: T0 }).catch((e: unknown) => e);
      await sleep(50);
      const killedAt = Date.now();
      await server.kill();
      expect(await inFlight).toBeInstanceOf(StateUnavailableError);
      expect(Date.now() - killedAt).toBeLessThan(2_000);

      const started = Date.now();
      await expect(store.check({ subject: 'alice', now: T0 })).rejects.toBeInstanceOf(StateUnavailableError);
      expect(Date.now() - started).toBeLessThan(2_000);
      await expect.poll(() => store.health().ok, { timeout: 1_000 }).toBe(false);
      expect(store.health().detail).toMatch(/redis connection/);

      await server.restart();
      await expect
        .poll(() => store.check({ subject: 'alice', now: T0 }).then((r) => r.rateLimit.allowed, () => false), {
          timeout: 5_000,
          interval: 100,
        })
        .toBe(true);
      expect(store.health().ok).toBe(true);
      // the test Redis has no persistence: it came back empty, and the first check after it said so
      expect(lost).toBe(1);

      // the subscriber came back too: a reconnect is announced, and other replicas' changes arrive again
      await expect.poll(() => changes, { timeout: 5_000 }).toBeGreaterThanOrEqual(1);
      const other = await open({ ...opts });
      const before = changes;
      await other.suspend({ reason: 'after restart', by: 'soc', createdAt: T0 });
      await expect.poll(() => changes, { timeout: 1_000 }).toBe(before + 1);
      expect((await store.check({ subject: 'alice', now: T0 })).suspended?.reason).toBe('after restart');
    }, 20_000);
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

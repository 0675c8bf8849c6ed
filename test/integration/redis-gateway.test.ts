// Two whole gateways sharing one real Redis: admin changes on one refuse on the other within a second; Redis down → 503.

import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.js';
import { request, type SimpleResponse } from '../helpers/http.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { personas } from '../../src/demo/issuer.js';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';

const CATALOGUE = `/api/v1/tables/${DEMO_TABLE_ID}`;
const PER_SUBJECT = 20;
const WINDOW_SEC = 3600;

let redis: RedisServerHandle;
/** instance A: its own issuer and JWKS; instance B trusts A's JWKS, so one token works on both */
let a: Harness;
let b: Harness;
const prefix = `mgtest${randomBytes(6).toString('hex')}:`;

function stateConfig(url: string) {
  return {
    backend: 'redis',
    redis: { mode: 'single', url, keyPrefix: prefix, commandTimeoutMs: 300 },
    rateLimit: { perSubject: PER_SUBJECT, windowSec: WINDOW_SEC },
  };
}

beforeAll(async () => {
  redis = await startRedisServer();
  a = await startHarness({ configure: (cfg) => void (cfg.state = stateConfig(redis.url)) });
  b = await startHarness({
    configure: (cfg) => {
      cfg.state = stateConfig(redis.url);
      cfg.auth.jwks.url = a.jwks.url; // same issuer name (harness ISSUER), A's signing key
    },
  });
  // the store connects in the background; readiness says when
  for (const h of [a, b]) await pollUntil(() => request(h.adminUrl, '/readyz'), (r) => r.status === 200, 10_000);
}, 30_000);

afterAll(async () => {
  await Promise.allSettled([a?.close(), b?.close()]);
  await redis?.stop();
});

/** A token minted by A's issuer for a subject of its own (each test has its own rate-limit budget). */
async function tokenFor(sub: string, extra: Record<string, unknown> = {}): Promise<string> {
  const claims = personas(Math.floor(Date.now() / 1000)).geheim!.claims;
  return a.token({ ...claims, sub, ...extra });
}

const uniqueSub = (tag: string) => `${tag}-${randomBytes(4).toString('hex')}@vendor.example`;

const vendor = (h: Harness, token: string, path = CATALOGUE) => request(h.vendorUrl, path, { headers: { authorization: `Bearer ${token}` } });
const code = (r: SimpleResponse) => (r.status === 200 ? null : r.json<{ code: string }>().code);
const detail = (r: SimpleResponse) => r.json<{ detail: string }>().detail;

function admin(h: Harness, method: string, path: string, body?: unknown): Promise<SimpleResponse> {
  return request(h.adminUrl, path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

/** Call fn until done(result) or the deadline; returns the last result and the time it took. */
async function pollUntil<T>(fn: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, intervalMs = 10): Promise<{ value: T; elapsed: number }> {
  const start = performance.now();
  for (;;) {
    const value = await fn().catch((err: unknown) => err as T);
    const elapsed = performance.now() - start;
    if (done(value)) return { value, elapsed };
    if (elapsed > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value instanceof Error ? value.message : value)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Changes made on A, observed on B: time from just before A's admin call to B's first matching answer. */
async function propagation(change: () => Promise<SimpleResponse>, expectStatus: number, observe: () => Promise<SimpleResponse>, until: (r: SimpleResponse) => boolean) {
  const start = performance.now();
  const res = await change();
  expect(res.status).toBe(expectStatus);
  const { value } = await pollUntil(observe, until, 2_000);
  return { response: value, elapsed: performance.now() - start };
}

const observed: Record<string, number> = {};

describe('two gateways, one Redis', () => {
  it('a subject revoked through A is refused by B within a second', async () => {
    const sub = uniqueSub('revoked');
    const token = await tokenFor(sub);
    expect(code(await vendor(b, token))).toBeNull();

    const { response, elapsed } = await propagation(
      () => admin(a, 'POST', '/admin/revocations', { kind: 'subject', id: sub, reason: 'contract ended 2024-06-30' }),
      201,
      () => vendor(b, token),
      (r) => r.status !== 200 && code(r) === 'subject_revoked',
    );
    observed.subjectRevocation = elapsed;
    expect(elapsed).toBeLessThan(1_000);
    expect(response.status).toBe(403);
    // the operator's reason is for the SOC (B's audit record), not for the vendor (safeguard 3)
    expect(detail(response)).toBe('your access was revoked');
    expect(b.audit.requestRecords().at(-1)!.metagate.detail).toContain('contract ended 2024-06-30');
    expect(code(await vendor(a, token))).toBe('subject_revoked');
    expect(code(await vendor(b, await tokenFor(uniqueSub('bystander'))))).toBeNull(); // only that subject

    // B's admin API reads the same state
    const list = (await admin(b, 'GET', '/admin/revocations')).json<{ revocations: Array<{ id: string; by: string }> }>().revocations;
    expect(list).toContainEqual(expect.objectContaining({ id: sub, by: 'test-operator' }));

    const undo = await propagation(() => admin(a, 'DELETE', `/admin/revocations/subject/${encodeURIComponent(sub)}`), 200, () => vendor(b, token), (r) => r.status === 200);
    expect(undo.elapsed).toBeLessThan(1_000);
  });

  it('a token (jti) revoked through A is refused by B within a second; the same subject with another token is not', async () => {
    const sub = uniqueSub('jti');
    const jti = `jti-${randomBytes(6).toString('hex')}`;
    const leaked = await tokenFor(sub, { jti });
    const fresh = await tokenFor(sub);
    expect(code(await vendor(b, leaked))).toBeNull();

    const { response, elapsed } = await propagation(
      () => admin(a, 'POST', '/admin/revocations', { kind: 'token', id: jti, reason: 'token posted in a ticket' }),
      201,
      () => vendor(b, leaked),
      (r) => r.status !== 200 && code(r) === 'token_revoked',
    );
    observed.tokenRevocation = elapsed;
    expect(elapsed).toBeLessThan(1_000);
    expect(response.status).toBe(401);
    expect(detail(response)).toBe('this token was revoked');
    expect(b.audit.requestRecords().at(-1)!.metagate.detail).toContain('token posted in a ticket');
    expect(code(await vendor(b, fresh))).toBeNull();
    await admin(a, 'DELETE', `/admin/revocations/token/${jti}`);
  });

  it('the global kill switch engaged on A refuses on B; the operator\'s reason is in B\'s audit record, not in the answer; resume on A restores', async () => {
    const token = await tokenFor(uniqueSub('kill'));
    const reason = 'Incident 2024-117: suspected credential misuse';
    const { response, elapsed } = await propagation(
      () => admin(a, 'POST', '/admin/suspend', { reason }),
      201,
      () => vendor(b, token),
      (r) => r.status !== 200 && code(r) === 'access_suspended',
    );
    observed.killSwitch = elapsed;
    expect(elapsed).toBeLessThan(1_000);
    expect(response.status).toBe(403);
    // safeguard 3: the operators' words (an incident, an exercise) are not the vendor's business
    expect(detail(response)).toBe('vendor access is suspended');
    expect(response.body).not.toContain('Incident');
    expect(b.audit.requestRecords().at(-1)!.metagate.detail).toBe(`vendor access is suspended: ${reason}`);
    // every persona and org, on both instances
    expect(code(await vendor(a, token))).toBe('access_suspended');
    expect(code(await vendor(b, await tokenFor(uniqueSub('kill-other'), { org: 'partner' })))).toBe('access_suspended');

    const upstreamB = b.upstream.requests.length;
    const resumed = await propagation(() => admin(a, 'POST', '/admin/resume', {}), 200, () => vendor(b, token), (r) => r.status === 200);
    observed.resume = resumed.elapsed;
    expect(resumed.elapsed).toBeLessThan(1_000);
    expect(b.upstream.requests.length).toBe(upstreamB + 1); // only the request after resume reached B's upstream
  });

  it('an organisation suspension on A affects only that organisation on B', async () => {
    const vendorOrg = await tokenFor(uniqueSub('org-v'), { org: 'vendor' });
    const partnerOrg = await tokenFor(uniqueSub('org-p'), { org: 'partner' });
    const { response, elapsed } = await propagation(
      () => admin(a, 'POST', '/admin/suspend', { reason: 'contract under review', org: 'vendor' }),
      201,
      () => vendor(b, vendorOrg),
      (r) => r.status !== 200 && code(r) === 'access_suspended',
    );
    expect(elapsed).toBeLessThan(1_000);
    expect(detail(response)).toBe('vendor access for your organisation is suspended');
    expect(response.body).not.toContain('contract under review');
    expect(b.audit.requestRecords().at(-1)!.metagate.detail).toBe('vendor access for vendor is suspended: contract under review');
    expect(code(await vendor(b, partnerOrg))).toBeNull();
    expect(code(await vendor(a, partnerOrg))).toBeNull();
    expect(code(await vendor(a, vendorOrg))).toBe('access_suspended');

    expect((await admin(a, 'POST', '/admin/resume', { org: 'vendor' })).status).toBe(200);
    await pollUntil(() => vendor(b, vendorOrg), (r) => r.status === 200, 1_000);
  });

  it('a scheduled window in force refuses on B (its label in B\'s audit record only); cancelling it restores', async () => {
    const token = await tokenFor(uniqueSub('window'));
    const now = Date.now();
    const scheduled = await admin(a, 'POST', '/admin/windows', {
      label: 'Exercise Northern Coast',
      reason: 'vendor access is closed during national exercises',
      start: new Date(now - 1_000).toISOString(),
      end: new Date(now + 60_000).toISOString(),
    });
    expect(scheduled.status).toBe(201);
    const id = scheduled.json<{ window: { id: string } }>().window.id;
    const { value: refused, elapsed } = await pollUntil(() => vendor(b, token), (r) => r.status !== 200 && code(r) === 'access_suspended', 1_000);
    observed.window = elapsed;
    expect(refused.status).toBe(403);
    expect(detail(refused)).toBe('vendor access is suspended during a scheduled window');
    expect(b.audit.requestRecords().at(-1)!.metagate.detail).toContain('Exercise Northern Coast');
    expect(b.audit.requestRecords().at(-1)!.metagate.detail).toContain('vendor access is closed during national exercises');
    expect(refused.body).not.toContain('Northern Coast');
    expect((await admin(b, 'GET', '/admin/windows')).json<{ windows: Array<{ id: string }> }>().windows.map((w) => w.id)).toEqual([id]);

    const cancelled = await propagation(() => admin(a, 'DELETE', `/admin/windows/${id}`), 200, () => vendor(b, token), (r) => r.status === 200);
    expect(cancelled.elapsed).toBeLessThan(1_000);
  });

  it('rate limits are counted across both instances', async () => {
    // a fixed window that ends during the test would reset the counters: start in a fresh stretch of it
    const toBoundary = WINDOW_SEC * 1000 - (Date.now() % (WINDOW_SEC * 1000));
    if (toBoundary < 5_000) await new Promise((r) => setTimeout(r, toBoundary + 50));

    const sub = uniqueSub('rate');
    const token = await tokenFor(sub);
    const remaining: number[] = [];
    for (let i = 0; i < PER_SUBJECT; i++) {
      const r = await vendor(i % 2 === 0 ? a : b, token);
      expect(r.status, `request ${i + 1}`).toBe(200);
      expect(r.headers['ratelimit-limit']).toBe(String(PER_SUBJECT));
      remaining.push(Number(r.headers['ratelimit-remaining']));
    }
    expect(remaining).toEqual(Array.from({ length: PER_SUBJECT }, (_, i) => PER_SUBJECT - 1 - i));

    for (const h of [b, a]) {
      const refused = await vendor(h, token);
      expect(refused.status).toBe(429);
      expect(code(refused)).toBe('rate_limited');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(WINDOW_SEC);
      expect(refused.headers['ratelimit-limit']).toBe(String(PER_SUBJECT));
      expect(refused.headers['ratelimit-remaining']).toBe('0');
      expect(Number(refused.headers['ratelimit-reset'])).toBeGreaterThanOrEqual(1);
    }
    const state = (await admin(b, 'GET', `/admin/rate-limits/${encodeURIComponent(sub)}`)).json<{ subject: { allowed: boolean; remaining: number } }>();
    expect(state.subject).toMatchObject({ allowed: false, remaining: 0 });
    // another subject has its own budget
    expect(code(await vendor(b, await tokenFor(uniqueSub('rate-other'))))).toBeNull();
  });
});

describe('Redis killed and restarted under two running gateways', () => {
  // The test Redis runs with `--save '' --appendonly no` (test/helpers/redis-server.ts): killed and restarted it comes
  // back EMPTY, so every revocation and suspension is gone. That is why production Redis needs persistence (AOF) or
  // replicas (docs/state.md, "Persistence matters"); the last assertions below show the loss on purpose.
  it('refuses every request with 503 state_unavailable while Redis is down, never forwards, and recovers by itself', async () => {
    const token = await tokenFor(uniqueSub('outage'));
    const lostSub = uniqueSub('lost-revocation');
    const lostToken = await tokenFor(lostSub);
    expect((await admin(a, 'POST', '/admin/revocations', { kind: 'subject', id: lostSub, reason: 'before the outage' })).status).toBe(201);
    expect(code(await vendor(b, lostToken))).toBe('subject_revoked');
    for (const h of [a, b]) expect(code(await vendor(h, token))).toBeNull();

    // A request in flight when Redis dies: hold Redis with CLIENT PAUSE, wait until A's check is on the wire, kill Redis.
    const pauser = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    pauser.on('error', () => undefined);
    await pauser.connect();
    await pauser.call('CLIENT', 'PAUSE', '5000', 'ALL');
    const storeA = a.gateway.gateway.store;
    // the gateway asks the Redis store through its callback form (StateStore.checkLater)
    const originalCheck = storeA.checkLater;
    if (originalCheck === undefined) throw new Error('the Redis store has no checkLater');
    let checkCalled!: () => void;
    const called = new Promise<void>((resolve) => (checkCalled = resolve));
    storeA.checkLater = (input, done) => {
      checkCalled();
      originalCheck.call(storeA, input, done);
    };
    const upstreamBefore = a.upstream.requests.length + b.upstream.requests.length;
    let inFlight: Promise<{ r: SimpleResponse; at: number }>;
    let killedAt: number;
    try {
      inFlight = vendor(a, token).then((r) => ({ r, at: performance.now() }));
      await called;
      await new Promise((r) => setTimeout(r, 20)); // the script call is written to the (paused) server
      killedAt = performance.now();
      await redis.kill();
    } finally {
      storeA.checkLater = originalCheck;
      pauser.disconnect();
    }
    const flight = await inFlight;
    // refused, not parked until Redis returns and not retried: fail closed
    expect([flight.r.status, code(flight.r)]).toEqual([503, 'state_unavailable']);
    observed.inFlightRefusedAfterKill = flight.at - killedAt;
    expect(observed.inFlightRefusedAfterKill).toBeLessThan(1_000);

    // new requests are refused at once
    const first = await pollUntil(() => vendor(b, token), (r) => r.status === 503, 2_000);
    observed.firstRefusalAfterKill = performance.now() - killedAt;
    expect(code(first.value)).toBe('state_unavailable');
    expect(observed.firstRefusalAfterKill).toBeLessThan(2_000);

    // a burst on both instances during the outage: nothing allowed, nothing forwarded, every refusal fast
    const burst = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const t0 = performance.now();
        const r = await vendor(i % 2 === 0 ? a : b, token);
        return { status: r.status, code: code(r), ms: performance.now() - t0 };
      }),
    );
    expect(burst.filter((x) => x.status === 200)).toEqual([]);
    expect(new Set(burst.map((x) => `${x.status} ${x.code}`))).toEqual(new Set(['503 state_unavailable']));
    observed.outageBurstMaxMs = Math.max(...burst.map((x) => x.ms));
    expect(a.upstream.requests.length + b.upstream.requests.length).toBe(upstreamBefore);

    // the refusal is in the audit trail with its reason
    const lastB = b.audit.requestRecords().at(-1)!;
    expect(lastB.metagate).toMatchObject({ decision: 'deny', reasons: ['state_unavailable'] });

    for (const h of [a, b]) {
      const ready = await request(h.adminUrl, '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.json()).toMatchObject({ status: 'not_ready', checks: { store: false, keys: true } });
    }
    // an admin action cannot be applied either: 503 and a failure record
    const before = a.audit.records().length;
    const suspend = await admin(a, 'POST', '/admin/suspend', { reason: 'during outage' });
    expect(suspend.status).toBe(503);
    expect(a.audit.records().slice(before).map((r) => [(r.event as { action: string }).action, (r.event as { outcome: string }).outcome])).toEqual([['admin_suspend', 'failure']]);

    // Redis back on the same port: both gateways resume without a restart
    const lostCount = async (h: Harness) => Number(/^metagate_store_state_lost_total (\d+)$/m.exec((await request(h.adminUrl, '/metrics')).body)?.[1]);
    const lostBefore = (await lostCount(a)) + (await lostCount(b));
    const restartAt = performance.now();
    await redis.restart();
    for (const h of [a, b]) {
      await pollUntil(() => vendor(h, token), (r) => r.status === 200, 10_000, 50);
      await pollUntil(() => request(h.adminUrl, '/readyz'), (r) => r.status === 200, 5_000, 50);
      expect((await request(h.adminUrl, '/readyz')).json()).toMatchObject({ status: 'ready', checks: { store: true } });
    }
    observed.recoveryAfterRestart = performance.now() - restartAt;
    expect(a.upstream.requests.length + b.upstream.requests.length).toBeGreaterThan(upstreamBefore);

    // the restarted Redis is empty: the revocation made before the outage is gone (production: persistence!)
    expect(code(await vendor(b, lostToken))).toBeNull();
    expect((await admin(a, 'GET', '/admin/revocations')).json()).toEqual({ revocations: [] });
    // ... and the loss is reported, once across the two gateways (the first check after it finds the epoch gone)
    expect((await lostCount(a)) + (await lostCount(b))).toBe(lostBefore + 1);
  });
});

afterAll(() => {
  // timings for the report (ms)
  process.stdout.write(`redis-gateway timings (ms): ${JSON.stringify(Object.fromEntries(Object.entries(observed).map(([k, v]) => [k, Math.round(v)])))}\n`);
});

// Black-box review (session 7): the factory builds the store without waiting for it (start-up must not block on
// Redis), so nothing set the epoch on a fresh state: the first vendor request of every new deployment reported the
// shared state as lost, an error log line and the critical MetagateSharedStateLost alert.
describe('a fresh deployment on an empty state', () => {
  it('reports no state loss: not at the first admin action, not at the first vendor request', async () => {
    const fresh = `mgfresh${randomBytes(6).toString('hex')}:`;
    const c = await startHarness({ configure: (cfg) => void (cfg.state = { ...stateConfig(redis.url), redis: { ...stateConfig(redis.url).redis, keyPrefix: fresh } }) });
    try {
      await pollUntil(() => request(c.adminUrl, '/readyz'), (r) => r.status === 200, 10_000);
      const lost = async () => Number(/^metagate_store_state_lost_total (\d+)$/m.exec((await request(c.adminUrl, '/metrics')).body)?.[1]);
      expect((await admin(c, 'POST', '/admin/revocations', { kind: 'token', id: 'fresh-jti', reason: 'first action' })).status).toBe(201);
      const r = await vendor(c, await c.token('geheim'));
      expect(r.status).toBe(200);
      expect(await lost()).toBe(0);
      // the loss is still seen when it happens: the state flushed under the running gateway
      const raw = new Redis(redis.url);
      try {
        for (const key of await raw.keys(`${fresh}*`)) await raw.del(key);
      } finally {
        raw.disconnect();
      }
      expect((await vendor(c, await c.token('geheim'))).status).toBe(200);
      expect(await lost()).toBe(1);
    } finally {
      await c.close();
    }
  });
});

// Redis faults under traffic (DESIGN §7 "Redis unreachable → 503, never allowed unchecked, readiness false"): a real
// redis-server is absent at start, killed or stopped mid-traffic, stalled with DEBUG SLEEP, and brought back. No
// request that starts while Redis cannot answer is allowed or reaches the platform; every request leaves exactly one
// audit record; the gateway recovers without a restart.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { recordCases } from '../security/summary.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { createLogger } from '../../src/observability/logger.js';
import { Ledger, RedisProcess, SAMPLE_DATA, TABLE, USAGE, metric, pollUntil, readiness, sleep, type Outcome } from './helpers.js';

// every fault case counts toward the suite summary's class 8 (test/global-summary.ts)
beforeEach(() => recordCases('8 availability and failure', 1));

const COMMAND_TIMEOUT_MS = 300;

function redisState(url: string) {
  return {
    backend: 'redis',
    redis: { mode: 'single', url, keyPrefix: `mgfault${randomBytes(4).toString('hex')}:`, commandTimeoutMs: COMMAND_TIMEOUT_MS },
    rateLimit: { perSubject: 1_000_000, windowSec: 60 },
  };
}

interface Mix {
  path: string;
  token: string;
  /** the answer when Redis is healthy */
  healthy: number;
  /** the answer when Redis cannot be asked: claims-level refusals need no state, everything else is 503 */
  down: number;
}

async function trafficMix(h: Harness): Promise<Mix[]> {
  const geheim = await h.token('geheim');
  const conf = await h.token('confidentieel');
  return [
    { path: TABLE, token: geheim, healthy: 200, down: 503 },
    { path: USAGE, token: conf, healthy: 200, down: 503 },
    { path: TABLE, token: await h.token('foreign'), healthy: 403, down: 403 }, // nationality: decided before the store
    { path: SAMPLE_DATA, token: geheim, healthy: 404, down: 404 }, // data endpoint: refused before authentication
  ];
}

/**
 * Traffic from `workers` clients until stop(), each starting at most one request every PACE_MS, so that it lasts
 * through every phase of a test: unpaced, a fast machine answered the 503s of the down phase so quickly that the
 * old cap of 4,000 requests was reached before Redis came back, and nothing was left to show the recovery. `max` is
 * only a safety net (≈ 3× what the longest test sends at that pace).
 */
const PACE_MS = 4;
async function drive(l: Ledger, mix: Mix[], stop: () => boolean, workers = 6, max = 20_000): Promise<Array<Outcome & { mix: Mix }>> {
  const out: Array<Outcome & { mix: Mix }> = [];
  let i = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (!stop() && out.length < max) {
        const m = mix[i++ % mix.length]!;
        const started = performance.now();
        out.push({ ...(await l.get(m.path, m.token, { timeoutMs: 10_000 })), mix: m });
        const left = PACE_MS - (performance.now() - started);
        if (left > 0) await sleep(left);
      }
    }),
  );
  return out;
}

describe('Redis down at start', () => {
  let redis: RedisProcess;
  let h: Harness;
  beforeAll(async () => {
    redis = await RedisProcess.start({ up: false });
    h = await startHarness({ configure: (cfg) => void (cfg.state = redisState(redis.url)) });
  });
  afterAll(async () => {
    await h?.close();
    await redis?.stop();
  });

  it('the gateway starts, readiness false, every state-dependent request 503 state_unavailable; Redis arrives → 200', async () => {
    expect(await readiness(h.adminUrl)).toMatchObject({ ready: false, checks: { store: false, keys: true } });
    expect(await metric(h.adminUrl, 'metagate_store_up', { backend: 'redis' })).toBe(0);
    const mix = await trafficMix(h);
    const l = new Ledger(h.audit, h.vendorUrl);
    for (const m of mix) {
      const o = await l.get(m.path, m.token);
      expect(o.status).toBe(m.down);
      if (m.down === 503) {
        expect(o.code).toBe('state_unavailable');
        expect(o.ms).toBeLessThan(COMMAND_TIMEOUT_MS + 1_000); // fails fast, no queueing for an absent Redis
      }
    }
    expect(h.upstream.requests.length).toBe(0);

    await redis.restart();
    await pollUntil(() => readiness(h.adminUrl), (r) => r.ready, 10_000, 100);
    for (const m of mix) expect((await l.get(m.path, m.token)).status).toBe(m.healthy);
    expect(await metric(h.adminUrl, 'metagate_store_up', { backend: 'redis' })).toBe(1);
    await l.expectOneRecordEach();
  });
});

describe('Redis failing under traffic', () => {
  // the operational log: one line when the store fails, one when it answers again (not one per refused request)
  const logLines: Array<{ level: number; msg: string }> = [];
  let redis: RedisProcess;
  let h: Harness;
  let mix: Mix[];
  beforeAll(async () => {
    redis = await RedisProcess.start();
    h = await startHarness({ configure: (cfg) => void (cfg.state = redisState(redis.url)), logger: createLogger('info', { write: (s: string) => void logLines.push(JSON.parse(s) as { level: number; msg: string }) }) });
    await pollUntil(() => readiness(h.adminUrl), (r) => r.ready, 10_000, 50);
    mix = await trafficMix(h);
  });
  afterAll(async () => {
    await h?.close();
    await redis?.stop();
  });

  for (const how of ['killed (SIGKILL)', 'stopped (SIGTERM)'] as const) {
    it(`${how} mid-traffic: nothing allowed or forwarded while it is gone, readiness false, 503 state_unavailable; restarted → recovers`, async () => {
      const l = new Ledger(h.audit, h.vendorUrl);
      const storeErrorsBefore = await metric(h.adminUrl, 'metagate_store_errors_total');
      let phase: 'up' | 'down' | 'back' | 'done' = 'up';
      const marks: { killed?: number; restarting?: number; restarted?: number; recovered?: number } = {};
      let upstreamAtKill = 0;
      let upstreamAtRestart = 0;
      let readyWhileDown: Awaited<ReturnType<typeof readiness>> | undefined;

      const traffic = drive(l, mix, () => phase === 'done');
      const script = (async () => {
        await sleep(700);
        await (how === 'killed (SIGKILL)' ? redis.kill() : redis.stop());
        marks.killed = performance.now();
        phase = 'down';
        await sleep(100); // requests that passed the check before the kill finish forwarding
        upstreamAtKill = h.upstream.requests.length;
        await sleep(1_200);
        readyWhileDown = await readiness(h.adminUrl);
        upstreamAtRestart = h.upstream.requests.length;
        marks.restarting = performance.now();
        await redis.restart();
        marks.restarted = performance.now();
        phase = 'back';
        // recovered: reconnect back-off is capped at 2 s
        await pollUntil(() => readiness(h.adminUrl), (r) => r.ready, 6_000, 50);
        marks.recovered = performance.now();
        await sleep(800);
        phase = 'done';
      })();
      await script;
      const outs = await traffic;

      const during = outs.filter((o) => o.startedAt > marks.killed! && o.endedAt < marks.restarting!);
      expect(during.length).toBeGreaterThan(10);
      for (const o of during) {
        expect(o.status).toBe(o.mix.down);
        if (o.mix.down === 503) expect(o.code).toBe('state_unavailable');
      }
      expect(upstreamAtRestart).toBe(upstreamAtKill); // nothing reached the platform while Redis was gone
      expect(readyWhileDown).toMatchObject({ ready: false, checks: { store: false } });
      expect(await metric(h.adminUrl, 'metagate_store_errors_total')).toBeGreaterThan(storeErrorsBefore);

      // before and after: allowed traffic flowed
      expect(outs.some((o) => o.endedAt < marks.killed! && o.status === 200)).toBe(true);
      expect(marks.recovered! - marks.restarted!).toBeLessThan(2_000 + 1_000); // reconnect back-off cap + margin
      const after = outs.filter((o) => o.startedAt > marks.recovered! + 50);
      expect(after.length).toBeGreaterThan(5);
      for (const o of after) expect(o.status).toBe(o.mix.healthy);

      const recs = await l.expectOneRecordEach();
      for (const r of recs) if (r.http.response.status_code === 503) expect(r.metagate.reasons).toEqual(['state_unavailable']);
      const storeLines = logLines.splice(0).filter((x) => /shared state store/.test(x.msg)).map((x) => [x.level, x.msg]);
      expect(storeLines).toEqual([
        [50, 'shared state store unavailable: vendor requests are refused with 503 state_unavailable'],
        [30, 'shared state store answers again; vendor requests are checked and served'],
      ]);
    }, 25_000);
  }

  it(`stalled (DEBUG SLEEP 2 with commandTimeoutMs ${COMMAND_TIMEOUT_MS}) → 503 state_unavailable within the command timeout; answers again when it wakes`, async () => {
    const geheim = mix[0]!;
    const l = new Ledger(h.audit, h.vendorUrl);
    expect((await l.get(geheim.path, geheim.token)).status).toBe(200);
    const upstreamBefore = h.upstream.requests.length;
    const { done } = await redis.stall(2);
    const stalled = await Promise.all([0, 1, 2, 3].map(() => l.get(geheim.path, geheim.token)));
    for (const o of stalled) {
      expect({ status: o.status, code: o.code }).toEqual({ status: 503, code: 'state_unavailable' });
      expect(o.ms).toBeLessThan(COMMAND_TIMEOUT_MS + 700);
    }
    expect(h.upstream.requests.length).toBe(upstreamBefore);
    // connected but stalled: the failing checks take readiness down (the connection alone still looks fine)
    expect(await readiness(h.adminUrl)).toMatchObject({ ready: false, checks: { store: false } });
    await done;
    await pollUntil(() => l.get(geheim.path, geheim.token), (o) => o.status === 200, 3_000, 50);
    expect(await readiness(h.adminUrl)).toMatchObject({ ready: true, checks: { store: true } });
    await l.expectOneRecordEach();
  });
});

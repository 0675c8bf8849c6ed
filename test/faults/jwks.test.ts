// IdP JWKS faults (DESIGN §7 "IdP JWKS unreachable", "unknown kid"): the key endpoint is down at start, goes down
// later, is slow, rotates keys or serves a malformed set. Cached keys serve until maxStalenessSec and never after;
// readiness follows usable keys; every request leaves exactly one audit record.

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { recordCases } from '../security/summary.js';
import { AUDIENCE, ISSUER, startHarness, type Harness } from '../helpers/harness.js';
import { createDevIssuer, personas } from '../../src/demo/issuer.js';
import { Front, Ledger, TABLE, metric, pollUntil, readiness, relayTo, sleep } from './helpers.js';
import type { Logger } from 'pino';
import type { JWK } from 'jose';
import { createLogger } from '../../src/observability/logger.js';

// every fault case counts toward the suite summary's class 8 (test/global-summary.ts)
beforeEach(() => recordCases('8 availability and failure', 1));

const nowSec = () => Math.floor(Date.now() / 1000);
const refreshFailures = (h: Harness) => metric(h.adminUrl, 'metagate_jwks_refreshes_total', { result: 'failure' });

/** A harness whose JWKS URL points at a switchable front relaying to the harness's own JWKS endpoint. */
async function jwksHarness(jwks: Record<string, number>, frontUp: boolean, logger?: Logger): Promise<{ h: Harness; front: Front }> {
  const front = await Front.start({ up: frontUp });
  const h = await startHarness({
    ...(logger ? { logger } : {}),
    configure: (cfg) => {
      front.handler = relayTo(cfg.auth.jwks.url);
      cfg.auth.jwks = { url: `${front.url}/jwks.json`, ...jwks };
    },
  });
  return { h, front };
}

describe('JWKS down at start', () => {
  let h: Harness;
  let front: Front;
  afterAll(async () => {
    await h?.close();
    await front?.close();
  });

  it('the gateway starts, readiness false, vendor 503 keys_unavailable; it recovers within cooldownSec of the IdP returning', async () => {
    const t0 = performance.now();
    ({ h, front } = await jwksHarness({ refreshIntervalSec: 60, maxStalenessSec: 60, cooldownSec: 1, timeoutMs: 500 }, false));
    expect(performance.now() - t0).toBeLessThan(5_000); // start-up is not held hostage by the IdP
    const token = await h.token('geheim');

    const r = await readiness(h.adminUrl);
    expect(r).toMatchObject({ ready: false, checks: { keys: false, store: true, audit: true } });
    expect(await metric(h.adminUrl, 'metagate_jwks_usable')).toBe(0);
    expect(await refreshFailures(h)).toBeGreaterThanOrEqual(1);

    const l = new Ledger(h.audit, h.vendorUrl);
    for (let i = 0; i < 4; i++) expect(await l.get(TABLE, token)).toMatchObject({ status: 503, code: 'keys_unavailable' });
    expect(h.upstream.requests.length).toBe(0); // nothing reached the platform unchecked

    await front.up();
    const upAt = performance.now();
    await pollUntil(() => l.get(TABLE, token), (o) => o.status === 200, 4_000, 100);
    expect(performance.now() - upAt).toBeLessThan(1_000 + 1_500); // cooldownSec + margin
    // never a 200 before the keys were loaded, never a 503 after
    const firstOk = l.sent.findIndex((o) => o.status === 200);
    expect(l.sent.slice(0, firstOk).every((o) => o.status === 503 && o.code === 'keys_unavailable')).toBe(true);
    expect(await l.get(TABLE, token)).toMatchObject({ status: 200 });
    expect((await readiness(h.adminUrl)).ready).toBe(true);
    await l.expectOneRecordEach();
  });
});

describe('JWKS down later', () => {
  const MAX_STALENESS_SEC = 2;
  let h: Harness;
  let front: Front;
  let token: string;
  // the operational log (DESIGN §7: a JWKS outage is recorded as a metric and a log line)
  const logLines: Array<{ level: number; msg: string }> = [];
  const logText: string[] = [];
  const logger = createLogger('info', { write: (s: string) => { logText.push(s); logLines.push(JSON.parse(s) as { level: number; msg: string }); } });

  beforeAll(async () => {
    ({ h, front } = await jwksHarness({ refreshIntervalSec: 1, maxStalenessSec: MAX_STALENESS_SEC, cooldownSec: 1, timeoutMs: 400 }, true, logger));
    token = await h.token('geheim');
  });
  afterAll(async () => {
    await h?.close();
    await front?.close();
  });

  it(`down later: cached keys serve until maxStalenessSec (${MAX_STALENESS_SEC} s), then 503 keys_unavailable and readiness false; recovers when it returns`, async () => {
    const l = new Ledger(h.audit, h.vendorUrl);
    expect(await l.get(TABLE, token)).toMatchObject({ status: 200 });
    const failuresBefore = await refreshFailures(h);
    const keys = h.gateway.gateway.keys;

    await front.down();
    const downAt = Date.now();
    expect(await l.get(TABLE, token)).toMatchObject({ status: 200 }); // served from cache right after the outage
    const stampsMs: number[] = [];
    await pollUntil(
      async () => {
        stampsMs.push(Date.now());
        return l.get(TABLE, token);
      },
      (o) => o.status === 503,
      MAX_STALENESS_SEC * 1000 + 2_500,
      100,
    );
    // the key set loaded last before the outage is the one that ages (read now: a refresh in flight at the cut may
    // still have completed)
    const staleAt = keys.status().lastSuccessAt + MAX_STALENESS_SEC * 1000;
    expect(Date.now() - downAt).toBeLessThan(MAX_STALENESS_SEC * 1000 + 1_500);
    // no request that started after the keys went stale was allowed
    const outage = l.sent.slice(2);
    outage.forEach((o, i) => {
      if (stampsMs[i]! > staleAt + 5) expect(o.status).toBe(503);
    });
    expect(outage.at(-1)).toMatchObject({ status: 503, code: 'keys_unavailable' });
    for (let i = 0; i < 3; i++) expect(await l.get(TABLE, token)).toMatchObject({ status: 503, code: 'keys_unavailable' });
    expect(await readiness(h.adminUrl)).toMatchObject({ ready: false, checks: { keys: false } });
    expect(await metric(h.adminUrl, 'metagate_jwks_usable')).toBe(0);
    expect(await refreshFailures(h)).toBeGreaterThan(failuresBefore);

    const upstreamBefore = h.upstream.requests.length;
    await front.up();
    const { elapsed } = await pollUntil(() => l.get(TABLE, token), (o) => o.status === 200, 4_000, 100);
    expect(elapsed).toBeLessThan(1_000 + 1_500);
    expect(h.upstream.requests.length).toBe(upstreamBefore + 1); // only the recovered request reached the platform
    expect((await readiness(h.adminUrl)).ready).toBe(true);
    await l.expectOneRecordEach();

    // one line as refreshing starts failing (warn), one as the keys go stale (error), one on recovery (info) — not
    // one per failed attempt — and never the token
    const jwksLines = logLines.filter((x) => /JWKS|signing keys/.test(x.msg)).map((x) => [x.level, x.msg]);
    expect(jwksLines).toEqual([
      [40, 'JWKS refresh failed; the keys loaded before stay in use until auth.jwks.maxStalenessSec'],
      [50, 'signing keys are unavailable or stale: vendor requests are refused with 503 keys_unavailable'],
      [30, 'JWKS refresh succeeded again'],
    ]);
    expect(logText.join('')).not.toContain(token.split('.')[2]!);
  }, 20_000);

});

describe('JWKS slow and malformed (maxStalenessSec far away, so only the fault itself is measured)', () => {
  let h: Harness;
  let front: Front;
  let token: string;

  beforeAll(async () => {
    ({ h, front } = await jwksHarness({ refreshIntervalSec: 1, maxStalenessSec: 60, cooldownSec: 1, timeoutMs: 400 }, true));
    token = await h.token('geheim');
  });
  afterAll(async () => {
    await h?.close();
    await front?.close();
  });
  afterEach(async () => {
    h.jwks.serve = h.issuer.jwks;
    await pollUntil(() => readiness(h.adminUrl), (r) => r.ready, 5_000, 100);
  });

  it('slow (beyond timeoutMs): the refresh fails at timeoutMs, cached keys keep serving fast, an unknown kid is refused without waiting for the IdP', async () => {
    let held = 0;
    h.jwks.serve = (_req, res) => {
      held++;
      const t = setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(h.issuer.jwks)), 5_000);
      res.on('close', () => clearTimeout(t));
    };
    const failuresBefore = await refreshFailures(h);
    await pollUntil(() => refreshFailures(h), (n) => n > failuresBefore, 3_000, 50);
    expect(held).toBeGreaterThanOrEqual(1);

    const l = new Ledger(h.audit, h.vendorUrl);
    for (let i = 0; i < 5; i++) {
      const o = await l.get(TABLE, token);
      expect(o.status).toBe(200);
      expect(o.ms).toBeLessThan(300); // a hung refresh never delays verification with known keys
    }
    const stranger = await createDevIssuer({ issuer: ISSUER, audience: AUDIENCE, kid: 'never-published' });
    const unknown = await stranger.mint(personas(nowSec()).geheim!.claims);
    const o = await l.get(TABLE, unknown);
    expect(o).toMatchObject({ status: 401, code: 'token_invalid' });
    expect(o.ms).toBeLessThan(400 + 1_000); // at most one refresh attempt, bounded by timeoutMs
    await l.expectOneRecordEach();
  });

  for (const [name, serve] of [
    ['not JSON', (_req: unknown, res: import('node:http').ServerResponse) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": [ {"kty": "EC", ')],
    ['an HTML page', (_req: unknown, res: import('node:http').ServerResponse) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Login</body></html>')],
    ['an object without "keys"', (_req: unknown, res: import('node:http').ServerResponse) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"jwks":[]}')],
    ['"keys" that is not an array', (_req: unknown, res: import('node:http').ServerResponse) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":"none"}')],
    ['HTTP 500', (_req: unknown, res: import('node:http').ServerResponse) => void res.writeHead(500).end('oops')],
  ] as const) {
    it(`malformed set (${name}): the old keys are kept, refresh failures are counted, traffic continues`, async () => {
      const failuresBefore = await refreshFailures(h);
      const generation = h.gateway.gateway.keys.generation;
      h.jwks.serve = serve;
      await pollUntil(() => refreshFailures(h), (n) => n >= failuresBefore + 1, 3_000, 50);
      const l = new Ledger(h.audit, h.vendorUrl);
      expect(await l.get(TABLE, token)).toMatchObject({ status: 200 });
      expect(await l.get(TABLE, await h.token('geheim'))).toMatchObject({ status: 200 }); // a fresh token, verified by signature
      expect(h.gateway.gateway.keys.generation).toBe(generation);
      expect((await readiness(h.adminUrl)).ready).toBe(true);
      await l.expectOneRecordEach();
    });
  }

  it('an error answer whose body never ends (503, then one byte every 300 ms): every retry closes its connection at once, the old keys serve (F54)', async () => {
    // Black-box review: each retry held its connection open for as long as the IdP kept sending (2 → 6 → 13 → 19 open
    // connections over 45 s, and CPU with them).
    const relay = front.handler;
    const failuresBefore = await refreshFailures(h);
    front.handler = (_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.write('x');
      const iv = setInterval(() => res.write('x'), 300);
      res.on('close', () => clearInterval(iv));
    };
    try {
      let most = 0;
      const until = Date.now() + 3_500;
      while (Date.now() < until) {
        most = Math.max(most, front.open);
        await sleep(50);
      }
      expect(await refreshFailures(h)).toBeGreaterThanOrEqual(failuresBefore + 2); // several retries in that time
      expect(most).toBeLessThanOrEqual(1); // one attempt at a time, each closed as soon as its status line is read
      const l = new Ledger(h.audit, h.vendorUrl);
      expect(await l.get(TABLE, token)).toMatchObject({ status: 200 });
      expect((await readiness(h.adminUrl)).ready).toBe(true);
      await l.expectOneRecordEach();
    } finally {
      front.handler = relay;
    }
    await pollUntil(() => front.open, (n) => n === 0, 1_000);
  });

  it('a set with no usable key ({"keys": []}) is an IdP withdrawing every key: it replaces the old keys (fail closed), 503 keys_unavailable, readiness false; recovers with a real set', async () => {
    // Deliberate (src/auth/keystore.ts usable()): unlike a malformed answer, a well-formed empty set is believed.
    h.jwks.serve = { keys: [] };
    const l = new Ledger(h.audit, h.vendorUrl);
    await pollUntil(() => l.get(TABLE, token), (o) => o.status === 503, 3_000, 100);
    expect(l.sent.at(-1)).toMatchObject({ status: 503, code: 'keys_unavailable' });
    expect(await readiness(h.adminUrl)).toMatchObject({ ready: false, checks: { keys: false } });
    h.jwks.serve = h.issuer.jwks;
    await pollUntil(() => l.get(TABLE, token), (o) => o.status === 200, 3_000, 100);
    await l.expectOneRecordEach();
  });
});

describe('JWKS keys that do not import (F55: handled like a set with no usable key, O1)', () => {
  let h: Harness;
  let front: Front;
  let token: string;
  const logLines: Array<{ level: number; msg: string; jwks?: Record<string, unknown> }> = [];
  const logText: string[] = [];
  const logger = createLogger('info', { write: (s: string) => { logText.push(s); logLines.push(JSON.parse(s) as (typeof logLines)[number]); } });

  beforeAll(async () => {
    ({ h, front } = await jwksHarness({ refreshIntervalSec: 1, maxStalenessSec: 60, cooldownSec: 1, timeoutMs: 400 }, true, logger));
    token = await h.token('geheim');
  });
  afterAll(async () => {
    await h?.close();
    await front?.close();
  });
  afterEach(async () => {
    h.jwks.serve = h.issuer.jwks;
    await pollUntil(() => readiness(h.adminUrl), (r) => r.ready, 5_000, 100);
  });

  const published = (): JWK => h.issuer.jwks.keys[0]!;
  const flipped = (b64: string) => {
    const b = Buffer.from(b64, 'base64url');
    b[b.length - 1]! ^= 1;
    return b.toString('base64url');
  };
  const BROKEN: Array<[string, (k: JWK) => JWK]> = [
    ['"x" not base64url', (k) => ({ ...k, x: 'not*base64url!' })],
    ['"x" of the wrong length', (k) => ({ ...k, x: Buffer.alloc(31, 7).toString('base64url') })],
    ['a point not on the curve', (k) => ({ ...k, y: flipped(k.y!) })],
    ['an EC key without "crv"', (k) => ({ ...k, crv: undefined })],
  ];

  for (const [name, breakKey] of BROKEN) {
    it(`the only published key is broken (${name}): 503 keys_unavailable, readiness false, jwks_usable 0, one warn line naming the kid; recovers`, async () => {
      const bad = breakKey(published());
      const linesBefore = logLines.length;
      const textBefore = logText.length;
      h.jwks.serve = { keys: [bad] };
      const l = new Ledger(h.audit, h.vendorUrl);
      await pollUntil(() => l.get(TABLE, token), (o) => o.status === 503, 3_000, 100);
      expect(l.sent.at(-1)).toMatchObject({ status: 503, code: 'keys_unavailable' });
      expect(await l.get(TABLE, await h.token('geheim'))).toMatchObject({ status: 503, code: 'keys_unavailable' });
      expect(await readiness(h.adminUrl)).toMatchObject({ ready: false, checks: { keys: false } });
      expect(await metric(h.adminUrl, 'metagate_jwks_usable')).toBe(0);
      await sleep(1_500); // the same set is fetched again: neither imported nor reported again
      const reported = logLines.slice(linesBefore).filter((x) => x.msg.startsWith('a JWKS key cannot be used'));
      expect(reported.map((x) => [x.level, x.jwks?.kid])).toEqual([[40, bad.kid]]);
      const said = logText.slice(textBefore).join('');
      for (const part of [bad.x, bad.y]) if (typeof part === 'string' && part.length > 8) expect(said).not.toContain(part);
      h.jwks.serve = h.issuer.jwks;
      await pollUntil(() => l.get(TABLE, token), (o) => o.status === 200, 3_000, 100);
      await l.expectOneRecordEach();
    });
  }

  it('a broken key next to a good one: the good one serves, readiness true; a token of the broken kid gets 401 token_invalid saying the key cannot be used', async () => {
    const next = await createDevIssuer({ issuer: ISSUER, audience: AUDIENCE, kid: 'test-key-2' });
    const nextToken = await next.mint(personas(nowSec()).geheim!.claims);
    h.jwks.serve = { keys: [{ ...published(), x: 'not*base64url!' }, ...next.jwks.keys] };
    const l = new Ledger(h.audit, h.vendorUrl);
    await pollUntil(() => l.get(TABLE, nextToken), (o) => o.status === 200, 3_000, 100);
    const o = await l.get(TABLE, await h.token('geheim'));
    expect(o).toMatchObject({ status: 401, code: 'token_invalid' });
    expect((JSON.parse(o.body) as { detail: string }).detail).toMatch(/publishes in a form this gateway cannot use/);
    expect((await readiness(h.adminUrl)).ready).toBe(true);
    expect(await metric(h.adminUrl, 'metagate_jwks_usable')).toBe(1);
    const recs = await l.expectOneRecordEach();
    expect(recs.at(-1)!.metagate.detail).toMatch(/publishes in a form this gateway cannot use/);
  });
});

describe('JWKS key rotation', () => {
  const REFRESH_SEC = 2;
  let h: Harness;
  let front: Front;

  beforeAll(async () => {
    ({ h, front } = await jwksHarness({ refreshIntervalSec: REFRESH_SEC, maxStalenessSec: 60, cooldownSec: 1, timeoutMs: 500 }, true));
  });
  afterAll(async () => {
    await h?.close();
    await front?.close();
  });

  it('new kid published alongside the old: accepted after at most one refresh; old kid removed: refused token_invalid, cached verifications included', async () => {
    const claims = personas(nowSec()).geheim!.claims;
    const next = await createDevIssuer({ issuer: ISSUER, audience: AUDIENCE, kid: 'test-key-2' });
    const oldToken = await h.token('geheim');
    const newToken = await next.mint(claims);
    const l = new Ledger(h.audit, h.vendorUrl);
    expect(await l.get(TABLE, oldToken)).toMatchObject({ status: 200 }); // now in the verified-token cache
    expect(await l.get(TABLE, newToken)).toMatchObject({ status: 401, code: 'token_invalid' }); // not published yet

    // publish the new key next to the old one
    h.jwks.serve = { keys: [...h.issuer.jwks.keys, ...next.jwks.keys] };
    const hitsAtPublish = h.jwks.hits;
    let hitsAtAccept = -1;
    await pollUntil(
      async () => {
        const o = await l.get(TABLE, newToken);
        if (o.status === 200) hitsAtAccept = h.jwks.hits;
        return o;
      },
      (o) => o.status === 200,
      (REFRESH_SEC + 2) * 1000,
      50,
    );
    expect(hitsAtAccept - hitsAtPublish).toBeLessThanOrEqual(1); // the first refresh after publication suffices
    expect(await l.get(TABLE, oldToken)).toMatchObject({ status: 200 }); // both keys valid during the overlap

    // drop the old key
    h.jwks.serve = { keys: next.jwks.keys };
    await pollUntil(() => l.get(TABLE, oldToken), (o) => o.status !== 200, (REFRESH_SEC + 2) * 1000, 50);
    expect(l.sent.at(-1)).toMatchObject({ status: 401, code: 'token_invalid' });
    // from then on: the old kid never again, cached or freshly minted; the new kid keeps working
    for (let i = 0; i < 3; i++) expect(await l.get(TABLE, oldToken)).toMatchObject({ status: 401, code: 'token_invalid' });
    expect(await l.get(TABLE, await h.token('geheim'))).toMatchObject({ status: 401, code: 'token_invalid' });
    expect(await l.get(TABLE, newToken)).toMatchObject({ status: 200 });
    expect(await l.get(TABLE, await next.mint(claims))).toMatchObject({ status: 200 });
    await sleep(50);
    await l.expectOneRecordEach();
  }, 20_000);
});

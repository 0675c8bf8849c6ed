// Soak test: a whole gateway with Redis state under mixed traffic for N minutes, while Redis restarts and the
// signing key rotates; reports what was served and checks the invariants (exactly one audit record per request,
// an intact hash chain, nothing allowed while Redis is down, no data path forwarded, bounded memory growth).
//
//   npx tsx scripts/soak.ts [--minutes N]        (default 10; everything on 127.0.0.1; exits 1 on a failed invariant)

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRuntime } from '../src/config/load.js';
import { startGateway, type RunningGateway } from '../src/server.js';
import { createLogger } from '../src/observability/logger.js';
import { verifyAuditFiles } from '../src/observability/audit-verify.js';
import { createDevIssuer, personas, type DevIssuer } from '../src/demo/issuer.js';
import {
  DEMO_TABLE_FQN,
  DEMO_TABLE_ID,
  DEMO_TOPIC_ID,
  omLineage,
  omTable,
  omTopic,
  omUsage,
  type JsonObject,
} from '../src/demo/data.js';
import { AUDIENCE, ISSUER, TEST_ENV, baseConfig, startJwksServer } from '../test/helpers/harness.js';
import { RedisProcess } from '../test/faults/helpers.js';

// ---------------------------------------------------------------------------------------------------------------
// settings

const MINUTES = (() => {
  const i = process.argv.indexOf('--minutes');
  const v = i === -1 ? 10 : Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0 || v > 24 * 60) {
    process.stderr.write('usage: npx tsx scripts/soak.ts [--minutes N]   (0 < N ≤ 1440)\n');
    process.exit(2);
  }
  return v;
})();
const DURATION_MS = MINUTES * 60_000;
const CONCURRENCY = 8;
/** pause between one worker's requests: a steady soak, not a stress test */
const PAUSE_MS = 10;
const REDIS_EVERY_MS = 90_000;
const REDIS_OUTAGE_MS = 1_500;
const ROTATE_EVERY_MS = 120_000;
/** after publishing a new key: start minting with it; then drop the old key; then probe that the old kid is refused */
const ROTATE_SWITCH_MS = 15_000;
const ROTATE_DROP_MS = 30_000;
const ROTATE_PROBE_MS = 45_000;
const JWKS_REFRESH_SEC = 10;
/** 503 state_unavailable is expected from the start of an outage until this long after readiness came back */
const OUTAGE_GRACE_MS = 2_000;
const REQUEST_TIMEOUT_MS = 15_000;
const GROWTH_FACTOR = 1.25;
const GROWTH_SLACK_MB = 30;

const TABLE = `/api/v1/tables/${DEMO_TABLE_ID}`;
const TABLE_BY_NAME = `/api/v1/tables/name/${DEMO_TABLE_FQN}`;
const TOPIC = `/api/v1/topics/${DEMO_TOPIC_ID}`;
const LINEAGE = `/api/v1/lineage/table/${DEMO_TABLE_ID}`;
const USAGE = `/api/v1/usage/table/${DEMO_TABLE_ID}`;
const SAMPLE_DATA = `/api/v1/tables/${DEMO_TABLE_ID}/sampleData`;

const t0 = performance.now();
const now = () => performance.now() - t0;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const mb = (bytes: number) => bytes / 2 ** 20;

// ---------------------------------------------------------------------------------------------------------------
// the platform: demo metadata, counts only (nothing per request is kept)

const UPSTREAM_ROUTES = new Map<string, JsonObject>([
  [TABLE, omTable],
  [TABLE_BY_NAME, omTable],
  [TOPIC, omTopic],
  [LINEAGE, omLineage],
  [USAGE, omUsage],
]);
const upstreamCounts = { total: 0, dataPaths: 0, unknown: 0 };

async function startPlatform(): Promise<{ url: string; close(): Promise<void> }> {
  const bodies = new Map([...UPSTREAM_ROUTES].map(([k, v]) => [k, Buffer.from(JSON.stringify(v))]));
  const server = http.createServer((req, res) => {
    upstreamCounts.total++;
    const path = (req.url ?? '').split('?')[0]!;
    if (path.includes('sampleData') || path.includes('Profile') || path.startsWith('/api/v1/queries')) upstreamCounts.dataPaths++;
    const body = bodies.get(path);
    if (!body) {
      upstreamCounts.unknown++;
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":404}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) }).end(body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// traffic classes: what each must get, with Redis up and with Redis down

interface TrafficClass {
  name: string;
  path: string;
  /** returns the bearer token to send (undefined: none) */
  token: () => string | undefined;
  /** "status reason" answers that are always acceptable */
  expect: string[];
  /** acceptable only while an outage of the state store is in progress (state-dependent classes) */
  duringOutage?: string[];
  weight: number;
}

interface Tokens {
  geheim: string;
  confidentieel: string;
  foreign: string;
  expired: string;
  forged: string;
}

let tokens: Tokens;
let rotatedOut: string | undefined; // a token under a kid that was dropped, once its removal should have taken effect

const STATE_DOWN = ['503 state_unavailable'];

const CLASSES: TrafficClass[] = [
  { name: 'geheim catalogue', path: TABLE, token: () => tokens.geheim, expect: ['200 allow'], duringOutage: STATE_DOWN, weight: 6 },
  { name: 'geheim catalogue by name', path: TABLE_BY_NAME, token: () => tokens.geheim, expect: ['200 allow'], duringOutage: STATE_DOWN, weight: 2 },
  { name: 'geheim lineage', path: LINEAGE, token: () => tokens.geheim, expect: ['200 allow'], duringOutage: STATE_DOWN, weight: 3 },
  { name: 'confidentieel usage', path: USAGE, token: () => tokens.confidentieel, expect: ['200 allow'], duringOutage: STATE_DOWN, weight: 2 },
  { name: 'confidentieel topic', path: TOPIC, token: () => tokens.confidentieel, expect: ['200 allow'], duringOutage: STATE_DOWN, weight: 1 },
  { name: 'confidentieel lineage', path: LINEAGE, token: () => tokens.confidentieel, expect: ['403 clearance_insufficient'], weight: 2 },
  { name: 'foreign', path: TABLE, token: () => tokens.foreign, expect: ['403 nationality_not_allowed'], weight: 1 },
  { name: 'expired clearance', path: TABLE, token: () => tokens.expired, expect: ['403 clearance_expired'], weight: 1 },
  { name: 'forged signature', path: TABLE, token: () => tokens.forged, expect: ['401 token_invalid'], weight: 1 },
  { name: 'malformed token', path: TABLE, token: () => 'not-a-jwt', expect: ['401 token_invalid'], weight: 1 },
  { name: 'no token', path: USAGE, token: () => undefined, expect: ['401 token_missing'], weight: 1 },
  { name: 'data endpoint', path: SAMPLE_DATA, token: () => tokens.geheim, expect: ['404 route_not_allowed'], weight: 1 },
  { name: 'data field in query', path: `${TABLE}?fields=sampleData`, token: () => tokens.geheim, expect: ['403 query_value_not_allowed'], weight: 1 },
];
const ROTATED_OUT: TrafficClass = { name: 'dropped kid', path: TABLE, token: () => rotatedOut, expect: ['401 token_invalid'], weight: 0 };
const WHEEL: TrafficClass[] = CLASSES.flatMap((c) => Array.from({ length: c.weight }, () => c));

// ---------------------------------------------------------------------------------------------------------------
// bounded bookkeeping

const byStatusReason = new Map<string, number>();
const errorsByKind = new Map<string, number>();
const unexpected = new Map<string, number>();
const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
let sent = 0;
let answered = 0;

/** latency histogram: bucket i holds [2^(i/4), 2^((i+1)/4)) ms */
const latencyBuckets = new Array<number>(80).fill(0);
let latencyMax = 0;
function observe(ms: number): void {
  latencyMax = Math.max(latencyMax, ms);
  latencyBuckets[Math.min(latencyBuckets.length - 1, Math.max(0, Math.floor(4 * Math.log2(Math.max(ms, 1)))))]!++;
}
function percentile(p: number): number {
  const total = latencyBuckets.reduce((a, b) => a + b, 0);
  let seen = 0;
  for (let i = 0; i < latencyBuckets.length; i++) {
    seen += latencyBuckets[i]!;
    if (seen >= (p / 100) * total) return 2 ** ((i + 1) / 4);
  }
  return latencyMax;
}

interface Outage {
  how: 'SIGKILL' | 'SIGTERM';
  begin: number;
  /** Redis process gone (kill/stop returned); 0 until then */
  gone: number;
  /** restart begins (Redis was down from gone to here) */
  restart?: number;
  /** readiness true again */
  recovered?: number;
  /** state-dependent requests that started after `gone`, judged once `restart` is known (bounded by the outage) */
  seen: Array<{ start: number; end: number; allowed: boolean }>;
}
const outages: Outage[] = [];
let allowedWhileDown = 0;
let stateDependentWhileDown = 0;

function inOutage(start: number, end: number): boolean {
  return outages.some((o) => end >= o.begin && start <= (o.recovered ?? Infinity) + OUTAGE_GRACE_MS);
}
/** Remember a state-dependent answer that started while Redis was gone. */
function noteIfDown(start: number, end: number, allowed: boolean): void {
  for (const o of outages) if (o.gone > 0 && start > o.gone && o.restart === undefined) o.seen.push({ start, end, allowed });
}
/** Once the restart began: the requests that started and ended while Redis was down must all have been refused. */
function judge(o: Outage): void {
  for (const r of o.seen) {
    if (r.end >= o.restart!) continue;
    stateDependentWhileDown++;
    if (r.allowed) allowedWhileDown++;
  }
  o.seen.length = 0;
}

// ---------------------------------------------------------------------------------------------------------------

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY, keepAliveMsecs: 1_000 });

function get(base: string, path: string, token: string | undefined): Promise<{ status: number; code: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path, method: 'GET', agent, headers: token ? { authorization: `Bearer ${token}` } : {}, timeout: REQUEST_TIMEOUT_MS },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          let code = 'allow';
          if (status >= 300) {
            try {
              code = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code?: string }).code ?? 'no-code';
            } catch {
              code = 'not-json';
            }
          }
          resolve({ status, code });
        });
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('client timeout'), { code: 'CLIENT_TIMEOUT' })));
    req.on('error', reject);
    req.end();
  });
}

/** One request of class `c`; returns "status reason", or null when no answer came. */
async function send(base: string, c: TrafficClass): Promise<string | null> {
  const start = now();
  sent++;
  let r: { status: number; code: string };
  try {
    r = await get(base, c.path, c.token());
  } catch (err) {
    count(errorsByKind, `transport ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return null;
  }
  const end = now();
  answered++;
  observe(end - start);
  const key = `${r.status} ${r.code}`;
  count(byStatusReason, key);
  if (c.duringOutage) noteIfDown(start, end, r.status === 200);
  const ok = c.expect.includes(key) || (c.duringOutage?.includes(key) === true && inOutage(start, end));
  if (!ok) count(unexpected, `${c.name}: ${key}`);
  return key;
}

async function worker(base: string, id: number, deadline: number): Promise<void> {
  let i = id;
  while (now() < deadline) {
    await send(base, WHEEL[i % WHEEL.length]!);
    i += CONCURRENCY;
    if (PAUSE_MS > 0) await sleep(PAUSE_MS);
  }
}

async function mintAll(issuer: DevIssuer, forger: DevIssuer): Promise<Tokens> {
  const p = personas(Math.floor(Date.now() / 1000));
  return {
    geheim: await issuer.mint(p.geheim!.claims),
    confidentieel: await issuer.mint(p.confidentieel!.claims),
    foreign: await issuer.mint(p.foreign!.claims),
    expired: await issuer.mint(p.expired!.claims),
    forged: await forger.mint(p.geheim!.claims),
  };
}

async function waitReady(gw: RunningGateway, timeoutMs: number): Promise<boolean> {
  const until = now() + timeoutMs;
  while (now() < until) {
    if (gw.gateway.readiness().ready) return true;
    await sleep(25);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'metagate-soak-'));
  const auditFile = join(dir, 'audit.jsonl');
  const redis = await RedisProcess.start();
  const platform = await startPlatform();
  let kidNo = 1;
  let issuer = await createDevIssuer({ issuer: ISSUER, audience: AUDIENCE, kid: `soak-key-${kidNo}` });
  const jwks = await startJwksServer({ keys: issuer.jwks.keys });
  const cfg = baseConfig({ upstreamUrl: platform.url, jwksUrl: jwks.url }) as Record<string, any>;
  cfg.state = { backend: 'redis', redis: { mode: 'single', url: redis.url, keyPrefix: 'soak:', commandTimeoutMs: 300 }, rateLimit: { perSubject: 10_000_000, windowSec: 60 } };
  cfg.auth.jwks = { url: jwks.url, refreshIntervalSec: JWKS_REFRESH_SEC, cooldownSec: 1, maxStalenessSec: 300, timeoutMs: 1_000 };
  cfg.audit = { destination: auditFile, failClosed: true };
  const runtime = buildRuntime(cfg, { env: TEST_ENV, source: 'soak' });
  const gw = await startGateway(runtime, { auditDestination: auditFile, logger: createLogger('silent') });
  const forger = await createDevIssuer({ issuer: ISSUER, audience: AUDIENCE, kid: `soak-key-${kidNo}` });
  tokens = await mintAll(issuer, forger);
  if (!(await waitReady(gw, 10_000))) throw new Error('gateway not ready after 10 s');

  const startedAt = new Date();
  const deadline = now() + DURATION_MS;
  const rss: { start: number; middle?: number; end?: number } = { start: process.memoryUsage().rss };
  const rotations: Array<{ kid: string; newAccepted?: boolean; oldRefused?: boolean }> = [];
  process.stdout.write(`soak: ${MINUTES} min, ${CONCURRENCY} workers, gateway ${gw.vendorUrl}, redis ${redis.url}, audit ${auditFile}\n`);

  const workers = Array.from({ length: CONCURRENCY }, (_, i) => worker(gw.vendorUrl, i, deadline));

  // progress and the middle RSS sample
  const progress = (async () => {
    let nextMark = 60_000;
    let middleTaken = false;
    while (now() < deadline) {
      await sleep(Math.min(1_000, Math.max(0, deadline - now())));
      if (!middleTaken && now() >= deadline - DURATION_MS / 2) {
        rss.middle = process.memoryUsage().rss;
        middleTaken = true;
      }
      if (now() >= nextMark) {
        process.stdout.write(`  ${(now() / 60_000).toFixed(1)} min: ${answered} answered, rss ${mb(process.memoryUsage().rss).toFixed(0)} MiB, unexpected ${[...unexpected.values()].reduce((a, b) => a + b, 0)}\n`);
        nextMark += 60_000;
      }
    }
  })();

  // Redis: down for a moment every ~90 s, alternately killed and stopped
  const chaosRedis = (async () => {
    let n = 0;
    while (now() + REDIS_EVERY_MS + REDIS_OUTAGE_MS + 10_000 < deadline) {
      await sleep(REDIS_EVERY_MS);
      const how = n++ % 2 === 0 ? 'SIGKILL' : 'SIGTERM';
      const o: Outage = { how, begin: now(), gone: 0, seen: [] };
      outages.push(o);
      await (how === 'SIGKILL' ? redis.kill() : redis.stop());
      o.gone = now();
      await sleep(REDIS_OUTAGE_MS);
      o.restart = now();
      judge(o);
      await redis.restart();
      if (await waitReady(gw, 15_000)) o.recovered = now();
      else count(errorsByKind, 'redis: readiness did not return within 15 s of the restart');
    }
  })();

  // keys: publish a new kid next to the old, switch minting to it, drop the old one, probe that it is refused
  const chaosKeys = (async () => {
    while (now() + ROTATE_EVERY_MS + ROTATE_PROBE_MS + 5_000 < deadline) {
      await sleep(ROTATE_EVERY_MS);
      const old = issuer;
      const next = await createDevIssuer({ issuer: ISSUER, audience: AUDIENCE, kid: `soak-key-${++kidNo}` });
      const r: (typeof rotations)[number] = { kid: next.kid };
      rotations.push(r);
      jwks.serve = { keys: [...old.jwks.keys, ...next.jwks.keys] };
      const invalidBefore = unexpectedTokenInvalid();
      await sleep(ROTATE_SWITCH_MS);
      const oldToken = await old.mint(personas(Math.floor(Date.now() / 1000)).geheim!.claims);
      issuer = next;
      tokens = await mintAll(next, await createDevIssuer({ issuer: ISSUER, audience: AUDIENCE, kid: next.kid }));
      await sleep(ROTATE_DROP_MS - ROTATE_SWITCH_MS);
      jwks.serve = { keys: next.jwks.keys };
      await sleep(ROTATE_PROBE_MS - ROTATE_DROP_MS);
      rotatedOut = oldToken;
      const probes: Array<string | null> = [];
      for (let i = 0; i < 5; i++) probes.push(await send(gw.vendorUrl, ROTATED_OUT));
      r.oldRefused = probes.every((k) => k === '401 token_invalid');
      // no valid-token class was refused token_invalid across the overlap, the switch and the removal
      r.newAccepted = unexpectedTokenInvalid() === invalidBefore;
    }
  })();

  await Promise.all([...workers, progress, chaosRedis, chaosKeys]);
  rss.end = process.memoryUsage().rss;
  const seconds = now() / 1000;

  // shut down: the gateway flushes its audit trail
  await gw.close();
  await jwks.close();
  await platform.close();
  await redis.stop();
  agent.destroy();

  // ---- invariants
  const lines = readFileSync(auditFile, 'utf8').split('\n').filter((l) => l.length > 0);
  const records = lines.filter((l) => l.includes('"action":"vendor_request"')).length;
  const verify = await verifyAuditFiles([auditFile]);
  const middle = rss.middle ?? rss.end;
  const growthLimit = middle * GROWTH_FACTOR + GROWTH_SLACK_MB * 2 ** 20;
  const checks: Array<[string, boolean, string]> = [
    ['audit records = requests sent', records === sent, `${records} vendor_request records for ${sent} requests sent`],
    ['audit verify', verify.ok, verify.message],
    ['every request answered', answered === sent && errorsByKind.size === 0, `${answered} of ${sent} answered; transport/other errors: ${errorsByKind.size === 0 ? 'none' : JSON.stringify(Object.fromEntries(errorsByKind))}`],
    ['every answer as expected for its class', unexpected.size === 0, unexpected.size === 0 ? 'all answers as expected' : JSON.stringify(Object.fromEntries(unexpected))],
    [
      'nothing allowed while Redis was down',
      allowedWhileDown === 0 && (outages.length === 0 || stateDependentWhileDown > 0),
      `${allowedWhileDown} allowed of ${stateDependentWhileDown} state-dependent requests sent and answered while Redis was down`,
    ],
    ['Redis outages recovered', outages.every((o) => o.recovered !== undefined), `${outages.length} outages (${outages.filter((o) => o.how === 'SIGKILL').length} SIGKILL, ${outages.filter((o) => o.how === 'SIGTERM').length} SIGTERM), recovered after ${outages.map((o) => (o.recovered === undefined ? 'never' : `${((o.recovered - o.restart!) / 1000).toFixed(2)} s`)).join(', ') || '-'}`],
    ['key rotations', rotations.every((r) => r.oldRefused === true && r.newAccepted === true), `${rotations.length} rotations: ${rotations.map((r) => `${r.kid} (new kid accepted: ${r.newAccepted}, old kid refused after removal: ${r.oldRefused})`).join('; ') || '-'}`],
    ['no data path forwarded', upstreamCounts.dataPaths === 0 && upstreamCounts.unknown === 0, `${upstreamCounts.total} upstream requests, ${upstreamCounts.dataPaths} to data paths, ${upstreamCounts.unknown} to unknown paths`],
    [
      'memory growth',
      rss.end <= growthLimit,
      `RSS start ${mb(rss.start).toFixed(1)} MiB, middle ${mb(middle).toFixed(1)} MiB, end ${mb(rss.end).toFixed(1)} MiB; end may not exceed middle × ${GROWTH_FACTOR} + ${GROWTH_SLACK_MB} MiB = ${mb(growthLimit).toFixed(1)} MiB`,
    ],
  ];

  const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
  const out: string[] = [];
  out.push(`metagate soak report — ${MINUTES} min requested, ${seconds.toFixed(0)} s run, ${startedAt.toISOString()}`);
  out.push(`  traffic: ${sent} requests sent, ${answered} answered (${(answered / seconds).toFixed(1)}/s), ${CONCURRENCY} workers, ${CLASSES.length} request classes`);
  out.push(`  latency: p50 ≤ ${percentile(50).toFixed(1)} ms, p95 ≤ ${percentile(95).toFixed(1)} ms, p99 ≤ ${percentile(99).toFixed(1)} ms, max ${latencyMax.toFixed(1)} ms`);
  out.push('  responses by status and reason:');
  for (const [k, v] of [...byStatusReason].sort((a, b) => b[1] - a[1])) out.push(`    ${pad(k, 34)} ${v}`);
  out.push(`  errors by kind: ${errorsByKind.size === 0 ? 'none' : ''}`);
  for (const [k, v] of errorsByKind) out.push(`    ${pad(k, 34)} ${v}`);
  out.push(`  Redis outages: ${outages.map((o) => `${o.how} at ${(o.begin / 60_000).toFixed(1)} min`).join(', ') || 'none'}`);
  out.push(`  gateway metrics: audit write failures ${await gaugeOf(gw, 'metagate_audit_write_failures_total')}, store errors ${await gaugeOf(gw, 'metagate_store_errors_total')}`);
  out.push('  invariants:');
  for (const [name, ok, detail] of checks) out.push(`    ${ok ? 'PASS' : 'FAIL'}  ${pad(name, 40)} ${detail}`);
  const pass = checks.every(([, ok]) => ok);
  out.push(`  RESULT: ${pass ? 'PASS' : 'FAIL'}${pass ? '' : ` (audit file kept: ${auditFile})`}`);
  process.stdout.write(`${out.join('\n')}\n`);
  if (pass) rmSync(dir, { recursive: true, force: true });
  return pass ? 0 : 1;
}

/** refusals as token_invalid that no class expected (a valid token whose key the gateway did not know) */
function unexpectedTokenInvalid(): number {
  let n = 0;
  for (const [k, v] of unexpected) if (k.endsWith(': 401 token_invalid')) n += v;
  return n;
}

async function gaugeOf(gw: RunningGateway, name: string): Promise<string> {
  const text = await gw.gateway.metrics.registry.getSingleMetricAsString(name);
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? line.slice(line.lastIndexOf(' ') + 1) : '?';
}

// a hard stop well after the planned end, so a hung shutdown cannot keep the process alive forever
const hardStop = setTimeout(() => {
  process.stderr.write('soak: did not finish within the planned time + 5 min; giving up\n');
  process.exit(1);
}, DURATION_MS + 300_000);
hardStop.unref();

main().then(
  (code) => {
    clearTimeout(hardStop);
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`soak failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);

// Property tests: generated request targets built from dangerous pieces. (a) pure: the canonical form is a fixed point
// with no ambiguous piece left, and a match is a real template match; (b) through the gateway: the upstream receives
// exactly what the pure decision forwards — GET, canonical path, accepted query keys, gateway credentials only — and
// the audit record of each forwarded request names the path the upstream got.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRuntime, type Runtime } from '../../src/config/load.js';
import { canonicalise, type CanonicaliseLimits } from '../../src/pipeline/canonicalise.js';
import { checkQuery, type CompiledRule } from '../../src/pipeline/match.js';
import { WHOAMI_PATH } from '../../src/pipeline/whoami.js';
import { DEMO_TABLE_FQN, DEMO_TABLE_ID, DEMO_TOPIC_ID } from '../../src/demo/data.js';
import { baseConfig, startHarness, TEST_ENV, type Harness } from '../helpers/harness.js';
import { rawExchange } from '../helpers/http.js';
import { recordGenerated } from './summary.js';

const PURE_RUNS = 8000;
const FIXPOINT_RUNS = 2000;
const GATEWAY_RUNS = 2000;
const CONCURRENCY = 20;

// ------------------------------------------------------------------------------------------------ generators
const WORDS = [
  'api', 'v1', 'tables', 'lineage', 'usage', 'name', 'table', 'topic', 'topics', 'databases', 'versions', 'getLineage',
  DEMO_TABLE_ID, DEMO_TOPIC_ID, DEMO_TABLE_FQN, '0.2', 'sampleData', 'tableProfile', 'columnProfile', 'systemProfile',
  'queries', 'search', 'dataQuality', 'latest', 'x', 'API', 'Tables',
];
const DANGEROUS = [
  '/', '/', '/', '.', '..', '%2e', '%2E', '%2f', '%2F', '%25', '%252e', '%5c', '%5C', '\\', ';', '..;', '?', '#', '%00',
  '%3b', '%3f', '%23', '&', '=', '%3d', '%26', '+', '%2B', '%20', '%22', '%3a', ':', '@', "'", '~', '*', '%61', '%41',
  '%c0%ae', '%e2%80%a4', '%EF%BC%8E', '\uff0e', '\u2024', '\u00e9', '%', '%z', '\t', '\0', '\x7f', '"', '{', '|',
];
const QUERY_KEYS = ['fields', 'limit', 'include', 'upstreamDepth', 'downstreamDepth', 'fqn', 'days', 'after', 'x', '_method', 'fi%65lds', 'query_filter', ''];
const QUERY_VALUES = ['columns', 'sampleData', 'tags', ',', '%2C', '1', '3', '10', '0', '-1', 'all', DEMO_TABLE_FQN, '/api/v1/tables', '+', '%20', '%2B', '', '#', '%00', 'DELETE', '%C3%A9'];

const piece = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...WORDS) },
  { weight: 4, arbitrary: fc.constantFrom(...DANGEROUS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 3 }) },
);
const query = fc
  .array(fc.tuple(fc.constantFrom(...QUERY_KEYS), fc.array(fc.constantFrom(...QUERY_VALUES), { maxLength: 3 }).map((a) => a.join(''))), { minLength: 1, maxLength: 4 })
  .map((kvs) => kvs.map(([k, v]) => `${k}=${v}`).join('&'));
/** Queries most table, lineage and usage rules accept, so near-misses and hits are both common. */
const plausibleQuery = fc.constantFrom('fields=columns', 'fields=columns,tags', 'include=all', 'limit=10', 'upstreamDepth=2', 'days=7', 'fields=columns%2Ctags', 'include=deleted&fields=owners');
const free = fc.array(piece, { maxLength: 14 }).map((ps) => ps.join(''));
const structured = fc
  .tuple(
    fc.constantFrom('/api/v1/tables', '/api/v1/tables/name', `/api/v1/tables/${DEMO_TABLE_ID}`, '/api/v1/lineage/table', '/api/v1/usage/table', '/api/v1/lineage', '/api/v1', '/api/v1/topics'),
    fc.array(fc.tuple(fc.constantFrom('/', '/', '/', '%2f', '\\', '/./', '/../', ';', '//', '/%2e%2e/'), fc.array(piece, { minLength: 1, maxLength: 2 }).map((a) => a.join(''))), { maxLength: 3 }),
    fc.option(query, { nil: undefined }),
  )
  .map(([prefix, rest, q]) => prefix + rest.map(([sep, seg]) => sep + seg).join('') + (q === undefined ? '' : `?${q}`));
const clean = fc
  .tuple(
    fc.constantFrom('/api/v1/tables', `/api/v1/tables/${DEMO_TABLE_ID}`, `/api/v1/tables/name/${DEMO_TABLE_FQN}`, `/api/v1/lineage/table/${DEMO_TABLE_ID}`, `/api/v1/usage/table/${DEMO_TABLE_ID}`, `/api/v1/tables/${DEMO_TABLE_ID}/versions`),
    fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: plausibleQuery }, { weight: 1, arbitrary: query }, { weight: 1, arbitrary: fc.constant('') }),
  )
  .map(([p, q]) => (q === undefined ? p : `${p}?${q}`));

/** Request targets biased toward dangerous pieces, with enough near-misses that many are allowed. */
const targetArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: free.map((t) => '/' + t) },
  { weight: 1, arbitrary: free },
  { weight: 4, arbitrary: structured },
  { weight: 4, arbitrary: clean },
);

// ------------------------------------------------------------------------------------------------ oracle
const runtime: Runtime = buildRuntime(baseConfig({ upstreamUrl: 'http://127.0.0.1:9', jwksUrl: 'http://127.0.0.1:9/jwks.json' }), { env: TEST_ENV, source: 'properties' });
const limits = (rt: Runtime): CanonicaliseLimits => rt.config.vendor;

/** The data endpoints' words (DESIGN §5): never a whole segment of a path the gateway forwards. */
const DATA_WORDS = ['sampleData', 'tableProfile', 'columnProfile', 'systemProfile', 'queries', 'dataQuality', 'search', 'failedRowsSample'];

type Decision = { forwarded: false } | { forwarded: true; path: string; url: string; rule: CompiledRule };

/** What the gateway must do with a target according to the pure stages (canonicalise → match → query). */
function decide(rt: Runtime, target: string): Decision {
  const c = canonicalise(target, limits(rt));
  if (!c.ok || c.target.path === WHOAMI_PATH) return { forwarded: false };
  const m = rt.routes.match('GET', c.target.segments);
  if (!m.ok) return { forwarded: false };
  const q = checkQuery(m.rule, c.target.query);
  if (!q.ok) return { forwarded: false };
  return { forwarded: true, path: c.target.path, rule: m.rule, url: c.target.path + (q.upstreamQuery ? `?${q.upstreamQuery}` : '') };
}

/** Independent of the trie: does this rule's template match these segments? */
function templateMatches(rule: CompiledRule, segments: readonly string[]): boolean {
  const parts = rule.path.slice(1).split('/');
  if (parts.length !== segments.length || rule.segments.length !== segments.length) return false;
  return parts.every((p, i) => {
    const s = rule.segments[i]!;
    if (p.startsWith('{')) return s.kind === 'param' && s.re.test(segments[i]!);
    return s.kind === 'static' && p === segments[i];
  });
}

/** Everything an accepted canonical path must (not) contain, checked without the canonicaliser's own tables. */
function canonicalPathProblems(path: string, segments: readonly string[]): string[] {
  const p: string[] = [];
  if (!path.startsWith('/')) p.push('does not start with /');
  if (path.includes('//')) p.push('contains //');
  if (/%(2F|25|5C|00)/i.test(path)) p.push('contains an encoded / % \\ or NUL');
  if (/[\\;?#\s\x00-\x1f\x7f]/.test(path) || /[^\x00-\x7f]/.test(path)) p.push('contains a raw delimiter, control or non-ASCII character');
  if (/%(?![0-9A-F]{2})/.test(path) || /%[0-9A-F]{2}/.test(path.replace(/%(20|22|3C|3E|5B|5D|5E|60|7B|7C|7D)/g, ''))) p.push('contains an encoding that should have been decoded or refused');
  for (const s of segments) {
    if (s === '.' || s === '..') p.push(`dot segment "${s}"`);
    if (s.startsWith('..') || s.endsWith('.')) p.push(`dot-edged segment "${s}"`);
    if (s.length === 0) p.push('empty segment');
  }
  if ((path === '/' ? [] : path.slice(1).split('/')).join('\u0000') !== segments.join('\u0000')) p.push('segments do not spell the path');
  return p;
}

// ------------------------------------------------------------------------------------------------ (a) pure
describe('properties (a): canonicalise and match on generated targets', () => {
  it(`accepted targets have a fixed-point canonical form with nothing ambiguous left, and matches are real (${PURE_RUNS} runs)`, () => {
    let accepted = 0;
    let matched = 0;
    fc.assert(
      fc.property(targetArb, (target) => {
        const c = canonicalise(target, limits(runtime));
        if (!c.ok) {
          expect([400, 414]).toContain(c.status);
          return;
        }
        accepted++;
        const { path, segments, query } = c.target;
        expect(canonicalPathProblems(path, segments), `${JSON.stringify(target)} → ${path}`).toEqual([]);
        const again = canonicalise(path, limits(runtime));
        expect(again.ok && again.target.path === path && again.target.segments.join('/') === segments.join('/'), `not a fixed point: ${path}`).toBe(true);
        for (const [k, v] of query) {
          expect(k).toMatch(/^[A-Za-z][A-Za-z0-9_.-]*$/);
          expect(v).toMatch(/^[\x20-\x7e]*$/);
        }
        // brute force over every rule, independent of the trie: at most one can match
        const byTemplate = runtime.routes.rules.filter((r) => templateMatches(r, segments));
        expect(byTemplate.length).toBeLessThanOrEqual(1);
        const m = runtime.routes.match('GET', segments);
        if (m.ok) {
          matched++;
          expect(byTemplate.map((r) => r.id)).toEqual([m.rule.id]);
          expect(m.rule.method).toBe('GET');
          // the canonical form is decided exactly like the target it came from
          if (again.ok) expect(runtime.routes.match('GET', again.target.segments)).toEqual(m);
        } else {
          expect(byTemplate).toEqual([]);
          expect(m.reason).toBe('route_not_allowed');
        }
      }),
      { numRuns: PURE_RUNS },
    );
    recordGenerated(PURE_RUNS);
    // the generator must actually reach the interesting region
    expect(accepted).toBeGreaterThan(PURE_RUNS / 5);
    expect(matched).toBeGreaterThan(PURE_RUNS / 20);
  });

  it(`canonicalise never throws and its answer is stable on arbitrary Unicode (${FIXPOINT_RUNS} runs)`, () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }).map((s) => '/' + s), (target) => {
        const a = canonicalise(target);
        const b = canonicalise(target);
        expect(b).toEqual(a);
        if (a.ok) expect(canonicalPathProblems(a.target.path, a.target.segments)).toEqual([]);
      }),
      { numRuns: FIXPOINT_RUNS },
    );
    recordGenerated(FIXPOINT_RUNS);
  });

  it('the matched path never names a data endpoint in a static position', () => {
    fc.assert(
      fc.property(targetArb, (target) => {
        const d = decide(runtime, target);
        if (!d.forwarded) return;
        const parts = d.rule.path.slice(1).split('/');
        d.path.slice(1).split('/').forEach((seg, i) => {
          if (!parts[i]!.startsWith('{')) expect(DATA_WORDS).not.toContain(seg);
        });
      }),
      { numRuns: 1000 },
    );
    recordGenerated(1000);
  });

  // Regression: the `fqn` parameter accepted a bare data word, so GET /api/v1/tables/name/columnProfile was decided as
  // "table by name" while OpenMetadata's JAX-RS routing picks @Path("/{fqn}/columnProfile") (more literal characters)
  // with fqn="name" — decider and forwarder disagreed. The profile's fqn pattern now refuses those words.
  it('no forwarded path has a data word as a whole segment', () => {
    fc.assert(
      fc.property(targetArb, (target) => {
        const d = decide(runtime, target);
        if (d.forwarded) for (const seg of d.path.slice(1).split('/')) expect(DATA_WORDS).not.toContain(seg);
      }),
      { numRuns: 2000, examples: [['/api/v1/tables/name/columnProfile'], ['/api/v1/tables/name/tableProfile']] },
    );
  });
});

// ------------------------------------------------------------------------------------------------ (b) gateway
describe('properties (b): generated targets through the gateway', () => {
  let h: Harness;
  let bearer: string;

  beforeAll(async () => {
    h = await startHarness();
    bearer = `Bearer ${await h.token('geheim')}`;
  });
  afterAll(async () => {
    await h?.close();
  });

  it(`the upstream receives exactly the forwards the pure decision predicts, and nothing else (${GATEWAY_RUNS} targets)`, async () => {
    const seed = Date.now() ^ process.pid;
    // SP, CR and LF would change the request line itself; every other byte goes on the wire as generated (UTF-8)
    const targets = fc.sample(targetArb.filter((t) => !/[ \r\n]/.test(t)), { numRuns: GATEWAY_RUNS, seed });
    const rt = h.runtime;
    const decisions = targets.map((t) => decide(rt, t));
    const recBefore = h.audit.requestRecords().length;
    const upBefore = h.upstream.requests.length;

    const statuses: number[] = new Array(targets.length).fill(0);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < targets.length; i = next++) {
        const res = await rawExchange(h.vendorPort, `GET ${targets[i]} HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: ${bearer}\r\nConnection: close\r\n\r\n`, 3000);
        statuses[i] = res.status;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    for (let i = 0; i < 400 && h.audit.requestRecords().length < recBefore + targets.length; i++) await new Promise((r) => setTimeout(r, 10));
    recordGenerated(targets.length);

    const upstream = h.upstream.requests.slice(upBefore);
    const records = h.audit.requestRecords().slice(recBefore);
    const ctx = `seed ${seed}`;

    // exactly one audit record per request
    expect(records.length, ctx).toBe(targets.length);

    // each answer agrees with the decision
    targets.forEach((t, i) => {
      const d = decisions[i]!;
      const s = statuses[i]!;
      if (d.forwarded) expect([200, 404], `${ctx}: ${JSON.stringify(t)} → ${s}`).toContain(s);
      else expect(s >= 400 && s < 500, `${ctx}: ${JSON.stringify(t)} refused by the oracle but answered ${s}`).toBe(true);
    });

    // the upstream got exactly the predicted forwards (as a multiset)
    const predicted = decisions.flatMap((d) => (d.forwarded ? [d.url] : [])).sort();
    expect(upstream.map((u) => u.url).sort(), ctx).toEqual(predicted);
    expect(predicted.length, 'the generator must reach allowed targets').toBeGreaterThan(GATEWAY_RUNS / 10);

    const byId = new Map(records.map((r) => [r.http.request.id, r]));
    const serviceHost = new URL(h.upstream.url).host;
    for (const u of upstream) {
      expect(u.method).toBe('GET');
      const [path, qs = ''] = u.url.split('?') as [string, string?];
      const c = canonicalise(u.url, limits(rt));
      expect(c.ok && c.target.path === path, `${ctx}: upstream path ${u.url} is not canonical`).toBe(true);
      if (!c.ok) continue;
      const m = rt.routes.match('GET', c.target.segments);
      expect(m.ok, `${ctx}: upstream path ${path} matches no rule`).toBe(true);
      if (!m.ok) continue;
      for (const k of c.target.query.keys()) expect(m.rule.query.has(k), `${ctx}: query key ${k} on ${m.rule.id}`).toBe(true);
      expect(checkQuery(m.rule, c.target.query)).toEqual({ ok: true, upstreamQuery: qs });
      expect(u.headers.authorization).toBe('Bearer upstream-service-credential');
      expect(u.headers.host).toBe(serviceHost);
      for (const h2 of ['cookie', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-original-url', 'x-rewrite-url', 'x-http-method-override']) expect(u.headers[h2]).toBeUndefined();
      const id = u.headers['x-request-id'];
      expect(typeof id).toBe('string');
      const rec = byId.get(id as string);
      expect(rec, `${ctx}: no audit record for upstream request ${id}`).toBeDefined();
      expect(rec!.url.path).toBe(path);
      expect(rec!.metagate.rule).toBe(m.rule.id);
    }
    // and every allowed record corresponds to an upstream request
    const upstreamIds = new Set(upstream.map((u) => u.headers['x-request-id']));
    for (const r of records) if (r.metagate.decision === 'allow') expect(upstreamIds.has(r.http.request.id)).toBe(true);
  }, 120_000);
});

// Recording-upstream invariants: after a mixed batch of allowed and refused requests with tricky headers, every request
// the upstream received is exactly what the gateway decided — GET, canonical path, accepted query re-encoded, the
// gateway's own credential and request id, no vendor cookies, forwarding or override headers — and every refused
// request (above all `fields=` values that switch data on) never reached the upstream at all.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness, type RecordedUpstreamRequest } from '../helpers/harness.js';
import { request, type SimpleResponse } from '../helpers/http.js';
import type { RequestAuditRecord } from '../../src/observability/audit.js';

const TABLE_ID = 'c019434d-4146-4bc8-9c53-d0c56cdd7ac9';
const FQN = 'demo_mysql.shop.sales.customers';
const UPSTREAM_CREDENTIAL = 'Bearer upstream-service-credential';

/** Headers the gateway may send upstream: its own, the configured forwardHeaders, and undici's connection. */
const UPSTREAM_HEADER_ALLOWLIST = new Set(['host', 'accept', 'accept-encoding', 'user-agent', 'x-request-id', 'authorization', 'accept-language', 'connection']);
const NEVER_UPSTREAM = ['cookie', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-real-ip', 'x-original-url', 'x-rewrite-url', 'x-http-method-override', 'x-method-override', 'x-http-method', 'te', 'trailer', 'proxy-authorization', 'x-metagate-subject', 'x-vendor-secret', 'if-none-match', 'if-modified-since'];

/** Every header trick at once: none of these may reach the upstream (except the allow-listed forward headers). */
const TRICKY_HEADERS: Record<string, string> = {
  cookie: 'OM_SESSION=vendor-cookie; other=1',
  'x-forwarded-for': '10.0.0.1, 127.0.0.1',
  'x-forwarded-host': 'internal.example',
  'x-forwarded-proto': 'https',
  forwarded: 'for=10.0.0.1;host=internal.example;proto=https',
  connection: 'keep-alive, x-request-id, authorization',
  'x-request-id': 'vendor-chosen-request-id',
  'accept-encoding': 'gzip, deflate, br',
  'if-none-match': '"v7"',
  'accept-language': 'nl-NL',
  'x-original-url': '/api/v1/tables/c019434d-4146-4bc8-9c53-d0c56cdd7ac9/sampleData',
  'x-rewrite-url': '/api/v1/queries',
  'x-http-method-override': 'DELETE',
  'x-method-override': 'PUT',
  te: 'trailers',
  // (Proxy-Authorization is a second credential: refused, not stripped — credential-edges.test.ts)
  'x-real-ip': '10.0.0.1',
  'x-vendor-secret': 'do-not-forward',
};

type Persona = 'geheim' | 'confidentieel' | 'foreign' | 'expired' | null;

interface Case {
  name: string;
  persona: Persona;
  target: string;
  method?: string;
  headers?: Record<string, string>;
  /** the upstream path+query the gateway must send, or the refusal reason (then nothing is sent) */
  expect: { upstream: string; status?: number } | { refused: string; status: number };
}

const allowed = (upstream: string, status = 200) => ({ upstream, status });
const refused = (reason: string, status: number) => ({ refused: reason, status });

const CASES: Case[] = [
  // ---- allowed, with every header trick
  { name: 'table by id with fields, all tricky headers', persona: 'geheim', target: `/api/v1/tables/${TABLE_ID}?fields=columns,owners&include=all`, headers: TRICKY_HEADERS, expect: allowed(`/api/v1/tables/${TABLE_ID}?fields=columns%2Cowners&include=all`) },
  { name: 'table by name, safe percent-encodings decoded', persona: 'confidentieel', target: '/api/v1/tables/name/demo%5Fmysql.shop.sales%2Ecustomers', headers: TRICKY_HEADERS, expect: allowed(`/api/v1/tables/name/${FQN}`) },
  { name: 'table by name, quote kept encoded in upper-case hex', persona: 'geheim', target: '/api/v1/tables/name/demo.%22odd%22.t', expect: allowed('/api/v1/tables/name/demo.%22odd%22.t') },
  { name: 'table list: query keys kept in order, values re-encoded', persona: 'confidentieel', target: '/api/v1/tables?limit=10&database=demo_mysql.shop&after=ZGVtbw==', headers: { cookie: 'a=b' }, expect: allowed('/api/v1/tables?limit=10&database=demo_mysql.shop&after=ZGVtbw%3D%3D') },
  { name: 'lineage (geheim) with depths', persona: 'geheim', target: `/api/v1/lineage/table/${TABLE_ID}?upstreamDepth=1&downstreamDepth=2`, headers: { forwarded: 'for=1.2.3.4', 'x-forwarded-for': '1.2.3.4' }, expect: allowed(`/api/v1/lineage/table/${TABLE_ID}?upstreamDepth=1&downstreamDepth=2`) },
  { name: 'search lineage: decoded value re-encoded (spaces, quotes)', persona: 'geheim', target: '/api/v1/lineage/getLineage?fqn=%22a%20b%22.c&type=table', headers: { te: 'trailers', connection: 'te' }, expect: allowed('/api/v1/lineage/getLineage?fqn=%22a%20b%22.c&type=table') },
  { name: 'usage by name (confidentieel)', persona: 'confidentieel', target: `/api/v1/usage/table/name/${FQN}?days=7&date=2024-12-01`, headers: { 'accept-encoding': 'gzip' }, expect: allowed(`/api/v1/usage/table/name/${FQN}?days=7&date=2024-12-01`) },
  { name: 'method override header on a GET changes nothing', persona: 'geheim', target: `/api/v1/topics/39b8e3a2-eac1-4440-b85e-989fa77c1b83`, headers: { 'x-http-method-override': 'DELETE', 'x-original-url': '/api/v1/queries' }, expect: allowed('/api/v1/topics/39b8e3a2-eac1-4440-b85e-989fa77c1b83') },
  // F51: a conditional request asks about the platform's unfiltered answer; it is sent unconditional
  { name: 'conditional request: If-None-Match is not forwarded', persona: 'geheim', target: `/api/v1/pipelines/f38e0a25-903b-4d3f-b756-36a57e983a50?fields=tasks`, headers: { 'if-none-match': 'W/"x"', 'accept-language': 'en' }, expect: allowed('/api/v1/pipelines/f38e0a25-903b-4d3f-b756-36a57e983a50?fields=tasks') },

  // ---- refused: identity and policy
  { name: 'no token', persona: null, target: `/api/v1/tables/${TABLE_ID}`, headers: TRICKY_HEADERS, expect: refused('token_missing', 401) },
  { name: 'foreign national', persona: 'foreign', target: `/api/v1/tables/${TABLE_ID}`, headers: TRICKY_HEADERS, expect: refused('nationality_not_allowed', 403) },
  { name: 'expired clearance', persona: 'expired', target: `/api/v1/tables/${TABLE_ID}`, expect: refused('clearance_expired', 403) },
  { name: 'confidentieel asks for lineage', persona: 'confidentieel', target: `/api/v1/lineage/table/${TABLE_ID}`, headers: TRICKY_HEADERS, expect: refused('clearance_insufficient', 403) },
  { name: 'token in a cookie only', persona: null, target: `/api/v1/tables/${TABLE_ID}`, headers: { cookie: 'access_token=x' }, expect: refused('token_missing', 401) },

  // ---- refused: routes, methods, queries
  { name: 'data endpoint', persona: 'geheim', target: `/api/v1/tables/${TABLE_ID}/sampleData`, headers: TRICKY_HEADERS, expect: refused('route_not_allowed', 404) },
  { name: 'queries endpoint', persona: 'geheim', target: '/api/v1/queries', expect: refused('route_not_allowed', 404) },
  { name: 'DELETE', persona: 'geheim', target: `/api/v1/tables/${TABLE_ID}`, method: 'DELETE', expect: refused('method_not_allowed', 405) },
  { name: 'POST with an override header', persona: 'geheim', target: `/api/v1/tables/${TABLE_ID}`, method: 'POST', headers: { 'x-http-method-override': 'GET' }, expect: refused('method_not_allowed', 405) },
  { name: '_method query key', persona: 'geheim', target: `/api/v1/tables/${TABLE_ID}?_method=DELETE`, expect: refused('path_rejected', 400) },
  { name: 'method query key', persona: 'geheim', target: `/api/v1/tables/${TABLE_ID}?method=DELETE`, expect: refused('query_not_allowed', 400) },
  { name: 'access_token in the query', persona: 'geheim', target: `/api/v1/tables/${TABLE_ID}?access_token=abc`, expect: refused('token_invalid', 401) },
  { name: 'unknown query key', persona: 'geheim', target: `/api/v1/tables/${TABLE_ID}?query_filter=%7B%7D`, expect: refused('query_not_allowed', 400) },
  { name: 'repeated query key', persona: 'geheim', target: `/api/v1/tables/${TABLE_ID}?fields=columns&fields=sampleData`, expect: refused('path_rejected', 400) },
  { name: 'depth out of range', persona: 'geheim', target: `/api/v1/lineage/table/${TABLE_ID}?upstreamDepth=9`, expect: refused('query_value_not_allowed', 403) },
  { name: 'dot segment towards a data path', persona: 'geheim', target: `/api/v1/tables/${TABLE_ID}/sampleData/..`, expect: refused('path_rejected', 400) },
];

/** `fields=` values that switch data on somewhere in OpenMetadata (or try to smuggle one in). */
const DATA_FIELD_VALUES = [
  'sampleData',
  'profile',
  'tableProfilerConfig',
  'customMetrics',
  'testSuite',
  'queries',
  'schemaDefinition',
  'viewDefinition',
  'sql',
  'rawSql',
  'dataModel',
  'databaseProfilerConfig',
  'databaseSchemaProfilerConfig',
  'columns,sampleData',
  'sampleData,columns',
  'owners,profile,tags',
  'SampleData',
  'sample%44ata',
  'columns%2CsampleData',
  '*',
  'all',
  'columns,,sampleData',
  'columns,columns',
];

const PARAM_VALUES: Record<string, string> = {
  uuid: TABLE_ID,
  fqn: FQN,
  entity: 'table',
  version: '0.2',
};

let h: Harness;
const tokens = new Map<string, string>();
/** what happened to each request sent in this file */
const sent: Array<{ c: Case; res: SimpleResponse; requestId: string; upstream: RecordedUpstreamRequest[] }> = [];

async function send(c: Case): Promise<void> {
  const headers: Record<string, string> = { ...(c.headers ?? {}) };
  if (c.persona) headers['authorization'] = `Bearer ${tokens.get(c.persona)!}`;
  const before = h.upstream.requests.length;
  const res = await request(h.vendorUrl, c.target, { method: c.method ?? 'GET', headers });
  const upstream = h.upstream.requests.slice(before);
  const requestId = res.status >= 400 && res.body ? (JSON.parse(res.body) as { request_id: string }).request_id : String(upstream[0]?.headers['x-request-id']);
  sent.push({ c, res, requestId, upstream });
}

beforeAll(async () => {
  h = await startHarness();
  for (const p of ['geheim', 'confidentieel', 'foreign', 'expired']) tokens.set(p, await h.token(p));
  h.upstream.setHandler((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'JSESSIONID=x' });
    res.end('{"id":"x","name":"n","sampleData":{"rows":[["CANARY-REC-01"]]}}');
  });

  for (const c of CASES) await send(c);
  // every data-switching fields= value on every rule that accepts `fields`
  for (const rule of h.runtime.routes.rules) {
    if (!rule.query.has('fields')) continue;
    const path = rule.path.replace(/\{[A-Za-z0-9_]+:([A-Za-z0-9_]+)\}/g, (_m, type: string) => PARAM_VALUES[type]!);
    for (const value of DATA_FIELD_VALUES) {
      if (value === 'dataModel' && rule.id.startsWith('om.containers.')) continue; // a container's dataModel is its column schema
      await send({ name: `${rule.id} fields=${value}`, persona: 'geheim', target: `${path}?fields=${value}`, headers: { cookie: 'c=1' }, expect: refused('query_value_not_allowed', 403) });
    }
  }
  // records are written as each response finishes on the server side: let the last ones land
  for (let i = 0; i < 200 && h.audit.requestRecords().length < sent.length; i++) await new Promise((r) => setTimeout(r, 10));
}, 120_000);

afterAll(async () => {
  h.upstream.setHandler(null);
  await h.close();
});

let index: { lines: number; byId: Map<string, RequestAuditRecord[]> } = { lines: -1, byId: new Map() };

/** The one audit record of a request (the index is rebuilt only when new audit lines arrived). */
function recordFor(requestId: string): RequestAuditRecord {
  if (index.lines !== h.audit.lines.length) {
    const byId = new Map<string, RequestAuditRecord[]>();
    for (const r of h.audit.requestRecords()) byId.set(r.http.request.id, [...(byId.get(r.http.request.id) ?? []), r]);
    index = { lines: h.audit.lines.length, byId };
  }
  const found = index.byId.get(requestId) ?? [];
  expect(found, `one audit record for ${requestId}`).toHaveLength(1);
  return found[0]!;
}

describe('recording upstream: what the gateway sends', () => {
  it('the batch mixes allowed and refused requests, and the fields= sweep covered every rule that takes fields', () => {
    const allowedCount = sent.filter((s) => 'upstream' in s.c.expect).length;
    expect(allowedCount).toBeGreaterThanOrEqual(9);
    expect(sent.length - allowedCount).toBeGreaterThan(100);
    const rulesWithFields = h.runtime.routes.rules.filter((r) => r.query.has('fields'));
    expect(rulesWithFields.length).toBeGreaterThan(20);
    for (const rule of rulesWithFields) expect(sent.some((s) => s.c.name.startsWith(`${rule.id} fields=`)), rule.id).toBe(true);
  });

  it('every sweep path matches the rule it was built from (the refusals come from the fields value, not the path)', () => {
    for (const s of sent.filter((x) => / fields=/.test(x.c.name))) {
      const rec = recordFor(s.requestId);
      expect(rec.metagate.rule, s.c.name).toBe(s.c.name.split(' ')[0]);
    }
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const s = sent.find((x) => x.c === c)!;
    const rec = recordFor(s.requestId);
    if ('refused' in c.expect) {
      expect(s.res.status, s.res.body).toBe(c.expect.status);
      expect(s.upstream, 'no upstream request').toEqual([]);
      expect(rec.metagate.decision).toBe('deny');
      expect(rec.metagate.reasons[0]).toBe(c.expect.refused);
      return;
    }
    expect(s.res.status, s.res.body).toBe(c.expect.status);
    expect(s.upstream).toHaveLength(1);
    expect(s.upstream[0]!.url).toBe(c.expect.upstream);
    expect(rec.metagate.decision).toBe('allow');
    expect(rec.url.path).toBe(c.expect.upstream.split('?')[0]);
    expect(s.res.body).not.toContain('CANARY-REC-01');
  });

  it('every data-switching fields= value is refused before the upstream is contacted', () => {
    const sweep = sent.filter((s) => / fields=/.test(s.c.name));
    expect(sweep.length).toBeGreaterThan(500);
    for (const s of sweep) {
      expect(s.res.status, s.c.name).toBe(403);
      expect(s.upstream, s.c.name).toEqual([]);
      const rec = recordFor(s.requestId);
      expect(rec.metagate.reasons, s.c.name).toEqual(['query_value_not_allowed']);
    }
  });

  it('the upstream received exactly the allowed requests and nothing else', () => {
    const allowedSent = sent.filter((s) => 'upstream' in s.c.expect);
    expect(h.upstream.requests).toHaveLength(allowedSent.length);
    expect(h.upstream.requests.map((r) => r.url)).toEqual(allowedSent.map((s) => (s.c.expect as { upstream: string }).upstream));
  });

  it('every upstream request: GET, identity encoding, the gateway credential, its request id, allow-listed headers only', () => {
    const upstreamHost = new URL(h.upstream.url).host;
    for (const r of h.upstream.requests) {
      const s = sent.find((x) => x.upstream[0] === r)!;
      expect(r.method).toBe('GET');
      expect(r.headers['accept-encoding']).toBe('identity');
      expect(r.headers['authorization']).toBe(UPSTREAM_CREDENTIAL);
      expect(r.headers['host']).toBe(upstreamHost);
      expect(r.headers['accept']).toBe('application/json');
      expect(r.headers['cookie']).toBeUndefined();
      for (const name of NEVER_UPSTREAM) expect(r.headers[name], `${name} on ${r.url}`).toBeUndefined();
      for (const name of Object.keys(r.headers)) {
        expect(UPSTREAM_HEADER_ALLOWLIST.has(name), `header ${name} on ${r.url}`).toBe(true);
        expect(name.startsWith('x-forwarded-'), name).toBe(false);
      }
      // the vendor's Connection header neither travels nor strips the gateway's own headers
      expect(r.headers['connection'] ?? 'keep-alive').toBe('keep-alive');
      const id = r.headers['x-request-id'];
      expect(typeof id).toBe('string');
      expect(id).not.toBe('vendor-chosen-request-id');
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(recordFor(String(id)).http.request.id).toBe(id);
      expect(s.requestId).toBe(id);
      // only the configured forward headers come from the vendor, with the vendor's value
      expect(r.headers['accept-language']).toBe(s.c.headers?.['accept-language']);
    }
    const ids = h.upstream.requests.map((r) => r.headers['x-request-id']);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('every request, allowed or refused, has exactly one audit record', () => {
    for (const s of sent) recordFor(s.requestId);
    expect(h.audit.requestRecords().length).toBe(sent.length);
  });
});

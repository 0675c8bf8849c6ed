// /metrics on the admin listener: exact counts after a known mix of requests, and label values that stay in closed
// sets whatever an attacker sends (paths, methods, subjects, query keys, field names).

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEMO_TABLE_FQN, DEMO_TABLE_ID } from '../../src/demo/data.js';
import { filterFields } from '../../src/gateway.js';
import { JWKS_REFRESH_RESULTS, METHOD_LABELS, RELOAD_RESULTS, TOKEN_RESULTS, UPSTREAM_ERROR_KINDS } from '../../src/observability/metrics.js';
import { CATEGORIES, DENY_REASONS } from '../../src/policy/reasons.js';
import { VERSION } from '../../src/version.js';
import { buildRuntime } from '../../src/config/load.js';
import { ADMIN_TOKEN, TEST_ENV, baseConfig, startHarness, type Harness } from '../helpers/harness.js';
import { rawExchange, request } from '../helpers/http.js';

const TABLE = `/api/v1/tables/${DEMO_TABLE_ID}`;
const LINEAGE = `/api/v1/lineage/table/${DEMO_TABLE_ID}`;
const USAGE = `/api/v1/usage/table/${DEMO_TABLE_ID}`;
/** Every attacker-chosen string carries this marker; it must never appear in the exposition. */
const MARK = 'zzattacker';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parse the Prometheus text exposition format (0.0.4): one sample per non-comment line. */
function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    let rest = m[2] ?? '';
    while (rest.length > 0) {
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/.exec(rest);
      if (!lm) throw new Error(`unparseable labels in: ${line}`);
      labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_x, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(lm[0].length);
    }
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

async function scrape(h: Harness): Promise<{ text: string; samples: Sample[] }> {
  const r = await request(h.adminUrl, '/metrics');
  expect(r.status).toBe(200);
  expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return { text: r.body, samples: parseExposition(r.body) };
}

/** The value of one series, 0 when absent. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const s = samples.find((x) => x.name === name && Object.keys(labels).length === Object.keys(x.labels).length && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value ?? 0;
}

/** Non-zero series of one metric, as "label=value,…" → value. */
function nonZero(samples: Sample[], name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    if (s.name !== name || s.value === 0) continue;
    out[Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(',')] = s.value;
  }
  return out;
}

describe('metrics after a known mix of requests', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  test('counts every decision with its reason, category and method, exactly', async () => {
    const geheim = `Bearer ${await h.token('geheim')}`;
    const conf = `Bearer ${await h.token('confidentieel')}`;
    const foreign = `Bearer ${await h.token('foreign')}`;
    const expired = `Bearer ${await h.token('expired')}`;
    const cases: Array<[string, string, string | null, number, string?]> = [
      // [path, what, authorization, expected status, method]
      [TABLE, 'geheim reads the catalogue', geheim, 200],
      [LINEAGE, 'geheim reads lineage', geheim, 200],
      [LINEAGE, 'confidentieel may not read lineage', conf, 403],
      [USAGE, 'confidentieel reads usage', conf, 200],
      [TABLE, 'foreign nationality', foreign, 403],
      [TABLE, 'expired clearance', expired, 403],
      [TABLE, 'no token', null, 401],
      [`${TABLE}/sampleData`, 'a data endpoint', geheim, 404],
      ['/api/v1/tables/%2e%2e/sampleData', 'an encoded dot segment', geheim, 400],
      [`${TABLE}?fields=sampleData`, 'a data-bearing fields= value', geheim, 403],
      [`/api/v1/tables/name/${DEMO_TABLE_FQN}`, 'a write method', geheim, 405, 'DELETE'],
      [TABLE, 'a token that is not a JWT', 'Bearer aaaa.bbbb.cccc', 401],
    ];
    for (const [path, what, auth, status, method] of cases) {
      const r = await request(h.vendorUrl, path, { method: method ?? 'GET', headers: auth ? { authorization: auth } : {} });
      expect(r.status, what).toBe(status);
    }
    const { samples } = await scrape(h);

    expect(nonZero(samples, 'metagate_requests_total')).toEqual({
      'decision=allow,reason=none,category=catalogue,method=GET': 1,
      'decision=allow,reason=none,category=lineage,method=GET': 1,
      'decision=allow,reason=none,category=usage,method=GET': 1,
      'decision=deny,reason=clearance_insufficient,category=lineage,method=GET': 1,
      'decision=deny,reason=nationality_not_allowed,category=catalogue,method=GET': 1,
      'decision=deny,reason=clearance_expired,category=catalogue,method=GET': 1,
      'decision=deny,reason=token_missing,category=catalogue,method=GET': 1,
      'decision=deny,reason=route_not_allowed,category=none,method=GET': 1,
      'decision=deny,reason=path_rejected,category=none,method=GET': 1,
      'decision=deny,reason=query_value_not_allowed,category=catalogue,method=GET': 1,
      'decision=deny,reason=method_not_allowed,category=catalogue,method=DELETE': 1,
      'decision=deny,reason=token_invalid,category=catalogue,method=GET': 1,
    });
    // every reason has a denials series from the start; exactly the nine that happened are 1
    expect(samples.filter((s) => s.name === 'metagate_denials_total').map((s) => s.labels.reason).sort()).toEqual([...DENY_REASONS].sort());
    expect(nonZero(samples, 'metagate_denials_total')).toEqual(
      Object.fromEntries(['clearance_insufficient', 'nationality_not_allowed', 'clearance_expired', 'token_missing', 'route_not_allowed', 'path_rejected', 'query_value_not_allowed', 'method_not_allowed', 'token_invalid'].map((r) => [`reason=${r}`, 1])),
    );
    // tokens: the first use of each is verified, later ones come from the cache; failures by reason
    expect(nonZero(samples, 'metagate_token_verifications_total')).toEqual({ 'result=verified': 4, 'result=cached': 2, 'result=token_missing': 1, 'result=token_invalid': 1 });
    expect(value(samples, 'metagate_request_duration_seconds_count', { decision: 'allow' })).toBe(3);
    expect(value(samples, 'metagate_request_duration_seconds_count', { decision: 'deny' })).toBe(9);
    for (const category of CATEGORIES) expect(value(samples, 'metagate_upstream_duration_seconds_count', { category }), category).toBe(1);
    expect(value(samples, 'metagate_upstream_duration_seconds_sum', { category: 'catalogue' })).toBeGreaterThan(0);
    // the store is asked only once the claims pass: three allowed requests
    expect(value(samples, 'metagate_store_check_duration_seconds_count')).toBe(3);
    expect(value(samples, 'metagate_store_errors_total')).toBe(0);
    expect(value(samples, 'metagate_store_up', { backend: 'memory' })).toBe(1);
    expect(nonZero(samples, 'metagate_upstream_errors_total')).toEqual({});
    expect(h.upstream.requests).toHaveLength(3);
    // one audit record per request, and the metric says so
    expect(value(samples, 'metagate_audit_records_total')).toBe(12);
    expect(h.audit.requestRecords()).toHaveLength(12);
    expect(value(samples, 'metagate_audit_write_failures_total')).toBe(0);
    expect(value(samples, 'metagate_audit_records_dropped_total')).toBe(0);
    expect(value(samples, 'metagate_audit_healthy')).toBe(1);
    // fields removed: the same counts the audit records carry, keyed by configured entry
    const fromAudit: Record<string, number> = {};
    for (const r of h.audit.requestRecords()) for (const [f, n] of Object.entries(r.metagate.fields_removed ?? {})) fromAudit[`field=${f}`] = (fromAudit[`field=${f}`] ?? 0) + n;
    expect(Object.keys(fromAudit).length).toBeGreaterThan(3);
    expect(nonZero(samples, 'metagate_filter_fields_removed_total')).toEqual(fromAudit);
    // keys, config and build
    expect(value(samples, 'metagate_jwks_refreshes_total', { result: 'success' })).toBe(1);
    expect(value(samples, 'metagate_jwks_refreshes_total', { result: 'failure' })).toBe(0);
    expect(value(samples, 'metagate_jwks_usable')).toBe(1);
    expect(Math.abs(value(samples, 'metagate_jwks_last_success_timestamp_seconds') - Date.now() / 1000)).toBeLessThan(60);
    expect(nonZero(samples, 'metagate_config_info')).toEqual({ [`hash=${h.runtime.hash}`]: 1 });
    expect(nonZero(samples, 'metagate_build_info')).toEqual({ [`version=${VERSION},node=${process.version}`]: 1 });
    expect(value(samples, 'metagate_config_reloads_total', { result: 'failure' })).toBe(0);
    expect(value(samples, 'metagate_kill_switch_active')).toBe(0);
    expect(value(samples, 'metagate_revocations_active')).toBe(0);
    // default process metrics, under the same prefix
    expect(value(samples, 'metagate_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(samples.some((s) => s.name === 'metagate_nodejs_eventloop_lag_seconds')).toBe(true);
  });

  test('kill switch, revocations, admin actions and reloads show on the next scrape', async () => {
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    expect((await request(h.adminUrl, '/admin/suspend', { method: 'POST', headers: admin, body: JSON.stringify({ reason: 'exercise' }) })).status).toBe(201);
    expect((await request(h.adminUrl, '/admin/revocations', { method: 'POST', headers: admin, body: JSON.stringify({ kind: 'subject', id: 'carl.smith@vendor.example', reason: 'left the vendor' }) })).status).toBe(201);
    const r = await request(h.vendorUrl, TABLE, { headers: { authorization: `Bearer ${await h.token('geheim')}` } });
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ code: 'access_suspended' });
    // the harness has no config file to reload from: the admin action fails
    expect((await request(h.adminUrl, '/admin/reload', { method: 'POST', headers: admin, body: '{}' })).status).toBe(422);
    // a reload that changes a start-only setting is refused; one that changes the policy is applied
    const gw = h.gateway.gateway;
    const cfg = baseConfig({ upstreamUrl: h.upstream.url, jwksUrl: h.jwks.url }) as Record<string, any>;
    const refused = await gw.reload(buildRuntime({ ...cfg, vendor: { ...cfg.vendor, maxPathLength: 1000 } }, { env: TEST_ENV, source: 'reload test' }));
    expect(refused.ok).toBe(false);
    const oldHash = gw.runtime.hash;
    cfg.policy.categories.usage.minClearance = 'STG_GEHEIM';
    const applied = await gw.reload(buildRuntime(cfg, { env: TEST_ENV, source: 'reload test' }));
    expect(applied.ok).toBe(true);
    expect(gw.runtime.hash).not.toBe(oldHash);
    let { samples } = await scrape(h);
    expect(value(samples, 'metagate_config_reloads_total', { result: 'failure' })).toBe(1);
    expect(value(samples, 'metagate_config_reloads_total', { result: 'success' })).toBe(1);
    expect(nonZero(samples, 'metagate_config_info')).toEqual({ [`hash=${gw.runtime.hash}`]: 1 });
    expect(value(samples, 'metagate_admin_actions_total', { action: 'reload', outcome: 'failure' })).toBe(1);
    expect(value(samples, 'metagate_kill_switch_active')).toBe(1);
    expect(value(samples, 'metagate_revocations_active')).toBe(1);
    expect(value(samples, 'metagate_denials_total', { reason: 'access_suspended' })).toBe(1);
    expect(value(samples, 'metagate_admin_actions_total', { action: 'suspend', outcome: 'success' })).toBe(1);
    expect(value(samples, 'metagate_admin_actions_total', { action: 'revoke', outcome: 'success' })).toBe(1);
    expect((await request(h.adminUrl, '/admin/resume', { method: 'POST', headers: admin, body: '{}' })).status).toBe(200);
    ({ samples } = await scrape(h));
    expect(value(samples, 'metagate_kill_switch_active')).toBe(0);
  });
});

describe('label values stay in closed sets whatever the attacker sends', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  test('the vendor listener serves no metrics, health or admin endpoint, and forwards nothing for them', async () => {
    const token = `Bearer ${await h.token('geheim')}`;
    for (const path of ['/metrics', '/healthz', '/readyz', '/admin/status', '/admin/revocations', '/admin/explain']) {
      const variants: Array<Record<string, string>> = [{}, { authorization: token }, { authorization: `Bearer ${ADMIN_TOKEN}` }];
      for (const headers of variants) {
        const r = await request(h.vendorUrl, path, { headers });
        expect(r.status, path).toBe(404);
        expect(r.json(), path).toMatchObject({ code: 'route_not_allowed' });
        expect(r.body).not.toContain('metagate_');
      }
    }
    const post = await request(h.vendorUrl, '/admin/suspend', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(post.status).toBe(404);
    expect(h.upstream.requests).toHaveLength(0);
    // …while the admin listener does serve them
    expect((await request(h.adminUrl, '/healthz')).status).toBe(200);
    expect((await request(h.adminUrl, '/readyz')).status).toBe(200);
  });

  test('after hostile paths, methods, subjects, query keys, headers and field names', async () => {
    const good = `Bearer ${await h.token('geheim')}`;
    const hostileClaims = [
      // signed by the IdP (so they reach the claim checks) but every value chosen by the attacker
      { sub: `${MARK}-sub"} 1\nmetagate_evil 1`, nationality: `${MARK}-NL`, clearance: `${MARK}-GEHEIM`, clearance_expires_at: '2999-01-01', org: `${MARK}-org` },
      { sub: `${MARK}-sub2`, nationality: 'NL', clearance: 'STG_GEHEIM', clearance_expires_at: '2999-01-01', org: `${MARK}-org` },
      { sub: `${MARK}-sub3`, nationality: ['NL', `${MARK}`], clearance: 'STG_GEHEIM', clearance_expires_at: '2999-01-01' },
      { sub: `${MARK}-sub4`, nationality: 'NL', clearance: `${MARK}`, clearance_expires_at: `${MARK}` },
    ];
    for (const claims of hostileClaims) {
      const t = `Bearer ${await h.token(claims)}`;
      await request(h.vendorUrl, TABLE, { headers: { authorization: t } });
      await request(h.vendorUrl, `/_metagate/whoami`, { headers: { authorization: t } });
    }
    const paths = [
      `/api/v1/${MARK}`,
      `/api/v1/tables/name/${MARK}.x`,
      `/api/v1/lineage/${MARK}/${DEMO_TABLE_ID}`,
      `/api/v1/tables/${DEMO_TABLE_ID}?${MARK}=1`,
      `/api/v1/tables/${DEMO_TABLE_ID}?fields=${MARK}`,
      `/api/v1/tables/name/${MARK}%22%7D`,
      `/${MARK}/../metrics`,
      `/${MARK}%2fmetrics`,
      `/${MARK};x=1`,
      `http://${MARK}.example/api/v1/tables`,
    ];
    for (const path of paths) {
      await request(h.vendorUrl, path, { headers: { authorization: good, [`x-${MARK}`]: MARK, cookie: `${MARK}=1` } });
    }
    for (const method of ['PROPFIND', 'PURGE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE']) {
      await request(h.vendorUrl, TABLE, { method, headers: { authorization: good } });
    }
    // methods the HTTP parser itself refuses, and garbage request lines
    for (const raw of [`FOO /${MARK} HTTP/1.1\r\nHost: x\r\n\r\n`, `get /${MARK} HTTP/1.1\r\nHost: x\r\n\r\n`, `${MARK}\r\n\r\n`, `GET /${MARK} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n`]) {
      const r = await rawExchange(h.vendorPort, raw, 300);
      expect(r.status).toBe(400);
    }
    // an upstream answer with attacker-chosen field names, next to data-bearing ones the filter removes
    h.upstream.setHandler((_req, res) => {
      const body = `{"id":"x","${MARK}":1,"profile":{"min":1},"nested":{"sampleData":[1],"${MARK}\\"}":2,"sql":"select"},"__proto__":{"${MARK}":1},"columns":[{"name":"c","profile":{"max":2},"${MARK}field":3}]}`;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    });
    const filtered = await request(h.vendorUrl, TABLE, { headers: { authorization: good } });
    expect(filtered.status).toBe(200);
    expect(filtered.body).not.toContain('"profile"');
    // and upstream failures of several kinds
    const failures: Array<[number, Record<string, string>, string, string]> = [
      [500, { 'content-type': 'application/json' }, `{"error":"${MARK}"}`, 'status_5xx'],
      [200, { 'content-type': `text/html; ${MARK}=1` }, `<p>${MARK}</p>`, 'not_json'],
      [200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, MARK, 'encoded'],
      [200, { 'content-type': 'application/json' }, `{"${MARK}":`, 'bad_json'],
      [302, { location: `http://${MARK}.example/` }, '', 'redirect'],
    ];
    for (const [status, headers, body, kind] of failures) {
      h.upstream.setHandler((_req, res) => res.writeHead(status, headers).end(body));
      const r = await request(h.vendorUrl, TABLE, { headers: { authorization: good } });
      expect(r.status, kind).toBe(502);
      expect(r.body).not.toContain(MARK);
    }
    h.upstream.setHandler(null);
    // the admin API with hostile values and a wrong token
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    await request(h.adminUrl, '/admin/revocations', { method: 'POST', headers: admin, body: JSON.stringify({ kind: 'subject', id: `${MARK}-id`, reason: MARK }) });
    await request(h.adminUrl, '/admin/revocations', { method: 'POST', headers: admin, body: JSON.stringify({ kind: MARK, id: MARK, reason: MARK }) });
    await request(h.adminUrl, `/admin/${MARK}`, { headers: { authorization: `Bearer ${MARK}` } });
    await request(h.adminUrl, '/admin/explain', { method: 'POST', headers: admin, body: JSON.stringify({ method: MARK, target: `/${MARK}` }) });

    const { text, samples } = await scrape(h);
    expect(text.toLowerCase().includes(MARK)).toBe(false);
    expect(text).not.toContain('metagate_evil');

    const filterEntries = new Set(filterFields(h.runtime));
    // the admin API's closed list of actions: the `AdminAction` union in src/admin/app.ts
    const adminSource = readFileSync(new URL('../../src/admin/app.ts', import.meta.url), 'utf8');
    const union = /export type AdminAction =([^;]+);/.exec(adminSource)?.[1] ?? '';
    const adminActions = new Set([...union.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]!));
    expect(adminActions.size).toBeGreaterThan(5);
    const oneOf = (values: Iterable<string>) => {
      const set = new Set(values);
      return (v: string) => set.has(v);
    };
    const le = (v: string) => v === '+Inf' || Number.isFinite(Number(v));
    const reason = oneOf([...DENY_REASONS, 'none']);
    // metric name (histogram suffixes folded) → label name → allowed values
    const closed: Record<string, Record<string, (v: string) => boolean>> = {
      metagate_requests_total: { decision: oneOf(['allow', 'deny']), reason, category: oneOf([...CATEGORIES, 'none']), method: oneOf(METHOD_LABELS) },
      metagate_denials_total: { reason: oneOf(DENY_REASONS) },
      metagate_request_duration_seconds: { decision: oneOf(['allow', 'deny']), le },
      metagate_upstream_duration_seconds: { category: oneOf(CATEGORIES), le },
      metagate_upstream_errors_total: { kind: oneOf(UPSTREAM_ERROR_KINDS) },
      metagate_jwks_refreshes_total: { result: oneOf(JWKS_REFRESH_RESULTS) },
      metagate_jwks_last_success_timestamp_seconds: {},
      metagate_jwks_usable: {},
      metagate_token_verifications_total: { result: oneOf(TOKEN_RESULTS) },
      metagate_store_up: { backend: oneOf(['memory', 'redis']) },
      metagate_store_check_duration_seconds: { le },
      metagate_store_errors_total: {},
      metagate_store_state_lost_total: {},
      metagate_answers_abandoned_total: {},
      metagate_unread_answers: {},
      metagate_unread_answer_bytes: {},
      metagate_kill_switch_active: {},
      metagate_suspension_windows_active: {},
      metagate_revocations_active: {},
      metagate_filter_fields_removed_total: { field: (v) => filterEntries.has(v) },
      metagate_audit_records_total: {},
      metagate_audit_write_failures_total: {},
      metagate_audit_records_dropped_total: {},
      metagate_audit_healthy: {},
      metagate_config_reloads_total: { result: oneOf(RELOAD_RESULTS) },
      metagate_config_info: { hash: oneOf([h.runtime.hash]) },
      metagate_admin_actions_total: { action: (v) => adminActions.has(v), outcome: oneOf(['success', 'failure']) },
      metagate_build_info: { version: oneOf([VERSION]), node: oneOf([process.version]) },
      // prom-client's default metrics: label values come from the runtime, never from a request
      metagate_nodejs_version_info: { version: oneOf([process.version]), major: oneOf([process.versions.node.split('.')[0]!]), minor: oneOf([process.versions.node.split('.')[1]!]), patch: oneOf([process.versions.node.split('.')[2]!]) },
      metagate_nodejs_gc_duration_seconds: { kind: oneOf(['major', 'minor', 'incremental', 'weakcb']), le },
      metagate_nodejs_heap_space_size_total_bytes: { space: (v) => /^[a-z_]+$/.test(v) },
      metagate_nodejs_heap_space_size_used_bytes: { space: (v) => /^[a-z_]+$/.test(v) },
      metagate_nodejs_heap_space_size_available_bytes: { space: (v) => /^[a-z_]+$/.test(v) },
      metagate_nodejs_active_resources: { type: (v) => /^[A-Za-z]+$/.test(v) },
      metagate_nodejs_active_handles: { type: (v) => /^[A-Za-z]+$/.test(v) },
      metagate_nodejs_active_requests: { type: (v) => /^[A-Za-z]+$/.test(v) },
    };
    const seen = new Set<string>();
    for (const s of samples) {
      expect(s.name.startsWith('metagate_'), s.name).toBe(true);
      const family = s.name.replace(/_(bucket|sum|count)$/, '');
      const spec = closed[family] ?? closed[s.name] ?? (/^metagate_(process|nodejs)_/.test(s.name) ? {} : undefined);
      expect(spec, `${s.name} has no closed label set in this test: add one`).toBeDefined();
      seen.add(closed[family] ? family : s.name);
      for (const [k, v] of Object.entries(s.labels)) {
        const ok = spec![k];
        expect(ok, `${s.name}: unexpected label ${k}`).toBeDefined();
        expect(ok!(v), `${s.name}{${k}="${v}"}`).toBe(true);
      }
    }
    // the hostile traffic did produce the series this test is about
    for (const name of ['metagate_requests_total', 'metagate_filter_fields_removed_total', 'metagate_admin_actions_total', 'metagate_upstream_errors_total']) expect(seen.has(name), name).toBe(true);
    expect(value(samples, 'metagate_requests_total', { decision: 'deny', reason: 'request_rejected', category: 'none', method: 'OTHER' })).toBe(4);
    expect(samples.some((s) => s.name === 'metagate_requests_total' && s.labels.method === 'OTHER' && s.labels.reason !== 'request_rejected')).toBe(true);
    expect(nonZero(samples, 'metagate_upstream_errors_total')).toEqual({ 'kind=status_5xx': 1, 'kind=not_json': 1, 'kind=encoded': 1, 'kind=bad_json': 1, 'kind=redirect': 1 });
    // the hostile field names were dropped by the filter or passed through, but never counted
    expect(value(samples, 'metagate_filter_fields_removed_total', { field: 'profile' })).toBeGreaterThanOrEqual(2);
    expect(value(samples, 'metagate_filter_fields_removed_total', { field: 'sampleData' })).toBeGreaterThanOrEqual(1);
  });
});

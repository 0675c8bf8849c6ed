// Golden fixtures through the whole gateway: every manifest entry is served by the upstream, fetched by a vendor
// with a valid STG_GEHEIM token, and must arrive without a single canary, with every keep-path intact, and with an
// audit record that counts the removals under the filter's configured entries.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';
import { request, type SimpleResponse } from '../helpers/http.js';
import type { RequestAuditRecord } from '../../src/observability/audit.js';
import { getPath } from '../helpers/json.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(HERE, '..', 'fixtures');

interface ManifestEntry {
  file: string;
  profile: 'openmetadata' | 'marquez';
  ruleId: string;
  path: string;
  canaries: Array<string | number>;
  keep: Array<[string, unknown]>;
}

const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as ManifestEntry[];
const fixtureText = (file: string): string => readFileSync(join(FIXTURES, file), 'utf8');

/** Required (and a few realistic optional) query parameters for the rules whose manifest path has none. */
const QUERY_FOR_RULE: Readonly<Record<string, string>> = {
  'om.lineage.search': 'fqn=demo_mysql.shop.sales.customers&upstreamDepth=2&downstreamDepth=1',
  'om.lineage.byId': 'upstreamDepth=1&downstreamDepth=1',
  'om.usage.byId': 'days=7',
  'mq.lineage.get': 'nodeId=dataset:food_delivery:public.orders&depth=2',
  'mq.columnLineage.get': 'nodeId=datasetField:food_delivery:public.orders:order_total&depth=2&withDownstream=true',
  'mq.search': 'q=orders&filter=DATASET&limit=10',
  'mq.stats.lineageEvents': 'period=DAY&timezone=Europe/Amsterdam',
  'mq.stats.datasets': 'period=WEEK',
  'mq.datasets.list': 'limit=10&offset=0',
  'mq.namespaces.list': 'limit=10',
};

// ---------------------------------------------------------------- JSON helpers (independent of the gateway)

/** Canaries present in a parsed value: strings as substrings of any key or string, numbers as equal numbers. */
function canariesIn(value: unknown, canaries: ReadonlyArray<string | number>): Array<string | number> {
  const strings: string[] = [];
  const numbers: number[] = [];
  const collect = (v: unknown): void => {
    if (typeof v === 'string') strings.push(v);
    else if (typeof v === 'number') numbers.push(v);
    else if (Array.isArray(v)) v.forEach(collect);
    else if (v !== null && typeof v === 'object') {
      for (const [k, c] of Object.entries(v)) {
        strings.push(k);
        collect(c);
      }
    }
  };
  collect(value);
  return canaries.filter((c) => (typeof c === 'string' ? strings.some((s) => s.includes(c)) : numbers.includes(c)));
}

/** A number's JSON spelling, searched for in the raw body as a whole token (not as part of a longer number). */
function numberTokenIn(body: string, n: number): boolean {
  const spelled = JSON.stringify(n).replace(/[.+]/g, '\\$&');
  return new RegExp(`(^|[^0-9.eE+-])-?${spelled}($|[^0-9.eE])`).test(body);
}

interface FilterYaml {
  mode: 'deny' | 'allow';
  fields: string[];
}

/** Reference removal counts (what the audit record must say), computed without the gateway's filter engine. */
function expectedCounts(filter: FilterYaml, value: unknown): Record<string, number> {
  const counts: Record<string, number> = {};
  const bump = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  if (filter.mode === 'deny') {
    const anywhere = new Set(filter.fields.filter((f) => !f.includes('.')));
    const scoped = filter.fields.filter((f) => f.includes('.'));
    const walk = (v: unknown, parent: string | null): void => {
      if (Array.isArray(v)) return v.forEach((x) => walk(x, parent));
      if (v === null || typeof v !== 'object') return;
      for (const [k, c] of Object.entries(v as Record<string, unknown>)) {
        if (anywhere.has(k)) bump(k);
        else if (parent !== null && scoped.includes(`${parent}.${k}`)) bump(`${parent}.${k}`);
        else walk(c, k);
      }
    };
    walk(value, null);
    return counts;
  }
  // allow mode: every key not on a listed path counts once as _unlisted (its subtree is not visited)
  const listed = new Set<string>();
  for (const f of filter.fields) {
    const parts = f.replace(/\[\]/g, '').split('.');
    for (let i = 1; i <= parts.length; i++) listed.add(parts.slice(0, i).join('.'));
  }
  const walk = (v: unknown, at: string): void => {
    if (Array.isArray(v)) return v.forEach((x) => walk(x, at));
    if (v === null || typeof v !== 'object') return;
    for (const [k, c] of Object.entries(v as Record<string, unknown>)) {
      const p = at ? `${at}.${k}` : k;
      if (!listed.has(p)) bump('_unlisted');
      else walk(c, p);
    }
  };
  walk(value, '');
  return counts;
}

// ---------------------------------------------------------------- the gateway, once per profile

const harnesses = new Map<string, Harness>();
const tokens = new Map<string, string>();

beforeAll(async () => {
  for (const profile of new Set(manifest.map((e) => e.profile))) {
    const h = await startHarness({
      configure: (cfg) => {
        cfg.routes.profiles = [profile];
      },
    });
    harnesses.set(profile, h);
    tokens.set(profile, await h.token('geheim'));
  }
});

afterAll(async () => {
  for (const h of harnesses.values()) await h.close();
});

/** Serve `body` for exactly `expectedPath` (anything else is a 599 so a wrong forward shows up as a failure). */
function serveFixture(h: Harness, expectedPath: string, body: string): void {
  h.upstream.setHandler((req, res) => {
    if ((req.url ?? '').split('?')[0] !== expectedPath) {
      res.writeHead(599, { 'content-type': 'text/plain' }).end('unexpected path');
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      server: 'upstream-golden/9.9',
      'set-cookie': 'JSESSIONID=golden-secret-cookie; Path=/',
      etag: '"golden-etag-1"',
    });
    res.end(body);
  });
}

async function fetchThroughGateway(entry: ManifestEntry): Promise<{ res: SimpleResponse; record: RequestAuditRecord; h: Harness }> {
  const h = harnesses.get(entry.profile)!;
  serveFixture(h, entry.path, fixtureText(entry.file));
  const query = QUERY_FOR_RULE[entry.ruleId];
  const target = query ? `${entry.path}?${query}` : entry.path;
  const before = h.upstream.requests.length;
  const res = await request(h.vendorUrl, target, { headers: { authorization: `Bearer ${tokens.get(entry.profile)!}` } });
  expect(h.upstream.requests.length, 'exactly one upstream request').toBe(before + 1);
  const requestId = h.upstream.requests[before]!.headers['x-request-id'];
  // the record is written when the response has finished on the server side: wait for it briefly
  let record: RequestAuditRecord | undefined;
  for (let i = 0; i < 200 && !record; i++) {
    record = h.audit.requestRecords().find((r) => r.http.request.id === requestId);
    if (!record) await new Promise((r) => setTimeout(r, 5));
  }
  expect(record, `audit record for ${target}`).toBeDefined();
  return { res, record: record!, h };
}

describe('golden fixtures through the gateway', () => {
  it('covers every manifest entry with a usable request (required query parameters supplied)', () => {
    for (const entry of manifest) {
      const h = harnesses.get(entry.profile)!;
      const rule = h.runtime.routes.rules.find((r) => r.id === entry.ruleId);
      expect(rule, entry.ruleId).toBeDefined();
      const query = new URLSearchParams(QUERY_FOR_RULE[entry.ruleId] ?? '');
      for (const key of rule!.requiredQuery) expect(query.has(key), `${entry.ruleId} needs ${key}`).toBe(true);
    }
  });

  it.each(manifest.map((e) => [e.file, e] as const))('%s', async (_file, entry) => {
    const { res, record, h } = await fetchThroughGateway(entry);
    expect(res.status, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.headers['server']).toBeUndefined();
    expect(res.headers['etag']).toBe('"golden-etag-1"');

    // no canary anywhere: not in the raw text, not as a parsed value
    for (const c of entry.canaries) {
      if (typeof c === 'string') expect(res.body.includes(c), `${c} in body`).toBe(false);
      else expect(numberTokenIn(res.body, c), `${c} in body`).toBe(false);
    }
    const parsed = res.json<unknown>();
    expect(canariesIn(parsed, entry.canaries)).toEqual([]);
    expect(res.body).not.toMatch(/CANARY-/);

    // every keep path survives with its value
    for (const [path, expected] of entry.keep) expect(getPath(parsed, path), `keep ${path}`).toEqual(expected);

    // the audit record: allowed, the rule, and removal counts keyed by configured entries only
    const rule = h.runtime.routes.rules.find((r) => r.id === entry.ruleId)!;
    expect(record.metagate.decision).toBe('allow');
    expect(record.metagate.rule).toBe(entry.ruleId);
    expect(record.http.response.status_code).toBe(200);
    expect(record.metagate.upstream_status).toBe(200);
    expect(record.metagate.response_bytes).toBe(Buffer.byteLength(res.body));
    const removed = record.metagate.fields_removed ?? {};
    for (const [key, n] of Object.entries(removed)) {
      expect(rule.filter.entries, `fields_removed key ${key}`).toContain(key);
      expect(Number.isInteger(n) && n > 0, `count of ${key}`).toBe(true);
    }
    const filterCfg = { mode: rule.filter.mode, fields: rule.filter.entries.filter((e) => e !== '_unlisted') };
    expect(removed).toEqual(expectedCounts(filterCfg, JSON.parse(fixtureText(entry.file))));
    if (entry.canaries.length > 0) expect(Object.keys(removed).length, 'something was removed').toBeGreaterThan(0);
  });
});

describe('golden fixtures: specific data-bearing spots', () => {
  const entry = (file: string) => manifest.find((e) => e.file === file)!;

  it('Marquez lineage: the job node keeps its metadata but loses data.latestRun (args, errorMessage.stackTrace)', async () => {
    const e = entry('marquez/lineage.json');
    const raw = JSON.parse(fixtureText(e.file)) as { graph: Array<{ type: string; data: Record<string, any> }> };
    const job = raw.graph.find((n) => n.type === 'JOB')!;
    expect(job.data['latestRun'].facets.errorMessage.stackTrace).toContain('CANARY-MQ-LINEAGE-STACKTRACE-01');

    const { res, record } = await fetchThroughGateway(e);
    expect(res.status).toBe(200);
    const out = res.json<{ graph: Array<{ type: string; data: Record<string, unknown> }> }>();
    const outJob = out.graph.find((n) => n.type === 'JOB')!;
    expect(outJob.data['latestRun']).toBeUndefined();
    expect(outJob.data['name']).toBe('etl_orders');
    expect(res.body).not.toContain('stackTrace');
    expect(res.body).not.toContain('CANARY-MQ-LINEAGE-STACKTRACE-01');
    expect(record.metagate.fields_removed?.['latestRun']).toBeGreaterThanOrEqual(1);
  });

  it('Marquez dataset: dataSource.uri goes, dataSource.name stays; facets with metrics go', async () => {
    const { res, record } = await fetchThroughGateway(entry('marquez/dataset.json'));
    const out = res.json<{ facets: Record<string, Record<string, unknown>> }>();
    expect(out.facets['dataSource']).toBeDefined();
    expect(out.facets['dataSource']!['uri']).toBeUndefined();
    expect(out.facets['dataSource']!['name']).toBe('analytics_db');
    expect(out.facets['dataQualityMetrics']).toBeUndefined();
    expect(record.metagate.fields_removed?.['dataSource.uri']).toBe(1);
  });

  it('Marquez job: sql, sourceCode, latestRun go; sourceCodeLocation (a pointer) stays', async () => {
    const { res } = await fetchThroughGateway(entry('marquez/job.json'));
    const out = res.json<{ facets: Record<string, unknown> }>();
    expect(out.facets['sql']).toBeUndefined();
    expect(out.facets['sourceCode']).toBeUndefined();
    expect(out.facets['sourceCodeLocation']).toBeDefined();
    expect(res.body).not.toMatch(/CANARY-MQ-(JOBSQL|SOURCECODE|RUNARG|ERRORMSG|STACKTRACE)/);
  });

  it('OpenMetadata table: sample rows, column profiles, profiler config and SQL all go; columns stay', async () => {
    const { res, record } = await fetchThroughGateway(entry('openmetadata/table.json'));
    const out = res.json<Record<string, unknown> & { columns: Array<Record<string, unknown>> }>();
    for (const k of ['sampleData', 'profile', 'tableProfilerConfig', 'customMetrics', 'schemaDefinition', 'viewDefinition']) expect(out[k], k).toBeUndefined();
    for (const col of out.columns) expect(col['profile']).toBeUndefined();
    expect(out.columns.length).toBeGreaterThan(2);
    expect(record.metagate.fields_removed?.['sampleData']).toBe(1);
    expect(record.metagate.fields_removed?.['profile']).toBeGreaterThanOrEqual(2);
  });

  it('OpenMetadata database schema: a profiler config with sample-data storage credentials is stripped', async () => {
    const h = harnesses.get('openmetadata')!;
    const id = '5b0c1f6e-7a34-4d0e-9b61-2f2d3c4e5a6b';
    const path = `/api/v1/databaseSchemas/${id}`;
    const body = {
      id,
      name: 'sales',
      fullyQualifiedName: 'demo_mysql.shop.sales',
      databaseSchemaProfilerConfig: {
        profileSample: 10,
        sampleDataCount: 50,
        sampleDataStorageConfig: { config: { bucketName: 'CANARY-OM-SAMPLESTORE-BUCKET', storageConfig: { awsSecretAccessKey: 'CANARY-OM-SAMPLESTORE-KEY' } } },
      },
      database: { id: 'a1b2c3d4-0000-4000-8000-000000000001', type: 'database', databaseProfilerConfig: { profileSample: 5 } },
    };
    serveFixture(h, path, JSON.stringify(body));
    const res = await request(h.vendorUrl, path, { headers: { authorization: `Bearer ${tokens.get('openmetadata')!}` } });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ id, name: 'sales', fullyQualifiedName: 'demo_mysql.shop.sales', database: { id: 'a1b2c3d4-0000-4000-8000-000000000001', type: 'database' } });
    expect(res.body).not.toMatch(/CANARY|ProfilerConfig/);
  });

  it('OpenMetadata table versions list: only entityType survives (versions are JSON strings)', async () => {
    const { res, record } = await fetchThroughGateway(entry('openmetadata/table-versions.json'));
    expect(res.json()).toEqual({ entityType: 'table' });
    expect(record.metagate.fields_removed).toEqual({ _unlisted: 1 });
  });
});

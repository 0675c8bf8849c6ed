// Golden fixtures through the whole gateway: every manifest entry is served by the upstream, fetched by a vendor
// with a valid STG_GEHEIM token, and must arrive without a single canary, with every keep-path intact, every gone-path
// absent (for Marquez: no facets object anywhere), and with an audit record that counts the removals under the
// filter's configured entries.

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
  gone?: string[];
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

/** Paths of every key named facets, inputFacets or outputFacets, in any case (the Marquez profile strips them all). */
function facetKeys(v: unknown, at = '$'): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => facetKeys(x, `${at}[${i}]`));
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, c]) => [...(/^(input|output)?facets$/i.test(k) ? [`${at}.${k}`] : []), ...facetKeys(c, `${at}.${k}`)]);
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

/**
 * Reference removal counts (what the audit record must say), computed without the gateway's filter engine. Deny
 * entries match key names regardless of ASCII case and count under the entry as configured.
 */
function expectedCounts(filter: FilterYaml, value: unknown): Record<string, number> {
  const counts: Record<string, number> = {};
  const bump = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  if (filter.mode === 'deny') {
    const fold = (s: string): string => s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
    const anywhere = new Map(filter.fields.filter((f) => !f.includes('.')).map((f) => [fold(f), f]));
    const scoped = new Map(filter.fields.filter((f) => f.includes('.')).map((f) => [fold(f), f]));
    const walk = (v: unknown, parent: string | null): void => {
      if (Array.isArray(v)) return v.forEach((x) => walk(x, parent));
      if (v === null || typeof v !== 'object') return;
      for (const [k, c] of Object.entries(v as Record<string, unknown>)) {
        const entry = anywhere.get(fold(k)) ?? (parent !== null ? scoped.get(`${fold(parent)}.${fold(k)}`) : undefined);
        if (entry !== undefined) bump(entry);
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
    // the platform's validator describes its unfiltered answer: it never reaches the vendor (F51)
    expect(res.headers['etag']).toBeUndefined();

    // no canary anywhere: not in the raw text, not as a parsed value
    for (const c of entry.canaries) {
      if (typeof c === 'string') expect(res.body.includes(c), `${c} in body`).toBe(false);
      else expect(numberTokenIn(res.body, c), `${c} in body`).toBe(false);
    }
    const parsed = res.json<unknown>();
    expect(canariesIn(parsed, entry.canaries)).toEqual([]);
    expect(res.body).not.toMatch(/CANARY-/);

    // every keep path survives with its value; every gone path is absent
    for (const [path, expected] of entry.keep) expect(getPath(parsed, path), `keep ${path}`).toEqual(expected);
    for (const path of entry.gone ?? []) expect(getPath(parsed, path), `gone ${path}`).toBeUndefined();
    // DESIGN §5: no Marquez query parameter turns facets off, so the gateway strips every one of them
    if (entry.profile === 'marquez') expect(facetKeys(parsed), 'facets objects left').toEqual([]);

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

  // This test used to assert that dataSource.name, schema and documentation facets were kept and only the known
  // data-bearing facets (dataSource.uri, dataQualityMetrics, ...) went. DESIGN §5 says no query parameter turns facets
  // off and the gateway must strip them: facets are an open set (spark.logicalPlan carries literals, vendors add their
  // own), so now the whole facets object goes — including the dataset's field-level facets. The same metadata stays
  // outside facets: sourceName, the top-level `fields` schema, tags, description.
  it('Marquez dataset: every facet goes (standard, Spark, vendor, field-level); names, schema, tags and description stay', async () => {
    const { res, record } = await fetchThroughGateway(entry('marquez/dataset.json'));
    const out = res.json<Record<string, unknown> & { fields: Array<Record<string, unknown>> }>();
    expect(out['facets']).toBeUndefined();
    for (const f of out.fields) expect(f['facets']).toBeUndefined();
    expect(res.body).not.toMatch(/spark\.logicalPlan|acme_|_schemaURL|_producer/);
    expect(out['sourceName']).toBe('analytics_db');
    expect(out.fields.map((f) => [f['name'], f['type']])).toEqual([
      ['order_id', 'INTEGER'],
      ['customer_email', 'VARCHAR'],
      ['order_total', 'DECIMAL'],
    ]);
    expect(out['tags']).toEqual(['PII']);
    expect(out['description']).toBe('All delivery orders.');
    // the facets object is removed whole (its dataSource.uri is never reached) and counted as `facets`
    expect(record.metagate.fields_removed).toEqual({ facets: 2, transformationDescription: 1 });
  });

  // This test used to assert that the sourceCodeLocation facet (a pointer) was kept. It goes with every other facet
  // now (DESIGN §5); the job's own `location` carries the same pointer and stays.
  it('Marquez job: every facet goes (sql, sourceCode, environment-properties, vendor facets), and the runs; inputs, outputs and location stay', async () => {
    const { res, record } = await fetchThroughGateway(entry('marquez/job.json'));
    const out = res.json<Record<string, unknown>>();
    for (const k of ['facets', 'latestRun', 'latestRuns', 'context']) expect(out[k], k).toBeUndefined();
    expect(res.body).not.toMatch(/CANARY-MQ-(JOBSQL|SOURCECODE|RUNARG|ERRORMSG|STACKTRACE|ENVPROP|CUSTOMFACET)/);
    expect(res.body).not.toMatch(/environment-properties|sourceCodeLocation/);
    expect(out['inputs']).toEqual([{ namespace: 'food_delivery', name: 'public.order_lines' }]);
    expect(out['outputs']).toEqual([{ namespace: 'food_delivery', name: 'public.orders' }]);
    expect(out['location']).toBe('https://git.internal/data/etl/blob/main/dags/etl_orders.py');
    expect(record.metagate.fields_removed).toEqual({ facets: 1, latestRun: 1, latestRuns: 1, context: 1 });
  });

  it('Marquez lineage: node data facets go; every node, edge, name and schema field stays', async () => {
    const e = entry('marquez/lineage.json');
    const raw = JSON.parse(fixtureText(e.file)) as { graph: Array<{ id: string; inEdges: unknown[]; outEdges: unknown[]; data: Record<string, unknown> }> };
    const { res } = await fetchThroughGateway(e);
    const out = res.json<typeof raw>();
    expect(out.graph.map((n) => n.id)).toEqual(raw.graph.map((n) => n.id));
    out.graph.forEach((n, i) => {
      expect(n.inEdges).toEqual(raw.graph[i]!.inEdges);
      expect(n.outEdges).toEqual(raw.graph[i]!.outEdges);
      expect(n.data['facets']).toBeUndefined();
      expect(n.data['name']).toBe(raw.graph[i]!.data['name']);
      expect(n.data['namespace']).toBe('food_delivery');
    });
    expect(out.graph[2]!.data['fields']).toEqual(raw.graph[2]!.data['fields']);
    expect(res.body).not.toMatch(/CANARY-MQ-LINEAGE-(NODEFACET|JOBSQL)/);
  });

  it('Marquez: facets in another case and OpenLineage inputFacets/outputFacets are stripped too (deny matching ignores case)', async () => {
    const h = harnesses.get('marquez')!;
    const path = '/api/v1/namespaces/food_delivery/jobs/etl_cased';
    const body = {
      id: { namespace: 'food_delivery', name: 'etl_cased' },
      name: 'etl_cased',
      namespace: 'food_delivery',
      Facets: { sql: { query: 'CANARY-MQ-CASED-FACETS-01' } },
      FACETS: { custom: 'CANARY-MQ-CASED-FACETS-02' },
      inputs: [{ namespace: 'food_delivery', name: 'public.order_lines', inputFacets: { dataQualityMetrics: { rowCount: 'CANARY-MQ-INPUTFACETS-01' } } }],
      outputs: [{ namespace: 'food_delivery', name: 'public.orders', OutputFacets: { outputStatistics: { rowCount: 'CANARY-MQ-OUTPUTFACETS-01' } } }],
      LatestRun: { Args: { a: 'CANARY-MQ-CASED-RUNARG-01' } },
      description: 'cased',
    };
    serveFixture(h, path, JSON.stringify(body));
    const res = await request(h.vendorUrl, path, { headers: { authorization: `Bearer ${tokens.get('marquez')!}` } });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({
      id: { namespace: 'food_delivery', name: 'etl_cased' },
      name: 'etl_cased',
      namespace: 'food_delivery',
      inputs: [{ namespace: 'food_delivery', name: 'public.order_lines' }],
      outputs: [{ namespace: 'food_delivery', name: 'public.orders' }],
      description: 'cased',
    });
    expect(res.body).not.toMatch(/CANARY/);
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

// Response leaks found by the black-box review of session 9 (DESIGN §6.7): values derived from data that ride along
// in metadata answers under a name of their own, through the shipped OpenMetadata profile.

import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness, type UpstreamHandler } from '../helpers/harness.js';
import { request } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';
import type { RequestAuditRecord } from '../../src/observability/audit.js';
import { recordCases } from './summary.js';

const TABLE_ID = 'c019434d-4146-4bc8-9c53-d0c56cdd7ac9';

let h: Harness;
let token: string;

beforeAll(async () => {
  h = await startHarness();
  token = await h.token('geheim');
});

afterAll(async () => {
  h.upstream.setHandler(null);
  await h.close();
});

afterEach(() => {
  recordCases('7 response leaks', 1);
});

async function get(path: string, handler: UpstreamHandler | null = null): Promise<{ status: number; body: string; headers: Record<string, unknown>; record: RequestAuditRecord; forwarded: number }> {
  h.upstream.setHandler(handler);
  const before = h.upstream.requests.length;
  const res = await request(h.vendorUrl, path, { headers: { authorization: `Bearer ${token}` } });
  const forwarded = h.upstream.requests.length - before;
  const id = forwarded > 0 ? String(h.upstream.requests[before]!.headers['x-request-id']) : (JSON.parse(res.body) as { request_id: string }).request_id;
  const record = await waitFor(() => h.audit.requestRecords().find((r) => r.http.request.id === id));
  return { status: res.status, body: res.body, headers: res.headers, record, forwarded };
}

// ------------------------------------------------------------------------------------------------ F80 sourceHash

/**
 * OpenMetadata's ingestion stores `sourceHash` = MD5 of the entity's create request, normalised and serialised with
 * sorted keys (ingestion/src/metadata/ingestion/models/custom_pydantic... source_hash.py: generate_source_hash). The
 * request holds the view's or table's `schemaDefinition` (the DDL the filter removes) next to fields every vendor
 * reads (name, columns, description, …), so the hash lets a vendor test guesses of the removed SQL offline — the ETag
 * leak of F51 under a field name of its own.
 */
function createRequestHash(schemaDefinition: string): string {
  const createRequest = {
    columns: [{ dataType: 'VARCHAR', name: 'country' }, { dataType: 'INT', name: 'id' }],
    databaseSchema: 'warehouse.sales.public',
    name: 'customers_nl',
    schemaDefinition,
    tableType: 'View',
  };
  return createHash('md5').update(JSON.stringify(createRequest)).digest('hex');
}

const secretDdl = (literal: string) => `CREATE VIEW customers_nl AS SELECT id, country FROM customers WHERE account_manager = '${literal}'`;

/** The table as OpenMetadata answers it: with its sourceHash (asked for with fields=sourceHash, or as a base field). */
const platformTable =
  (literal: string): UpstreamHandler =>
  (_req, res) => {
    const body = JSON.stringify({
      id: TABLE_ID,
      name: 'customers_nl',
      tableType: 'View',
      columns: [{ name: 'id', dataType: 'INT' }, { name: 'country', dataType: 'VARCHAR' }],
      schemaDefinition: secretDdl(literal),
      sourceHash: createRequestHash(secretDdl(literal)),
      version: 0.2,
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  };

/** The search-lineage answer: each node is the entity's search document, which carries the stored sourceHash too. */
const platformLineage =
  (literal: string): UpstreamHandler =>
  (_req, res) => {
    const doc = { id: TABLE_ID, name: 'customers_nl', entityType: 'table', fullyQualifiedName: 'warehouse.sales.public.customers_nl', sourceHash: createRequestHash(secretDdl(literal)) };
    const body = JSON.stringify({ nodes: { 'warehouse.sales.public.customers_nl': { entity: doc, nodeDepth: 0 } }, upstreamEdges: {}, downstreamEdges: {} });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  };

describe('F80: OpenMetadata sourceHash (an MD5 over the create request, removed DDL included)', () => {
  it('the rules that take fields= are the ones expected (the table below covers each)', () => {
    const withFields = h.runtime.routes.rules.filter((r) => r.query.has('fields')).map((r) => r.id);
    expect(withFields.length).toBeGreaterThanOrEqual(30);
  });

  it('fields=sourceHash is refused on every rule that takes fields=, and never reaches the platform', async () => {
    const rules = h.runtime.routes.rules.filter((r) => r.query.has('fields'));
    for (const rule of rules) {
      const path = rule.path.replace(/\{[a-z]+:uuid\}/gi, TABLE_ID).replace(/\{[a-z]+:fqn\}/gi, 'warehouse.sales.public.customers_nl');
      for (const fields of ['sourceHash', 'columns,sourceHash']) {
        const r = await get(`${path}?fields=${fields}`, platformTable('jansen'));
        expect(r.status, `${rule.id} fields=${fields}: ${r.body}`).toBe(403);
        expect(JSON.parse(r.body).code).toBe('query_value_not_allowed');
        expect(r.forwarded, rule.id).toBe(0);
      }
    }
  });

  it.each<[string, string, (literal: string) => UpstreamHandler]>([
    ['a table that carries sourceHash as a base field', `/api/v1/tables/${TABLE_ID}?fields=columns`, platformTable],
    ['search-lineage nodes (search documents)', '/api/v1/lineage/getLineage?fqn=warehouse.sales.public.customers_nl&upstreamDepth=1', platformLineage],
  ])('%s: stripped, so a guess of the removed DDL cannot be tested against it', async (_d, path, answer) => {
    const a = await get(path, answer('jansen'));
    const b = await get(path, answer('de-vries'));
    expect(a.status, a.body).toBe(200);
    expect(b.status, b.body).toBe(200);
    // the attack: hash each guess as the platform does and compare with what the vendor was sent
    const sent = JSON.stringify(JSON.parse(a.body));
    const recovered = ['bakker', 'jansen', 'de-vries', 'visser'].find((g) => sent.includes(createRequestHash(secretDdl(g))));
    expect(recovered, 'a removed literal recovered from the hash').toBeUndefined();
    expect(a.body.includes('sourceHash')).toBe(false);
    expect(a.body.includes('schemaDefinition')).toBe(false);
    // two answers that differ only in removed values reach the vendor byte for byte the same (as F51 asks)
    expect(b.body).toBe(a.body);
    expect(a.record.metagate.decision).toBe('allow');
    expect(a.record.metagate.fields_removed?.sourceHash).toBe(1);
  });
});

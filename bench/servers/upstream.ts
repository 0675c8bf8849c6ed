// Benchmark upstream: a fake metadata API answering a fixed JSON table (≈2.8 KB by default) or /size/<bytes>.

import http from 'node:http';

const port = Number(process.argv[2] ?? 0);

/** OpenMetadata links every entity and reference by an absolute href on its own address (metagate hides it). */
const ORIGIN = 'http://openmetadata.internal:8585';

function table(i: number): Record<string, unknown> {
  const id = `c019434d-4146-4bc8-9c53-d0c56cdd7a${String(i % 100).padStart(2, '0')}`;
  return {
    id,
    href: `${ORIGIN}/api/v1/tables/${id}`,
    name: `customers_${i}`,
    fullyQualifiedName: `demo_mysql.shop.sales.customers_${i}`,
    description: 'One row per registered customer of the web shop.',
    version: 0.3,
    updatedAt: 1733040000000,
    tableType: 'Regular',
    columns: [
      { name: 'customer_id', dataType: 'BIGINT', description: 'Surrogate key.', ordinalPosition: 1, tags: [] },
      { name: 'email', dataType: 'VARCHAR', dataLength: 255, description: 'Contact address.', ordinalPosition: 2, tags: [{ tagFQN: 'PII.Sensitive' }] },
      { name: 'created_at', dataType: 'TIMESTAMP', description: 'Registration time.', ordinalPosition: 3, tags: [] },
      { name: 'country_code', dataType: 'CHAR', dataLength: 2, description: 'ISO 3166-1 alpha-2 country of residence.', ordinalPosition: 4, tags: [] },
      { name: 'segment', dataType: 'VARCHAR', dataLength: 32, description: 'Marketing segment assigned by the CRM.', ordinalPosition: 5, tags: [{ tagFQN: 'Tier.Tier3' }] },
      { name: 'lifetime_value', dataType: 'DECIMAL', precision: 12, scale: 2, description: 'Sum of paid orders, EUR.', ordinalPosition: 6, tags: [] },
      { name: 'last_login_at', dataType: 'TIMESTAMP', description: 'Most recent successful login.', ordinalPosition: 7, tags: [] },
      { name: 'is_active', dataType: 'BOOLEAN', description: 'False once the account is closed.', ordinalPosition: 8, tags: [] },
      { name: 'preferred_language', dataType: 'VARCHAR', dataLength: 8, description: 'BCP 47 language tag chosen by the customer.', ordinalPosition: 9, tags: [] },
      { name: 'referrer_id', dataType: 'BIGINT', description: 'Customer who referred this one, if any.', ordinalPosition: 10, tags: [] },
      { name: 'updated_at', dataType: 'TIMESTAMP', description: 'Last change to any column of this row.', ordinalPosition: 11, tags: [] },
    ],
    followers: [],
    service: { id: '0b7d9a6e-3c2f-4e1d-8a5b-6c7d8e9f0a1b', type: 'databaseService', name: 'demo_mysql', href: `${ORIGIN}/api/v1/services/databaseServices/0b7d9a6e-3c2f-4e1d-8a5b-6c7d8e9f0a1b` },
    database: { id: '1c8e0b7f-4d3a-4f2e-9b6c-7d8e9f0a1b2c', type: 'database', name: 'shop', href: `${ORIGIN}/api/v1/databases/1c8e0b7f-4d3a-4f2e-9b6c-7d8e9f0a1b2c` },
    usageSummary: { dailyStats: { count: 42, percentileRank: 71.5 }, weeklyStats: { count: 301, percentileRank: 68.2 }, date: '2026-11-30' },
    owners: [{ id: '7e3a1b44-0b6c-4f5e-9d1f-2a6c0b8d9e01', type: 'team', name: 'sales-data', href: `${ORIGIN}/api/v1/teams/7e3a1b44-0b6c-4f5e-9d1f-2a6c0b8d9e01` }],
    tags: [{ tagFQN: 'Tier.Tier2', source: 'Classification', labelType: 'Manual', state: 'Confirmed' }],
    databaseSchema: { id: '2f3b9d4e-6a71-4c2d-8e5f-1b0a9c8d7e6f', type: 'databaseSchema', name: 'sales', href: `${ORIGIN}/api/v1/databaseSchemas/2f3b9d4e-6a71-4c2d-8e5f-1b0a9c8d7e6f` },
  };
}

// what OpenMetadata answers when fields= asks only for metadata (the gateway's query allowlist guarantees that)
const TABLE = JSON.stringify(table(0));
// the same table with data-bearing fields, as a platform that embeds them anyway would answer
const TABLE_WITH_DATA = JSON.stringify({ ...table(0), sampleData: { columns: ['customer_id', 'email'], rows: [[1, 'a@example.org'], [2, 'b@example.org']] }, profile: { rowCount: 1234, timestamp: 1733040000000 } });
const bodies = new Map<number, Buffer>();

function sized(bytes: number): Buffer {
  let b = bodies.get(bytes);
  if (b) return b;
  const data: unknown[] = [];
  let s = '';
  for (let i = 0; s.length < bytes - 100; i++) {
    data.push(table(i));
    if (i % 8 === 0) s = JSON.stringify({ data, paging: { total: data.length } });
  }
  b = Buffer.from(JSON.stringify({ data, paging: { total: data.length } }));
  bodies.set(bytes, b);
  return b;
}

const tableBuf = Buffer.from(TABLE);
const tableWithDataBuf = Buffer.from(TABLE_WITH_DATA);
const server = http.createServer((req, res) => {
  const m = /\/size\/(\d+)/.exec(req.url ?? '') ?? /[?&]limit=(\d+)/.exec(req.url ?? '');
  const body = m ? sized(Number(m[1]) * (req.url?.includes('limit=') ? 1024 : 1)) : req.url?.includes('/name/') ? tableWithDataBuf : tableBuf;
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  const a = server.address() as { port: number };
  process.stdout.write(`READY ${a.port}\n`);
});

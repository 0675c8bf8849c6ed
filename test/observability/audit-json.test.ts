// The vendor-request record's hand-written serialiser (requestRecordJson) must write exactly what JSON.stringify
// writes for every record buildRecord can make: same keys, same order, same escaping. Generated records cover every
// optional field, free text with quotes, control characters, lone surrogates and non-ASCII, and odd numbers.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { buildRecord } from '../../src/pipeline/audit.js';
import { newContext, type RequestContext } from '../../src/pipeline/context.js';
import { isoAt, millis, requestRecordJson } from '../../src/observability/audit.js';
import { CATEGORIES, DENY_REASONS } from '../../src/policy/reasons.js';
import type { Runtime } from '../../src/config/load.js';

const text = fc.string({ unit: 'binary', maxLength: 40 });
const hex = (n: number, m: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: m });
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

const contexts = fc.record({
  hash: hex(8, 64),
  reasons: fc.subarray([...DENY_REASONS]),
  detail: opt(text),
  rule: opt(fc.record({ id: text, category: fc.constantFrom(...CATEGORIES) })),
  internal: opt(fc.constant('whoami' as const)),
  identity: opt(
    fc.record({
      subject: text,
      nationality: text,
      clearance: text,
      clearanceExpiresAt: fc.integer({ min: 0, max: 253_402_300_799_000 }),
      org: opt(text),
      jti: opt(text),
    }),
  ),
  token: opt(fc.record({ fingerprint: hex(16, 16), jti: opt(fc.oneof(text, fc.integer())), sub: opt(fc.oneof(text, fc.integer())) })),
  path: opt(text),
  original: opt(text),
  upstreamStatus: opt(fc.integer({ min: 100, max: 599 })),
  upstreamMs: opt(fc.oneof(fc.double({ noNaN: false }), fc.constantFrom(0, -0, Infinity, 1e21, 1.5e-7))),
  fieldsRemoved: opt(fc.array(fc.tuple(text, fc.nat()), { maxLength: 4 })),
  responseBytes: opt(fc.nat()),
  decision: fc.constantFrom('allow' as const, 'deny' as const),
  method: fc.oneof(fc.constantFrom('GET', 'POST', 'HEAD', 'OTHER'), text),
  ip: text,
  requestId: text,
  status: fc.integer({ min: 0, max: 999 }),
});

type Generated = typeof contexts extends fc.Arbitrary<infer T> ? T : never;

function contextOf(c: Generated): RequestContext {
  const ctx = newContext({ hash: c.hash } as unknown as Runtime);
  ctx.decision = c.decision;
  ctx.reasons.push(...c.reasons);
  if (c.detail !== undefined) ctx.detail = c.detail;
  if (c.rule) ctx.rule = c.rule as unknown as RequestContext['rule'];
  if (c.internal) ctx.internal = c.internal;
  if (c.identity) ctx.identity = { ...c.identity, clearanceRank: 1, tokenExpiresAt: 0 } as RequestContext['identity'];
  if (c.token) ctx.token = { fingerprint: c.token.fingerprint, payload: { ...(c.token.jti !== undefined ? { jti: c.token.jti } : {}), ...(c.token.sub !== undefined ? { sub: c.token.sub } : {}) } };
  if (c.path !== undefined) ctx.target = { path: c.path } as RequestContext['target'];
  if (c.original !== undefined) ctx.original = c.original;
  if (c.upstreamStatus !== undefined) ctx.upstreamStatus = c.upstreamStatus;
  if (c.upstreamMs !== undefined) ctx.upstreamMs = c.upstreamMs;
  if (c.fieldsRemoved !== undefined) ctx.fieldsRemoved = new Map(c.fieldsRemoved);
  if (c.responseBytes !== undefined) ctx.responseBytes = c.responseBytes;
  return ctx;
}

describe('requestRecordJson', () => {
  test('writes exactly what JSON.stringify writes, for 3,000 generated records', () => {
    fc.assert(
      fc.property(contexts, (c) => {
        const rec = buildRecord(contextOf(c), c.requestId, c.method, c.ip, c.status);
        const json = requestRecordJson(rec);
        expect(json).toBe(JSON.stringify(rec));
        expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(rec)));
      }),
      { numRuns: 3000 },
    );
  });

  test('a record with every optional field, and one with none', () => {
    const full = buildRecord(
      contextOf({
        hash: 'ab12', reasons: ['clearance_insufficient'], detail: 'a "quoted"\n\u0000 detail \ud800', rule: { id: 'om.tables', category: 'lineage' }, internal: undefined,
        identity: { subject: 'alice', nationality: 'NL', clearance: 'STG_GEHEIM', clearanceExpiresAt: 1_900_000_000_000, org: 'vendor', jti: 'j1' },
        token: { fingerprint: '0123456789abcdef', jti: 'j1', sub: 'alice' }, path: '/api/v1/tables', original: undefined, upstreamStatus: 200, upstreamMs: 1.25,
        fieldsRemoved: [['sampleData', 2]], responseBytes: 10, decision: 'deny', method: 'GET', ip: '127.0.0.1', requestId: 'r1', status: 403,
      }),
      'r1', 'GET', '127.0.0.1', 403,
    );
    expect(requestRecordJson(full)).toBe(JSON.stringify(full));
    expect(Object.keys(full.metagate)).toEqual(['decision', 'reasons', 'config_hash', 'detail', 'rule', 'category', 'nationality', 'clearance', 'clearance_expires_at', 'org', 'token_id', 'token_fingerprint', 'upstream_status', 'upstream_ms', 'fields_removed', 'response_bytes']);
    const bare = buildRecord(newContext({ hash: 'ab12' } as unknown as Runtime), 'r2', 'BREW', '', 400);
    expect(requestRecordJson(bare)).toBe(JSON.stringify(bare));
    expect(bare.url.path).toBeNull();
  });

  // Regression: the record of a client that had already hung up carried `source.ip: undefined` (its socket no longer
  // knew the address), and the line read `"ip":undefined` — not JSON, so the trail could not be read or verified.
  test('a string field that is missing at run time still gives a JSON line', () => {
    const rec = buildRecord(newContext({ hash: 'ab12' } as unknown as Runtime), 'r3', 'GET', undefined as unknown as string, 499);
    const line = requestRecordJson(rec);
    expect(() => JSON.parse(line)).not.toThrow();
    expect((JSON.parse(line) as { source: { ip: unknown } }).source.ip).toBeNull();
  });

  // The trail serialises a turn's records together at its end: a record must not change with its request afterwards.
  // A refusal after the record (the answer of a client that hung up arriving, refused) adds a reason to the request.
  test('a record keeps the reasons its request had when it was made', () => {
    const ctx = newContext({ hash: 'ab12' } as unknown as Runtime);
    ctx.detail = 'the client closed the connection before the answer was sent';
    const none = buildRecord(ctx, 'r4', 'GET', '127.0.0.1', 499);
    ctx.reasons.push('upstream_error');
    const one = buildRecord(ctx, 'r5', 'GET', '127.0.0.1', 502);
    ctx.reasons.push('response_rejected');
    expect(none.metagate.reasons).toEqual([]);
    expect(one.metagate.reasons).toEqual(['upstream_error']);
    expect(JSON.parse(requestRecordJson(none)).metagate.reasons).toEqual([]);
  });

  // The identity fields are written once per run of records with the same values (a token's requests): a record
  // that differs from the one before in any one of them, or only in everything else, must still be written exactly.
  test('records in sequence that share, or differ in one of, their identity values are each written exactly', () => {
    const identity = fc.record({
      nationality: fc.constantFrom('NL', 'nl', 'N"L'),
      clearance: fc.constantFrom('STG_GEHEIM', 'STG_CONFIDENTIEEL'),
      clearanceExpiresAt: fc.constantFrom(1_900_000_000_000, 1_900_000_000_001),
      org: opt(fc.constantFrom('vendor', 'other')),
      jti: opt(fc.constantFrom('j1', 'j2', 'j\n3')),
    });
    const step = fc.record({ identity: opt(identity), fingerprint: opt(fc.constantFrom('0123456789abcdef', 'fedcba9876543210')), requestId: text, status: fc.integer({ min: 100, max: 599 }) });
    fc.assert(
      fc.property(fc.array(step, { minLength: 2, maxLength: 12 }), (steps) => {
        for (const st of steps) {
          const ctx = newContext({ hash: 'ab12' } as unknown as Runtime);
          ctx.decision = 'allow';
          // a fresh object with equal values every time, as a reloaded or re-verified token would give
          if (st.identity) ctx.identity = { subject: 's', ...st.identity, clearanceRank: 1, tokenExpiresAt: 0 } as RequestContext['identity'];
          if (st.fingerprint) ctx.token = { fingerprint: st.fingerprint, payload: {} };
          const rec = buildRecord(ctx, st.requestId, 'GET', '127.0.0.1', st.status);
          expect(requestRecordJson(rec)).toBe(JSON.stringify(rec));
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('isoAt', () => {
  test('writes what new Date(ms).toISOString() writes, for any time a Date can hold', () => {
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => {
        expect(isoAt(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 5000 },
    );
  });

  test('times in sequence within and across seconds, around 1970, year 0 and year 10000', () => {
    const starts = [Date.UTC(2026, 11, 2, 2, 59, 59, 990), -2000, Date.UTC(0, 0, 1) - 1500, Date.UTC(9999, 11, 31, 23, 59, 59, 990), 8.64e15 - 3000, -8.64e15];
    for (const start of starts) {
      for (let ms = start; ms < start + 2500 && ms <= 8.64e15; ms += 7) expect(isoAt(ms)).toBe(new Date(ms).toISOString());
    }
  });
});

describe('millis', () => {
  const asJson = (x: number) => JSON.stringify(x) ?? 'null';
  test('writes what JSON.stringify writes, for milliseconds kept to three decimals and for any other double', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double({ min: 0, max: 2e6 }).map((x) => Math.round(x * 1000) / 1000), fc.double(), fc.integer({ min: 0, max: 1e9 }).map((k) => k / 1000)), (x) => {
        expect(millis(x)).toBe(asJson(x));
      }),
      { numRuns: 20_000 },
    );
  });

  test('every k/1000 below 1000 ms, and the edges of the quick path', () => {
    // one assertion for the million values (an expect() each took 17 s)
    const differ: number[] = [];
    for (let k = 0; k < 1_000_000; k++) if (millis(k / 1000) !== asJson(k / 1000)) differ.push(k);
    expect(differ).toEqual([]);
    for (const x of [-0, 0.0005, 0.0004999, 999_999.999, 1e6, 1e6 - 0.001, 0.1 + 0.2, 1.005, Number.NaN, Infinity, -0.001, 5e-324, Number.MAX_VALUE]) expect(millis(x)).toBe(asJson(x));
  });
});


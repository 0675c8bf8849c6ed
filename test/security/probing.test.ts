// A vendor engineer who probes for data with a token the gateway has verified before: the answer does not depend on
// the token (the allow-list is checked first), but the audit record names who it was, so the SOC can act on it. A
// token the gateway has not verified — unknown, forged, expired — adds nothing to the record.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webcrypto } from 'node:crypto';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';
import type { RequestAuditRecord } from '../../src/observability/audit.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { request } from '../helpers/http.js';
import { CLASS, recordCases } from './summary.js';

const T = `/api/v1/tables/${DEMO_TABLE_ID}`;
const SUB = 'anna.devries@vendor.example';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function recordOf(path: string, token: string, method = 'GET'): Promise<{ status: number; rec: RequestAuditRecord }> {
  const before = h.audit.requestRecords().length;
  const res = await request(h.vendorUrl, path, { method, headers: { authorization: `Bearer ${token}` } });
  for (let i = 0; i < 100 && h.audit.requestRecords().length <= before; i++) await new Promise((r) => setTimeout(r, 10));
  return { status: res.status, rec: h.audit.requestRecords()[before]! };
}

describe('refusals before the token is checked still name a caller the gateway has verified', () => {
  it.each<[string, string, string, number, string]>([
    ['a data endpoint', `${T}/sampleData`, 'GET', 404, 'route_not_allowed'],
    ['a data-bearing fields value', `${T}?fields=sampleData`, 'GET', 403, 'query_value_not_allowed'],
    ['an unknown query key', `${T}?limitx=1`, 'GET', 400, 'query_not_allowed'],
    ['a write method', T, 'DELETE', 405, 'method_not_allowed'],
    ['a dot segment', `/api/v1/tables/../queries`, 'GET', 400, 'path_rejected'],
  ])('%s', async (_d, path, method, status, reason) => {
    recordCases(CLASS.path, 1);
    const token = await h.token('geheim');
    expect((await recordOf(T, token)).status).toBe(200); // verified once (and cached)
    const { status: got, rec } = await recordOf(path, token, method);
    expect(got).toBe(status);
    expect(rec.metagate.reasons).toEqual([reason]);
    expect(rec.user?.id).toBe(SUB);
    expect(rec.metagate.token_id).toBeTruthy();
    expect(rec.metagate.token_fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it('a token never verified (first use on a data endpoint) is not trusted for the record', async () => {
    recordCases(CLASS.path, 1);
    const { status, rec } = await recordOf(`${T}/sampleData`, await h.token('geheim'));
    expect(status).toBe(404);
    expect(rec.user).toBeUndefined();
    expect(rec.metagate.token_id).toBeUndefined();
  });

  it('a forged token naming a real subject adds nothing', async () => {
    recordCases(CLASS.path, 1);
    const b64 = (s: string) => Buffer.from(s).toString('base64url');
    const key = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    const input = `${b64(JSON.stringify({ alg: 'ES256', kid: 'test-key-1', typ: 'at+jwt' }))}.${b64(JSON.stringify({ sub: SUB, jti: 'forged' }))}`;
    const sig = Buffer.from(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, Buffer.from(input))).toString('base64url');
    const { rec } = await recordOf(`${T}/sampleData`, `${input}.${sig}`);
    expect(rec.user).toBeUndefined();
    expect(rec.metagate.token_id).toBeUndefined();
  });
});

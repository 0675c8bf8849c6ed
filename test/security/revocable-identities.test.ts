// Review 56: every identity the vendor pipeline admits must be one an operator can revoke or suspend. The claims
// accept any subject, token id or organisation of up to 256 characters without control, format or line-separator
// characters ("jörg.müller@…", "anna de vries", "Acme Corp"); the admin API took printable ASCII only, so such a
// subject kept its access after a revocation was attempted (400), and such an organisation could not be suspended.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.js';
import { request } from '../helpers/http.js';

const T = `/api/v1/tables/${DEMO_TABLE_ID}`;
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const future = new Date(Date.now() + 365 * 86400_000).toISOString().slice(0, 10);
const claims = (over: Record<string, unknown>) => ({ sub: 'x@vendor.example', nationality: 'NL', clearance: 'STG_GEHEIM', clearance_expires_at: future, org: 'vendor', ...over });
const vendor = async (token: string) => {
  const up = h.upstream.requests.length;
  const res = await request(h.vendorUrl, T, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, code: res.status === 200 ? null : res.json<{ code: string }>().code, forwarded: h.upstream.requests.length - up };
};
const admin = (method: string, path: string, body?: unknown) =>
  request(h.adminUrl, path, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });

describe('what the claims admit, the admin API can take away', () => {
  it.each(['jörg.müller@vendor.example', 'anna de vries', 'Ana María Pérez'])('subject %s: revoked, then refused; unrevoked, then allowed', async (sub) => {
    const t = await h.token(claims({ sub }));
    expect(await vendor(t)).toMatchObject({ status: 200, forwarded: 1 });
    expect((await admin('POST', '/admin/revocations', { kind: 'subject', id: sub, reason: 'left the project' })).status).toBe(201);
    expect(await vendor(t)).toEqual({ status: 403, code: 'subject_revoked', forwarded: 0 });
    expect((await admin('GET', `/admin/rate-limits/${encodeURIComponent(sub)}`)).status).toBe(200);
    expect((await admin('DELETE', `/admin/revocations/subject/${encodeURIComponent(sub)}`)).status).toBe(200);
    expect(await vendor(t)).toMatchObject({ status: 200, forwarded: 1 });
  });

  it('a token id with a space or a non-ASCII letter can be revoked', async () => {
    for (const jti of ['jti mit Leerzeichen', 'jtï-1']) {
      const t = await h.token(claims({ jti }));
      expect(await vendor(t)).toMatchObject({ status: 200 });
      expect((await admin('POST', '/admin/revocations', { kind: 'token', id: jti, reason: 'stolen' })).status).toBe(201);
      expect(await vendor(t)).toEqual({ status: 401, code: 'token_revoked', forwarded: 0 });
    }
  });

  it.each(['Acme Corp', 'Müller GmbH'])('organisation %s can be suspended and resumed', async (org) => {
    const t = await h.token(claims({ org, sub: `member-of-${org.length}@vendor.example` }));
    expect(await vendor(t)).toMatchObject({ status: 200 });
    expect((await admin('POST', '/admin/suspend', { org, reason: 'exercise' })).status).toBe(201);
    expect(await vendor(t)).toEqual({ status: 403, code: 'access_suspended', forwarded: 0 });
    expect((await admin('POST', '/admin/resume', { org })).status).toBe(200);
    expect(await vendor(t)).toMatchObject({ status: 200 });
  });

  it('what the claims refuse, the admin API still refuses (a line break, a bidi override)', async () => {
    for (const id of ['a\nb', 'a\u202eb', 'x'.repeat(257)]) {
      expect((await admin('POST', '/admin/revocations', { kind: 'subject', id, reason: 'r' })).status).toBe(400);
    }
  });
});

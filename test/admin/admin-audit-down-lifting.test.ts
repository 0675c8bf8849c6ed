// Review 9 (F67, F68): while the audit trail is down, an action that adds a restriction must not be usable to lift one,
// and an admin action whose record the disk refuses is answered as unrecorded, also the first one after the disk failed.

import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.js';
import { request, type SimpleResponse } from '../helpers/http.js';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';

let h: Harness | undefined;
afterEach(async () => { await h?.close(); h = undefined; });

function admin(method: string, path: string, body?: unknown): Promise<SimpleResponse> {
  const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return request(h!.adminUrl, path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
}
async function failTrail() {
  await request(h!.vendorUrl, `/api/v1/tables/${DEMO_TABLE_ID}`, { headers: { authorization: `Bearer ${await h!.token('geheim')}` } });
  const deadline = Date.now() + 2_000;
  while (h!.gateway.gateway.audit.healthy && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(h!.gateway.gateway.audit.healthy).toBe(false);
}

describe('lifting through a tightening action while the trail is down', () => {
  it('re-revoking with a short ttlSec does not end a permanent revocation', async () => {
    h = await startHarness({ auditFile: '/dev/full' });
    const gw = h.gateway.gateway;
    await gw.store.revoke({ kind: 'subject', id: 'mallory@vendor.example', reason: 'compromised', by: 'op', createdAt: gw.now() });
    await failTrail();
    const r = await admin('POST', '/admin/revocations', { kind: 'subject', id: 'mallory@vendor.example', reason: 'x', ttlSec: 1 });
    expect(r.status).toBe(503);
    // a revocation that lasts longer is still an addition
    expect((await admin('POST', '/admin/revocations', { kind: 'subject', id: 'trudy@vendor.example', reason: 'x', ttlSec: 60 })).status).toBe(201);
    expect((await admin('POST', '/admin/revocations', { kind: 'subject', id: 'trudy@vendor.example', reason: 'x' })).status).toBe(201);
    await new Promise((res) => setTimeout(res, 1_200));
    const list = (await admin('GET', '/admin/revocations')).json() as { revocations: { id: string }[] };
    // F64: a revocation may not be lifted while nothing records it
    expect(list.revocations.map((x) => x.id)).toContain('mallory@vendor.example');
  });

  it('re-scheduling a window under its id moves it away (a cancel in all but name): refused', async () => {
    h = await startHarness({ auditFile: '/dev/full' });
    const gw = h.gateway.gateway;
    const now = gw.now();
    await gw.store.scheduleWindow({ id: 'freeze', label: 'freeze', reason: 'freeze', start: now - 1_000, end: now + 3_600_000, by: 'op', createdAt: now });
    await failTrail();
    const far = now + 365 * 86_400_000;
    const r = await admin('POST', '/admin/windows', { id: 'freeze', label: 'x', reason: 'x', start: new Date(far).toISOString(), end: new Date(far + 1000).toISOString() });
    expect(r.status).toBe(503);
    const list = (await gw.store.listWindows(gw.now())) as { id: string; start: number }[];
    const w = list.find((x) => x.id === 'freeze');
    expect(w?.start).toBeLessThanOrEqual(gw.now());
  });
});

describe('the first lifting action after the disk fails', () => {
  it('is answered as unrecorded', async () => {
    h = await startHarness({ auditFile: '/dev/full' });
    const gw = h.gateway.gateway;
    await gw.store.revoke({ kind: 'subject', id: 'mallory@vendor.example', reason: 'compromised', by: 'op', createdAt: gw.now() });
    expect(gw.audit.healthy).toBe(true);
    const r = await admin('DELETE', '/admin/revocations/subject/mallory@vendor.example');
    // the record was refused by the disk before the answer left: the answer says so
    expect(r.status).toBe(200);
    expect(r.headers['metagate-audit']).toBe('unrecorded');
    expect(gw.audit.healthy).toBe(false);
  });
});

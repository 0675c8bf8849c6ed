// Admin actions while the audit trail is down (docs/faults.md F64): nothing that lifts a restriction is done without a
// record; what adds one is done, and the answer says it was not recorded.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.js';
import { request, type SimpleResponse } from '../helpers/http.js';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';
import { expectProblem } from './problem.js';

let h: Harness;
beforeAll(async () => {
  // /dev/full opens fine; the first write fails and the trail is down from then on
  h = await startHarness({ auditFile: '/dev/full' });
  const first = await request(h.vendorUrl, `/api/v1/tables/${DEMO_TABLE_ID}`, { headers: { authorization: `Bearer ${await h.token('geheim')}` } });
  expect([200, 503]).toContain(first.status);
  const deadline = Date.now() + 2_000;
  while (h.gateway.gateway.audit.healthy && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(h.gateway.gateway.audit.healthy).toBe(false);
});
afterAll(async () => {
  await h?.close();
});

function admin(method: string, path: string, body?: unknown): Promise<SimpleResponse> {
  const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return request(h.adminUrl, path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
}

const dropped = () => h.gateway.gateway.audit.dropped;

describe('admin actions while the audit trail is down', () => {
  it('a revocation is applied, answered as unrecorded, and its lost record counted; undoing it is refused and it stays', async () => {
    const before = dropped();
    const r = await admin('POST', '/admin/revocations', { kind: 'subject', id: 'eve@vendor.example', reason: 'left' });
    expect(r.status).toBe(201);
    expect(r.headers['metagate-audit']).toBe('unrecorded');
    expect(dropped()).toBe(before + 1);
    const undo = await admin('DELETE', '/admin/revocations/subject/eve@vendor.example');
    expectProblem(undo, 503, 'audit_unavailable');
    expect(undo.headers['metagate-audit']).toBe('unrecorded');
    expect(dropped()).toBe(before + 2);
    const list = (await admin('GET', '/admin/revocations')).json() as { revocations: { id: string }[] };
    expect(list.revocations.map((x) => x.id)).toContain('eve@vendor.example');
  });

  it('the kill switch goes on, and stays on: resume is refused', async () => {
    const on = await admin('POST', '/admin/suspend', { reason: 'incident' });
    expect(on.status).toBe(201);
    expect(on.headers['metagate-audit']).toBe('unrecorded');
    expectProblem(await admin('POST', '/admin/resume', {}), 503, 'audit_unavailable');
    const list = (await admin('GET', '/admin/suspensions')).json() as { suspensions: unknown[] };
    expect(list.suspensions).toHaveLength(1);
  });

  it('a window can be scheduled, not cancelled; a reload is refused', async () => {
    const start = new Date(Date.now() + 60_000).toISOString();
    const end = new Date(Date.now() + 120_000).toISOString();
    const w = await admin('POST', '/admin/windows', { id: 'w-audit-down', label: 'exercise', reason: 'exercise', start, end });
    expect(w.status).toBe(201);
    expectProblem(await admin('DELETE', '/admin/windows/w-audit-down'), 503, 'audit_unavailable');
    const list = (await admin('GET', '/admin/windows')).json() as { windows: { id: string }[] };
    expect(list.windows.map((x) => x.id)).toContain('w-audit-down');
    expectProblem(await admin('POST', '/admin/reload', {}), 503, 'audit_unavailable');
  });

  it('reads are answered as usual, without the unrecorded header', async () => {
    const s = await admin('GET', '/admin/status');
    expect(s.status).toBe(200);
    expect(s.headers['metagate-audit']).toBeUndefined();
    expect((s.json() as { audit: { healthy: boolean } }).audit.healthy).toBe(false);
  });
});

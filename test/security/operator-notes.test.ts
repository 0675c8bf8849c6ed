// Safeguard 3: vendor staff take no part in operations or exercises. What operators type when they revoke, suspend or
// schedule a window (an incident number, an exercise's name) is recorded for the SOC and never shown to the vendor —
// not in a refusal, not in whoami.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.js';
import { request, type SimpleResponse } from '../helpers/http.js';
import { CLASS, recordCases } from './summary.js';

const T = `/api/v1/tables/${DEMO_TABLE_ID}`;
const SECRET_WORDS = ['COBALT', 'SHIELD', 'NATO', 'CASE-2291', 'AIVD', 'red-team', 'ops mode'];

let h: Harness;
let token: string;

beforeAll(async () => {
  h = await startHarness();
  token = await h.token('geheim');
});
afterAll(async () => {
  await h?.close();
});
afterEach(async () => {
  const store = h.gateway.gateway.store;
  for (const r of await store.listRevocations(Date.now())) await store.unrevoke(r.kind, r.id);
  for (const s of await store.listSuspensions()) await store.resume(s.org);
  for (const w of await store.listWindows(Date.now())) await store.cancelWindow(w.id);
});

function admin(method: string, path: string, body: unknown): Promise<SimpleResponse> {
  return request(h.adminUrl, path, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function refusedWithout(words: string[], code: string, detail: string): Promise<void> {
  for (const path of [T, '/_metagate/whoami']) {
    const res = await request(h.vendorUrl, path, { headers: { authorization: `Bearer ${token}` } });
    expect(res.json<{ code: string }>().code).toBe(code);
    expect(res.json<{ detail: string }>().detail).toBe(detail);
    for (const w of [...SECRET_WORDS, ...words]) expect(res.body).not.toContain(w);
  }
}

describe('operators\' words stay with the operators', () => {
  it('a suspension window: the vendor reads "a scheduled window"; the record names the window and its reason', async () => {
    recordCases(CLASS.responseLeaks, 1);
    const start = new Date(Date.now() - 60_000).toISOString();
    const end = new Date(Date.now() + 3_600_000).toISOString();
    expect((await admin('POST', '/admin/windows', { label: 'Exercise COBALT SHIELD', reason: 'classified NATO exercise, platform in ops mode', start, end })).status).toBe(201);
    await refusedWithout([], 'access_suspended', 'vendor access is suspended during a scheduled window');
    expect(h.audit.requestRecords().at(-1)!.metagate.detail).toBe('vendor access is suspended during Exercise COBALT SHIELD: classified NATO exercise, platform in ops mode');
  });

  it('a subject revocation: the vendor reads "your access was revoked"; the record has the reason', async () => {
    recordCases(CLASS.responseLeaks, 1);
    expect((await admin('POST', '/admin/revocations', { kind: 'subject', id: 'anna.devries@vendor.example', reason: 'insider-threat investigation CASE-2291 (AIVD tip)' })).status).toBe(201);
    await refusedWithout([], 'subject_revoked', 'your access was revoked');
    expect(h.audit.requestRecords().at(-1)!.metagate.detail).toBe('your access was revoked: insider-threat investigation CASE-2291 (AIVD tip)');
  });

  it('the kill switch for one organisation: the vendor does not read the reason or the organisation name the operator typed', async () => {
    recordCases(CLASS.responseLeaks, 1);
    expect((await admin('POST', '/admin/suspend', { reason: 'Operatie ZEEAREND: red-team exercise', org: 'vendor' })).status).toBe(201);
    await refusedWithout(['ZEEAREND'], 'access_suspended', 'vendor access for your organisation is suspended');
    expect(h.audit.requestRecords().at(-1)!.metagate.detail).toBe('vendor access for vendor is suspended: Operatie ZEEAREND: red-team exercise');
  });
});

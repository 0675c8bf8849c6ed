// The admin API: who may call it, that it lives only on the admin listener, one audit record per action, explain.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.js';
import { request, type SimpleResponse } from '../helpers/http.js';
import { buildAdminApp } from '../../src/admin/app.js';
import { adminTokenSet } from '../../src/admin/auth.js';
import type { ExplainResult } from '../../src/admin/explain.js';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';
import { MemoryStore } from '../../src/state/memory.js';
import { StateUnavailableError, type CheckInput, type CheckResult, type StateStore } from '../../src/state/store.js';
import { expectProblem } from './problem.js';

const SECOND_OPERATOR_TOKEN = 'second-operator-secret-abcdefghijklmnopqrstuvwxyz';
const PER_SUBJECT = 50;

const CATALOGUE = `/api/v1/tables/${DEMO_TABLE_ID}`;
const LINEAGE = `/api/v1/lineage/table/${DEMO_TABLE_ID}`;
const DATA = `/api/v1/tables/${DEMO_TABLE_ID}/sampleData`;

/** A MemoryStore that can be switched "down", as Redis would be: every operation then throws StateUnavailableError. */
class SwitchableStore implements StateStore {
  readonly backend = 'memory' as const;
  down = false;
  constructor(private readonly inner: MemoryStore) {}
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.down) throw new StateUnavailableError('test: store switched off');
    return fn();
  }
  check(i: CheckInput): Promise<CheckResult> { return this.guard(() => this.inner.check(i)); }
  revoke(...a: Parameters<StateStore['revoke']>) { return this.guard(() => this.inner.revoke(...a)); }
  unrevoke(...a: Parameters<StateStore['unrevoke']>) { return this.guard(() => this.inner.unrevoke(...a)); }
  listRevocations(now: number) { return this.guard(() => this.inner.listRevocations(now)); }
  suspend(...a: Parameters<StateStore['suspend']>) { return this.guard(() => this.inner.suspend(...a)); }
  resume(org?: string) { return this.guard(() => this.inner.resume(org)); }
  listSuspensions() { return this.guard(() => this.inner.listSuspensions()); }
  scheduleWindow(...a: Parameters<StateStore['scheduleWindow']>) { return this.guard(() => this.inner.scheduleWindow(...a)); }
  cancelWindow(id: string) { return this.guard(() => this.inner.cancelWindow(id)); }
  listWindows(now: number) { return this.guard(() => this.inner.listWindows(now)); }
  rateLimitState(s: string, now: number) { return this.guard(() => this.inner.rateLimitState(s, now)); }
  health() { return this.down ? { ok: false, backend: 'memory' as const, detail: 'switched off' } : this.inner.health(); }
  onChange(l: () => void) { return this.inner.onChange(l); }
  close() { return this.inner.close(); }
}

type Rec = {
  event: { action: string; outcome: string; category: string };
  user: { name: string };
  http?: { request: { id: string; method: string } };
  metagate: { admin: Record<string, unknown> };
};

let h: Harness;
let store: SwitchableStore;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'metagate-admin-'));
  const secondSecret = join(dir, 'second-operator.secret');
  writeFileSync(secondSecret, `${SECOND_OPERATOR_TOKEN}\n`);
  store = new SwitchableStore(new MemoryStore({ rateLimit: { perSubject: PER_SUBJECT, global: 0, windowMs: 3_600_000 } }));
  h = await startHarness({
    store,
    configure: (cfg) => {
      cfg.admin.tokens.push({ name: 'second-operator', secret: { file: secondSecret } });
      cfg.state.rateLimit = { perSubject: PER_SUBJECT, windowSec: 3600 };
    },
  });
});

afterAll(async () => {
  await h?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  store.down = false;
  // every test starts from empty state
  for (const r of await store.listRevocations(Date.now())) await store.unrevoke(r.kind, r.id);
  for (const s of await store.listSuspensions()) await store.resume(s.org);
  for (const w of await store.listWindows(Date.now())) await store.cancelWindow(w.id);
});

function admin(method: string, path: string, body?: unknown, opts: { token?: string | null; rawBody?: string } = {}): Promise<SimpleResponse> {
  const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const payload = opts.rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
  if (payload !== undefined) headers['content-type'] = 'application/json';
  return request(h.adminUrl, path, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
}

function vendor(path: string, token: string, method = 'GET'): Promise<SimpleResponse> {
  return request(h.vendorUrl, path, { method, headers: { authorization: `Bearer ${token}` } });
}

const adminRecords = (): Rec[] => h.audit.records().filter((r) => (r as unknown as Rec).event.category === 'configuration') as unknown as Rec[];

/** Runs fn and returns the admin audit records it produced. */
async function recordsOf<T>(fn: () => Promise<T>): Promise<{ result: T; records: Rec[] }> {
  const before = adminRecords().length;
  const result = await fn();
  return { result, records: adminRecords().slice(before) };
}

async function stateSnapshot(): Promise<string> {
  const now = Date.now();
  return JSON.stringify([await store.listRevocations(now), await store.listSuspensions(), await store.listWindows(now)]);
}

const geheimAs = async (sub: string, extra: Record<string, unknown> = {}) => {
  const base = (await import('../../src/demo/issuer.js')).personas(Math.floor(Date.now() / 1000)).geheim!.claims;
  return h.token({ ...base, sub, ...extra });
};

describe('authentication', () => {
  it.each([
    ['no Authorization header', null as string | null, undefined],
    ['a vendor access token', 'VENDOR', undefined],
    ['a wrong admin token of the same length', `${ADMIN_TOKEN.slice(0, -1)}X`, undefined],
    ['a prefix of the admin token', ADMIN_TOKEN.slice(0, 20), undefined],
    ['the admin token with extra characters', `${ADMIN_TOKEN}x`, undefined],
    ['the admin token under another scheme', ADMIN_TOKEN, `Basic ${ADMIN_TOKEN}`],
    ['the admin token without a scheme', ADMIN_TOKEN, ADMIN_TOKEN],
    ['the admin token glued to the scheme', ADMIN_TOKEN, `Bearer${ADMIN_TOKEN}`],
    ['the admin token after two spaces', ADMIN_TOKEN, `Bearer  ${ADMIN_TOKEN}`],
    ['the admin token after a tab', ADMIN_TOKEN, `Bearer\t${ADMIN_TOKEN}`],
    ['the scheme alone', ADMIN_TOKEN, 'Bearer'],
    ['the admin token under a scheme that merely starts with bearer', ADMIN_TOKEN, `Bearerx ${ADMIN_TOKEN}`],
  ])('refuses %s with 401, records the attempt and changes nothing', async (_name, token, rawHeader) => {
    const t = token === 'VENDOR' ? await h.token('geheim') : token;
    const before = await stateSnapshot();
    const { result: res, records } = await recordsOf(() => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (rawHeader !== undefined) headers.authorization = rawHeader;
      else if (t !== null) headers.authorization = `Bearer ${t}`;
      return request(h.adminUrl, '/admin/suspend', { method: 'POST', headers, body: JSON.stringify({ reason: 'should not happen' }) });
    });
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(expectProblem(res, 401, 'admin_token_required').detail).toBe('an admin bearer token is required');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(records).toHaveLength(1);
    expect(records[0]!.event).toMatchObject({ action: 'admin_authenticate', outcome: 'failure' });
    expect(records[0]!.user.name).toBe('anonymous');
    expect(records[0]!.metagate.admin).toMatchObject({ path: '/admin/suspend', attempted: 'suspend' });
    expect(await stateSnapshot()).toBe(before);
  });

  it.each(['bearer', 'BEARER', 'bEaReR', 'Bearer'])('accepts the scheme written %s (case-insensitive, RFC 9110 §11.1), and records the operator', async (scheme) => {
    const { result: res, records } = await recordsOf(() =>
      request(h.adminUrl, '/admin/suspend', { method: 'POST', headers: { authorization: `${scheme} ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: `scheme ${scheme}` }) }),
    );
    expect(res.status).toBe(201);
    expect(records.map((x) => [x.event.action, x.event.outcome, x.user.name])).toEqual([['admin_suspend', 'success', 'test-operator']]);
    expect((await admin('GET', '/admin/status', undefined, { token: null })).status).toBe(401);
  });

  it('adminTokenSet: any case of the scheme, exactly one space, the exact secret; nothing else', () => {
    const set = adminTokenSet([{ name: 'op', secret: ADMIN_TOKEN }, { name: 'op2', secret: SECOND_OPERATOR_TOKEN }]);
    for (const s of ['Bearer', 'bearer', 'BEARER', 'BeArEr']) expect(set.identify(`${s} ${ADMIN_TOKEN}`), s).toBe('op');
    expect(set.identify(`bearer ${SECOND_OPERATOR_TOKEN}`)).toBe('op2');
    for (const hdr of [undefined, '', 'Bearer', 'Bearer ', `Bearer  ${ADMIN_TOKEN}`, `Bearer\t${ADMIN_TOKEN}`, ` Bearer ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN} `, `Bearerx ${ADMIN_TOKEN}`, `Basic ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN.toUpperCase()}`, `Bearer ${ADMIN_TOKEN}${'x'.repeat(1024)}`]) {
      expect(set.identify(hdr), JSON.stringify(hdr)).toBeNull();
    }
  });

  it('refuses unauthenticated reads too', async () => {
    for (const path of ['/admin/status', '/admin/revocations', '/admin/suspensions', '/admin/windows', '/admin/rate-limits/x']) {
      expect((await admin('GET', path, undefined, { token: null })).status, path).toBe(401);
      expect((await admin('GET', path, undefined, { token: await h.token('geheim') })).status, path).toBe(401);
    }
  });

  it('names the operator whose token was used', async () => {
    const { result: res, records } = await recordsOf(() => admin('POST', '/admin/suspend', { reason: 'second operator test' }, { token: SECOND_OPERATOR_TOKEN }));
    expect(res.status).toBe(201);
    expect(records).toHaveLength(1);
    expect(records[0]!.user.name).toBe('second-operator');
    expect((await store.listSuspensions())[0]!.by).toBe('second-operator');
  });

  it('health and readiness stay open (probes), without detail beyond booleans', async () => {
    expect((await admin('GET', '/healthz', undefined, { token: null })).status).toBe(200);
    const ready = await admin('GET', '/readyz', undefined, { token: null });
    expect(ready.status).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { keys: true, store: true, audit: true, accepting: true } });
  });
});

describe('not reachable on the vendor listener', () => {
  it.each([
    ['POST', '/admin/suspend', false],
    ['POST', '/admin/suspend', true],
    ['POST', '/admin/revocations', true],
    ['GET', '/admin/revocations', false],
    ['GET', '/admin/status', false],
    ['POST', '/admin/explain', true],
    ['GET', '/readyz', false],
    ['GET', '/metrics', false],
  ])('%s %s (with a body: %s) on the vendor port is refused and has no effect', async (method, path, withBody) => {
    const before = await stateSnapshot();
    const upstreamBefore = h.upstream.requests.length;
    const adminBefore = adminRecords().length;
    const res = await request(h.vendorUrl, path, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(withBody ? { 'content-type': 'application/json' } : {}) },
      ...(withBody ? { body: JSON.stringify({ reason: 'via vendor port', kind: 'subject', id: 'x' }) } : {}),
    });
    // without a body the path is simply not on the allowlist; a body on a vendor request is refused before matching
    if (withBody) expect([res.status, res.json<{ code: string }>().code]).toEqual([400, 'request_rejected']);
    else {
      expect([404, 405]).toContain(res.status);
      expect(res.json<{ code: string }>().code).toMatch(/^(route_not_allowed|method_not_allowed)$/);
    }
    expect(await stateSnapshot()).toBe(before);
    expect(h.upstream.requests.length).toBe(upstreamBefore);
    expect(adminRecords().length).toBe(adminBefore);
  });
});

describe('every action leaves exactly one audit record', () => {
  it('revoke, list and unrevoke', async () => {
    let r = await recordsOf(() => admin('POST', '/admin/revocations', { kind: 'subject', id: 'eve@vendor.example', reason: 'left the company' }));
    expect(r.result.status).toBe(201);
    expect(r.records).toHaveLength(1);
    expect(r.records[0]).toMatchObject({ event: { action: 'admin_revoke', outcome: 'success' }, user: { name: 'test-operator' }, metagate: { admin: { kind: 'subject', id: 'eve@vendor.example', reason: 'left the company', ttl_sec: null } } });

    r = await recordsOf(() => admin('POST', '/admin/revocations', { kind: 'token', id: 'jti-123', reason: 'leaked', ttlSec: 600 }));
    expect(r.result.status).toBe(201);
    expect(r.records.map((x) => [x.event.action, x.event.outcome, x.metagate.admin.ttl_sec])).toEqual([['admin_revoke', 'success', 600]]);

    r = await recordsOf(() => admin('GET', '/admin/revocations'));
    expect(r.records).toHaveLength(0); // reads change nothing and are not actions
    const list = r.result.json<{ revocations: Array<{ kind: string; id: string; by: string; expiresAt?: number }> }>().revocations;
    expect(list.map((x) => [x.kind, x.id, x.by])).toEqual([['subject', 'eve@vendor.example', 'test-operator'], ['token', 'jti-123', 'test-operator']]);
    expect(list[1]!.expiresAt! - Date.now()).toBeGreaterThan(590_000);

    r = await recordsOf(() => admin('DELETE', '/admin/revocations/token/jti-123'));
    expect(r.result.status).toBe(200);
    expect(r.records.map((x) => [x.event.action, x.event.outcome])).toEqual([['admin_unrevoke', 'success']]);

    r = await recordsOf(() => admin('DELETE', '/admin/revocations/token/jti-123'));
    expect(r.result.status).toBe(404);
    expect(expectProblem(r.result, 404, 'revocation_not_found').detail).toBe('no such revocation');
    expect(r.records.map((x) => [x.event.action, x.event.outcome, x.metagate.admin.error])).toEqual([['admin_unrevoke', 'failure', 'no such revocation']]);
    expect((await store.listRevocations(Date.now())).map((x) => x.id)).toEqual(['eve@vendor.example']);
  });

  it('suspend (global and organisation), list and resume', async () => {
    let r = await recordsOf(() => admin('POST', '/admin/suspend', { reason: 'incident 42' }));
    expect(r.result.status).toBe(201);
    expect(r.records.map((x) => [x.event.action, x.event.outcome, x.user.name, x.metagate.admin.reason, x.metagate.admin.org])).toEqual([['admin_suspend', 'success', 'test-operator', 'incident 42', null]]);
    r = await recordsOf(() => admin('POST', '/admin/suspend', { reason: 'contract paused', org: 'acme' }));
    expect(r.records.map((x) => [x.event.action, x.metagate.admin.org])).toEqual([['admin_suspend', 'acme']]);

    const list = (await admin('GET', '/admin/suspensions')).json<{ suspensions: Array<{ org?: string; reason: string; by: string }> }>().suspensions;
    expect(list.map((s) => [s.org ?? null, s.reason, s.by])).toEqual([[null, 'incident 42', 'test-operator'], ['acme', 'contract paused', 'test-operator']]);

    r = await recordsOf(() => admin('POST', '/admin/resume', {}));
    expect(r.result.status).toBe(200);
    expect(r.records.map((x) => [x.event.action, x.event.outcome, x.metagate.admin.org])).toEqual([['admin_resume', 'success', null]]);
    r = await recordsOf(() => admin('POST', '/admin/resume', {}));
    expect(r.result.status).toBe(404);
    expect(expectProblem(r.result, 404, 'suspension_not_found').detail).toBe('no such suspension');
    expect(r.records.map((x) => [x.event.action, x.event.outcome])).toEqual([['admin_resume', 'failure']]);
    r = await recordsOf(() => admin('POST', '/admin/resume', { org: 'acme' }));
    expect(r.records.map((x) => [x.event.action, x.event.outcome, x.metagate.admin.org])).toEqual([['admin_resume', 'success', 'acme']]);
    expect(await store.listSuspensions()).toEqual([]);
  });

  it('schedule, list and cancel a window', async () => {
    const start = new Date(Date.now() + 3_600_000).toISOString();
    const end = new Date(Date.now() + 7_200_000).toISOString();
    let r = await recordsOf(() => admin('POST', '/admin/windows', { label: 'Exercise Northern Coast', reason: 'national exercise', start, end }));
    expect(r.result.status).toBe(201);
    const id = r.result.json<{ window: { id: string } }>().window.id;
    expect(r.records.map((x) => [x.event.action, x.event.outcome, x.metagate.admin.id, x.metagate.admin.label, x.metagate.admin.start, x.metagate.admin.end])).toEqual([
      ['admin_schedule_window', 'success', id, 'Exercise Northern Coast', start, end],
    ]);
    const wins = (await admin('GET', '/admin/windows')).json<{ windows: Array<{ id: string; label: string; by: string }> }>().windows;
    expect(wins.map((w) => [w.id, w.label, w.by])).toEqual([[id, 'Exercise Northern Coast', 'test-operator']]);

    r = await recordsOf(() => admin('DELETE', `/admin/windows/${id}`));
    expect(r.result.status).toBe(200);
    expect(r.records.map((x) => [x.event.action, x.event.outcome, x.metagate.admin.id])).toEqual([['admin_cancel_window', 'success', id]]);
    r = await recordsOf(() => admin('DELETE', `/admin/windows/${id}`));
    expect(r.result.status).toBe(404);
    expect(expectProblem(r.result, 404, 'window_not_found').detail).toBe('no such window');
    expect(r.records.map((x) => [x.event.action, x.event.outcome])).toEqual([['admin_cancel_window', 'failure']]);
    expect(await store.listWindows(Date.now())).toEqual([]);
  });

  it('explain', async () => {
    const r = await recordsOf(() => admin('POST', '/admin/explain', { target: CATALOGUE, claims: { sub: 'x', nationality: 'NL', clearance: 'STG_GEHEIM', clearance_expires_at: '2999-01-01' } }));
    expect(r.result.status).toBe(200);
    expect(r.records.map((x) => [x.event.action, x.event.outcome, x.metagate.admin.target, x.metagate.admin.decision])).toEqual([['admin_explain', 'success', CATALOGUE, 'allow']]);
  });

  it('reload: refused without a configuration file, and 501 where reload does not exist', async () => {
    let r = await recordsOf(() => admin('POST', '/admin/reload', {}));
    expect(r.result.status).toBe(422); // the harness gateway was built from an object, not a file
    expect(r.result.json()).toEqual({ reloaded: false, problems: ['no configuration file to reload from'] });
    expect(r.records.map((x) => [x.event.action, x.event.outcome])).toEqual([['admin_reload', 'failure']]);

    const app = await buildAdminApp(h.gateway.gateway); // no reload function: e.g. an embedded gateway
    try {
      r = await recordsOf(() =>
        app.inject({ method: 'POST', url: '/admin/reload', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, payload: '{}' }).then((x) => ({ status: x.statusCode, headers: x.headers, body: x.body }) as SimpleResponse),
      );
      expect(r.result.status).toBe(501);
      expect(expectProblem(r.result, 501, 'reload_unavailable').detail).toBe('reload is not available in this mode');
      expect(r.records.map((x) => [x.event.action, x.event.outcome, x.user.name, x.metagate.admin.error])).toEqual([['admin_reload', 'failure', 'test-operator', 'not available']]);
    } finally {
      await app.close();
    }
  });
});

describe('invalid requests: 400, one failure record, no change', () => {
  const now = Date.now();
  const iso = (ms: number) => new Date(now + ms).toISOString();
  it.each([
    ['revoke with an unknown kind', 'POST', '/admin/revocations', { kind: 'user', id: 'x', reason: 'r' }, 'admin_revoke'],
    ['revoke without an id', 'POST', '/admin/revocations', { kind: 'subject', reason: 'r' }, 'admin_revoke'],
    ['revoke with a control character in the reason', 'POST', '/admin/revocations', { kind: 'subject', id: 'x', reason: 'a\nb' }, 'admin_revoke'],
    ['revoke with a negative ttl', 'POST', '/admin/revocations', { kind: 'subject', id: 'x', reason: 'r', ttlSec: -1 }, 'admin_revoke'],
    ['revoke with a fractional ttl', 'POST', '/admin/revocations', { kind: 'subject', id: 'x', reason: 'r', ttlSec: 1.5 }, 'admin_revoke'],
    ['revoke with an absurd ttl', 'POST', '/admin/revocations', { kind: 'subject', id: 'x', reason: 'r', ttlSec: 1e15 }, 'admin_revoke'],
    ['revoke with a body that is not JSON', 'POST', '/admin/revocations', '{"kind": "subject", ', 'admin_revoke'],
    ['revoke with a JSON array body', 'POST', '/admin/revocations', [], 'admin_revoke'],
    ['unrevoke with an unknown kind', 'DELETE', '/admin/revocations/user/x', undefined, 'admin_unrevoke'],
    ['suspend without a reason', 'POST', '/admin/suspend', {}, 'admin_suspend'],
    ['suspend with a non-string org', 'POST', '/admin/suspend', { reason: 'r', org: 5 }, 'admin_suspend'],
    ['suspend with an empty org', 'POST', '/admin/suspend', { reason: 'r', org: '' }, 'admin_suspend'],
    ['resume with an object org', 'POST', '/admin/resume', { org: {} }, 'admin_resume'],
    ['window ending before it starts', 'POST', '/admin/windows', { label: 'l', reason: 'r', start: iso(7_200_000), end: iso(3_600_000) }, 'admin_schedule_window'],
    ['window that has already ended', 'POST', '/admin/windows', { label: 'l', reason: 'r', start: iso(-7_200_000), end: iso(-3_600_000) }, 'admin_schedule_window'],
    ['window with a date that is not a date', 'POST', '/admin/windows', { label: 'l', reason: 'r', start: 'soon', end: iso(3_600_000) }, 'admin_schedule_window'],
    ['window without a label', 'POST', '/admin/windows', { reason: 'r', start: iso(0), end: iso(3_600_000) }, 'admin_schedule_window'],
    ['window with an id that is not printable ASCII', 'POST', '/admin/windows', { id: 'a b', label: 'l', reason: 'r', start: iso(0), end: iso(3_600_000) }, 'admin_schedule_window'],
    ['explain without a target', 'POST', '/admin/explain', { claims: {} }, 'admin_explain'],
    ['explain with both token and claims', 'POST', '/admin/explain', { target: '/', token: 'x', claims: {} }, 'admin_explain'],
    ['explain with a method that is not a method', 'POST', '/admin/explain', { target: '/', method: 42, claims: {} }, 'admin_explain'],
  ])('%s', async (_name, method, path, body, action) => {
    const before = await stateSnapshot();
    const { result: res, records } = await recordsOf(() => admin(method, path, typeof body === 'string' ? undefined : body, typeof body === 'string' ? { rawBody: body } : {}));
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expectProblem(res, 400, typeof body === 'string' ? 'invalid_json' : 'invalid_request');
    expect(records).toHaveLength(1);
    expect(records[0]!.event).toMatchObject({ action, outcome: 'failure' });
    expect(records[0]!.user.name).toBe('test-operator');
    expect(await stateSnapshot()).toBe(before);
  });
});

describe('refusals keep their detail sentences', () => {
  it.each([
    ['DELETE', '/admin/revocations/user/x', undefined, 'kind must be subject or token, and id up to 256 characters without control or format characters'],
    ['POST', '/admin/suspend', {}, 'body: {"reason": string, "org"?: string}'],
    ['POST', '/admin/resume', { org: 5 }, 'body: {"org"?: string}'],
    ['GET', '/admin/rate-limits/a%0Ab', undefined, 'subject must be up to 256 characters without control or format characters'],
  ])('%s %s', async (method, path, body, detail) => {
    expect(expectProblem(await admin(method, path, body), 400, 'invalid_request').detail).toBe(detail);
  });
});

describe('when the state store is unavailable', () => {
  it('actions answer 503 and are recorded as failures; reads answer 503', async () => {
    store.down = true;
    for (const [method, path, body, action] of [
      ['POST', '/admin/revocations', { kind: 'subject', id: 'x', reason: 'r' }, 'admin_revoke'],
      ['DELETE', '/admin/revocations/subject/x', undefined, 'admin_unrevoke'],
      ['POST', '/admin/suspend', { reason: 'r' }, 'admin_suspend'],
      ['POST', '/admin/resume', {}, 'admin_resume'],
      ['POST', '/admin/windows', { label: 'l', reason: 'r', start: new Date().toISOString(), end: new Date(Date.now() + 60_000).toISOString() }, 'admin_schedule_window'],
      ['DELETE', '/admin/windows/w1', undefined, 'admin_cancel_window'],
    ] as const) {
      const { result: res, records } = await recordsOf(() => admin(method, path, body));
      expect(res.status, path).toBe(503);
      expect(res.json<{ detail: string }>().detail).toBe('the shared state store is unavailable');
      expectProblem(res, 503, 'state_unavailable');
      expect(records.map((x) => [x.event.action, x.event.outcome, x.user.name, x.metagate.admin.error]), path).toEqual([[action, 'failure', 'test-operator', 'state_unavailable']]);
    }
    for (const path of ['/admin/revocations', '/admin/suspensions', '/admin/windows', '/admin/rate-limits/x']) expectProblem(await admin('GET', path), 503, 'state_unavailable');
    const ex = await admin('POST', '/admin/explain', { target: CATALOGUE, token: await h.token('geheim') });
    expect(ex.status).toBe(200);
    expect(ex.json<ExplainResult>()).toMatchObject({ decision: 'deny', status: 503, reasons: ['state_unavailable'] });
    const real = await vendor(CATALOGUE, await h.token('geheim'));
    expect([real.status, real.json<{ code: string }>().code]).toEqual([503, 'state_unavailable']);
    expect((await admin('GET', '/readyz', undefined, { token: null })).json()).toMatchObject({ status: 'not_ready', checks: { store: false } });
  });
});

describe('GET /admin/rate-limits/:subject', () => {
  it('reports the budget used by vendor requests without consuming any', async () => {
    const sub = `rl-${Date.now()}@vendor.example`;
    const token = await geheimAs(sub);
    for (let i = 0; i < 3; i++) expect((await vendor(CATALOGUE, token)).status).toBe(200);
    const state = (await admin('GET', `/admin/rate-limits/${encodeURIComponent(sub)}`)).json<{ subject: { allowed: boolean; limit: number; remaining: number; resetMs: number }; global: { limit: number } }>();
    expect(state.subject).toMatchObject({ allowed: true, limit: PER_SUBJECT, remaining: PER_SUBJECT - 3 });
    expect(state.subject.resetMs).toBeGreaterThan(0);
    expect(state.global.limit).toBe(0);
    const again = (await admin('GET', `/admin/rate-limits/${encodeURIComponent(sub)}`)).json<{ subject: { remaining: number } }>();
    expect(again.subject.remaining).toBe(PER_SUBJECT - 3);
    expect((await admin('GET', '/admin/rate-limits/a%0Ab')).status).toBe(400);
  });
});

describe('explain: the same decision as the gateway, forwarding nothing', () => {
  it.each([
    ['geheim', 'GET', CATALOGUE, 200, null],
    ['geheim', 'GET', LINEAGE, 200, null],
    ['confidentieel', 'GET', CATALOGUE, 200, null],
    ['confidentieel', 'GET', LINEAGE, 403, 'clearance_insufficient'],
    ['foreign', 'GET', CATALOGUE, 403, 'nationality_not_allowed'],
    ['expired', 'GET', CATALOGUE, 403, 'clearance_expired'],
    ['geheim', 'GET', DATA, 404, 'route_not_allowed'],
    ['geheim', 'DELETE', CATALOGUE, 405, 'method_not_allowed'],
    ['geheim', 'GET', `${CATALOGUE}?fields=sampleData`, 403, 'query_value_not_allowed'],
    ['geheim', 'GET', '/api/v1/tables/%2e%2e/x', 400, 'path_rejected'],
    ['geheim', 'GET', '/_metagate/whoami', 200, null],
    ['geheim', 'POST', '/_metagate/whoami', 405, 'method_not_allowed'],
    ['geheim', 'GET', '/_metagate/whoami?x=1', 400, 'query_not_allowed'],
  ])('%s %s %s → %s %s', async (persona, method, target, status, code) => {
    const token = await h.token(persona);
    const upstreamBefore = h.upstream.requests.length;
    const ex = await admin('POST', '/admin/explain', { target, method, token });
    expect(ex.status).toBe(200);
    expect(h.upstream.requests.length).toBe(upstreamBefore); // explain forwards nothing
    const e = ex.json<ExplainResult>();
    const real = await vendor(target, token, method);
    expect(real.status).toBe(status);
    expect(e.status).toBe(real.status);
    expect(e.decision).toBe(status === 200 ? 'allow' : 'deny');
    if (code === null) expect(e.reasons).toEqual([]);
    else {
      expect(real.json<{ code: string }>().code).toBe(code);
      expect(e.reasons[0]).toBe(code);
    }
    expect(e.steps[0]!.stage).toBe('canonicalise');
    expect(e.steps.every((s, i) => s.ok || i === e.steps.length - 1)).toBe(true); // stops at the first failed stage
    if (status === 200) {
      expect(e.steps.map((s) => s.stage)).toEqual(target.startsWith('/_metagate') ? ['canonicalise', 'match', 'authenticate', 'claims', 'state'] : ['canonicalise', 'match', 'query', 'authenticate', 'claims', 'category', 'state']);
      expect(e.steps.every((s) => s.ok)).toBe(true);
    } else expect(e.steps.at(-1)!.ok).toBe(false);
  });

  it('shows per-claim checks and the upstream request it would make', async () => {
    const e = (await admin('POST', '/admin/explain', { target: `${CATALOGUE}?fields=columns`, token: await h.token('confidentieel') })).json<ExplainResult>();
    expect(e.decision).toBe('allow');
    expect(e.rule).toMatchObject({ category: 'catalogue' });
    expect(e.upstream).toBe(`${CATALOGUE}?fields=columns`);
    const claims = e.steps.find((s) => s.stage === 'claims')!;
    expect(claims.checks!.map((c) => c.check)).toEqual(expect.arrayContaining(['nationality', 'clearance']));
    expect(claims.checks!.every((c) => c.ok)).toBe(true);
    const lineage = (await admin('POST', '/admin/explain', { target: LINEAGE, token: await h.token('confidentieel') })).json<ExplainResult>();
    expect(lineage.steps.find((s) => s.stage === 'category')).toMatchObject({ ok: false });
    expect(lineage.steps.find((s) => s.stage === 'category')!.detail).toMatch(/STG_GEHEIM/);
  });

  it('sees revocations and suspensions exactly as the gateway does, without consuming rate-limit budget', async () => {
    const sub = `explain-${Date.now()}@vendor.example`;
    const token = await geheimAs(sub, { jti: `jti-${sub}` });
    const explainNow = async () => (await admin('POST', '/admin/explain', { target: CATALOGUE, token })).json<ExplainResult>();
    const compare = async (status: number, code: string | null) => {
      const e = await explainNow();
      const real = await vendor(CATALOGUE, token);
      expect([e.status, e.reasons[0] ?? null]).toEqual([status, code]);
      expect([real.status, status === 200 ? null : real.json<{ code: string }>().code]).toEqual([status, code]);
    };
    const rl = async () => (await store.rateLimitState(sub, Date.now())).subject.remaining;

    await compare(200, null);
    const remaining = await rl();
    await explainNow();
    expect(await rl()).toBe(remaining); // explain is read-only

    await admin('POST', '/admin/revocations', { kind: 'token', id: `jti-${sub}`, reason: 'token leaked' });
    await compare(401, 'token_revoked');
    await admin('POST', '/admin/revocations', { kind: 'subject', id: sub, reason: 'contract ended' });
    await compare(403, 'subject_revoked'); // subject revocation takes precedence, as in the gateway
    const e = await explainNow();
    expect(e.reasons).toEqual(['subject_revoked', 'token_revoked']);
    expect(e.steps.at(-1)).toMatchObject({ stage: 'state', ok: false });
    expect(e.steps.at(-1)!.detail).toContain('contract ended');
    await admin('DELETE', `/admin/revocations/subject/${encodeURIComponent(sub)}`);
    await admin('DELETE', `/admin/revocations/token/${encodeURIComponent(`jti-${sub}`)}`);

    await admin('POST', '/admin/suspend', { reason: 'vendor audit', org: 'vendor' });
    await compare(403, 'access_suspended');
    await admin('POST', '/admin/resume', { org: 'vendor' });
    await compare(200, null);
  });
});

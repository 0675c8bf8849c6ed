// The admin listener answers every refusal with RFC 9457 problem details carrying a stable code, and never echoes the
// request (path, body, content type) back: unknown routes, wrong methods, framework errors and malformed HTTP included.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.js';
import { rawExchange, request, type SimpleResponse } from '../helpers/http.js';
import { expectProblem } from './problem.js';
import { SECURITY_HEADERS } from '../../src/pipeline/respond.js';

type Rec = { event: { action: string; outcome: string; category: string }; user: { name: string }; metagate: { admin: Record<string, unknown> } };

/** a string that must never come back in an answer */
const MARKER = 'zq7marker';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

const adminRecords = (): Rec[] => h.audit.records().filter((r) => (r as unknown as Rec).event.category === 'configuration') as unknown as Rec[];

async function recordsOf<T>(fn: () => Promise<T>): Promise<{ result: T; records: Rec[] }> {
  const before = adminRecords().length;
  const result = await fn();
  return { result, records: adminRecords().slice(before) };
}

function call(method: string, path: string, opts: { token?: string | null; body?: string; contentType?: string } = {}): Promise<SimpleResponse> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  return request(h.adminUrl, path, { method, headers, ...(opts.body !== undefined ? { body: opts.body } : {}) });
}

describe('unknown admin routes: 404 not_found, nothing echoed', () => {
  it.each([
    [`/nope<${MARKER}>`],
    [`/${MARKER}`],
    [`/admin/${MARKER}`],
    [`/admin/${MARKER}%3Cscript%3E`],
    [`/admin/revocations/subject/x/${MARKER}`],
    [`/admin/status/${MARKER}`],
    [`/admin/status${MARKER}?x=1`],
    ['/'],
  ])('GET %s', async (path) => {
    for (const token of [ADMIN_TOKEN, null]) {
      const { result: res, records } = await recordsOf(() => call('GET', path, { token }));
      const body = expectProblem(res, 404, 'not_found');
      expect(body.title).toBe('Not Found');
      expect(res.body).not.toContain(MARKER);
      expect(res.body).not.toContain('nope');
      expect(res.body).not.toContain('GET');
      expect(records).toEqual([]); // no action was attempted
    }
  });
});

describe('a known route with the wrong method: 405 method_not_allowed with Allow', () => {
  it.each([
    ['GET', '/admin/suspend', 'POST'],
    ['DELETE', '/admin/revocations', 'GET, POST'],
    ['PUT', '/admin/revocations', 'GET, POST'],
    ['POST', `/admin/revocations/subject/${MARKER}`, 'DELETE'],
    ['GET', `/admin/windows/${MARKER}`, 'DELETE'],
    ['POST', '/admin/status', 'GET'],
    ['POST', `/admin/rate-limits/${MARKER}`, 'GET'],
    ['POST', '/healthz', 'GET'],
    ['HEAD', '/readyz', 'GET'],
    ['DELETE', `/metrics?${MARKER}`, 'GET'],
  ])('%s %s → Allow: %s', async (method, path, allow) => {
    for (const token of [ADMIN_TOKEN, null]) {
      const { result: res, records } = await recordsOf(() => call(method, path, { token }));
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe(allow);
      if (method !== 'HEAD') {
        expectProblem(res, 405, 'method_not_allowed');
        expect(res.body).not.toContain(MARKER);
        expect(res.body).not.toContain(method);
      }
      expect(records).toEqual([]);
    }
  });
});

describe('framework errors: problem+json with a code, nothing echoed, the action still recorded once', () => {
  it('a body that is not JSON → 400 invalid_json', async () => {
    const { result: res, records } = await recordsOf(() => call('POST', '/admin/revocations', { body: `{"kind": "${MARKER}", ` }));
    const body = expectProblem(res, 400, 'invalid_json');
    expect(res.body).not.toContain(MARKER);
    expect(body.detail).toBe("Body is not valid JSON but content-type is set to 'application/json'");
    expect(records.map((r) => [r.event.action, r.event.outcome, r.user.name])).toEqual([['admin_revoke', 'failure', 'test-operator']]);
  });

  it('a prototype-poisoning body → 400 invalid_json', async () => {
    const res = await call('POST', '/admin/suspend', { body: `{"__proto__": {"${MARKER}": 1}, "reason": "r"}` });
    expectProblem(res, 400, 'invalid_json');
    expect(res.body).not.toContain(MARKER);
  });

  it('an empty JSON body → 400 invalid_json', async () => {
    const { result: res, records } = await recordsOf(() => call('POST', '/admin/suspend', { body: '' }));
    expectProblem(res, 400, 'invalid_json');
    expect(records.map((r) => [r.event.action, r.event.outcome])).toEqual([['admin_suspend', 'failure']]);
  });

  it('an unsupported content type → 415 unsupported_media_type', async () => {
    const { result: res, records } = await recordsOf(() => call('POST', '/admin/suspend', { body: `<reason>${MARKER}</reason>`, contentType: `application/x-${MARKER}` }));
    expectProblem(res, 415, 'unsupported_media_type');
    expect(res.body).not.toContain(MARKER);
    expect(records.map((r) => [r.event.action, r.event.outcome])).toEqual([['admin_suspend', 'failure']]);
  });

  it('a body over the limit → 413 body_too_large', async () => {
    const { result: res, records } = await recordsOf(() => h.gateway.admin.inject({
      method: 'POST',
      url: '/admin/suspend',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ reason: MARKER.repeat(10_000) }),
    }));
    expectProblem({ status: res.statusCode, headers: res.headers, body: res.body }, 413, 'body_too_large');
    expect(res.body).not.toContain(MARKER);
    expect(records.map((r) => [r.event.action, r.event.outcome])).toEqual([['admin_suspend', 'failure']]);
  });

  it('a path that is not valid percent-encoding → 400 bad_url', async () => {
    for (const path of [`/admin/windows/%zz${MARKER}`, `/%E0%A4%A${MARKER}`]) {
      const res = await call('DELETE', path);
      expectProblem(res, 400, 'bad_url');
      expect(res.body).not.toContain(MARKER);
    }
  });

  it('an id as long as the API accepts can be unrevoked; a longer path parameter is refused without echo', async () => {
    const id = `${MARKER}${'x'.repeat(200)}`;
    const revoked = await call('POST', '/admin/revocations', { body: JSON.stringify({ kind: 'subject', id, reason: 'long id' }) });
    expect(revoked.status).toBe(201);
    expect((await call('DELETE', `/admin/revocations/subject/${id}`)).status).toBe(200);
    const huge = await call('DELETE', `/admin/revocations/subject/${MARKER}${'y'.repeat(4000)}`);
    expectProblem(huge, 414, 'uri_too_long');
    expect(huge.body).not.toContain(MARKER);
  });

  it('malformed HTTP → 400 problem+json, connection closed', async () => {
    const port = Number(new URL(h.adminUrl).port);
    const res = await rawExchange(port, `GET /admin/status HTTP/1.1\r\nHost: x\r\nBad Header${MARKER}\r\n\r\n`);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expectProblem({ status: res.status, headers: res.headers, body: res.body }, 400, 'malformed_request');
    expect(res.raw).not.toContain(MARKER);
  });
});

describe('an admin API without tokens', () => {
  let off: Harness;
  beforeAll(async () => {
    off = await startHarness({ configure: (cfg) => void (cfg.admin.tokens = []) });
  });
  afterAll(async () => {
    await off?.close();
  });

  it('answers 401 admin_api_disabled, still recorded', async () => {
    const res = await request(off.adminUrl, '/admin/suspend', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: '{"reason":"r"}' });
    const body = expectProblem(res, 401, 'admin_api_disabled');
    expect(body.detail).toBe('the admin API is disabled: no admin tokens are configured');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="metagate-admin"');
    const recs = off.audit.records().filter((r) => (r as unknown as Rec).event.category === 'configuration') as unknown as Rec[];
    expect(recs.map((r) => [r.event.action, r.event.outcome, r.user.name])).toEqual([['admin_authenticate', 'failure', 'anonymous']]);
  });
});

// Independent review of session 9 (F83): F81 gave the vendor listener's raw-socket answers every security header;
// the admin listener's (a message node cannot parse, an oversized header) still carried cache-control only.
describe('admin answers written on the raw socket carry the security headers', () => {
  it.each<[string, string, number]>([
    ['malformed HTTP', `GET /admin/status HTTP/1.1\r\nHost: x\r\nBad Header${MARKER}\r\n\r\n`, 400],
    ['an oversized header', `GET /admin/status HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`, 431],
  ])('%s', async (_d, bytes, status) => {
    const res = await rawExchange(Number(new URL(h.adminUrl).port), bytes, 1000);
    expect(res.status).toBe(status);
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) expect(res.headers[k], k).toBe(v);
  });
});

describe('admin answers carry the security headers', () => {
  it.each<[string, string, Record<string, string>]>([
    ['health', '/healthz', {}],
    ['an unknown path', '/nope', {}],
    ['a refused authentication', '/admin/status', {}],
    ['an authenticated status', '/admin/status', { authorization: `Bearer ${ADMIN_TOKEN}` }],
  ])('%s', async (_d, path, headers) => {
    const r = await request(h.adminUrl, path, { headers });
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['referrer-policy']).toBe('no-referrer');
  });
});

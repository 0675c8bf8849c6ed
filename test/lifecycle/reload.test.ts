// In-process reload through RunningGateway.reload(): good configs switch, bad ones are refused with their key paths,
// settings bound at start are refused, concurrent reloads are serialised, and a close drains before stopping.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { startGateway, type RunningGateway } from '../../src/server.js';
import { createLogger } from '../../src/observability/logger.js';
import { AuditSink, TEST_ENV } from '../helpers/harness.js';
import { request } from '../helpers/http.js';
import { createWorkspace, FAST_ID, SLOW_ID, type Workspace } from './fixture.js';

const table = (id: string) => `/api/v1/tables/${id}`;

let ws: Workspace;
let g: RunningGateway;
let audit: AuditSink;
beforeAll(async () => {
  ws = await createWorkspace();
  ws.config.log = { level: 'silent' };
  ws.write();
  Object.assign(process.env, TEST_ENV);
  audit = new AuditSink();
  g = await startGateway(loadConfigFile(ws.configFile), { configPath: ws.configFile, auditDestination: audit, logger: createLogger('silent') });
});
afterAll(async () => {
  await g?.close();
  await ws?.remove();
});

describe('RunningGateway.reload()', () => {
  it('switches to a valid new configuration and reports its hash', async () => {
    const token = await ws.token('confidentieel');
    const auth = { authorization: `Bearer ${token}` };
    const before = g.gateway.runtime.hash;
    expect((await request(g.vendorUrl, table(FAST_ID), { headers: auth })).status).toBe(200);

    ws.config.policy.categories.catalogue.minClearance = 'STG_GEHEIM';
    ws.write();
    const r = await g.reload();
    expect(r).toEqual({ ok: true, hash: expect.stringMatching(/^[0-9a-f]{16}$/) });
    if (!r.ok) return;
    expect(r.hash).not.toBe(before);
    expect(g.gateway.runtime.hash).toBe(r.hash);
    const res = await request(g.vendorUrl, table(FAST_ID), { headers: auth });
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({ code: 'clearance_insufficient' });
  });

  it('refuses an invalid configuration with every problem and its key path; the old one keeps serving', async () => {
    const hash = g.gateway.runtime.hash;
    const bad = structuredClone(ws.config);
    bad.policy.categories.usage.minClearance = 'SECRET';
    bad.policy.nationality = { allowed: ['XX'] };
    ws.write(bad);
    const r = await g.reload();
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^policy\.categories\.usage\.minClearance: "SECRET" is not on policy\.clearance\.scale/), expect.stringMatching(/^policy\.nationality\.allowed\[0\]: "XX"/)]),
    );
    expect(g.gateway.runtime.hash).toBe(hash);
    const res = await request(g.vendorUrl, table(FAST_ID), { headers: { authorization: `Bearer ${await ws.token('geheim')}` } });
    expect(res.status).toBe(200);
  });

  it('refuses changes to settings bound at start (listeners, upstream, state, audit, sovereignty)', async () => {
    const hash = g.gateway.runtime.hash;
    const bound = structuredClone(ws.config);
    bound.vendor.port = 18080;
    bound.upstream.responseTimeoutMs = 1234;
    bound.sovereignty.allowedRanges = ['127.0.0.0/8', '10.0.0.0/8'];
    ws.write(bound);
    const r = await g.reload();
    expect(r).toEqual({
      ok: false,
      problems: ['vendor: cannot change by reload; restart the gateway to apply it', 'upstream: cannot change by reload; restart the gateway to apply it', 'sovereignty: cannot change by reload; restart the gateway to apply it'],
    });
    expect(g.gateway.runtime.hash).toBe(hash);
    ws.write();
  });

  it('runs concurrent reloads one after the other, each on a consistent configuration', async () => {
    ws.config.policy.categories.catalogue.minClearance = 'STG_CONFIDENTIEEL';
    ws.write();
    const [a, b] = await Promise.all([g.reload(), g.reload()]);
    expect(a.ok && b.ok).toBe(true);
    if (!a.ok || !b.ok) return;
    expect(a.hash).toBe(b.hash);
    expect(g.gateway.runtime.hash).toBe(a.hash);
    expect((await request(g.vendorUrl, table(FAST_ID), { headers: { authorization: `Bearer ${await ws.token('confidentieel')}` } })).status).toBe(200);
  });

  it('the admin API reload endpoint uses the same path (and is audited)', async () => {
    ws.config.policy.categories.usage.minClearance = 'STG_GEHEIM';
    ws.write();
    const res = await request(g.adminUrl, '/admin/reload', { method: 'POST', headers: { authorization: `Bearer ${TEST_ENV.METAGATE_TEST_ADMIN_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ reloaded: true, config_hash: g.gateway.runtime.hash });
    const rec = audit.records().find((r) => (r.event as { action?: string }).action === 'admin_reload');
    expect(rec).toMatchObject({ event: { outcome: 'success' }, user: { name: 'test-operator' } });
  });
});

describe('RunningGateway.close()', () => {
  it('lets an in-flight request finish, then refuses new connections', async () => {
    const auth = { authorization: `Bearer ${await ws.token('geheim')}` };
    const slow = request(g.vendorUrl, table(SLOW_ID), { headers: auth });
    while (!ws.upstream.received.includes(SLOW_ID)) await new Promise((r) => setTimeout(r, 10));
    const closing = g.close();
    const fresh = await request(g.vendorUrl, table(FAST_ID), { headers: auth }).then(
      (r) => r.status,
      (e: NodeJS.ErrnoException) => e.code,
    );
    expect(['ECONNREFUSED', 503]).toContain(fresh);
    expect(g.gateway.readiness()).toMatchObject({ ready: false, checks: { accepting: false } });
    const res = await slow;
    expect(res.status).toBe(200);
    await closing;
    const rec = audit.requestRecords().find((r) => r.url.path === table(SLOW_ID));
    expect(rec?.metagate.decision).toBe('allow');
    // close is idempotent
    await g.close();
  });
});

// The real CLI under signals: SIGTERM drains in-flight requests and exits 0 with the audit trail flushed; SIGHUP
// reloads, keeping the old configuration when the new one is broken and switching atomically per request when good.

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { request, type SimpleResponse } from '../helpers/http.js';
import { TEST_ENV } from '../helpers/harness.js';
import { createWorkspace, FAST_ID, SLOW_ID, SLOW_MS, startCli, type Child, type Workspace } from './fixture.js';

const table = (id: string) => `/api/v1/tables/${id}`;

function connectOutcome(url: string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port) });
    s.on('connect', () => {
      // connected: ask for something and report the status line (a draining gateway answers 503)
      s.write(`GET ${table(FAST_ID)} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);
      let got = '';
      s.on('data', (c: Buffer) => (got += c.toString('latin1')));
      s.on('close', () => resolve(got.split('\r\n')[0] || 'closed without an answer'));
    });
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

async function until(pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const metric = (body: string, result: 'success' | 'failure') => Number(new RegExp(`^metagate_config_reloads_total\\{result="${result}"\\} (\\d+)`, 'm').exec(body)?.[1] ?? NaN);

describe('SIGTERM: graceful drain', () => {
  let ws: Workspace;
  let child: Child | undefined;
  beforeAll(async () => {
    ws = await createWorkspace();
  });
  afterAll(async () => {
    child?.kill();
    await ws?.remove();
  });

  it('finishes the in-flight request, refuses new connections, exits 0 and leaves the request on the audit trail', async () => {
    child = await startCli(ws.configFile);
    const token = await ws.token('geheim');
    const auth = { authorization: `Bearer ${token}` };
    expect((await request(child.vendorUrl, table(FAST_ID), { headers: auth })).status).toBe(200);

    const started = Date.now();
    const slow = request(child.vendorUrl, table(SLOW_ID), { headers: auth });
    await until(() => ws.upstream.received.includes(SLOW_ID));
    child.proc.kill('SIGTERM');
    await child.waitForLog((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM');

    // while draining: no new vendor connection is served, and readiness reports false
    const fresh = await connectOutcome(child.vendorUrl);
    if (!['ECONNREFUSED', 'HTTP/1.1 503 Service Unavailable'].includes(fresh)) {
      // diagnostics for a failure: how the child ended and what it logged
      const ex = await Promise.race([child.exited, new Promise((r) => setTimeout(() => r('still running'), 3000))]);
      const inFlight = await slow.then((r) => r.status, (e: NodeJS.ErrnoException) => e.code);
      expect.fail(`new connection during drain: ${fresh}; in-flight request: ${inFlight}; child: ${JSON.stringify(ex)}\n${child.stderr()}`);
    }
    const ready = await request(child.adminUrl, '/readyz').then(
      (r) => r.status,
      (e: NodeJS.ErrnoException) => e.code,
    );
    expect([503, 'ECONNREFUSED']).toContain(ready);

    const res = await slow;
    expect(res.status).toBe(200);
    expect(res.json().id).toBe(SLOW_ID);
    expect(Date.now() - started).toBeGreaterThanOrEqual(SLOW_MS - 50);

    expect(await child.exited).toEqual({ code: 0, signal: null });
    await child.waitForLog((l) => l.msg === 'metagate stopped');
    const records = ws.auditRecords().filter((r) => r.event?.action === 'vendor_request');
    const slowRec = records.find((r) => r.url?.path === table(SLOW_ID));
    expect(slowRec).toMatchObject({ http: { response: { status_code: 200 } }, metagate: { decision: 'allow', rule: 'om.tables.get' } });
    // the chain is intact across the shutdown
    records.forEach((r, i) => expect(r.chain.seq).toBe(i + 1));
  });
});

describe('SIGHUP: reload', () => {
  let ws: Workspace;
  let child: Child;
  let oldHash: string;
  beforeAll(async () => {
    ws = await createWorkspace();
    oldHash = loadConfigFile(ws.configFile, { env: TEST_ENV }).hash;
    child = await startCli(ws.configFile);
  });
  afterAll(async () => {
    child?.proc.kill('SIGTERM');
    await child?.exited;
    await ws?.remove();
  });

  it('keeps serving the old configuration when the new one is broken, and logs the key paths', async () => {
    const token = await ws.token('confidentieel');
    const listening = child.logs.find((l) => l.msg === 'metagate listening')!;
    expect(listening.config).toBe(oldHash);

    const broken = structuredClone(ws.config);
    broken.upstream.surprise = true;
    ws.write(broken);
    child.proc.kill('SIGHUP');
    const refused = await child.waitForLog((l) => l.msg === 'configuration reload refused; the old configuration keeps serving');
    expect(refused.problems).toEqual(expect.arrayContaining(['upstream: unknown key "surprise"']));

    // YAML syntax errors too
    ws.write('vendor:\n  port: [unclosed\n');
    child.proc.kill('SIGHUP');
    await until(() => child.logs.filter((l) => l.msg === 'configuration reload refused; the old configuration keeps serving').length === 2);
    expect(child.stderr()).toContain('YAML');

    const res = await request(child.vendorUrl, table(FAST_ID), { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const metrics = (await request(child.adminUrl, '/metrics')).body;
    expect(metric(metrics, 'failure')).toBe(2);
    expect(metric(metrics, 'success')).toBe(0);
    expect(metrics).toContain(`metagate_config_info{hash="${oldHash}"} 1`);

    // semantic errors are reported with their key path too
    const semantic = structuredClone(ws.config);
    semantic.policy.categories.catalogue.minClearance = 'TOP_SECRET';
    ws.write(semantic);
    child.proc.kill('SIGHUP');
    const third = await until(() => child.logs.filter((l) => l.msg === 'configuration reload refused; the old configuration keeps serving').length === 3).then(
      () => child.logs.filter((l) => l.msg === 'configuration reload refused; the old configuration keeps serving')[2]!,
    );
    expect(JSON.stringify(third.problems)).toContain('policy.categories.catalogue.minClearance');
  });

  it('switches to a good configuration; every request sees either the old or the new policy entirely', async () => {
    const token = await ws.token('confidentieel');
    const auth = { authorization: `Bearer ${token}` };
    const next = structuredClone(ws.config);
    next.policy.categories.catalogue.minClearance = 'STG_GEHEIM';
    ws.write(next);
    const newHash = loadConfigFile(ws.configFile, { env: TEST_ENV }).hash;
    expect(newHash).not.toBe(oldHash);

    const auditBefore = ws.auditRecords().length;
    // a slow request that starts under the old policy and finishes after the switch
    const slow = request(child.vendorUrl, table(SLOW_ID), { headers: auth });
    await until(() => ws.upstream.received.filter((id) => id === SLOW_ID).length === 1);

    // continuous traffic across the reload
    const responses: SimpleResponse[] = [];
    let reloaded = false;
    let stop = false;
    const worker = async () => {
      let afterReload = 0;
      while (!stop) {
        const r = await request(child.vendorUrl, table(FAST_ID), { headers: auth });
        responses.push(r);
        if (reloaded && ++afterReload >= 5) break;
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    await until(() => responses.length >= 20);
    child.proc.kill('SIGHUP');
    await child.waitForLog((l) => l.msg === 'configuration reloaded' && l.hash === newHash);
    reloaded = true;
    await Promise.race([Promise.all(workers), new Promise((r) => setTimeout(r, 5000))]);
    stop = true;
    await Promise.all(workers);

    const slowRes = await slow;
    expect(slowRes.status).toBe(200);

    // every answer is one of the two policies; both were seen
    const statuses = new Set(responses.map((r) => r.status));
    expect([...statuses].sort()).toEqual([200, 403]);
    for (const r of responses.filter((x) => x.status === 403)) expect(r.json().code).toBe('clearance_insufficient');
    // once a 403 (new policy) was answered to a request that started after the reload log line, no later request got the old one
    await new Promise((r) => setTimeout(r, 200));
    const records = ws.auditRecords().slice(auditBefore).filter((r) => r.event?.action === 'vendor_request');
    expect(records.length).toBe(responses.length + 1);
    for (const rec of records) {
      const pair = `${rec.metagate.decision}/${rec.metagate.config_hash}`;
      expect([`allow/${oldHash}`, `deny/${newHash}`]).toContain(pair);
      if (rec.metagate.decision === 'deny') expect(rec.metagate.reasons).toEqual(['clearance_insufficient']);
    }
    const slowRec = records.find((r) => r.url.path === table(SLOW_ID))!;
    expect(slowRec.metagate).toMatchObject({ decision: 'allow', config_hash: oldHash });
    expect(records.filter((r) => r.metagate.config_hash === oldHash).length).toBe(responses.filter((r) => r.status === 200).length + 1);
    expect(records.filter((r) => r.metagate.config_hash === newHash).length).toBe(responses.filter((r) => r.status === 403).length);

    const metrics = (await request(child.adminUrl, '/metrics')).body;
    expect(metric(metrics, 'success')).toBe(1);
    expect(metrics).toContain(`metagate_config_info{hash="${newHash}"} 1`);
  });
});

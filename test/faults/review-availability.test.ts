// Availability and audit-integrity review (black-box, eighth session): regressions for the defects it confirmed (docs/faults.md F61–F63).

import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { AuditTrail, GENESIS, type RequestAuditRecord } from '../../src/observability/audit.js';
import { verifyAuditFiles } from '../../src/observability/audit-verify.js';
import { MemoryStore } from '../../src/state/memory.js';
import { StateUnavailableError } from '../../src/state/store.js';
import { startHarness } from '../helpers/harness.js';
import { request } from '../helpers/http.js';
import { denyRecord } from '../helpers/audit-records.js';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';

const TABLE = `/api/v1/tables/${DEMO_TABLE_ID}`;
const dir = mkdtempSync(join(tmpdir(), 'rev8-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const record = denyRecord;
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);

describe('audit chain after a torn write', () => {
  // Found: the first start after a torn write closes the torn line with a newline; a second start (a crash loop, a
  // restart before any traffic) then read that line as the last record, found no chain fields and began a new chain at
  // genesis in the middle of the file: the records after the tear no longer link to those before it.
  test('a second restart still continues the chain from the last whole record', async () => {
    const file = join(dir, 'torn-twice.jsonl');
    const first = new AuditTrail({ destination: file });
    for (let i = 0; i < 3; i++) first.write(record(i));
    await first.close();
    appendFileSync(file, '{"@timestamp":"2026-01-01T00:00:00.000Z","event":{"ki');
    await new AuditTrail({ destination: file }).close(); // closes the torn line, writes nothing
    const third = new AuditTrail({ destination: file });
    expect(third.head.seq).toBe(3);
    third.write(record(3));
    await third.close();
    const ls = lines(file);
    expect(ls).toHaveLength(5);
    const last = JSON.parse(ls[4]!) as { chain: { seq: number; prev: string } };
    expect(last.chain.seq).toBe(4);
    expect(last.chain.prev).not.toBe(GENESIS);
    expect(last.chain.prev).toBe((JSON.parse(ls[2]!) as { chain: { hash: string } }).chain.hash);
    const r = await verifyAuditFiles([file]);
    expect(r.firstBroken).toMatchObject({ line: 4, problem: 'record has no chain fields' });
  });
});

describe('metrics during a store that is connected but does not answer', () => {
  // Found: with Redis stalled (DEBUG SLEEP, CLIENT PAUSE, a network black hole) every vendor request is refused with
  // 503 state_unavailable and readiness is false, but metagate_store_up stayed 1, so MetagateStoreUnavailable
  // (metagate_store_up == 0) never fires.
  test('metagate_store_up is 0 while checks fail, as readiness is', async () => {
    class StalledStore extends MemoryStore {
      override checkNow(): never {
        throw new StateUnavailableError('command timed out');
      }
    }
    const store = new StalledStore({ rateLimit: { perSubject: 100, global: 0, windowMs: 60_000 } });
    const h = await startHarness({ store });
    try {
      const r = await request(h.vendorUrl, TABLE, { headers: { authorization: `Bearer ${await h.token('geheim')}` } });
      expect(r.status).toBe(503);
      const ready = await request(h.adminUrl, '/readyz');
      expect(ready.status).toBe(503);
      const metrics = (await request(h.adminUrl, '/metrics')).body;
      expect(metrics).toMatch(/^metagate_store_up\{backend="memory"\} 0$/m);
    } finally {
      await h.close();
    }
  });
});

describe('a shared store that stays hung while no request asks it', () => {
  // Review 9 (O8 at first): readiness and metagate_store_up turned healthy 2 s after the last failed check even while
  // Redis stayed hung, so under sparse traffic MetagateStoreUnavailable (for: 1m) never fired. The store is now probed
  // while its last check failed.
  class HungStore extends MemoryStore {
    hung = true;
    probes = 0;
    override checkNow(...a: Parameters<MemoryStore['checkNow']>): ReturnType<MemoryStore['checkNow']> {
      if (this.hung) throw new StateUnavailableError('command timed out');
      return super.checkNow(...a);
    }
    probe(): Promise<void> {
      this.probes++;
      return this.hung ? new Promise((_, reject) => setTimeout(() => reject(new StateUnavailableError('redis probe failed: timed out')), 300)) : Promise.resolve();
    }
  }

  test('stays not ready and store_up 0 past the hold, and recovers once the store answers', async () => {
    const store = new HungStore({ rateLimit: { perSubject: 100, global: 0, windowMs: 60_000 } });
    const h = await startHarness({ store });
    try {
      const token = await h.token('geheim');
      expect((await request(h.vendorUrl, TABLE, { headers: { authorization: `Bearer ${token}` } })).status).toBe(503);
      // well past the 2 s hold, with no vendor request
      await new Promise((r) => setTimeout(r, 3_500));
      expect((await request(h.adminUrl, '/readyz')).status).toBe(503);
      expect((await request(h.adminUrl, '/metrics')).body).toMatch(/^metagate_store_up\{backend="memory"\} 0$/m);
      expect(store.probes).toBeGreaterThanOrEqual(3);
      store.hung = false;
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline && (await request(h.adminUrl, '/readyz')).status !== 200) await new Promise((r) => setTimeout(r, 100));
      expect((await request(h.adminUrl, '/readyz')).status).toBe(200);
      expect((await request(h.adminUrl, '/metrics')).body).toMatch(/^metagate_store_up\{backend="memory"\} 1$/m);
      const probes = store.probes;
      await new Promise((r) => setTimeout(r, 1_200));
      // a store that answers is not asked again
      expect(store.probes).toBe(probes);
      expect((await request(h.vendorUrl, TABLE, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    } finally {
      await h.close();
    }
  }, 20_000);
});

describe('shutdown with a request half received', () => {
  // Found: server.close() stops node's connection checks, so during the drain a request whose headers are still
  // arriving is never timed out: it holds the shutdown for the whole vendor.shutdownGraceMs and is then cut without an
  // answer or a record, where a running gateway answers it 408 with one record after vendor.headersTimeoutMs.
  test('is refused and recorded after headersTimeoutMs, and does not hold the drain for the grace period', async () => {
    const file = join(dir, 'drain.jsonl');
    const h = await startHarness({ auditFile: file, configure: (c) => Object.assign(c.vendor, { headersTimeoutMs: 1000, requestTimeoutMs: 2000, shutdownGraceMs: 8000 }) });
    const sock = net.connect(h.vendorPort, '127.0.0.1');
    let got = '';
    sock.on('data', (c: Buffer) => (got += c.toString()));
    sock.on('error', () => undefined);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(`GET ${TABLE} HTTP/1.1\r\nhost: x\r\n`);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    await h.close();
    const ms = performance.now() - t0;
    sock.destroy();
    expect(ms).toBeLessThan(4000);
    expect(got).toMatch(/^HTTP\/1\.1 408 /);
    const recs = lines(file).map((l) => JSON.parse(l) as RequestAuditRecord);
    expect(recs).toHaveLength(1);
    expect(recs[0]!.http.response.status_code).toBe(408);
  }, 20_000);

  test('a kept-alive connection answered during the drain is closed without a record of its own', async () => {
    const file = join(dir, 'drain-keepalive.jsonl');
    const h = await startHarness({ auditFile: file, configure: (c) => Object.assign(c.vendor, { headersTimeoutMs: 1000, requestTimeoutMs: 2000, shutdownGraceMs: 8000 }) });
    h.upstream.setHandler((_req, res) => void setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"x"}'), 300));
    const sock = net.connect(h.vendorPort, '127.0.0.1');
    let got = '';
    sock.on('data', (c: Buffer) => (got += c.toString()));
    sock.on('error', () => undefined);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(`GET ${TABLE} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${await h.token('geheim')}\r\n\r\n`);
    await new Promise((r) => setTimeout(r, 100));
    await h.close();
    sock.destroy();
    expect([...got.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1])).toEqual(['200']);
    const recs = lines(file).map((l) => JSON.parse(l) as RequestAuditRecord);
    expect(recs.map((r) => r.http.response.status_code)).toEqual([200]);
  }, 20_000);
});

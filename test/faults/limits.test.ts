// Resource limits (DESIGN §6.8 "slow clients, huge requests"): slow-loris, slow readers, oversized headers and paths,
// hundreds of idle sockets and one abusive client. The gateway closes what overstays vendor.headersTimeoutMs with a
// recorded 408, refuses what is too large with 431/414, and keeps answering everyone else within a bound.

import { spawn } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { recordCases } from '../security/summary.js';
import { AUDIENCE, ISSUER, startHarness, type Harness } from '../helpers/harness.js';
import { rawExchange } from '../helpers/http.js';
import { createDevIssuer, personas } from '../../src/demo/issuer.js';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';
import { Ledger, REPO_ROOT, TABLE, pollUntil, sleep, tally } from './helpers.js';

// every fault case counts toward the suite summary's class 8 (test/global-summary.ts)
beforeEach(() => recordCases('8 availability and failure', 1));

const HEADERS_TIMEOUT_MS = 2_000;
const BIG_PATH = '/api/v1/tables/name/demo.shop.sales.big';

const SMALL = JSON.stringify({ id: DEMO_TABLE_ID, name: 'customers', columns: [{ name: 'customer_id', dataType: 'BIGINT' }] });
/** ≈ 3 MB of allowed metadata: a table with very many documented columns */
const BIG = JSON.stringify({
  id: DEMO_TABLE_ID,
  name: 'big',
  columns: Array.from({ length: 30_000 }, (_, i) => ({ name: `column_${i}`, dataType: 'VARCHAR', description: 'd'.repeat(64) })),
});

let h: Harness;
let token: string;

beforeAll(async () => {
  h = await startHarness({
    configure: (cfg) => {
      cfg.vendor.headersTimeoutMs = HEADERS_TIMEOUT_MS;
    },
  });
  h.upstream.setHandler((req, res) => {
    const body = req.url?.startsWith(BIG_PATH) ? BIG : SMALL;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }).end(body);
  });
  token = await h.token('geheim');
});

afterAll(async () => {
  await h?.close();
});

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** A normal client's latency while something else goes on: `n` sequential allowed requests, all must be 200. */
async function bystander(l: Ledger, n: number, pauseMs = 0): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const o = await l.get(TABLE, token, { timeoutMs: 10_000 });
    expect(o.status).toBe(200);
    ms.push(o.ms);
    if (pauseMs) await sleep(pauseMs);
  }
  return ms;
}

interface Dribbler {
  socket: net.Socket;
  received: () => string;
  closedAt: () => number | null;
  stop(): void;
}

/** Send a request one byte every `everyMs`, never finishing the headers within the timeout. */
function slowLoris(port: number, everyMs = 500): Dribbler {
  const socket = net.connect(port, '127.0.0.1');
  const text = `GET ${TABLE} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${'x'.repeat(400)}\r\nX-Pad: ${'p'.repeat(400)}\r\n\r\n`;
  let i = 0;
  let got = '';
  let closedAt: number | null = null;
  const timer = setInterval(() => {
    if (!socket.destroyed && socket.writable && i < text.length) socket.write(text[i++]!);
  }, everyMs);
  socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
  socket.on('error', () => undefined);
  socket.on('close', () => {
    closedAt = performance.now();
    clearInterval(timer);
  });
  return { socket, received: () => got, closedAt: () => closedAt, stop: () => (clearInterval(timer), socket.destroy()) };
}

describe('slow clients', () => {
  // FAILS until Node's connection checker runs more often than its 30 s default (faults #1): today the connection is
  // closed 30 s after it opened, whatever vendor.headersTimeoutMs says. Then the exactly-one-record check FAILS until
  // clientError ignores a connection it already refused (faults #2): the peer's FIN after the 408 comes back as
  // HPE_INVALID_EOF_STATE and is recorded as a second, 400 request.
  it(`slow-loris (a byte every 500 ms) is cut at headersTimeoutMs (${HEADERS_TIMEOUT_MS} ms) with a 408 and exactly one request_rejected record`, async () => {
    const l = new Ledger(h.audit, h.vendorUrl);
    const opened = performance.now();
    const d = slowLoris(h.vendorPort);
    try {
      await pollUntil(() => d.closedAt(), (t) => t !== null, HEADERS_TIMEOUT_MS + 2_500, 50).catch(() => undefined);
      expect(d.closedAt(), 'the gateway never closed the slow-loris connection').not.toBeNull();
      expect(d.closedAt()! - opened).toBeLessThan(HEADERS_TIMEOUT_MS + 2_000);
      expect(d.received()).toMatch(/^HTTP\/1\.1 408 /);
      expect(d.received()).toContain('"code":"request_rejected"');
      l.expect(408, 'request_rejected');
      const [rec] = await l.expectOneRecordEach(500);
      expect(rec!.metagate.detail).toContain('ERR_HTTP_REQUEST_TIMEOUT');
      expect(h.upstream.requests.length).toBe(0);
    } finally {
      d.stop();
      await sleep(300); // whatever the stop causes is recorded before the next test counts
    }
  }, 15_000);

  it('30 slow-loris connections at once do not slow a normal client down; each abandoned one is recorded once', async () => {
    const l = new Ledger(h.audit, h.vendorUrl);
    const ds = Array.from({ length: 30 }, () => slowLoris(h.vendorPort, 200));
    try {
      await sleep(300);
      const ms = await bystander(l, 20, 20);
      expect(percentile(ms, 50)).toBeLessThan(100);
      expect(Math.max(...ms)).toBeLessThan(1_000);
    } finally {
      for (const d of ds) d.stop();
    }
    // a client that gives up half-way through its headers is a malformed request (400), or a timed-out one (408)
    // if the gateway cut it first: one record per connection either way
    await pollUntil(() => l.records().length, (n) => n >= 50, 3_000).catch(() => undefined);
    await sleep(300);
    const recs = l.records();
    const abandoned = recs.filter((r) => r.metagate.reasons[0] === 'request_rejected');
    expect(recs.length).toBe(50);
    expect(abandoned.length).toBe(30);
    for (const r of abandoned) expect([400, 408]).toContain(r.http.response.status_code);
    expect(recs.filter((r) => r.http.response.status_code === 200).length).toBe(20);
  });

  it('20 slow readers (≈ 3 MB answers they never read) do not block other clients', async () => {
    const l = new Ledger(h.audit, h.vendorUrl);
    const readers: net.Socket[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const s = net.connect(h.vendorPort, '127.0.0.1');
        s.on('error', () => undefined);
        s.write(`GET ${BIG_PATH} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${token}\r\n\r\n`);
        s.pause(); // never read: the gateway's writes back up
        readers.push(s);
      }
      await pollUntil(() => h.upstream.requests.filter((r) => r.url.startsWith(BIG_PATH)).length, (n) => n >= 20, 5_000);
      const ms = await bystander(l, 20, 20);
      expect(percentile(ms, 50)).toBeLessThan(150);
      expect(Math.max(...ms)).toBeLessThan(1_500);
    } finally {
      for (const s of readers) s.destroy();
    }
    // the readers' requests were allowed and answered (into their full buffers): one record each, like everyone's
    // A reader that goes away resets the connection (RST: unread data). The request was already recorded when its
    // answer was handed over; the reset must not add a second, phantom "malformed request" record (regression,
    // faults #2b: clientError used to record every ECONNRESET as a 400).
    await pollUntil(() => l.records().length, (n) => n >= 40, 3_000).catch(() => undefined);
    await sleep(500);
    const recs = l.records();
    expect(tally(recs.filter((r) => r.url.path !== BIG_PATH).map((r) => `${r.http.response.status_code} ${r.metagate.reasons[0] ?? 'allow'}`))).toEqual({ '200 allow': 20 });
    const big = recs.filter((r) => r.url.path === BIG_PATH);
    expect(big.length).toBe(20);
    // allowed and answered; an answer that could not even be read from the platform in time is a 504
    for (const r of big) expect([200, 504]).toContain(r.http.response.status_code);
  });
});

describe('oversized requests', () => {
  it('headers larger than vendor.maxHeaderBytes → 431 and one request_rejected record', async () => {
    const l = new Ledger(h.audit, h.vendorUrl);
    const r = await rawExchange(h.vendorPort, `GET ${TABLE} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${token}\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`);
    expect(r.status).toBe(431);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'request_rejected', status: 431 });
    l.expect(431, 'request_rejected');
    await l.expectOneRecordEach(500);
    expect(h.upstream.requests.filter((x) => x.headers['x-big']).length).toBe(0);
  });

  it('a path longer than vendor.maxPathLength → 414 and one path_rejected record', async () => {
    const l = new Ledger(h.audit, h.vendorUrl);
    const o = await l.get(`/api/v1/tables/name/${'a'.repeat(3_000)}`, token);
    expect(o).toMatchObject({ status: 414, code: 'path_rejected' });
    await l.expectOneRecordEach();
  });
});

describe('many connections and an abusive client', () => {
  // The reclaim check FAILS until the connection checker runs often enough (faults #1; today: after ≈ 30 s).
  it('500 idle sockets: a normal client is still answered promptly, and the gateway reclaims them at headersTimeoutMs', async () => {
    const l = new Ledger(h.audit, h.vendorUrl);
    const idle: net.Socket[] = [];
    let closedByServer = 0;
    try {
      await Promise.all(
        Array.from(
          { length: 500 },
          () =>
            new Promise<void>((ok) => {
              const s = net.connect(h.vendorPort, '127.0.0.1', () => ok());
              s.on('error', () => ok());
              s.on('data', () => undefined);
              s.on('end', () => closedByServer++);
              idle.push(s);
            }),
        ),
      );
      const opened = performance.now();
      const ms = await bystander(l, 20, 10);
      expect(percentile(ms, 50)).toBeLessThan(100);
      expect(Math.max(...ms)).toBeLessThan(1_000);
      await pollUntil(() => closedByServer, (n) => n === 500, HEADERS_TIMEOUT_MS + 3_000, 100).catch(() => undefined);
      expect(closedByServer, 'idle sockets closed by the gateway').toBe(500);
      expect(performance.now() - opened).toBeLessThan(HEADERS_TIMEOUT_MS + 3_000);
      // each reclaimed connection is one refused (408) "request", recorded once
      for (let i = 0; i < 500; i++) l.expect(408, 'request_rejected');
      await l.expectOneRecordEach(500);
    } finally {
      for (const s of idle) s.destroy();
      await sleep(300);
    }
  }, 20_000);

  it('one abusive client (50 connections, 3000 forged tokens, each a full signature check) does not starve another client', async () => {
    const forger = await createDevIssuer({ issuer: ISSUER, audience: AUDIENCE, kid: 'test-key-1' }); // the gateway's kid, another key
    const forged = await forger.mint(personas(Math.floor(Date.now() / 1000)).geheim!.claims);
    const l = new Ledger(h.audit, h.vendorUrl);
    const baseline = await bystander(l, 10, 10);

    const AMOUNT = 3_000;
    const child = spawn(process.execPath, [`${REPO_ROOT}/node_modules/autocannon/autocannon.js`, '-c', '50', '-a', String(AMOUNT), '-j', '-H', `authorization=Bearer ${forged}`, `${h.vendorUrl}${TABLE}`], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const finished = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
    let running = true;
    void finished.then(() => (running = false));
    const killer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    try {
      await sleep(300); // let the flood build up
      const during: number[] = [];
      while (running && during.length < 200) {
        const o = await l.get(TABLE, token, { timeoutMs: 10_000 });
        expect(o.status).toBe(200);
        during.push(o.ms);
      }
      expect(await finished).toBe(0);
      const result = JSON.parse(out) as { requests: { total: number }; errors: number; statusCodeStats: Record<string, { count: number }> };
      expect(result.errors).toBe(0);
      expect(result.statusCodeStats['401']?.count).toBe(AMOUNT);
      expect(during.length).toBeGreaterThan(5);
      // under the flood the other client waits longer, but is served: bounded, not starved
      console.info(`bystander latency: baseline p50 ${percentile(baseline, 50).toFixed(1)} ms; under abuse p50 ${percentile(during, 50).toFixed(1)} ms, p95 ${percentile(during, 95).toFixed(1)} ms, max ${Math.max(...during).toFixed(1)} ms over ${during.length} requests`);
      // (one run in a few shows a single ≈ 3 s outlier on a fresh connection; the bound is starvation, not speed)
      expect(percentile(during, 50)).toBeLessThan(250);
      expect(percentile(during, 95)).toBeLessThan(1_000);
      expect(Math.max(...during)).toBeLessThan(5_000);
      // every abusive request was refused and recorded once, the bystander's allowed ones too
      for (let i = 0; i < AMOUNT; i++) l.expect(401, 'token_invalid');
      const recs = await l.expectOneRecordEach(500);
      expect(tally(recs.map((r) => r.metagate.decision))).toEqual({ allow: baseline.length + during.length, deny: AMOUNT });
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
    }
  }, 40_000);
});

// Black-box review (session 7): clients that asked for large answers and never read them held gateway memory with no
// time bound — 150 such connections took one gateway from 94 MiB to 694 MiB for as long as they stayed open. Every
// answer the socket cannot take at once now has a deadline (vendor.sendTimeoutMs), and while one subject holds
// vendor.maxUnreadAnswersPerSubject of them, or everyone together vendor.maxUnreadBytes, new answers wait (429).
describe('answers their clients never read', () => {
  const SEND_TIMEOUT_MS = 1_500;
  const HUGE_PATH = '/api/v1/tables/name/demo.shop.sales.huge';
  /** ≈ 24 MB: more than loopback's socket buffers take, so the rest stays in the gateway until it is read */
  const HUGE = JSON.stringify({ id: DEMO_TABLE_ID, name: 'huge', columns: Array.from({ length: 240_000 }, (_, i) => ({ name: `column_${i}`, dataType: 'VARCHAR', description: 'd'.repeat(64) })) });
  let g: Harness;
  beforeAll(async () => {
    g = await startHarness({
      configure: (cfg) => {
        cfg.upstream.maxResponseBytes = 32 * 1024 * 1024;
        // reading a 30 MB answer from the platform can take longer than the harness's 3 s on a loaded CI machine: a
        // 504 instead would leave nothing held, and the tests would measure nothing
        cfg.upstream.responseTimeoutMs = 30_000;
        cfg.vendor.sendTimeoutMs = SEND_TIMEOUT_MS;
        cfg.vendor.maxUnreadAnswersPerSubject = 2;
        cfg.vendor.maxUnreadBytes = 200 * 1024 * 1024;
      },
    });
    g.upstream.setHandler((req, res) => {
      const body = req.url?.startsWith(HUGE_PATH) ? HUGE : SMALL;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }).end(body);
    });
  });
  afterAll(async () => {
    await g?.close();
  });

  /** a client that sends its request and never reads; `received` counts what it reads once resumed */
  function reader(bearer: string): { socket: net.Socket; received: { bytes: number }; closed: Promise<void> } {
    const socket = net.connect(g.vendorPort, '127.0.0.1');
    const received = { bytes: 0 };
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => void (received.bytes += d.length));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(`GET ${HUGE_PATH} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${bearer}\r\n\r\n`);
    socket.pause();
    return { socket, received, closed };
  }
  const metric = async (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await (await fetch(`${g.adminUrl}/metrics`)).text())?.[1]);

  it('a subject with too many unread answers waits (429, recorded); the deadline closes them and frees the memory', async () => {
    const tok = await g.token('geheim');
    const l = new Ledger(g.audit, g.vendorUrl);
    const abandonedBefore = await metric('metagate_answers_abandoned_total');
    const readers = [reader(tok), reader(tok)];
    try {
      await pollUntil(() => metric('metagate_unread_answers'), (n) => n === 2, 10_000);
      const heldAt = performance.now();
      expect(await metric('metagate_unread_answer_bytes')).toBeGreaterThan(8 * 1024 * 1024);
      // a third answer for the same subject waits; another subject is served
      const third = await l.get(HUGE_PATH, tok, { timeoutMs: 10_000 });
      expect(third.status).toBe(429);
      expect(third.code).toBe('rate_limited');
      const other = await g.token('confidentieel');
      expect((await l.get(TABLE, other)).status).toBe(200);
      // the deadline: both answers are abandoned, and the held bytes given back
      await pollUntil(() => metric('metagate_answers_abandoned_total'), (n) => n === abandonedBefore + 2, SEND_TIMEOUT_MS + 5_000, 50);
      const heldFor = performance.now() - heldAt;
      expect(heldFor).toBeGreaterThanOrEqual(SEND_TIMEOUT_MS - 1_000);
      expect(heldFor).toBeLessThan(SEND_TIMEOUT_MS + 3_000);
      expect(await metric('metagate_unread_answer_bytes')).toBe(0);
      expect(await metric('metagate_unread_answers')).toBe(0);
      // ... with their connections: a reader that reads now gets what the kernel held, then the connection ends
      for (const r of readers) r.socket.resume();
      await Promise.race([Promise.all(readers.map((r) => r.closed)), sleep(5_000)]);
      for (const r of readers) {
        expect(r.socket.destroyed).toBe(true);
        expect(r.received.bytes).toBeLessThan(Buffer.byteLength(HUGE));
      }
      // and the subject is served again
      expect((await l.get(TABLE, tok)).status).toBe(200);
    } finally {
      for (const r of readers) r.socket.destroy();
    }
    // one record per request: the two readers' answers (handed over, recorded as sent) and the 429
    const recs = g.audit.requestRecords().filter((r) => r.url.path === HUGE_PATH);
    expect(tally(recs.map((r) => `${r.http.response.status_code} ${r.metagate.reasons[0] ?? 'allow'}`))).toEqual({ '200 allow': 2, '429 rate_limited': 1 });
    expect(recs.find((r) => r.http.response.status_code === 429)!.metagate.detail).toBe('2 earlier answers to this subject have not been read yet; read them first');
  });

  // Review (session 7): on Node 20 an answer pipelined behind others on a connection the client drops never says
  // 'close', so it stayed counted for good and its subject — then everyone — was refused from then on.
  it('answers pipelined on a connection the client drops are given back; the subject is served again', async () => {
    const tok = await g.token('geheim');
    const abandonedBefore = await metric('metagate_answers_abandoned_total');
    const s = net.connect(g.vendorPort, '127.0.0.1');
    s.on('error', () => undefined);
    const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${tok}\r\n\r\n`;
    s.write(get(HUGE_PATH) + get(TABLE) + get(TABLE) + get(TABLE));
    s.pause();
    await pollUntil(() => metric('metagate_unread_answers'), (n) => n >= 2, 10_000).catch((err: Error) => {
      // seen once in CI (the gauge stayed at 0), not reproduced since: say what the gateway answered
      const answered = g.audit.requestRecords().slice(-4).map((r) => `${r.url.path} ${r.http.response.status_code} ${r.metagate.reasons.join(',') || 'allow'} ${r.metagate.detail ?? ''}`);
      throw new Error(`${err.message}; the last records: ${JSON.stringify(answered)}`);
    });
    s.destroy();
    // given back because the connection went, not at the deadline (SEND_TIMEOUT_MS after they were handed over): an
    // answer the deadline gives back is counted abandoned. (This read a 600 ms bound once; on a loaded host the
    // gateway, still filtering the 24 MB answer, took longer than that to see the close.)
    await pollUntil(() => metric('metagate_unread_answers'), (n) => n === 0, SEND_TIMEOUT_MS + 10_000, 25);
    expect(await metric('metagate_answers_abandoned_total')).toBe(abandonedBefore);
    expect(await metric('metagate_unread_answer_bytes')).toBe(0);
    const l = new Ledger(g.audit, g.vendorUrl);
    expect((await l.get(TABLE, tok)).status).toBe(200);
  });

  it('a client that reads slowly but steadily gets its whole answer, however long that takes beyond the deadline', async () => {
    const tok = await g.token('geheim');
    const s = net.connect(g.vendorPort, '127.0.0.1');
    s.on('error', () => undefined);
    let bytes = 0;
    const at = performance.now();
    const done = new Promise<void>((resolve) => s.once('close', () => resolve()));
    s.on('data', (d: Buffer) => {
      bytes += d.length;
      // a little at a time: far slower than the gateway could send
      s.pause();
      setTimeout(() => s.resume(), 6);
    });
    s.on('end', () => s.end());
    s.write(`GET ${HUGE_PATH} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${tok}\r\nConnection: close\r\n\r\n`);
    await done;
    expect(performance.now() - at).toBeGreaterThan(SEND_TIMEOUT_MS);
    expect(bytes).toBeGreaterThan(Buffer.byteLength(HUGE));
    expect(await metric('metagate_unread_answers')).toBe(0);
  }, 60_000);

  it('a client that reads its answer, however large, is not affected', async () => {
    const tok = await g.token('geheim');
    const r = await fetch(`${g.vendorUrl}${HUGE_PATH}`, { headers: { authorization: `Bearer ${tok}` } });
    expect(r.status).toBe(200);
    expect((await r.arrayBuffer()).byteLength).toBe(Buffer.byteLength(HUGE));
    expect(await metric('metagate_unread_answer_bytes')).toBe(0);
  });
});

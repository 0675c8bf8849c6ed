// Response leaks (DESIGN §3 stage 7, §6.7, §7): whatever the upstream answers — compressed, not JSON, oversized,
// endless, truncated, slow, absurdly nested, a redirect, an error page, or with headers of its own — the vendor gets
// either a filtered JSON answer or a generic problem, never upstream bytes, internal addresses or upstream headers.

import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness, type UpstreamHandler } from '../helpers/harness.js';
import { request, type SimpleResponse } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';
import type { RequestAuditRecord } from '../../src/observability/audit.js';
import { recordCases } from './summary.js';

const TABLE_PATH = '/api/v1/tables/c019434d-4146-4bc8-9c53-d0c56cdd7ac9';
const CAP = 1024 * 1024;
const TIMEOUT_MS = 1000;

const CANARY = 'CANARY-LEAK-7f3e';
const INTERNAL_HOST = 'internal.example';
const INTERNAL_IP = '10.20.30.40';
/** Strings that must never appear in anything the vendor receives. */
const FORBIDDEN = [CANARY, INTERNAL_HOST, INTERNAL_IP, 'JSESSIONID', 'upstream-secret-server', 'Express', 'stackTrace', 'at com.'];

const CLEAN_JSON = JSON.stringify({ id: 'c019434d-4146-4bc8-9c53-d0c56cdd7ac9', name: 'customers', sampleData: { rows: [[CANARY]] }, columns: [{ name: 'a', profile: { min: CANARY } }] });
const FILTERED = { id: 'c019434d-4146-4bc8-9c53-d0c56cdd7ac9', name: 'customers', columns: [{ name: 'a' }] };
const STACK_PAGE = `<html><body><h1>500</h1><pre>java.lang.IllegalStateException: ${CANARY}\n  at com.acme.Db.query(Db.java:42) connecting to ${INTERNAL_IP}:5432 (${INTERNAL_HOST})</pre></body></html>`;

let h: Harness;
let token: string;

beforeAll(async () => {
  h = await startHarness({
    configure: (cfg) => {
      cfg.upstream.maxResponseBytes = CAP;
      cfg.upstream.responseTimeoutMs = TIMEOUT_MS;
      cfg.upstream.maxJsonDepth = 64;
    },
  });
  token = await h.token('geheim');
});

afterAll(async () => {
  h.upstream.setHandler(null);
  await h.close();
});

// one case per test that ran, counted where it ran (DESIGN §6.7 response leaks)
afterEach(() => {
  recordCases('7 response leaks', 1);
});

/** Headers every upstream answer in these tests adds: none may reach the vendor. */
const LEAKY_HEADERS: Record<string, string> = {
  server: 'upstream-secret-server/1.2',
  'x-powered-by': 'Express',
  'set-cookie': `JSESSIONID=${CANARY}; Path=/; HttpOnly`,
  'access-control-allow-origin': '*',
  'content-security-policy': `default-src http://${INTERNAL_HOST}`,
  'x-backend': INTERNAL_IP,
};

interface Probe {
  res: SimpleResponse;
  record: RequestAuditRecord;
  upstreamCalls: number;
}

/** One vendor request with the upstream answering through `handler`; returns the response and its audit record. */
async function probe(handler: UpstreamHandler | null, path = TABLE_PATH, target: Harness = h, bearer = token): Promise<Probe> {
  target.upstream.setHandler(handler);
  const before = target.upstream.requests.length;
  const res = await request(target.vendorUrl, path, { headers: { authorization: `Bearer ${bearer}` }, timeoutMs: 15_000 });
  const upstreamCalls = target.upstream.requests.length - before;
  const requestId = upstreamCalls > 0 ? String(target.upstream.requests[before]!.headers['x-request-id']) : (JSON.parse(res.body) as { request_id: string }).request_id;
  const record = await waitFor(() => target.audit.requestRecords().find((r) => r.http.request.id === requestId));
  return { res, record, upstreamCalls };
}

function expectNoLeak(res: SimpleResponse): void {
  const everything = `${JSON.stringify(res.headers)}\n${res.body}`;
  for (const s of FORBIDDEN) expect(everything.includes(s), `"${s}" reached the vendor`).toBe(false);
  for (const name of ['set-cookie', 'server', 'x-powered-by', 'access-control-allow-origin', 'location', 'x-backend', 'content-encoding', 'www-authenticate', 'refresh', 'link', 'via']) {
    expect(res.headers[name], `header ${name}`).toBeUndefined();
  }
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
}

type Code = 'response_rejected' | 'upstream_error' | 'upstream_timeout';
const STATUS_OF: Record<Code, number> = { response_rejected: 502, upstream_error: 502, upstream_timeout: 504 };

/** The refusal shape: status, problem+json with the code and request id, the same reason in the audit record. */
function expectRefused(p: Probe, code: Code, detail?: RegExp): void {
  const { res, record } = p;
  expect(res.status, res.body).toBe(STATUS_OF[code]);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json(; charset=utf-8)?$/);
  const body = res.json<{ code: string; status: number; type: string; request_id: string; detail: string }>();
  expect(body.code).toBe(code);
  expect(body.status).toBe(STATUS_OF[code]);
  expect(body.type).toBe(`urn:metagate:problem:${code}`);
  expect(body.request_id).toBe(record.http.request.id);
  expect(record.metagate.decision).toBe('deny');
  expect(record.metagate.reasons).toEqual([code]);
  expect(record.http.response.status_code).toBe(STATUS_OF[code]);
  expect(record.event.outcome).toBe('failure');
  expect(record.metagate.fields_removed).toBeUndefined();
  if (detail) expect(record.metagate.detail).toMatch(detail);
  // the audit record says what went wrong without quoting the upstream either
  for (const s of FORBIDDEN) expect(JSON.stringify(record).includes(s), `"${s}" in the audit record`).toBe(false);
  expectNoLeak(res);
}

const json =
  (body: string | Buffer, headers: Record<string, string | string[]> = {}, status = 200): UpstreamHandler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...LEAKY_HEADERS, ...headers });
    res.end(body);
  };

/** Stream `total` bytes (Infinity: until the peer goes away) in 64 KiB chunks, honouring backpressure. */
function streamBody(res: http.ServerResponse, total: number, sent: { bytes: number }): void {
  const chunk = Buffer.alloc(64 * 1024, '1,');
  res.write('[');
  const pump = (): void => {
    while (sent.bytes < total && !res.destroyed) {
      const ok = res.write(chunk);
      sent.bytes += chunk.length;
      if (!ok) {
        res.once('drain', pump);
        return;
      }
    }
    if (!res.destroyed) res.end('1]');
  };
  res.on('error', () => {});
  pump();
}

// ------------------------------------------------- bytes passed as they are (the deny filter's raw-bytes scan)

describe('raw-bytes fast path: a data field never rides along in an answer sent as the upstream wrote it', () => {
  const c = JSON.stringify(CANARY);
  // [case, body, data fields the full way removes]
  it.each<[string, string, number]>([
    ['a duplicate key whose first value holds a denied field (first-wins clients)', `{"name":"customers","x":{"sampleData":${c}},"x":{}}`, 0],
    ['a duplicate key whose last value holds a denied field', `{"name":"customers","x":{},"x":{"sampleData":${c}}}`, 1],
    ['a denied key spelled in \\u escapes', `{"name":"customers","\\u0073ampleData":${c}}`, 1],
    ['a denied key in another case', `{"name":"customers","SAMPLEDATA":${c}}`, 1],
    ['a denied key nested in an array of objects', `{"name":"customers","columns":[{"name":"a","profile":{"min":${c}}}]}`, 1],
    ['a denied key after whitespace of all kinds', ` \t\r\n{ "name" : "customers" ,\n "sampleData" : { "rows" : [ [ ${c} ] ] } }`, 1],
    ['a denied key behind more keys than the scan compares', `{${Array.from({ length: 70 }, (_, k) => `"k${k}":${k}`).join(',')},"sampleData":${c}}`, 1],
  ])('%s', async (_d, body, removed) => {
    const p = await probe(json(body));
    expect(p.res.status, p.res.body).toBe(200);
    expectNoLeak(p.res);
    expect(p.record.metagate.decision).toBe('allow');
    // it went the full way: parsed (last value wins), filtered, re-serialised, each removal counted
    expect(p.res.body).not.toBe(body);
    expect(Object.values(p.record.metagate.fields_removed ?? {}).reduce((a, b) => a + b, 0)).toBe(removed);
  });

  it('a plain metadata answer is sent byte for byte, its size recorded', async () => {
    const body = '{ "id": "c019434d-4146-4bc8-9c53-d0c56cdd7ac9", "name": "customers", "version": 0.10, "tags": [] }';
    const p = await probe(json(body));
    expect(p.res.status).toBe(200);
    expect(p.res.body).toBe(body);
    expect(p.res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(p.record.metagate.response_bytes).toBe(Buffer.byteLength(body));
    expect(p.record.metagate.fields_removed).toBeUndefined();
    expectNoLeak(p.res);
  });
});

// Black-box review (session 7): OpenMetadata writes every `href` from the Host it is sent, the upstream's own address,
// so each answer told the vendor where the platform lives. Both ways through the filter hide it.
describe('the platform\'s own address in its links', () => {
  /** an answer with links the way OpenMetadata writes them: from the Host header of the request it got */
  const linking =
    (extra: Record<string, unknown> = {}): UpstreamHandler =>
    (req, res) => {
      const base = `http://${req.headers.host}`;
      const body = JSON.stringify({ id: 't1', name: 'customers', href: `${base}/api/v1/tables/t1`, owners: [{ id: 'o1', href: `${base}/api/v1/teams/o1` }], service: { href: base }, ...extra });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
      res.end(body);
    };
  it.each<[string, Record<string, unknown>, number]>([
    ['an answer sent as the platform wrote it (the raw-bytes scan)', {}, 0],
    ['an answer the filter rebuilt (a data field removed)', { sampleData: { rows: [[CANARY]] } }, 1],
  ])('%s: links become paths on the gateway, and the record counts what was sent', async (_d, extra, removed) => {
    const upstreamHost = new URL(h.upstream.url).host;
    const p = await probe(linking(extra));
    expect(p.res.status, p.res.body).toBe(200);
    expectNoLeak(p.res);
    expect(p.res.body.includes(upstreamHost)).toBe(false);
    expect(p.res.json()).toEqual({ id: 't1', name: 'customers', href: '/api/v1/tables/t1', owners: [{ id: 'o1', href: '/api/v1/teams/o1' }], service: { href: '/' } });
    expect(p.record.metagate.response_bytes).toBe(Buffer.byteLength(p.res.body));
    expect(Object.values(p.record.metagate.fields_removed ?? {}).reduce((a, b) => a + b, 0)).toBe(removed);
  });

  it('an answer in which removing the address would put it back together is refused, not sent', async () => {
    const p = await probe((req, res) => {
      const host = String(req.headers.host);
      const body = JSON.stringify({ id: 't1', description: `http:/http://${host}/${host}/api/v1/tables/t1` });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
      res.end(body);
    });
    expectRefused(p, 'response_rejected', /the platform's address is written into the answer in a way removing it would put back together/);
    expect(p.res.body.includes(new URL(h.upstream.url).host)).toBe(false);
  });
});

// ---------------------------------------------------------------- content encodings

describe('content encoding', () => {
  it.each([
    ['gzip', gzipSync(CLEAN_JSON)],
    ['br', brotliCompressSync(CLEAN_JSON)],
    ['deflate', deflateSync(CLEAN_JSON)],
    ['GZIP', gzipSync(CLEAN_JSON)],
    ['gzip, identity', gzipSync(CLEAN_JSON)],
    ['identity, gzip', gzipSync(CLEAN_JSON)],
    ['x-unknown', Buffer.from(CLEAN_JSON)],
  ])('content-encoding: %s → 502 response_rejected', async (encoding, body) => {
    const p = await probe(json(body, { 'content-encoding': encoding }));
    expectRefused(p, 'response_rejected', /content encoding/);
    expect(p.upstreamCalls).toBe(1);
  });

  it('a repeated content-encoding header is refused even when the body is plain JSON', async () => {
    expectRefused(await probe(json(CLEAN_JSON, { 'content-encoding': ['identity', 'gzip'] })), 'response_rejected', /content encoding/);
  });

  it.each(['identity', 'Identity', ' identity '])('content-encoding: %j is allowed and filtered', async (encoding) => {
    const p = await probe(json(CLEAN_JSON, { 'content-encoding': encoding }));
    expect(p.res.status).toBe(200);
    expect(p.res.json()).toEqual(FILTERED);
    expect(p.record.metagate.decision).toBe('allow');
    expect(p.record.metagate.fields_removed).toEqual({ sampleData: 1, profile: 1 });
    expectNoLeak(p.res);
  });
});

// ---------------------------------------------------------------- content types and bodies

describe('content type and body', () => {
  it.each([
    ['text/html error page', 'text/html; charset=utf-8', STACK_PAGE],
    ['text/plain', 'text/plain', CLEAN_JSON],
    ['application/problem+json', 'application/problem+json', JSON.stringify({ title: 'oops', detail: CANARY })],
    ['application/json; charset=latin1', 'application/json; charset=latin1', CLEAN_JSON],
    ['application/json; charset=iso-8859-1', 'application/json; charset=iso-8859-1', CLEAN_JSON],
    ['application/json; charset=utf-16', 'application/json; charset=utf-16', CLEAN_JSON],
    ['text/json', 'text/json', CLEAN_JSON],
    ['application/jsonp', 'application/jsonp', CLEAN_JSON],
    ['application/x-ndjson', 'application/x-ndjson', CLEAN_JSON],
    ['two types in one header', 'application/json, text/html', CLEAN_JSON],
    ['application/json with an extra parameter', 'application/json; profile=x', CLEAN_JSON],
  ])('%s → 502 response_rejected', async (_name, type, body) => {
    expectRefused(await probe(json(body, { 'content-type': type })), 'response_rejected', /not application\/json/);
  });

  it('missing content-type → 502 response_rejected', async () => {
    const p = await probe((_req, res) => {
      res.writeHead(200, { 'content-length': String(Buffer.byteLength(CLEAN_JSON)), ...LEAKY_HEADERS });
      res.end(CLEAN_JSON);
    });
    expectRefused(p, 'response_rejected', /not application\/json/);
  });

  it.each(['application/json', 'application/json; charset=utf-8', 'application/json;charset="UTF-8"', 'APPLICATION/JSON'])('content-type %j is accepted', async (type) => {
    const p = await probe(json(CLEAN_JSON, { 'content-type': type }));
    expect(p.res.status).toBe(200);
    expect(p.res.json()).toEqual(FILTERED);
    expect(p.res.headers['content-type']).toBe('application/json; charset=utf-8');
    expectNoLeak(p.res);
  });

  it.each([
    ['invalid JSON', `{"name": "customers", "sampleData": "${CANARY}"`],
    ['JSON followed by an HTML page', `${CLEAN_JSON}${STACK_PAGE}`],
    ['two JSON texts', `${CLEAN_JSON}\n${CLEAN_JSON}`],
    ['an empty body', ''],
    ['NaN', `{"a": NaN, "b": "${CANARY}"}`],
    ['single quotes', `{'a': '${CANARY}'}`],
  ])('%s → 502 response_rejected', async (_name, body) => {
    expectRefused(await probe(json(body)), 'response_rejected', /not valid UTF-8 JSON/);
  });

  it('JSON with a byte order mark → 502 response_rejected (refused, never guessed at)', async () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(CLEAN_JSON)]);
    expectRefused(await probe(json(body)), 'response_rejected', /byte order mark/);
  });

  it('JSON with invalid UTF-8 inside a string → 502 response_rejected (no lossy decoding)', async () => {
    const body = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(`","x":"${CANARY}"}`)]);
    expectRefused(await probe(json(body)), 'response_rejected', /UTF-8/);
  });

  it('a top-level JSON value of another shape is filtered too (arrays of records)', async () => {
    const p = await probe(json(`[${CLEAN_JSON},${CLEAN_JSON}]`));
    expect(p.res.status).toBe(200);
    expect(p.res.json()).toEqual([FILTERED, FILTERED]);
    expect(p.record.metagate.fields_removed).toEqual({ sampleData: 2, profile: 2 });
  });
});

// ---------------------------------------------------------------- size, truncation, resets

describe('size limits and broken bodies', () => {
  it('a body of exactly maxResponseBytes passes; one byte more is refused', async () => {
    const pad = (n: number) => {
      const base = '{"name":"customers","pad":""}';
      return `{"name":"customers","pad":"${'x'.repeat(n - base.length)}"}`;
    };
    expect(Buffer.byteLength(pad(CAP))).toBe(CAP);
    const ok = await probe(json(pad(CAP)));
    expect(ok.res.status).toBe(200);
    expect(ok.record.metagate.response_bytes).toBe(CAP);
    expectRefused(await probe(json(pad(CAP + 1))), 'response_rejected', /larger than upstream.maxResponseBytes/);
    // the same without content-length (chunked): counted while reading
    const chunked: UpstreamHandler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(pad(CAP + 1));
    };
    expectRefused(await probe(chunked), 'response_rejected', /larger than/);
  });

  // Review finding: re-serialising changed numbers (9007199254740993 → …992, 1e400 → null) and could grow the answer
  // past the cap (1e15 is 4 characters sent and 16 re-serialised)
  it.each<[string, string]>([
    ['an integer beyond 2^53', '{"name":"customers","rowCount":9007199254740993}'],
    ['a 19-digit id', '{"name":"customers","snowflakeId":1234567890123456789}'],
    ['a number past the double range', '{"name":"customers","x":1e400}'],
  ])('an answer holding %s is refused, not rounded', async (_d, body) => {
    const p = await probe(json(body));
    expectRefused(p, 'response_rejected', /beyond ±2\^53/);
  });

  it('an answer that re-serialises larger than maxResponseBytes is refused', async () => {
    const items = Math.ceil(CAP / 16) + 1; // "1e15," is 5 bytes sent, "1000000000000000," 17 re-serialised
    // a field to remove sends it the full way (parse, filter, re-serialise), where it would grow past the cap
    const body = `{"name":"customers","sampleData":{"rows":[[${JSON.stringify(CANARY)}]]},"n":[${Array(items).fill('1e15').join(',')}]}`;
    expect(Buffer.byteLength(body)).toBeLessThan(CAP);
    expectRefused(await probe(json(body)), 'response_rejected', /once re-serialised/);
  });

  it('the same numbers with nothing to remove pass as the upstream sent them, within the cap', async () => {
    const items = Math.ceil(CAP / 16) + 1;
    const body = `{"name":"customers","n":[${Array(items).fill('1e15').join(',')}]}`;
    const { res, record } = await probe(json(body));
    expect(res.status).toBe(200);
    // byte for byte: the raw-bytes scan proved nothing would be removed or read differently (src/filters/scan.ts)
    expect(res.body).toBe(body);
    expect(Buffer.byteLength(res.body)).toBeLessThan(CAP);
    expect(record.metagate.response_bytes).toBe(Buffer.byteLength(body));
  });

  /** 50 MB of a JSON array, streamed in 64 KiB chunks, with or without a content-length. */
  const fiftyMegabytes =
    (declared: boolean, sent: { bytes: number }, prefix = ''): UpstreamHandler =>
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', ...(declared ? { 'content-length': String(50 * 1024 * 1024 + 3) } : {}), ...LEAKY_HEADERS });
      if (prefix) res.write(prefix);
      sent.bytes = 0;
      streamBody(res, 50 * 1024 * 1024, sent);
    };

  it.each([
    ['declared with content-length: refused without reading it', true],
    ['chunked (no content-length): refused once past the cap', false],
  ])('50 MB %s; gateway memory stays bounded by the cap', async (_name, declared) => {
    const sent = { bytes: 0 };
    const m = await memoryOverAttempts(h, token, fiftyMegabytes(declared, sent), () => {
      // the gateway stopped reading: the upstream could push only what socket buffers hold beyond the cap
      expect(sent.bytes).toBeLessThan(declared ? 8 * CAP : 16 * CAP);
    });
    for (const p of m.probes) expectRefused(p, 'response_rejected', /larger than upstream.maxResponseBytes/);
    expect(m.maxBufferGrowth, 'Buffer memory (where a body would sit)').toBeLessThan(2 * CAP);
    expect(m.minRssGrowth, `RSS growth per attempt: ${m.rssGrowth.join(', ')}`).toBeLessThan(2 * CAP);
  });

  it('control: the same measurement does see a 50 MB body when the cap lets it in', async () => {
    const roomy = await startHarness({
      configure: (cfg) => {
        cfg.upstream.maxResponseBytes = 64 * 1024 * 1024;
        cfg.upstream.responseTimeoutMs = 10_000;
      },
    });
    try {
      // not JSON from the first byte: the gateway reads all of it, then refuses it quickly
      const sent = { bytes: 0 };
      // The warm-up answer is small: a 50 MB warm-up would leave 50 MB of freed memory the allocator hands out again,
      // and then no measured attempt needs new memory from the system (RSS growth 0 once in a full-suite run).
      const small: UpstreamHandler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('x'.repeat(1024));
      };
      const m = await memoryOverAttempts(
        roomy,
        await roomy.token('geheim'),
        fiftyMegabytes(false, sent, 'x'),
        () => {
          expect(sent.bytes).toBeGreaterThanOrEqual(50 * 1024 * 1024);
        },
        small,
      );
      for (const p of m.probes) expectRefused(p, 'response_rejected', /not valid UTF-8 JSON/);
      // The control only has to show the measurement tells a body held in memory from a capped one: far above the
      // 2×CAP bound the capped tests assert. The sampler runs on the gateway's own (busy) event loop, so on a loaded
      // machine it catches only part of the 50 MB peak (23.5 MB seen once in CI against a 40 MB bound).
      expect(m.maxBufferGrowth).toBeGreaterThan(10 * CAP);
      expect(m.maxRssGrowth, `RSS growth per attempt: ${m.rssGrowth.join(', ')}`).toBeGreaterThan(20 * 1024 * 1024);
    } finally {
      roomy.upstream.setHandler(null);
      await roomy.close();
    }
  });

  it('an endless chunked body → 502 once past the cap (the upstream is cut off)', async () => {
    const sent = { bytes: 0 };
    let closed = false;
    const p = await probe((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', ...LEAKY_HEADERS });
      res.on('close', () => (closed = true));
      streamBody(res, Infinity, sent);
    });
    expectRefused(p, 'response_rejected', /larger than/);
    expect(sent.bytes).toBeGreaterThan(CAP);
    await waitFor(() => (closed ? true : undefined));
  });

  it('a truncated body (content-length larger than sent, then the socket closes) → 502 upstream_error', async () => {
    const p = await probe((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '10000', ...LEAKY_HEADERS });
      res.write(`{"name":"customers","sampleData":"${CANARY}`, () => res.socket?.destroy());
    });
    expectRefused(p, 'upstream_error', /connection broke/);
  });

  it('a connection reset (RST) mid-body → 502 upstream_error', async () => {
    const p = await probe((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', ...LEAKY_HEADERS });
      res.write(`{"name":"customers","sampleData":"${CANARY}`, () => res.socket?.resetAndDestroy());
    });
    expectRefused(p, 'upstream_error', /connection broke/);
  });

  it('a connection reset before any response → 502 upstream_error', async () => {
    const p = await probe((req) => req.socket.resetAndDestroy());
    expectRefused(p, 'upstream_error');
  });
});

/**
 * RSS of this process (the gateway runs in-process) also moves with allocator and GC activity: after a full
 * collection, single megabyte-sized socket reads still show 0–7 MB of transient RSS growth now and then, for a few
 * hundred kilobytes most of the time. The RSS bound is therefore checked on the quietest of five attempts; Buffer
 * memory, where a response body sits, is bounded strictly on every attempt; and the control case shows the same
 * procedure does see a 50 MB body when the cap lets it in.
 */
const MEMORY_ATTEMPTS = 5;

/** A full collection before each baseline, so garbage of the previous attempt does not hide this one's growth. */
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

interface MemoryRun {
  probes: Probe[];
  rssGrowth: number[];
  minRssGrowth: number;
  maxRssGrowth: number;
  maxBufferGrowth: number;
}

/** One warm-up request, then MEMORY_ATTEMPTS measured ones; peak RSS and Buffer memory are sampled every millisecond. */
async function memoryOverAttempts(target: Harness, bearer: string, handler: UpstreamHandler, afterEach?: () => void, warmup?: UpstreamHandler): Promise<MemoryRun> {
  const run: MemoryRun = { probes: [], rssGrowth: [], minRssGrowth: Infinity, maxRssGrowth: 0, maxBufferGrowth: 0 };
  if (warmup) await probe(warmup, TABLE_PATH, target, bearer);
  else {
    run.probes.push(await probe(handler, TABLE_PATH, target, bearer));
    afterEach?.();
  }
  for (let attempt = 0; attempt < MEMORY_ATTEMPTS; attempt++) {
    await new Promise((r) => setTimeout(r, 20));
    collectGarbage();
    const start = process.memoryUsage();
    let rss = start.rss;
    let buffers = start.arrayBuffers;
    const sample = () => {
      const m = process.memoryUsage();
      rss = Math.max(rss, m.rss);
      buffers = Math.max(buffers, m.arrayBuffers);
    };
    const timer = setInterval(sample, 1);
    try {
      run.probes.push(await probe(handler, TABLE_PATH, target, bearer));
      sample();
    } finally {
      clearInterval(timer);
    }
    afterEach?.();
    run.rssGrowth.push(rss - start.rss);
    run.maxBufferGrowth = Math.max(run.maxBufferGrowth, buffers - start.arrayBuffers);
  }
  run.minRssGrowth = Math.min(...run.rssGrowth);
  run.maxRssGrowth = Math.max(...run.rssGrowth);
  return run;
}

// ---------------------------------------------------------------- timeouts

describe('slow upstreams', () => {
  it('no response headers within responseTimeoutMs → 504 upstream_timeout', async () => {
    const started = Date.now();
    const p = await probe(() => {
      /* never answers */
    });
    expectRefused(p, 'upstream_timeout');
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1500);
  });

  it('headers, then the body stalls → 504 upstream_timeout', async () => {
    const p = await probe((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', ...LEAKY_HEADERS });
      res.write(`{"name":"customers","sampleData":"${CANARY}`);
    });
    expectRefused(p, 'upstream_timeout', /in time/);
  });

  it('a drip-fed body (a byte every 50 ms, never idle long enough for a per-chunk timeout) → 504 upstream_timeout', async () => {
    let timer: NodeJS.Timeout | undefined;
    const started = Date.now();
    const p = await probe((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', ...LEAKY_HEADERS });
      res.write('[');
      timer = setInterval(() => {
        if (res.destroyed) clearInterval(timer);
        else res.write('1,');
      }, 50);
      res.on('close', () => clearInterval(timer));
    });
    clearInterval(timer);
    expectRefused(p, 'upstream_timeout', /in time \(limit 1000 ms\)/);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(took).toBeLessThan(TIMEOUT_MS + 1000);
  });
});

// ---------------------------------------------------------------- nesting

describe('absurd nesting', () => {
  it.each([
    ['[[[…]]] 10,000 levels', '['.repeat(10_000) + ']'.repeat(10_000)],
    ['{"a":{"a":…}} 10,000 levels', '{"a":'.repeat(10_000) + `"${CANARY}"` + '}'.repeat(10_000)],
    ['65 levels under a kept key', `{"columns":${'['.repeat(64)}1${']'.repeat(64)}}`],
  ])('%s → 502 response_rejected, and the gateway still answers the next request', async (_name, body) => {
    expectRefused(await probe(json(body)), 'response_rejected', /shape .*deeper than 64/);
    const next = await probe(json(CLEAN_JSON));
    expect(next.res.status).toBe(200);
    expect(next.res.json()).toEqual(FILTERED);
  });

  it('64 levels are still accepted', async () => {
    const p = await probe(json(`{"columns":${'['.repeat(63)}1${']'.repeat(63)}}`));
    expect(p.res.status).toBe(200);
  });
});

// ---------------------------------------------------------------- statuses

describe('upstream statuses', () => {
  it.each([301, 302, 303, 307, 308])('%i redirect to an internal address → 502 response_rejected, never followed or echoed', async (status) => {
    const before = h.upstream.requests.length;
    const p = await probe((_req, res) => {
      res.writeHead(status, { location: `http://${INTERNAL_HOST}/api/v1/tables/${CANARY}`, 'content-type': 'text/html', ...LEAKY_HEADERS });
      res.end(`<a href="http://${INTERNAL_HOST}/">moved to ${INTERNAL_IP}</a>`);
    });
    expectRefused(p, 'response_rejected', new RegExp(`redirect.*status ${status}`));
    expect(h.upstream.requests.length - before, 'redirect not followed').toBe(1);
    expect(p.res.headers['location']).toBeUndefined();
  });

  it.each([500, 502, 503])('%i with a stack trace naming an internal IP → 502 upstream_error with a generic body', async (status) => {
    const p = await probe((_req, res) => {
      res.writeHead(status, { 'content-type': 'text/html', ...LEAKY_HEADERS });
      res.end(STACK_PAGE);
    });
    expectRefused(p, 'upstream_error', new RegExp(`status ${status}`));
    expect(p.res.json<{ detail: string }>().detail).toBe('The metadata platform did not answer correctly. Try again later.');
  });

  it('500 with a JSON error body → 502 upstream_error (JSON error bodies are not passed on either)', async () => {
    const p = await probe(json(JSON.stringify({ code: 500, message: `${CANARY} at ${INTERNAL_IP}` }), {}, 500));
    expectRefused(p, 'upstream_error');
  });

  it.each([401, 403, 400, 405, 409, 429, 201, 202, 206, 418])('%i → 502 upstream_error', async (status) => {
    const p = await probe(json(JSON.stringify({ message: `${CANARY} ${INTERNAL_HOST}` }), { 'www-authenticate': `Bearer realm="${INTERNAL_HOST}"` }, status));
    expectRefused(p, 'upstream_error', new RegExp(`status ${status}`));
  });

  it('404 → 404 generic not-found problem, without the upstream body', async () => {
    const p = await probe(json(JSON.stringify({ code: 404, message: `table ${CANARY} not found on ${INTERNAL_IP}` }), {}, 404));
    expect(p.res.status).toBe(404);
    expect(p.res.headers['content-type']).toMatch(/^application\/problem\+json(; charset=utf-8)?$/);
    const body = p.res.json<{ type: string; status: number; request_id: string }>();
    expect(body.type).toBe('urn:metagate:problem:not_found');
    expect(body.status).toBe(404);
    expect(body.request_id).toBe(p.record.http.request.id);
    expect(p.record.metagate.decision).toBe('allow');
    expect(p.record.metagate.upstream_status).toBe(404);
    expect(p.record.http.response.status_code).toBe(404);
    expectNoLeak(p.res);
  });

  it('404 with an endless body still answers promptly (the body is not drained)', async () => {
    const sent = { bytes: 0 };
    const started = Date.now();
    const p = await probe((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      streamBody(res, Infinity, sent);
    });
    expect(p.res.status).toBe(404);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS);
    expectNoLeak(p.res);
  });

  // F51: the gateway never sends a conditional request, so a 304 is not an answer to anything it asked
  it('304 → 502 upstream_error, none of its headers passed', async () => {
    const p = await probe((_req, res) => {
      res.writeHead(304, { etag: '"v42"', ...LEAKY_HEADERS, location: `http://${INTERNAL_HOST}/` });
      res.end();
    });
    expectRefused(p, 'upstream_error', /status 304/);
    expect(p.res.headers['etag']).toBeUndefined();
    expect(p.record.metagate.upstream_status).toBe(304);
  });

  it('204 → 204 without a body', async () => {
    const p = await probe((_req, res) => {
      res.writeHead(204, LEAKY_HEADERS);
      res.end();
    });
    expect(p.res.status).toBe(204);
    expect(p.res.body).toBe('');
    expectNoLeak(p.res);
  });
});

// ---------------------------------------------------------------- headers

describe('upstream headers', () => {
  it('only content-language passes; ETag, Last-Modified, Set-Cookie, Server, X-Powered-By, CORS, CSP, Location never do', async () => {
    const p = await probe(
      json(CLEAN_JSON, {
        etag: 'W/"abc"',
        'last-modified': 'Sun, 01 Dec 2024 03:05:00 GMT',
        'content-language': 'nl',
        location: `http://${INTERNAL_HOST}/x`,
        'access-control-allow-credentials': 'true',
        'strict-transport-security': 'max-age=1',
        link: `<http://${INTERNAL_HOST}/>; rel=next`,
        via: `1.1 ${INTERNAL_HOST}`,
        refresh: `0; url=http://${INTERNAL_HOST}/`,
        'content-disposition': 'attachment; filename=x.html',
        'x-request-id': 'upstream-chosen-id',
      }),
    );
    expect(p.res.status).toBe(200);
    expect(p.res.headers['content-language']).toBe('nl');
    for (const name of ['etag', 'last-modified', 'access-control-allow-credentials', 'strict-transport-security', 'content-disposition', 'x-request-id']) expect(p.res.headers[name], name).toBeUndefined();
    expectNoLeak(p.res);
  });

  // Review finding: any printable value passed, so an upstream could put a host name or an address in a header
  it.each<[string, Record<string, string>]>([
    ['free text in Content-Language', { 'content-language': 'nl, SECRET-HOST' }],
    ['an address in Content-Language', { 'content-language': '10.20.30.40' }],
    ['private-use subtags in Content-Language', { 'content-language': 'nl-x-db01int-10x66x77' }],
    ['a variant subtag in Content-Language', { 'content-language': 'nl-NL-1996' }],
  ])('a passed header of the wrong shape is dropped: %s', async (_d, hdrs) => {
    const p = await probe(json(CLEAN_JSON, hdrs));
    expect(p.res.status).toBe(200);
    for (const name of Object.keys(hdrs)) expect(p.res.headers[name], name).toBeUndefined();
    expectNoLeak(p.res);
  });

  it.each<[string, string]>([
    ['a language and a region, listed', 'nl-NL, en'],
    ['a script and a region', 'sr-Latn-RS'],
    ['a numeric region', 'es-419'],
    ['a language alone', 'nl'],
  ])('well-formed Content-Language values still pass: %s', async (_d, language) => {
    const p = await probe(json(CLEAN_JSON, { 'content-language': language }));
    expect(p.res.headers['content-language']).toBe(language);
  });

  it('a repeated or over-long Content-Language is dropped, not passed', async () => {
    for (const value of [['nl', 'en'], 'x'.repeat(300)]) {
      const p = await probe(json(CLEAN_JSON, { 'content-language': value }));
      expect(p.res.status).toBe(200);
      expect(p.res.headers['content-language']).toBeUndefined();
    }
  });
});

// F51 (black-box review): the platform's validators describe its unfiltered answer. OpenMetadata's ETag is a hash of
// the whole entity, so a passed ETag let a vendor test guesses of a removed value offline, and a forwarded
// If-None-Match let it test them online (304 = right guess) — both without any removed byte in a body.
describe('validators and conditional requests (F51)', () => {
  /** an upstream whose ETag and conditional answers are computed over its unfiltered entity, as OpenMetadata does */
  const validating = (rowCount: number): UpstreamHandler => (req, res) => {
    const full = JSON.stringify({ id: 'c019434d-4146-4bc8-9c53-d0c56cdd7ac9', name: 'customers', version: 0.3, profile: { rowCount } });
    const tag = `"${createHash('sha256').update(full).digest('hex').slice(0, 16)}"`;
    const modified = new Date(Date.UTC(2026, 0, 1, 0, 0, rowCount % 60)).toUTCString();
    if (req.headers['if-none-match'] === tag || req.headers['if-modified-since'] === modified) {
      res.writeHead(304, { etag: tag, 'last-modified': modified });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', etag: tag, 'last-modified': modified });
    res.end(full);
  };
  const varying = (headers: Record<string, string | string[] | undefined>) =>
    Object.fromEntries(Object.entries(headers).filter(([k]) => !['date', 'x-request-id', 'ratelimit-remaining', 'ratelimit-reset', 'keep-alive'].includes(k)));

  it('two answers that differ only in a removed value reach the vendor identical, headers included', async () => {
    h.upstream.setHandler(validating(48213));
    const a = await request(h.vendorUrl, TABLE_PATH, { headers: { authorization: `Bearer ${token}` } });
    h.upstream.setHandler(validating(48214));
    const b = await request(h.vendorUrl, TABLE_PATH, { headers: { authorization: `Bearer ${token}` } });
    expect(a.status).toBe(200);
    expect(a.json()).toEqual({ id: 'c019434d-4146-4bc8-9c53-d0c56cdd7ac9', name: 'customers', version: 0.3 });
    expect(b.status).toBe(200);
    expect(b.body).toBe(a.body);
    expect(varying(b.headers)).toEqual(varying(a.headers));
    expect(a.headers['etag']).toBeUndefined();
    expect(a.headers['last-modified']).toBeUndefined();
  });

  it.each<[string, Record<string, string>]>([
    ['If-None-Match with the right guess', { 'if-none-match': '"GUESS"' }],
    ['If-Modified-Since with the right guess', { 'if-modified-since': 'GUESS' }],
    ['If-Match', { 'if-match': '"x"' }],
    ['If-Unmodified-Since', { 'if-unmodified-since': 'Thu, 01 Jan 2026 00:00:00 GMT' }],
    ['If-Range and Range', { 'if-range': '"x"', range: 'bytes=0-10' }],
  ])('a conditional or range header never reaches the platform: %s', async (_d, hdrs) => {
    h.upstream.setHandler(validating(37));
    // the right guess, computed as the platform does: a forwarded header would make the platform answer 304
    const full = JSON.stringify({ id: 'c019434d-4146-4bc8-9c53-d0c56cdd7ac9', name: 'customers', version: 0.3, profile: { rowCount: 37 } });
    const right = { 'if-none-match': `"${createHash('sha256').update(full).digest('hex').slice(0, 16)}"`, 'if-modified-since': new Date(Date.UTC(2026, 0, 1, 0, 0, 37)).toUTCString() };
    const sent = Object.fromEntries(Object.entries(hdrs).map(([k, v]) => [k, v.includes('GUESS') ? right[k as keyof typeof right] : v]));
    const before = h.upstream.requests.length;
    const res = await request(h.vendorUrl, TABLE_PATH, { headers: { authorization: `Bearer ${token}`, ...sent } });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ id: 'c019434d-4146-4bc8-9c53-d0c56cdd7ac9', name: 'customers', version: 0.3 });
    const seen = h.upstream.requests[before]!.headers;
    for (const name of Object.keys(hdrs)) expect(seen[name], name).toBeUndefined();
  });
});

// ---------------------------------------------------------------- upstream unreachable

describe('upstream unreachable', () => {
  let down: Harness;
  let downToken: string;

  beforeAll(async () => {
    // a port that was just free: nothing listens there
    const probeServer = http.createServer();
    await new Promise<void>((r) => probeServer.listen(0, '127.0.0.1', r));
    const deadPort = (probeServer.address() as AddressInfo).port;
    await new Promise<void>((r) => probeServer.close(() => r()));
    down = await startHarness({
      configure: (cfg) => {
        cfg.upstream.url = `http://127.0.0.1:${deadPort}`;
      },
    });
    downToken = await down.token('geheim');
  });

  afterAll(async () => {
    await down.close();
  });

  it('connection refused → 502 upstream_error with a generic body', async () => {
    const p = await probe(null, TABLE_PATH, down, downToken);
    expect(p.upstreamCalls).toBe(0);
    expectRefused(p, 'upstream_error');
    expect(p.res.body).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|:\d{4,5}/);
  });
});

// A target the router cannot decode (`%ZZ`, a broken UTF-8 escape) is refused by Fastify's frameworkErrors, which
// never runs the onRequest hook. Such a request must still pass every check made before a target is read: a body or a
// second Host refuses it and closes the connection, and a request pipelined behind a closing refusal is recorded as
// that, not as an answer that was never sent (docs/faults.md F74).

import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';
import { BEHIND_REFUSAL } from '../../src/pipeline/respond.js';
import type { RequestAuditRecord } from '../../src/observability/audit.js';
import { startHarness, type Harness, type RecordedUpstreamRequest } from '../helpers/harness.js';
import { rawExchange, type RawResponse } from '../helpers/http.js';
import { CLASS, recordCases } from './summary.js';

const T = `/api/v1/tables/${DEMO_TABLE_ID}`;
let h: Harness;
let bearer: string;

beforeAll(async () => {
  h = await startHarness();
  bearer = `Bearer ${await h.token('geheim')}`;
});
afterAll(async () => {
  await h?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function send(bytes: string, expectRecords: number): Promise<{ res: RawResponse; answers: string[]; records: RequestAuditRecord[]; upstream: RecordedUpstreamRequest[] }> {
  const recBefore = h.audit.requestRecords().length;
  const upBefore = h.upstream.requests.length;
  const res = await rawExchange(h.vendorPort, bytes, 1500);
  for (let i = 0; i < 200 && h.audit.requestRecords().length < recBefore + expectRecords; i++) await sleep(5);
  await sleep(50);
  const answers = [...res.raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]!);
  return { res, answers, records: h.audit.requestRecords().slice(recBefore), upstream: h.upstream.requests.slice(upBefore) };
}

const allowed = () => `GET ${T} HTTP/1.1\r\nHost: g\r\nAuthorization: ${bearer}\r\nConnection: close\r\n\r\n`;

describe('a target the router cannot decode gets the checks every request gets', () => {
  // [label, the undecodable request's head and body, what the screen says]
  const screened: Array<[string, string, string]> = [
    ['a Content-Length body', `GET /%ZZ HTTP/1.1\r\nHost: g\r\nContent-Length: 5\r\n\r\nhello`, 'a request body is not accepted'],
    ['a chunked body', `GET /api/v1/tables/%E0%A4 HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, 'a request body is not accepted'],
    ['a second Host', `GET /%ZZ HTTP/1.1\r\nHost: g\r\nHost: other\r\n\r\n`, 'the "host" header was sent more than once'],
    ['a Content-Length body, absolute-form', `GET http://g/%ZZ HTTP/1.1\r\nHost: g\r\nContent-Length: 2\r\n\r\nab`, 'a request body is not accepted'],
  ];
  it.each(screened)('%s: refused as a malformed message, the connection closed, nothing behind it forwarded', async (_label, first, detail) => {
    const o = await send(first + allowed(), 2);
    // one answer: the refusal; the connection closes after it, so the request behind it is never answered
    expect(o.answers).toEqual(['400']);
    expect(o.res.headers.connection).toBe('close');
    const body = JSON.parse(o.res.body) as { code: string; detail: string; request_id: string };
    expect(body.code).toBe('request_rejected');
    expect(body.detail).toBe(detail);
    expect(o.upstream).toEqual([]);
    expect(o.records).toHaveLength(2);
    expect(o.records[0]!.http.request.id).toBe(body.request_id);
    expect(o.records[0]!.metagate.reasons).toEqual(['request_rejected']);
    expect(o.records[0]!.metagate.detail).toBe(detail);
    // the request behind it is recorded as never answered, not as a 200 or an answer that left
    expect(o.records[1]!.metagate.reasons).toEqual(['request_rejected']);
    expect(o.records[1]!.metagate.detail).toBe(BEHIND_REFUSAL);
    recordCases(CLASS.smuggling, 1);
  });

  it('pipelined behind a refusal that closes the connection: recorded as not answered, not as a path_rejected answer', async () => {
    const o = await send(`GET ${T} HTTP/1.1\r\nHost: g\r\nHost: h\r\n\r\nGET /%ZZ HTTP/1.1\r\nHost: g\r\n\r\n`, 2);
    expect(o.answers).toEqual(['400']);
    expect(o.records).toHaveLength(2);
    const second = o.records.find((r) => r.url.original === '/%ZZ')!;
    expect(second.metagate.reasons).toEqual(['request_rejected']);
    expect(second.metagate.detail).toBe(BEHIND_REFUSAL);
    expect(o.upstream).toEqual([]);
    recordCases(CLASS.smuggling, 1);
  });

  it('alone, it is still a path_rejected 400 with one record, and the connection goes on', async () => {
    const o = await send(`GET /%ZZ HTTP/1.1\r\nHost: g\r\n\r\n` + allowed(), 2);
    expect(o.answers).toEqual(['400', '200']);
    expect(o.records.map((r) => r.metagate.reasons)).toEqual([['path_rejected'], []]);
    expect(o.upstream).toHaveLength(1);
    recordCases(CLASS.path, 1);
  });
});

describe('an undecodable target whose head arrived after its request timer fired behind an answer in flight', () => {
  let slow: Harness;
  beforeAll(async () => {
    slow = await startHarness({ configure: (c) => Object.assign(c.vendor, { headersTimeoutMs: 500, requestTimeoutMs: 600 }) });
    slow.upstream.setHandler((_req, res) => setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"x"}'), 2000));
  });
  afterAll(async () => {
    await slow?.close();
  });

  // F77: the 408 is recorded and sent after the earlier answer; the request completed after it is not read (F47). With
  // a target the router cannot decode it was answered 400 and recorded as well: one request, two answers, two records.
  it.each([['an undecodable target', '/%ZZ'], ['an ordinary target (as before)', T]])('%s: one 408 and one record, no second answer', async (_label, second) => {
    const token = `Bearer ${await slow.token('geheim')}`;
    const before = slow.audit.requestRecords().length;
    const upBefore = slow.upstream.requests.length;
    const socket = connect(slow.vendorPort, '127.0.0.1');
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('error', () => undefined);
    await new Promise((r) => socket.once('connect', r));
    socket.write(`GET ${T} HTTP/1.1\r\nHost: g\r\nAuthorization: ${token}\r\n\r\nGET ${second} HTTP/1.1\r\nHost: g\r\n`);
    await sleep(1300);
    socket.write(`Authorization: ${token}\r\n\r\n`);
    await sleep(2000);
    socket.destroy();
    await sleep(100);
    expect([...got.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1])).toEqual(['200', '408']);
    const records = slow.audit.requestRecords().slice(before);
    expect(records.map((r) => r.http.response.status_code).sort()).toEqual([200, 408]);
    // only the first request reached the platform
    expect(slow.upstream.requests.slice(upBefore).map((r) => r.url)).toEqual([T]);
    recordCases(CLASS.smuggling, 1);
  }, 10_000);
});

// Threat class 4 on raw sockets: request smuggling and HTTP parser edge cases. Each message must get a 4xx (or a
// closed connection) and never a 2xx, nothing may reach the upstream, and the audit trail must show the denial.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestAuditRecord } from '../../src/observability/audit.js';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';
import { startHarness, type Harness, type RecordedUpstreamRequest } from '../helpers/harness.js';
import { rawExchange, type RawResponse } from '../helpers/http.js';
import { CLASS, recordCases } from './summary.js';

const T = `/api/v1/tables/${DEMO_TABLE_ID}`;
const DATA = `${T}/sampleData`;

let h: Harness;
let auth: string;

beforeAll(async () => {
  h = await startHarness();
  auth = `Authorization: Bearer ${await h.token('geheim')}`;
});
afterAll(async () => {
  await h?.close();
});

interface Outcome {
  res: RawResponse;
  records: RequestAuditRecord[];
  upstream: RecordedUpstreamRequest[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function exchange(bytes: string | Buffer, minRecords: number): Promise<Outcome> {
  const recBefore = h.audit.requestRecords().length;
  const upBefore = h.upstream.requests.length;
  const res = await rawExchange(h.vendorPort, bytes, 800);
  for (let i = 0; i < 300 && h.audit.requestRecords().length < recBefore + minRecords; i++) await sleep(5);
  await sleep(30);
  return { res, records: h.audit.requestRecords().slice(recBefore), upstream: h.upstream.requests.slice(upBefore) };
}

/** Build a request from header lines; `eol` lets a case use bare LF or other line endings. */
const msg = (head: string[], body = '', eol = '\r\n') => head.join(eol) + eol + eol + body;

interface Case {
  desc: string;
  /** built when the case runs: the token exists only after beforeAll */
  bytes: () => string;
  /** substring of the audit detail of the denial record */
  detail: string;
  /** how many audit records the exchange produces at least (a pipelined request has its own) */
  records?: number;
}

const cases: Case[] = [
  // --- CL / TE conflicts
  { desc: 'CL then TE (CL.TE)', bytes: () => msg([`POST ${T} HTTP/1.1`, 'Host: x', auth, 'Content-Length: 6', 'Transfer-Encoding: chunked'], `0\r\n\r\nG`), detail: 'HPE_' },
  { desc: 'TE then CL (TE.CL)', bytes: () => msg([`POST ${T} HTTP/1.1`, 'Host: x', auth, 'Transfer-Encoding: chunked', 'Content-Length: 3'], `8\r\nSMUGGLED\r\n0\r\n\r\n`), detail: 'HPE_' },
  { desc: 'CL+TE on a GET', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'Content-Length: 0', 'Transfer-Encoding: chunked'], '0\r\n\r\n'), detail: 'HPE_' },
  { desc: 'duplicate Content-Length, same value', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'Content-Length: 0', 'Content-Length: 0']), detail: 'HPE_UNEXPECTED_CONTENT_LENGTH' },
  { desc: 'duplicate Content-Length, different values', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'Content-Length: 0', 'Content-Length: 44'], `GET ${DATA} HTTP/1.1\r\nHost: x\r\n\r\n`), detail: 'HPE_UNEXPECTED_CONTENT_LENGTH' },
  { desc: 'Content-Length list "0, 5"', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'Content-Length: 0, 5'], 'hello'), detail: 'HPE_' },
  { desc: 'Content-Length: +5', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'Content-Length: +5'], 'hello'), detail: 'HPE_INVALID_CONTENT_LENGTH' },
  { desc: 'Content-Length: -1', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'Content-Length: -1']), detail: 'HPE_INVALID_CONTENT_LENGTH' },
  { desc: 'Transfer-Encoding: chunked, identity', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'Transfer-Encoding: chunked, identity'], '0\r\n\r\n'), detail: 'HPE_INVALID_TRANSFER_ENCODING' },
  { desc: 'Transfer-Encoding : chunked (space before colon)', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'Transfer-Encoding : chunked'], '0\r\n\r\n'), detail: 'HPE_INVALID_HEADER_TOKEN' },
  { desc: 'Transfer-Encoding: chunked on a GET', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'Transfer-Encoding: chunked'], '0\r\n\r\n'), detail: 'a request body is not accepted' },
  { desc: 'duplicate Transfer-Encoding: chunked', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], '0\r\n\r\n'), detail: '' },
  { desc: 'Transfer-Encoding: identity on a GET', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'Transfer-Encoding: identity']), detail: '' },
  { desc: 'Transfer-Encoding: gzip on a GET', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'Transfer-Encoding: gzip']), detail: '' },
  { desc: 'Transfer-Encoding: xchunked', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'Transfer-Encoding: xchunked'], '0\r\n\r\n'), detail: '' },
  // --- header syntax
  { desc: 'obs-fold continuation line', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'X-Folded: a', ' Transfer-Encoding: chunked']), detail: 'HPE_' },
  { desc: 'obs-fold of the Authorization header', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', 'Authorization: Bearer', `\t${auth.slice('Authorization: Bearer '.length)}`]), detail: 'HPE_' },
  { desc: 'bare LF line endings', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth], '', '\n'), detail: 'HPE_' },
  { desc: 'bare CR line endings', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth], '', '\r'), detail: 'HPE_' },
  { desc: 'LF inside a header value', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'X-A: a\nTransfer-Encoding: chunked']), detail: 'HPE_' },
  { desc: 'NUL in a header value', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'X-A: a\0b']), detail: 'HPE_INVALID_HEADER_TOKEN' },
  { desc: 'space inside a header name', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'Content Length: 5'], 'hello'), detail: 'HPE_INVALID_HEADER_TOKEN' },
  // --- bodies and pipelining
  { desc: 'GET with a body (Content-Length: 5)', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'Content-Length: 5'], 'hello'), detail: 'a request body is not accepted' },
  { desc: 'Content-Length: 00', bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'Content-Length: 00']), detail: 'a request body is not accepted' },
  {
    desc: 'second request hidden in a body',
    bytes: () => {
      const hidden = `GET ${DATA} HTTP/1.1\r\nHost: x\r\n${auth}\r\n\r\n`;
      return msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, `Content-Length: ${Buffer.byteLength(hidden)}`], hidden);
    },
    detail: 'a request body is not accepted',
  },
  {
    desc: 'second request after a short body',
    bytes: () => msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, 'Content-Length: 5'], `hello` + `GET ${DATA} HTTP/1.1\r\nHost: x\r\n${auth}\r\nConnection: close\r\n\r\n`),
    detail: 'a request body is not accepted',
  },
  // --- request line
  { desc: 'HTTP/0.9 request line', bytes: () => `GET ${T}\r\n\r\n`, detail: 'HTTP version 0.9 is not accepted' },
  { desc: 'HTTP/2.0 in an HTTP/1 request line', bytes: () => msg([`GET ${T} HTTP/2.0`, 'Host: x', auth]), detail: 'HTTP version 2.0 is not accepted' },
  { desc: 'HTTP/1.2', bytes: () => msg([`GET ${T} HTTP/1.2`, 'Host: x', auth]), detail: 'HPE_' },
  { desc: 'lower-case http/1.1', bytes: () => msg([`GET ${T} http/1.1`, 'Host: x', auth]), detail: 'HPE_' },
  { desc: 'HTTP/2 connection preface', bytes: () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', detail: 'HPE_' },
  { desc: 'tab between method and target', bytes: () => msg([`GET\t${T} HTTP/1.1`, 'Host: x', auth]), detail: 'HPE_' },
  { desc: 'very long request line', bytes: () => msg([`GET /api/v1/tables/name/${'a'.repeat(20_000)} HTTP/1.1`, 'Host: x', auth]), detail: 'HPE_HEADER_OVERFLOW' },
  { desc: 'target with an embedded request line', bytes: () => msg([`GET ${T} HTTP/1.1 ${DATA} HTTP/1.1`, 'Host: x', auth]), detail: 'HPE_' },
];

describe('class 4: smuggling and parser edge cases', () => {
  it.each(cases)('$desc → 4xx, nothing upstream, denial audited', async ({ bytes, detail, records }) => {
    recordCases(CLASS.smuggling, 1);
    const o = await exchange(bytes(), records ?? 1);
    // no success anywhere in what came back (a second answer on the same connection included)
    expect(o.res.raw).not.toMatch(/HTTP\/1\.[01] [23]\d\d/);
    expect(o.res.status === 0 || (o.res.status >= 400 && o.res.status < 500), `status ${o.res.status}`).toBe(true);
    expect(o.upstream).toEqual([]);
    expect(o.records.length).toBeGreaterThanOrEqual(1);
    for (const rec of o.records) expect(rec.metagate.decision).toBe('deny');
    const rejected = o.records.find((r) => r.metagate.reasons.includes('request_rejected'));
    expect(rejected, JSON.stringify(o.records.map((r) => r.metagate))).toBeDefined();
    expect(rejected!.metagate.detail ?? '').toContain(detail);
    if (o.res.status !== 0) {
      const body = JSON.parse(o.res.body) as { request_id: string; code: string };
      expect(o.records.map((r) => r.http.request.id)).toContain(body.request_id);
      expect(o.res.headers.connection).toBe('close');
    }
  });

  // Regression: when the parser failed on the body of a request whose answer was still being produced, clientError
  // wrote a second response onto the same connection (two status lines for one request).
  it.each(['identity', 'gzip'])('Transfer-Encoding: %s on a GET gets exactly one answer', async (te) => {
    const o = await exchange(msg([`GET ${T} HTTP/1.1`, 'Host: x', auth, `Transfer-Encoding: ${te}`]), 1);
    expect(o.res.raw.match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1);
  });

  it('a pipelined second request is decided on its own: the data request is refused and audited', async () => {
    recordCases(CLASS.smuggling, 1);
    const bytes = msg([`GET ${T} HTTP/1.1`, 'Host: x', auth]) + msg([`GET ${DATA} HTTP/1.1`, 'Host: x', auth, 'Connection: close']);
    const o = await exchange(bytes, 2);
    expect(o.upstream.map((u) => `${u.method} ${u.url}`)).toEqual([`GET ${T}`]);
    expect(o.res.raw.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 404']);
    // records are written when each answer is produced (write-ahead), so the refused second request may be recorded
    // before the first one's upstream answer arrives: compare them in path order
    expect(o.records.map((r) => [r.metagate.decision, r.url.path, r.http.response.status_code]).sort((a, b) => String(a[1]).localeCompare(String(b[1])))).toEqual([
      ['allow', T, 200],
      ['deny', DATA, 404],
    ]);
  });

  // Node's parser tolerates extra spaces around the request target. That is not a smuggling channel here: the
  // gateway terminates HTTP/1 and builds the upstream request from the canonical path alone, so the request is
  // treated exactly like its single-space form (the brief expected a 400; see the report).
  it.each([
    ['two spaces before the target', `GET  ${T} HTTP/1.1`],
    ['two spaces after the target', `GET ${T}  HTTP/1.1`],
  ])('request line with %s is read as the single-space form and forwarded clean', async (_d, line) => {
    recordCases(CLASS.smuggling, 1);
    const o = await exchange(msg([line, 'Host: x', auth, 'Connection: close']), 1);
    expect(o.upstream.map((u) => `${u.method} ${u.url}`)).toEqual([`GET ${T}`]);
    expect(o.upstream[0]!.headers.authorization).toBe('Bearer upstream-service-credential');
    expect(o.records).toHaveLength(1);
    expect(o.records[0]!.url.path).toBe(T);
    expect(o.upstream[0]!.headers['x-request-id']).toBe(o.records[0]!.http.request.id);
  });

  it('two spaces hiding a data path in the version field never reach the upstream', async () => {
    recordCases(CLASS.smuggling, 1);
    const o = await exchange(msg([`GET ${T}  ${DATA} HTTP/1.1`, 'Host: x', auth, 'Connection: close']), 1);
    expect(o.res.raw).not.toMatch(/HTTP\/1\.[01] 2\d\d/);
    expect(o.upstream).toEqual([]);
    expect(o.records.every((r) => r.metagate.decision === 'deny')).toBe(true);
  });
});
